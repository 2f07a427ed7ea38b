package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.json;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collections;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * How a SQL step's column types come out in its JSON result, read back through df.result and
 * df.nodes.result (jsonb), and how typed values travel on into the next step.
 */
class DfTypeMappingTest {
    /** One row with a column of every mapped type; the expected JSON of each is below. */
    private static final String EVERY_TYPE = """
            SELECT true AS bool_col, 2::int2 AS int2_col, -4::int4 AS int4_col, 9007199254740993::int8 AS int8_col,
                   1.5::float8 AS float8_col, 0.1::float4 AS float4_col, 'NaN'::float8 AS nan_col,
                   'Infinity'::float8 AS inf_col, '-Infinity'::float4 AS neg_inf_col,
                   12345678901234567890.123456789::numeric AS numeric_col, 1.50::numeric AS numeric_scale_col,
                   'héllo "w"'::text AS text_col, 'v'::varchar(3) AS varchar_col, 'c'::char(2) AS bpchar_col,
                   'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS uuid_col, '2024-06-15'::date AS date_col,
                   '2024-06-15 12:30:00'::timestamp AS ts_col, '2024-06-15 12:30:00.123456'::timestamp AS ts_micro_col,
                   '2024-06-15 14:30:00.5+02'::timestamptz AS tstz_col,
                   '{"a": [1, 2.50, null], "b": "x"}'::json AS json_col, '{"k": {"n": 1}}'::jsonb AS jsonb_col,
                   NULL::text AS null_text_col, NULL::int4 AS null_int_col, NULL::jsonb AS null_jsonb_col,
                   interval '1 day 02:00:00' AS interval_col, ARRAY[1, 2, 3] AS array_col,
                   '192.168.0.1/24'::inet AS inet_col, '\\xdeadbeef'::bytea AS bytea_col
            """;

    private static final String EXPECTED_ROW = """
            {"bool_col": true, "int2_col": 2, "int4_col": -4, "int8_col": 9007199254740993,
             "float8_col": 1.5, "float4_col": 0.1, "nan_col": null, "inf_col": null, "neg_inf_col": null,
             "numeric_col": "12345678901234567890.123456789", "numeric_scale_col": "1.50",
             "text_col": "héllo \\"w\\"", "varchar_col": "v", "bpchar_col": "c ",
             "uuid_col": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "date_col": "2024-06-15",
             "ts_col": "2024-06-15T12:30:00", "ts_micro_col": "2024-06-15T12:30:00.123456",
             "tstz_col": "2024-06-15T12:30:00.500+00:00",
             "json_col": {"a": [1, 2.50, null], "b": "x"}, "jsonb_col": {"k": {"n": 1}},
             "null_text_col": null, "null_int_col": null, "null_jsonb_col": null,
             "interval_col": "1 day 02:00:00", "array_col": "{1,2,3}", "inet_col": "192.168.0.1/24",
             "bytea_col": "\\\\xdeadbeef"}
            """;

    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_types");
        runs = new WorkflowRuns(env);
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void every_column_type_maps_to_its_json_form_in_df_result() {
        JsonNode result = json(runs.resultOf(step(EVERY_TYPE)));

        assertThat(result.path("row_count").asInt()).isEqualTo(1);
        assertThat(result.at("/rows/0")).isEqualTo(json(EXPECTED_ROW));
    }

    @Test
    void df_result_keeps_exact_integers_and_numeric_strings_in_its_text() {
        String result = runs.resultOf(step("SELECT 9007199254740993::int8 AS big, 0.1000000000000000055511151231257827::numeric AS exact"));

        assertThat(result).isEqualTo("{\"rows\": [{\"big\": 9007199254740993, \"exact\": \"0.1000000000000000055511151231257827\"}],"
                + " \"row_count\": 1}");
    }

    @Test
    void the_stored_node_result_of_a_step_that_is_not_the_root_has_the_same_mapping() {
        String id = runs.start("(" + step(EVERY_TYPE) + " |=> 'types') ~> " + step("SELECT 1 AS done"));
        runs.assertCompleted(id);

        JsonNode stored = json(runs.sqlNodeResult(id, EVERY_TYPE));
        assertThat(stored.at("/rows/0")).isEqualTo(json(EXPECTED_ROW));
        JsonNode listed = json(env.queryAsApp("SELECT result FROM df.instance_nodes(?) WHERE result_name = 'types'", id));
        assertThat(listed).isEqualTo(stored);
    }

