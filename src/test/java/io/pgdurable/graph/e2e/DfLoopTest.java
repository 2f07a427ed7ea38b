package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.json;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Loops run by a real worker: at the root (inline, one continue-as-new generation per iteration)
 * and below it (a child orchestration), with df.break, with a while-condition, nested, and broken
 * out of from inside JOIN and RACE branches. Every iteration that does not wait takes at least a
 * second, so the loops here stop after two to four iterations.
 */
class DfLoopTest {
    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_loops");
        runs = new WorkflowRuns(env);
        env.exec("""
                CREATE TABLE ticks (n bigserial PRIMARY KEY, src text NOT NULL);
                CREATE TABLE prefix_runs (src text NOT NULL);
                CREATE TABLE inner_ticks (outer_pass bigint NOT NULL);
                """);
        env.exec("GRANT ALL ON ALL TABLES IN SCHEMA public TO " + env.role()
                + "; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO " + env.role());
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    private static String tick(String src) {
        return step("INSERT INTO ticks (src) VALUES ('" + src + "')");
    }

    /** {@code (ticks of src >= n) ?> then !> 'SELECT 0'}. */
    private static String whenTicks(String src, int n, String then) {
        return "(" + step("SELECT count(*) >= " + n + " FROM ticks WHERE src = '" + src + "'") + " ?> " + then
                + " !> " + step("SELECT 0") + ")";
    }

    private static long ticks(String src) {
        return runs.count("SELECT count(*) FROM ticks WHERE src = ?", src);
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);  // paces sampling only; waits for outcomes use Poll or a sentinel
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    @Test
    void a_root_loop_repeats_its_body_until_break_and_returns_the_break_value() {
        String id = runs.start("@> (" + tick("root") + " ~> " + whenTicks("root", 3, "df.break('{\"status\": \"done\"}')") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"status\": \"done\"}");
        assertThat(ticks("root")).isEqualTo(3);
        // One generation per iteration.
        assertThat(runs.count("SELECT count(*) FROM df_engine.executions WHERE instance_id = ?", id)).isEqualTo(3);
    }

    @Test
    void a_break_without_a_value_ends_the_loop_with_a_null_result() {
        String id = runs.start("df.\"loop\"(" + tick("bare-break") + " ~> df.\"break\"())");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("null");
        assertThat(ticks("bare-break")).isEqualTo(1);
    }

    @Test
    void a_break_value_that_is_not_json_becomes_a_json_string() {
        String id = runs.start("@> df.\"break\"('done')");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("\"done\"");
    }

