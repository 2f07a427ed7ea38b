package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.json;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Named results and variables as later steps see them: {@code $name}, {@code $name.col}, the
 * null-safe forms, {@code $name.*}, {@code {var}} from the snapshot taken at df.start,
 * {@code {sys_instance_id}} and {@code {sys_label}}, names coming back from JOIN and RACE
 * branches, and the messages of a step whose reference cannot be filled.
 */
class DfNamedResultsTest {
    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_named_results");
        runs = new WorkflowRuns(env);
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    /** The first row of the completed workflow's result. */
    private static JsonNode firstRow(String expression) {
        return json(runs.resultOf(expression)).at("/rows/0");
    }

    @Test
    void dollar_name_is_the_first_select_column_of_the_first_row_even_when_jsonb_reorders_keys() {
        JsonNode row = firstRow("(" + step("SELECT 7 AS zzzzzzzz, 8 AS a UNION ALL SELECT 9, 10") + " |=> 'r') ~> "
                + step("SELECT $r + 1 AS v, pg_typeof($r)::text AS t"));

        assertThat(row.path("v").asInt()).isEqualTo(8);
        assertThat(row.path("t").asText()).isEqualTo("integer");
    }

    @Test
    void dollar_name_dot_column_reads_that_column_of_the_first_row() {
        JsonNode row = firstRow("(" + step("SELECT 'x' AS a, 42 AS b, 'it''s' AS c") + " |=> 'r') ~> "
                + step("SELECT $r.b * 2 AS doubled, $r.c AS c, $r.a || $r.c AS joined"));

        assertThat(row.path("doubled").asInt()).isEqualTo(84);
        assertThat(row.path("c").asText()).isEqualTo("it's");
        assertThat(row.path("joined").asText()).isEqualTo("xit's");
    }

    @Test
    void null_safe_references_become_null_for_no_rows_and_for_null_values() {
        JsonNode row = firstRow("(" + step("SELECT 1 AS a WHERE false") + " |=> 'none') ~> ("
                + step("SELECT NULL::int AS a, 5 AS b") + " |=> 'nul') ~> "
                + step("SELECT $none? IS NULL AS none_scalar, $none.a? IS NULL AS none_col, $nul? IS NULL AS null_scalar,"
                        + " $nul.a? IS NULL AS null_col, $nul.b? AS b"));

        assertThat(row.path("none_scalar").asBoolean()).isTrue();
        assertThat(row.path("none_col").asBoolean()).isTrue();
        assertThat(row.path("null_scalar").asBoolean()).isTrue();
        assertThat(row.path("null_col").asBoolean()).isTrue();
        assertThat(row.path("b").asInt()).isEqualTo(5);
    }

    @Test
    void dollar_name_star_expands_to_a_values_list_with_the_result_columns() {
        JsonNode row = firstRow("(" + step("SELECT g AS id, 'v' || g AS label, g % 2 = 0 AS even FROM generate_series(1, 3) g")
                + " |=> 'src') ~> " + step("SELECT sum(id) AS total, string_agg(label, ',' ORDER BY id) AS labels,"
                        + " count(*) FILTER (WHERE even) AS evens FROM $src.*"));

        assertThat(row.path("total").asInt()).isEqualTo(6);
        assertThat(row.path("labels").asText()).isEqualTo("v1,v2,v3");
        assertThat(row.path("evens").asInt()).isEqualTo(1);
    }

    @Test
    void dollar_name_star_of_an_empty_result_is_an_empty_relation() {
        JsonNode row = firstRow("(" + step("SELECT 1 AS id WHERE false") + " |=> 'src') ~> "
                + step("SELECT count(*) AS n FROM $src.*"));

        assertThat(row.path("n").asInt()).isZero();
    }

    @Test
    void dollar_name_star_expands_ten_thousand_rows_of_several_columns() {
        JsonNode row = firstRow("(" + step("SELECT g AS id, g * 2 AS twice, 'r' || g AS label, g % 3 = 0 AS third"
                + " FROM generate_series(1, 10000) g") + " |=> 'big') ~> "
                + step("SELECT count(*) AS n, sum(twice) AS twice_sum, count(*) FILTER (WHERE third) AS thirds,"
                        + " max(label) AS max_label FROM $big.*"));

        assertThat(row.path("n").asInt()).isEqualTo(10_000);
        assertThat(row.path("twice_sum").asLong()).isEqualTo(100_010_000L);
        assertThat(row.path("thirds").asInt()).isEqualTo(3333);
        assertThat(row.path("max_label").asText()).isEqualTo("r9999");
    }

