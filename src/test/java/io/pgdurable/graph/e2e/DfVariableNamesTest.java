package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.json;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A {@code {var}} where a name stands ({@code FROM playground.{table_name}},
 * {@code INSERT INTO {target_table}}) names the table, as the original's ETL examples expect, while
 * the same variable elsewhere is still a value; a value that cannot be a name fails its step, and
 * a hostile one only ever names a table that does not exist.
 */
class DfVariableNamesTest {
    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_variable_names");
        runs = new WorkflowRuns(env);
        env.exec("CREATE SCHEMA playground AUTHORIZATION " + env.role());
        env.exec("SET ROLE " + env.role() + ";"
                + "CREATE TABLE playground.users (id serial PRIMARY KEY, name text NOT NULL);"
                + "INSERT INTO playground.users (name) SELECT 'user ' || g FROM generate_series(1, 8) g;"
                + "CREATE TABLE playground.logs (id serial PRIMARY KEY, msg text NOT NULL);"
                // Column names in the order of a jsonb row, so that SELECT * of the row set matches.
                + "CREATE TABLE public.raw_orders (id int PRIMARY KEY, item text NOT NULL);"
                + "INSERT INTO public.raw_orders SELECT g, 'item ' || g FROM generate_series(1, 150) g;"
                + "CREATE TABLE public.processed_orders (LIKE public.raw_orders);"
                + "CREATE TABLE public.\"MixedCase\" (v int); INSERT INTO public.\"MixedCase\" VALUES (1), (2);");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    private static void setvar(String name, String value) {
        env.queryAsApp("SELECT df.setvar(?, ?)", name, value);
    }

    @Test
    void the_originals_multiple_variables_example_reads_the_table_the_variable_names() {
        setvar("table_name", "users");
        setvar("limit_val", "5");
        String names = "SELECT name FROM playground.{table_name} LIMIT {limit_val}::int";
        String id = runs.start(step(names) + " |=> 'names' ~> "
                + step("INSERT INTO playground.logs (msg) VALUES ('Fetched from {table_name}')") + ", 'test-vars-multi'");
        runs.assertCompleted(id);

        assertThat(json(runs.sqlNodeResult(id, names)).path("row_count").asInt()).isEqualTo(5);
        assertThat(env.queryAsApp("SELECT count(*) FROM playground.logs WHERE msg = 'Fetched from users'")).isEqualTo("1");
    }

    @Test
    void the_originals_configurable_etl_pipeline_moves_a_batch_between_the_tables_the_variables_name() {
        setvar("source_table", "raw_orders");
        setvar("target_table", "processed_orders");
        setvar("batch_size", "100");
        String id = runs.start(step("SELECT * FROM {source_table} LIMIT {batch_size}::int") + " |=> 'batch' ~> "
                + step("INSERT INTO {target_table} SELECT * FROM $batch.*") + ", 'etl-pipeline'");
        runs.assertCompleted(id);

        assertThat(env.queryAsApp("SELECT count(*) FROM public.processed_orders p JOIN public.raw_orders r USING (id, item)"))
                .isEqualTo("100");
        assertThat(env.queryAsApp("SELECT count(*) FROM public.processed_orders")).isEqualTo("100");
    }

    @Test
    void a_name_keeps_its_case_and_a_variable_inside_double_quotes_works_as_before() {
        setvar("mixed_table", "MixedCase");
        JsonNode row = json(runs.resultOf(step("SELECT (SELECT sum(v) FROM {mixed_table}) AS bare,"
                + " (SELECT sum(v) FROM \"{mixed_table}\") AS quoted, {mixed_table} AS value"))).at("/rows/0");

        assertThat(row.path("bare").asInt()).isEqualTo(3);
        assertThat(row.path("quoted").asInt()).isEqualTo(3);
        assertThat(row.path("value").asText()).isEqualTo("MixedCase");
    }

    @Test
    void a_hostile_name_is_one_name_of_a_table_that_does_not_exist() {
        setvar("evil_table", "users; DROP TABLE playground.logs; --");
        String id = runs.start(step("SELECT count(*) FROM playground.{evil_table}"));
        runs.assertFailed(id);

        assertThat(runs.rootError(id)).startsWith("SQL execution failed: relation "
                + "\"playground.users; DROP TABLE playground.logs; --\" does not exist");
        assertThat(env.queryAsApp("SELECT to_regclass('playground.logs') IS NOT NULL")).isEqualTo("t");
    }

    @Test
    void a_value_too_long_for_a_name_fails_its_step_and_the_steps_after_it_do_not_run() {
        String longName = "t".repeat(64);
        setvar("long_table", longName);
        String after = "INSERT INTO playground.logs (msg) VALUES ('after the long name')";
        String id = runs.start(step("SELECT 1") + " ~> " + step("SELECT * FROM playground.{long_table}") + " ~> " + step(after));
        runs.assertFailed(id);

        assertThat(runs.rootError(id)).isEqualTo("{long_table} cannot be substituted as a name: its value '"
                + "t".repeat(40) + "…' is 64 bytes long; a PostgreSQL name is at most 63 bytes (NAMEDATALEN - 1)");
        assertThat(env.queryAsApp("SELECT status FROM df.nodes WHERE instance_id = ? AND query = ?", id, after))
                .isEqualTo("pending");
    }
}
