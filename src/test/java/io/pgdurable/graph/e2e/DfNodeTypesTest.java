package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.json;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each node type on its own, run by a real worker: SQL, THEN, IF (operators, df."if",
 * df.if_rows), JOIN (&amp;, join3), RACE, SLEEP and BREAK outside a loop. Loops and breaks inside
 * them are in {@link DfLoopTest}; WAIT_SCHEDULE, under a clock the test sets, in
 * {@link WaitForScheduleTest}.
 */
class DfNodeTypesTest {
    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_node_types");
        runs = new WorkflowRuns(env);
        env.exec("""
                CREATE TABLE steps_log (seq serial PRIMARY KEY, v text NOT NULL);
                CREATE TABLE marks (m text PRIMARY KEY);
                CREATE TABLE race_loser_effects (at timestamptz DEFAULT clock_timestamp());
                -- Waits (bounded) until another step has committed mark p: two steps that each
                -- wait for the other's mark only both finish if they run at the same time.
                CREATE FUNCTION await_mark(p text) RETURNS text LANGUAGE plpgsql AS $$
                BEGIN
                    FOR i IN 1 .. 200 LOOP
                        IF EXISTS (SELECT 1 FROM marks WHERE m = p) THEN
                            RETURN p;
                        END IF;
                        PERFORM pg_sleep(0.05);
                    END LOOP;
                    RAISE EXCEPTION 'mark % never appeared', p;
                END $$;
                """);
        env.exec("GRANT ALL ON ALL TABLES IN SCHEMA public TO " + env.role()
                + "; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO " + env.role());
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void a_sql_step_returns_every_row_in_column_order_and_the_row_count() {
        String id = runs.start(step("SELECT 1 AS b, 'x' AS a UNION ALL SELECT 2, 'y'"));
        runs.assertCompleted(id);

        assertThat(env.result(id))
                .isEqualTo("{\"rows\": [{\"a\": \"x\", \"b\": 1}, {\"a\": \"y\", \"b\": 2}], \"row_count\": 2}");
    }