    @Test
    void a_while_condition_is_checked_after_each_body_and_the_loop_returns_the_last_body_result() {
        String id = runs.start("df.\"loop\"(" + step("INSERT INTO ticks (src) VALUES ('while') RETURNING src, n")
                + ", " + step("SELECT count(*) < 3 FROM ticks WHERE src = 'while'") + ")");
        runs.assertCompleted(id);

        assertThat(ticks("while")).isEqualTo(3);
        long lastN = runs.count("SELECT max(n) FROM ticks WHERE src = 'while'");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"n\": " + lastN + ", \"src\": \"while\"}], \"row_count\": 1}");
    }

    @Test
    void a_false_while_condition_still_runs_the_body_once() {
        String id = runs.start("df.\"loop\"(" + tick("do-while") + ", " + step("SELECT false") + ")");
        runs.assertCompleted(id);

        assertThat(ticks("do-while")).isEqualTo(1);
        assertThat(env.result(id)).isEqualTo("{\"rows\": [], \"row_count\": 0}");
    }

    @Test
    void a_break_in_the_while_condition_leaves_the_loop_with_its_value() {
        String id = runs.start("df.\"loop\"(" + tick("in-condition") + ", df.\"break\"('from condition'))");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("\"from condition\"");
        assertThat(ticks("in-condition")).isEqualTo(1);
    }

    @Test
    void work_before_a_non_root_loop_runs_once_and_work_after_it_sees_the_loop_result() {
        String id = runs.start(step("INSERT INTO prefix_runs VALUES ('non-root')")
                + " ~> (df.\"loop\"(" + tick("non-root") + " ~> " + whenTicks("non-root", 3, "df.\"break\"('{\"status\": \"left\"}')")
                + ") |=> 'lr') ~> " + step("SELECT $lr.status AS status, (SELECT count(*) FROM prefix_runs WHERE src = 'non-root') AS prefix_runs"));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"status\": \"left\", \"prefix_runs\": 1}], \"row_count\": 1}");
        assertThat(ticks("non-root")).isEqualTo(3);
        assertThat(runs.count("SELECT count(*) FROM prefix_runs WHERE src = 'non-root'")).isEqualTo(1);
        String loopChild = id + "::1::" + runs.nodeId(id, "LOOP");
        assertThat(env.queryAsAdmin("SELECT name || ' ' || status FROM df_engine.instances WHERE id = ?", loopChild))
                .isEqualTo("df.loop Completed");
        // The parent did not continue as new: only its child looped.
        assertThat(runs.count("SELECT count(*) FROM df_engine.executions WHERE instance_id = ?", id)).isEqualTo(1);
        assertThat(runs.count("SELECT count(*) FROM df_engine.executions WHERE instance_id = ?", loopChild)).isEqualTo(3);
    }

    @Test
    void a_loop_inside_an_if_arm_runs_and_its_result_is_the_if_result() {
        String id = runs.start("(" + step("SELECT true") + " ?> df.\"loop\"(" + tick("in-if") + " ~> "
                + whenTicks("in-if", 2, "df.\"break\"('in if')") + ") !> " + step("SELECT 'else'") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("\"in if\"");
        assertThat(ticks("in-if")).isEqualTo(2);
    }

    @Test
    void a_break_in_an_inner_loop_leaves_only_the_inner_loop() {
        // The outer loop runs the inner loop twice; each inner run breaks after two passes.
        String inner = "df.\"loop\"(" + step("INSERT INTO inner_ticks SELECT count(*) FROM ticks WHERE src = 'outer'")
                + " ~> (" + step("SELECT count(*) >= 2 FROM inner_ticks WHERE outer_pass = "
                + "(SELECT count(*) FROM ticks WHERE src = 'outer')") + " ?> df.\"break\"('inner done') !> "
                + step("SELECT 0") + "))";
        String id = runs.start("@> (" + tick("outer") + " ~> " + inner + " ~> "
                + whenTicks("outer", 2, "df.\"break\"('outer done')") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("\"outer done\"");
        assertThat(ticks("outer")).isEqualTo(2);
        assertThat(runs.count("SELECT count(*) FROM inner_ticks")).isEqualTo(4);
        assertThat(runs.count("SELECT count(DISTINCT outer_pass) FROM inner_ticks")).isEqualTo(2);
    }

    @Test
    void a_break_inside_a_join_branch_leaves_the_enclosing_loop() {
        String id = runs.start("@> ((" + tick("join") + " ~> " + whenTicks("join", 2, "df.\"break\"('from join')") + ") & "
                + step("SELECT 'other branch'") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("\"from join\"");
        assertThat(ticks("join")).isEqualTo(2);
    }

    @Test
    void a_break_inside_the_winning_race_branch_leaves_the_enclosing_loop_and_the_loser_is_cancelled() {
        String id = runs.start("@> (df.sleep(30) | (" + tick("race") + " ~> df.\"break\"('from race')))");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("\"from race\"");
        assertThat(ticks("race")).isEqualTo(1);
        String sleepChild = id + "::1::" + runs.nodeId(id, "SLEEP");
        DfTestEnvironment.awaitTrue(() -> "Cancelled".equals(runs.engineStatus(sleepChild)), Duration.ofSeconds(10),
                "the losing sleep " + sleepChild + " to be cancelled");
    }

    @Test
    void a_loop_that_loses_a_race_stops_iterating() {
        String id = runs.start("(@> " + tick("loser") + ") | df.sleep(2)");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("{\"slept\": true, \"seconds\": 2}");
        String loopChild = id + "::1::" + runs.nodeId(id, "LOOP");
        DfTestEnvironment.awaitTrue(() -> "Cancelled".equals(runs.engineStatus(loopChild)), Duration.ofSeconds(10),
                "the losing loop " + loopChild + " to be cancelled");
        long ticksAtCancel = ticks("loser");
        assertThat(ticksAtCancel).isBetween(1L, 3L);
        // A live loop would tick again within a second: a sentinel that takes longer has completed.
        env.awaitSentinel(1);
        assertThat(ticks("loser")).isEqualTo(ticksAtCancel);
    }

    @Test
    void a_loop_as_a_join_branch_returns_its_break_value_in_the_branch_position() {
        String id = runs.start(step("SELECT 'first' AS b") + " & df.\"loop\"(" + tick("branch") + " ~> "
                + whenTicks("branch", 2, "df.\"break\"('{\"looped\": 2}')") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[{\"rows\": [{\"b\": \"first\"}], \"row_count\": 1}, {\"looped\": 2}]");
        assertThat(ticks("branch")).isEqualTo(2);
    }

    @Test
    void engine_history_stays_bounded_however_many_iterations_a_loop_runs() {
        String id = runs.start("@> (" + tick("history") + " ~> " + step("SELECT 1 AS a") + " ~> " + step("SELECT 2 AS b")
                + " ~> " + whenTicks("history", 4, "df.\"break\"('enough')") + ")");
        // Watch the history while the loop runs: it never holds more than one generation.
        long maxRows = 0;
        long maxGenerations = 0;
        long deadline = System.nanoTime() + WorkflowRuns.TIMEOUT.toNanos();
        while (!"completed".equals(env.queryAsApp("SELECT df.status(?)", id))) {
            assertThat(System.nanoTime()).as("loop still running; nodes:%n%s", runs.nodes(id)).isLessThan(deadline);
            maxRows = Math.max(maxRows, runs.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ?", id));
            maxGenerations = Math.max(maxGenerations,
                    runs.count("SELECT count(DISTINCT execution_id) FROM df_engine.history WHERE instance_id = ?", id));
            sleepQuietly(50);  // the pace of sampling while the loop runs, not a wait for an outcome
        }
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("\"enough\"");
        assertThat(ticks("history")).isEqualTo(4);
        assertThat(runs.count("SELECT count(*) FROM df_engine.executions WHERE instance_id = ?", id)).isEqualTo(4);
        assertThat(maxGenerations).isLessThanOrEqualTo(1);
        long finalRows = runs.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ?", id);
        // One iteration's events: four steps, a condition, the pacing timer and their completions.
        assertThat(Math.max(maxRows, finalRows)).isLessThan(40);
        assertThat(json(env.queryAsApp("SELECT to_json(array_agg(execution_id)) FROM df.instance_executions(?, 10)", id)))
                .hasSize(4);
    }
}