    @Test
    void dollar_name_star_of_more_than_ten_thousand_rows_fails_the_step() {
        String id = runs.start("(" + step("SELECT g AS id FROM generate_series(1, 10001) g") + " |=> 'big') ~> "
                + step("SELECT count(*) FROM $big.*"));
        runs.assertFailed(id);

        assertThat(runs.rootError(id)).startsWith("$big.* — result has 10001 rows, exceeding the maximum of 10000");
    }

    @Test
    void a_variable_is_read_from_the_snapshot_taken_at_start_not_from_a_later_setvar() {
        env.queryAsApp("SELECT df.setvar('greeting', 'hello')");
        String id = runs.start("df.sleep(1) ~> " + step("SELECT {greeting} AS bare, 'say {greeting}' AS quoted"));
        env.queryAsApp("SELECT df.setvar('greeting', 'changed after start')");
        runs.assertCompleted(id);

        JsonNode row = json(env.result(id)).at("/rows/0");
        assertThat(row.path("bare").asText()).isEqualTo("hello");
        assertThat(row.path("quoted").asText()).isEqualTo("say hello");
    }

    @Test
    void an_unknown_variable_is_left_as_written() {
        JsonNode row = firstRow(step("SELECT '{no_such_var}' AS v"));

        assertThat(row.path("v").asText()).isEqualTo("{no_such_var}");
    }

    @Test
    void sys_instance_id_and_sys_label_are_the_instance_id_and_its_label() {
        String labelled = runs.start(step("SELECT {sys_instance_id} AS id, {sys_label} AS label") + ", 'nightly'");
        String unlabelled = runs.start(step("SELECT {sys_instance_id} AS id, '[{sys_label}]' AS label"));
        runs.assertCompleted(labelled);
        runs.assertCompleted(unlabelled);

        JsonNode row = json(env.result(labelled)).at("/rows/0");
        assertThat(row.path("id").asText()).isEqualTo(labelled);
        assertThat(row.path("label").asText()).isEqualTo("nightly");
        JsonNode plain = json(env.result(unlabelled)).at("/rows/0");
        assertThat(plain.path("id").asText()).isEqualTo(unlabelled);
        assertThat(plain.path("label").asText()).isEqualTo("[]");
    }

    @Test
    void names_from_join_branches_merge_back_in_branch_order_so_the_later_branch_wins() {
        // Branch 1 finishes last, yet branch 2's value of the shared name wins.
        JsonNode row = firstRow("((" + step("SELECT 'first' AS v FROM pg_sleep(0.5)") + " |=> 'shared') & (("
                + step("SELECT 'second' AS v") + " |=> 'shared') ~> (" + step("SELECT 2 AS own") + " |=> 'two'))) ~> "
                + step("SELECT $shared AS shared, $two AS two"));

        assertThat(row.path("shared").asText()).isEqualTo("second");
        assertThat(row.path("two").asInt()).isEqualTo(2);
    }

    @Test
    void a_branch_sees_the_names_defined_before_the_join() {
        JsonNode row = firstRow("(" + step("SELECT 20 AS base") + " |=> 'base') ~> ((" + step("SELECT $base + 1 AS a")
                + " |=> 'a') & (" + step("SELECT $base + 2 AS b") + " |=> 'b')) ~> " + step("SELECT $a + $b AS sum"));

        assertThat(row.path("sum").asInt()).isEqualTo(43);
    }