    @Test
    void the_mapping_stays_the_same_when_one_statement_runs_many_times() {
        // Repeating a statement on a pooled connection makes the driver prepare it on the server
        // and may switch columns to binary transfer; the JSON must not change.
        String expression = String.join(" ~> ", Collections.nCopies(8, step(EVERY_TYPE)));
        String id = runs.start(expression);
        runs.assertCompleted(id);

        assertThat(json(env.result(id)).at("/rows/0")).isEqualTo(json(EXPECTED_ROW));
        assertThat(runs.count("""
                SELECT count(DISTINCT result) FROM df.nodes WHERE instance_id = ? AND node_type = 'SQL'
                """, id)).isEqualTo(1);
    }

    @Test
    void typed_values_keep_their_type_when_substituted_into_the_next_step() {
        JsonNode row = json(runs.resultOf("(" + step(EVERY_TYPE) + " |=> 't') ~> " + step("""
                SELECT pg_typeof($t.int4_col)::text AS int4_type, pg_typeof($t.int8_col)::text AS int8_type,
                       pg_typeof($t.bool_col)::text AS bool_type, pg_typeof($t.float8_col)::text AS float8_type,
                       $t.int8_col = 9007199254740993 AS int8_exact, $t.numeric_col::numeric AS numeric_back,
                       $t.tstz_col::timestamptz = '2024-06-15 12:30:00.5+00' AS tstz_back,
                       $t.uuid_col::uuid AS uuid_back, $t.json_col::jsonb -> 'a' AS json_back,
                       $t.nan_col? IS NULL AS nan_is_null, $t.interval_col::interval = interval '26 hours' AS interval_back
                """))).at("/rows/0");

        assertThat(row.path("int4_type").asText()).isEqualTo("integer");
        assertThat(row.path("int8_type").asText()).isEqualTo("bigint");
        assertThat(row.path("bool_type").asText()).isEqualTo("boolean");
        assertThat(row.path("float8_type").asText()).isEqualTo("numeric");
        assertThat(row.path("int8_exact").asBoolean()).isTrue();
        assertThat(row.path("numeric_back").asText()).isEqualTo("12345678901234567890.123456789");
        assertThat(row.path("tstz_back").asBoolean()).isTrue();
        assertThat(row.path("uuid_back").asText()).isEqualTo("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assertThat(row.path("json_back")).isEqualTo(json("[1, 2.50, null]"));
        assertThat(row.path("nan_is_null").asBoolean()).isTrue();
        assertThat(row.path("interval_back").asBoolean()).isTrue();
    }

    @Test
    void an_enum_is_its_label_and_a_domain_maps_as_its_base_type() {
        env.exec("CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);");
        String result = runs.resultOf(step("SELECT 'ok'::mood AS mood, 5::posint AS posint"));

        assertThat(result).isEqualTo("{\"rows\": [{\"mood\": \"ok\", \"posint\": 5}], \"row_count\": 1}");
    }

    @Test
    void special_values_keep_their_text_form() {
        JsonNode row = json(runs.resultOf(step("""
                SELECT 'NaN'::numeric AS numeric_nan, 1e-7::numeric AS tiny, 'infinity'::timestamptz AS tstz_inf,
                       '-infinity'::timestamp AS ts_neg_inf, '-infinity'::date AS date_neg_inf, 1e300::float8 AS huge,
                       '0001-01-01 BC'::date AS year_zero
                """))).at("/rows/0");

        // jsonb prints 1e300 with all its digits: compare it as a number.
        assertThat(row.path("huge").isNumber()).isTrue();
        assertThat(row.path("huge").asDouble()).isEqualTo(1e300);
        JsonNode rest = ((ObjectNode) row.deepCopy()).without("huge");
        assertThat(rest).isEqualTo(json("""
                {"numeric_nan": "NaN", "tiny": "0.0000001", "tstz_inf": "infinity", "ts_neg_inf": "-infinity",
                 "date_neg_inf": "-infinity", "year_zero": "0000-01-01"}
                """));
    }

    @Test
    void a_repeated_column_name_keeps_its_first_position_and_its_last_value() {
        String id = runs.start("(" + step("SELECT 1 AS a, 2 AS b, 3 AS a") + " |=> 'r') ~> " + step("SELECT $r AS first"));
        runs.assertCompleted(id);

        assertThat(runs.sqlNodeResult(id, "SELECT 1 AS a, 2 AS b, 3 AS a"))
                .isEqualTo("{\"rows\": [{\"a\": 3, \"b\": 2}], \"row_count\": 1}");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"first\": 3}], \"row_count\": 1}");
    }

    @Test
    void a_void_result_is_null() {
        assertThat(runs.resultOf(step("SELECT pg_sleep(0) AS v"))).isEqualTo("{\"rows\": [{\"v\": null}], \"row_count\": 1}");
    }
}