    @Test
    void a_statement_without_a_result_set_returns_no_rows_and_its_effect_is_committed() {
        String id = runs.start(step("INSERT INTO steps_log (v) VALUES ('no result set')"));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"rows\": [], \"row_count\": 0}");
        assertThat(runs.count("SELECT count(*) FROM steps_log WHERE v = 'no result set'")).isEqualTo(1);
    }

    @Test
    void then_runs_the_left_step_before_the_right_and_returns_the_right_result() {
        String id = runs.start(step("INSERT INTO steps_log (v) VALUES ('then-1')")
                + " ~> " + step("INSERT INTO steps_log (v) VALUES ('then-2')")
                + " ~> " + step("SELECT string_agg(v, ',' ORDER BY seq) AS seen FROM steps_log WHERE v LIKE 'then-%'"));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"seen\": \"then-1,then-2\"}], \"row_count\": 1}");
    }

    @Test
    void if_operators_run_only_the_then_arm_when_the_condition_is_true() {
        String id = runs.start("(" + step("SELECT true") + " ?> " + step("SELECT 'then' AS arm")
                + " !> " + step("INSERT INTO steps_log (v) VALUES ('else arm ran') RETURNING v") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"arm\": \"then\"}], \"row_count\": 1}");
        assertThat(runs.count("SELECT count(*) FROM steps_log WHERE v = 'else arm ran'")).isZero();
    }

    @Test
    void if_operators_run_only_the_else_arm_when_the_condition_is_false() {
        String id = runs.start("(" + step("SELECT false") + " ?> "
                + step("INSERT INTO steps_log (v) VALUES ('then arm ran') RETURNING v")
                + " !> " + step("SELECT 'else' AS arm") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"arm\": \"else\"}], \"row_count\": 1}");
        assertThat(runs.count("SELECT count(*) FROM steps_log WHERE v = 'then arm ran'")).isZero();
    }

    @Test
    void df_if_branches_on_the_truthiness_of_the_condition_result() {
        String[][] cases = {
                {"SELECT 0", "else"},
                {"SELECT 2.5", "then"},
                {"SELECT 'yes'", "then"},
                {"SELECT 'f'", "else"},
                {"SELECT NULL::int", "else"},
                {"SELECT 1 WHERE false", "else"},
                {"SELECT '{\"k\": 1}'::jsonb", "then"},
                {"SELECT '[]'::jsonb", "else"},
        };
        String[] ids = new String[cases.length];
        for (int i = 0; i < cases.length; i++) {
            ids[i] = runs.start("df.\"if\"(" + step(cases[i][0]) + ", " + step("SELECT 'then' AS arm") + ", "
                    + step("SELECT 'else' AS arm") + ")");
        }
        for (int i = 0; i < cases.length; i++) {
            runs.assertCompleted(ids[i]);
            assertThat(json(env.result(ids[i])).at("/rows/0/arm").asText()).as(cases[i][0]).isEqualTo(cases[i][1]);
        }
    }

    @Test
    void if_rows_takes_the_then_arm_only_when_the_named_result_has_rows() {
        String withRows = runs.start("(" + step("SELECT 1 AS n") + " |=> 'found') ~> df.if_rows('found', "
                + step("SELECT 'has rows' AS arm") + ", " + step("SELECT 'no rows' AS arm") + ")");
        String withoutRows = runs.start("(" + step("SELECT 1 AS n WHERE false") + " |=> 'found') ~> df.if_rows('found', "
                + step("SELECT 'has rows' AS arm") + ", " + step("SELECT 'no rows' AS arm") + ")");
        runs.assertCompleted(withRows);
        runs.assertCompleted(withoutRows);

        assertThat(json(env.result(withRows)).at("/rows/0/arm").asText()).isEqualTo("has rows");
        assertThat(json(env.result(withoutRows)).at("/rows/0/arm").asText()).isEqualTo("no rows");
    }

    @Test
    void if_rows_on_a_result_that_was_never_named_fails_the_instance_with_the_name() {
        String id = runs.start("df.if_rows('never_named', " + step("SELECT 1") + ", " + step("SELECT 2") + ")");
        runs.assertFailed(id);

        assertThat(runs.rootError(id)).isEqualTo("df.if_rows: result 'never_named' not found");
        assertThat(env.result(id)).isNull();
    }

    @Test
    void if_rows_on_a_result_that_is_not_a_sql_result_fails_the_instance() {
        String id = runs.start("((" + step("SELECT 1") + " & " + step("SELECT 2") + ") |=> 'joined') ~> df.if_rows('joined', "
                + step("SELECT 1") + ", " + step("SELECT 2") + ")");
        runs.assertFailed(id);

        assertThat(runs.rootError(id)).isEqualTo("df.if_rows: result 'joined' is not a SQL result (missing row_count)");
    }

    @Test
    void join_operator_returns_both_branch_results_in_branch_order_not_finishing_order() {
        String id = runs.start(step("SELECT 'slow' AS l FROM pg_sleep(0.5)") + " & " + step("SELECT 'fast' AS r"));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[{\"rows\": [{\"l\": \"slow\"}], \"row_count\": 1}, "
                + "{\"rows\": [{\"r\": \"fast\"}], \"row_count\": 1}]");
    }

    @Test
    void join3_runs_its_three_branches_at_the_same_time_and_returns_three_results_in_order() {
        // Each branch marks itself, then waits for the other two: this finishes only if all run at once.
        String[] names = {"j1", "j2", "j3"};
        StringBuilder expr = new StringBuilder("df.join3(");
        for (int i = 0; i < 3; i++) {
            String me = names[i];
            String a = names[(i + 1) % 3];
            String b = names[(i + 2) % 3];
            expr.append(i == 0 ? "" : ", ")
                    .append(step("INSERT INTO marks VALUES ('" + me + "')"))
                    .append(" ~> ")
                    .append(step("SELECT '" + me + "' AS branch, await_mark('" + a + "') AS a, await_mark('" + b + "') AS b"));
        }
        String id = runs.start(expr.append(")").toString());
        runs.assertCompleted(id);

        var result = json(env.result(id));
        assertThat(result.isArray()).isTrue();
        assertThat(result).hasSize(3);
        assertThat(result.get(0).at("/rows/0/branch").asText()).isEqualTo("j1");
        assertThat(result.get(1).at("/rows/0/branch").asText()).isEqualTo("j2");
        assertThat(result.get(2).at("/rows/0/branch").asText()).isEqualTo("j3");
        assertThat(result.get(2).path("row_count").asInt()).isEqualTo(1);
    }

    @Test
    void race_returns_the_winners_result_and_cancels_the_losing_branch() {
        String id = runs.start("(df.sleep(1) ~> " + step("INSERT INTO race_loser_effects DEFAULT VALUES") + ") | "
                + step("SELECT 'winner' AS w"));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"w\": \"winner\"}], \"row_count\": 1}");
        String race = runs.nodeId(id, "RACE");
        String loserNode = env.queryAsApp("SELECT left_node FROM df.nodes WHERE instance_id = ? AND id = ?", id, race);
        String winnerNode = env.queryAsApp("SELECT right_node FROM df.nodes WHERE instance_id = ? AND id = ?", id, race);
        String loserChild = id + "::1::" + loserNode;
        DfTestEnvironment.awaitTrue(() -> "Cancelled".equals(runs.engineStatus(loserChild)), Duration.ofSeconds(10),
                "the losing branch " + loserChild + " to be cancelled");
        assertThat(runs.engineStatus(id + "::1::" + winnerNode)).isEqualTo("Completed");
        // The loser's timer would have fired a second after the start; a sentinel due later has
        // completed, so the loser's next step would have run by now had its branch survived.
        env.awaitSentinel(2);
        assertThat(runs.count("SELECT count(*) FROM race_loser_effects")).isZero();
        assertThat(runs.engineStatus(loserChild)).isEqualTo("Cancelled");
    }

    @Test
    void sleep_waits_at_least_its_duration_and_returns_slept_and_seconds() {
        Instant before = Instant.now();
        String id = runs.start("df.sleep(1)");
        runs.assertCompleted(id);

        assertThat(Duration.between(before, Instant.now())).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
        assertThat(env.result(id)).isEqualTo("{\"slept\": true, \"seconds\": 1}");
    }

    @Test
    void a_zero_second_sleep_completes_at_once_with_its_result() {
        String id = runs.start("df.sleep(0)");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"slept\": true, \"seconds\": 0}");
    }

    @Test
    void a_break_outside_any_loop_fails_the_instance_and_has_no_result() {
        String id = runs.start("df.break('x')");
        runs.assertFailed(id);

        assertThat(env.result(id)).isNull();
        assertThat(env.queryAsApp("SELECT output FROM df.instance_info(?)", id))
                .contains("df.break() was called outside of a loop");
    }
}