    @Test
    void only_the_race_winners_names_merge_back() {
        // The loser names 'pick' and 'loser_only' at once, then sleeps; the winner names 'pick' a moment later.
        JsonNode row = firstRow("(" + step("SELECT 'before' AS v") + " |=> 'pick') ~> (((" + step("SELECT 'loser' AS v")
                + " |=> 'pick') ~> (" + step("SELECT 1 AS v") + " |=> 'loser_only') ~> df.sleep(30)) | ("
                + step("SELECT 'winner' AS v FROM pg_sleep(0.5)") + " |=> 'pick')) ~> "
                + step("SELECT $pick AS pick, '$loser_only' AS loser_only"));

        assertThat(row.path("pick").asText()).isEqualTo("winner");
        assertThat(row.path("loser_only").asText()).as("unknown names stay as written").isEqualTo("$loser_only");
    }

    @Test
    void names_defined_inside_a_loop_below_the_root_are_visible_after_it() {
        JsonNode row = firstRow(step("SELECT 'before'") + " ~> df.\"loop\"((" + step("SELECT 42 AS v") + " |=> 'inner') ~> df.\"break\"())"
                + " ~> " + step("SELECT $inner AS inner"));

        assertThat(row.path("inner").asInt()).isEqualTo(42);
    }

    @Test
    void compositions_are_named_and_sleep_is_not() {
        JsonNode row = firstRow("((" + step("SELECT 1 AS a") + " ~> " + step("SELECT 'then' AS b") + ") |=> 'seq') ~> (("
                + step("SELECT 1 AS a") + " & " + step("SELECT 2 AS b") + ") |=> 'joined') ~> (df.sleep(0) |=> 'slept') ~> "
                + step("SELECT $seq AS seq, jsonb_array_length($joined::jsonb) AS branches, '$slept' AS slept"));

        assertThat(row.path("seq").asText()).isEqualTo("then");
        assertThat(row.path("branches").asInt()).isEqualTo(2);
        assertThat(row.path("slept").asText()).isEqualTo("$slept");
    }

    @Test
    void a_strict_reference_to_a_result_without_rows_fails_the_step_with_the_message() {
        String id = runs.start("(" + step("SELECT 1 AS a WHERE false") + " |=> 'empty') ~> " + step("SELECT $empty AS v"));
        runs.assertFailed(id);

        assertThat(runs.rootError(id)).isEqualTo("$empty has no rows — query returned zero results");
        assertThat(runs.sqlNodeResult(id, "SELECT $empty AS v")).isEqualTo("\"$empty has no rows — query returned zero results\"");
    }

    @Test
    void a_strict_reference_to_a_null_value_fails_the_step_with_the_message() {
        String scalar = runs.start("(" + step("SELECT NULL::int AS a") + " |=> 'n') ~> " + step("SELECT $n AS v"));
        String column = runs.start("(" + step("SELECT 1 AS a, NULL::text AS b") + " |=> 'n') ~> " + step("SELECT $n.b AS v"));
        runs.assertFailed(scalar);
        runs.assertFailed(column);

        assertThat(runs.rootError(scalar)).isEqualTo("$n is NULL — first column of first row is NULL");
        assertThat(runs.rootError(column)).isEqualTo("$n.b is NULL");
    }

    @Test
    void a_column_the_result_lacks_is_left_as_written_for_postgres_to_judge() {
        String quoted = runs.start("(" + step("SELECT 1 AS a") + " |=> 'n') ~> " + step("SELECT '$n.missing' AS v"));
        String bare = runs.start("(" + step("SELECT 1 AS a") + " |=> 'n') ~> " + step("SELECT $n.missing AS v"));
        runs.assertCompleted(quoted);
        runs.assertFailed(bare);

        assertThat(json(env.result(quoted)).at("/rows/0/v").asText()).isEqualTo("$n.missing");
        assertThat(runs.rootError(bare)).startsWith("SQL execution failed: syntax error");
    }

    @Test
    void the_steps_after_a_failed_reference_do_not_run() {
        String id = runs.start("(" + step("SELECT 1 AS a WHERE false") + " |=> 'empty') ~> " + step("SELECT $empty AS v")
                + " ~> " + step("SELECT 'after' AS v"));
        runs.assertFailed(id);

        assertThat(env.queryAsApp("SELECT status FROM df.nodes WHERE instance_id = ? AND query = ?", id, "SELECT 'after' AS v"))
                .isEqualTo("pending");
        assertThat(env.result(id)).isNull();
    }
}
