package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * JSON numbers stay exact through a workflow: in a step's result as stored, substituted into a
 * later step as {@code $name}, deciding a condition, as signal data and as a {@code df.break}
 * value. None of them passes through a double, so digits beyond a double's 17 and magnitudes
 * beyond its range survive.
 */
class DfExactNumbersTest {
    private static final String PRECISE = "12345678901234567890.123456789012345";
    private static final String LONG_INTEGER = "123456789012345678901234567890123456789012345678901234567890";

    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_exact_numbers");
        runs = new WorkflowRuns(env);
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void a_decimal_with_more_digits_than_a_double_survives_storage_and_substitution() {
        String id = runs.start("(" + step("SELECT '" + PRECISE + "'::json AS x") + " |=> 'r') ~> "
                + step("SELECT $r AS back, $r = " + PRECISE + " AS same, '$r' AS quoted"));
        runs.assertCompleted(id);

        assertThat(field(id, "back")).isEqualTo(PRECISE);
        assertThat(field(id, "same")).isEqualTo("true");
        assertThat(field(id, "quoted")).isEqualTo(PRECISE);
        assertThat(firstStepValue(id, "x")).isEqualTo(PRECISE);
    }

    @Test
    void a_number_beyond_a_doubles_range_is_neither_infinity_nor_zero() {
        String id = runs.start("(" + step("SELECT '1e400'::json AS big, '1e-400'::json AS tiny") + " |=> 'r') ~> "
                + step("SELECT $r = 1e400 AS big_exact, $r.tiny = 1e-400 AS tiny_exact, length('$r') AS digits"));
        runs.assertCompleted(id);

        assertThat(field(id, "big_exact")).isEqualTo("true");
        assertThat(field(id, "tiny_exact")).isEqualTo("true");
        assertThat(field(id, "digits")).as("1e400 substituted as text: a 1 and 400 zeros").isEqualTo("401");
        assertThat(env.queryAsApp("""
                SELECT (n.result #>> '{rows,0,big}')::numeric = 1e400 AND (n.result #>> '{rows,0,tiny}')::numeric = 1e-400
                  FROM df.nodes n WHERE n.instance_id = ? AND n.query LIKE '%::json AS big%'
                """, id)).as("the stored result").isEqualTo("t");
    }

    @Test
    void a_tiny_non_zero_number_is_true_as_a_condition_and_negative_zero_is_false() {
        String tiny = runs.resultOf("df.if(" + step("SELECT '1e-400'::json AS x") + ", "
                + step("SELECT 'then' AS b") + ", " + step("SELECT 'else' AS b") + ")");
        String zero = runs.resultOf("df.if(" + step("SELECT '-0.0'::json AS x") + ", "
                + step("SELECT 'then' AS b") + ", " + step("SELECT 'else' AS b") + ")");

        assertThat(tiny).contains("\"b\": \"then\"");
        assertThat(zero).contains("\"b\": \"else\"");
    }

    @Test
    void negative_zero_is_stored_and_substituted_as_zero() {
        String id = runs.start("(" + step("SELECT '[-0, -0.0, -0e5]'::json AS zeros, '-0'::json AS z") + " |=> 'r') ~> "
                + step("SELECT $r.z AS z, $r.z = 0 AS is_zero"));
        runs.assertCompleted(id);

        assertThat(field(id, "is_zero")).isEqualTo("true");
        assertThat(env.queryAsApp("""
                SELECT bool_and(v::numeric = 0) FROM df.nodes n,
                       jsonb_array_elements_text(n.result #> '{rows,0,zeros}') v
                 WHERE n.instance_id = ? AND n.query LIKE '%-0e5%'
                """, id)).isEqualTo("t");
    }

    @Test
    void a_very_long_integer_survives_substitution_and_arithmetic() {
        String id = runs.start("(" + step("SELECT '" + LONG_INTEGER + "'::json AS n") + " |=> 'r') ~> "
                + step("SELECT $r + 1 AS next"));
        runs.assertCompleted(id);

        assertThat(field(id, "next")).isEqualTo(LONG_INTEGER.substring(0, LONG_INTEGER.length() - 1) + "1");
    }

    @Test
    void signal_data_numbers_reach_the_next_step_exactly() {
        String id = runs.start("(df.wait_for_signal('go') |=> 's') ~> "
                + step("SELECT ($s.data::jsonb ->> 'v')::numeric = " + PRECISE + " AS v_exact,"
                        + " ($s.data::jsonb ->> 'big')::numeric = 1e400 AS big_exact"));
        DfTestEnvironment.awaitTrue(() -> "running".equals(env.queryAsApp(
                "SELECT status FROM df.nodes WHERE instance_id = ? AND node_type = 'SIGNAL'", id)),
                WorkflowRuns.TIMEOUT, "the signal wait");

        env.queryAsApp("SELECT df.signal(?, 'go', ?)", id, "{\"v\": " + PRECISE + ", \"big\": 1e400}");
        runs.assertCompleted(id);

        assertThat(field(id, "v_exact")).isEqualTo("true");
        assertThat(field(id, "big_exact")).isEqualTo("true");
        assertThat(env.queryAsApp("""
                SELECT result #>> '{data,v}' FROM df.nodes WHERE instance_id = ? AND node_type = 'SIGNAL'
                """, id)).isEqualTo(PRECISE);
    }

    @Test
    void a_break_value_is_the_loops_exact_result() {
        String result = runs.resultOf("df.loop(df.break('" + PRECISE + "'))");

        assertThat(result).isEqualTo(PRECISE);
    }

    /** A column of the first row of the instance's result, as text. */
    private static String field(String id, String column) {
        return env.queryAsApp("SELECT df.result(?)::jsonb #>> ?::text[]", id, "{rows,0," + column + "}");
    }

    /** A column of the first row of the stored result of the step whose SQL names {@code column}. */
    private static String firstStepValue(String id, String column) {
        return env.queryAsApp("SELECT result #>> ?::text[] FROM df.nodes WHERE instance_id = ? AND query LIKE ?",
                "{rows,0," + column + "}", id, "%::json AS " + column + "%");
    }
}
