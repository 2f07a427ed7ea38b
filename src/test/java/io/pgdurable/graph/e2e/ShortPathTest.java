package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.adminColumn;
import static io.pgdurable.graph.e2e.SqlProbe.adminLong;
import static io.pgdurable.graph.e2e.SqlProbe.execAsApp;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.worker.FaultInjector;
import io.pgdurable.worker.FaultPoint;
import io.pgdurable.worker.SimulatedCrashException;
import io.pgdurable.worker.Worker;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The short path: a SQL step's completion and its instance's next turn commit in the step's own
 * transaction, and the next step runs on the same worker without a queue hop. Each test asserts
 * the path taken (the worker's count of short-path turns) and that every step's effect exists
 * exactly once, also when a signal, a cancel, a crash or a second worker meets the short path.
 */
class ShortPathTest {
    private static final Duration DONE = Duration.ofSeconds(40);

    private static DfTestEnvironment env;
    private static final Hooks HOOKS = new Hooks();

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("short_path_e2e");
        execAsApp(env, "CREATE SEQUENCE attempts");
        // Sequences are not transactional: the counter keeps rolled-back attempts.
        execAsApp(env, "CREATE TABLE steps (run text NOT NULL, step text NOT NULL,"
                + " attempt bigint NOT NULL DEFAULT nextval('attempts'))");
    }

    @AfterEach
    void stopWorkers() {
        env.stopWorkers();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    /**
     * n INSERT steps in sequence, each recording (run, step). The odd ones return their step, so
     * they run before their completion is written; the even ones return no rows and go to the
     * database with their completion in one round trip: each test meets both.
     */
    private static String sequence(String run, int n) {
        List<String> steps = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            steps.add(i % 2 == 1 ? insert(run, "s" + i) : write(run, "s" + i));
        }
        return String.join(" ~> ", steps);
    }

    /** A step that returns the row it inserted. */
    private static String insert(String run, String step) {
        return "'INSERT INTO steps (run, step) VALUES (''" + run + "'', ''" + step + "'') RETURNING step'";
    }

    /** A step that inserts a row and returns none. */
    private static String write(String run, String step) {
        return "'INSERT INTO steps (run, step) VALUES (''" + run + "'', ''" + step + "'')'";
    }

    private static List<String> stepsOf(String run) {
        return adminColumn(env, "SELECT step FROM steps WHERE run = ? ORDER BY step", run);
    }

    @Test
    void every_turn_after_a_step_commits_in_the_steps_own_transaction() {
        Worker worker = env.startWorker(FaultInjector.NONE, true);

        String id = env.start(sequence("linear", 5));

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("linear")).containsExactly("s1", "s2", "s3", "s4", "s5");
        // The first turn runs from the start message; each of the five turns after a step took the short path.
        assertThat(worker.stats().shortPathTurns()).isEqualTo(5);
        assertThat(adminLong(env, "SELECT count(*) FROM df.nodes WHERE instance_id = ? AND status <> 'completed'"
                + " AND node_type = 'SQL'", id)).isZero();
        assertThat(adminLong(env, "SELECT count(*) FROM df.instances WHERE id = ? AND completed_at IS NOT NULL"
                + " AND terminal_at IS NOT NULL", id)).isEqualTo(1);
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"step\": \"s5\"}], \"row_count\": 1}");
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?", id)).isZero();
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?", id)).isZero();
        assertHistoryIsWhole(id, 5);
    }

    @Test
    void named_results_pass_between_steps_on_the_short_path() {
        Worker worker = env.startWorker(FaultInjector.NONE, true);

        String id = env.start("('SELECT 20 AS n' |=> 'a') ~> ('SELECT $a + 1 AS n' |=> 'b') ~> "
                + "'INSERT INTO steps (run, step) VALUES (''named'', ($b * 2)::text) RETURNING step'");

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("named")).containsExactly("42");
        assertThat(worker.stats().shortPathTurns()).isEqualTo(3);
    }

    @Test
    void a_step_that_leaves_state_in_its_session_hands_the_next_step_a_clean_one() {
        // The reset travels with the step's completion, before its COMMIT (see
        // df_engine.reset_step_session): the next step, on the same pooled connection, finds none of it.
        execAsApp(env, "CREATE TABLE sessions (step text, pid int, work_mem text, search_path text,"
                + " prepared bigint, temp_gone boolean, listening bigint, advisory bigint)");
        Worker worker = env.startWorker(FaultInjector.NONE, true);
        String leave = "'DO $$ BEGIN"
                + " PERFORM pg_catalog.set_config(''work_mem'', ''7MB'', false);"
                + " EXECUTE ''PREPARE leftover AS SELECT 42'';"
                + " CREATE TEMP TABLE leftover_temp (x int);"
                + " EXECUTE ''LISTEN leftover_channel'';"
                + " PERFORM pg_catalog.pg_advisory_lock(4242);"
                + " INSERT INTO public.sessions (step, pid) VALUES (''leave'', pg_catalog.pg_backend_pid());"
                + " PERFORM pg_catalog.set_config(''search_path'', ''pg_catalog'', false);"
                + " END $$'";
        String look = "'INSERT INTO public.sessions SELECT ''look'', pg_catalog.pg_backend_pid(),"
                + " pg_catalog.current_setting(''work_mem''), pg_catalog.current_setting(''search_path''),"
                + " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_prepared_statements p WHERE p.from_sql),"
                + " pg_catalog.to_regclass(''pg_temp.leftover_temp'') IS NULL,"
                + " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_listening_channels()),"
                + " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_locks l WHERE l.locktype = ''advisory''"
                + " AND l.pid = pg_catalog.pg_backend_pid()) RETURNING step'";

        String id = env.start(leave + " ~> " + look);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(worker.stats().shortPathTurns()).isEqualTo(2);
        assertThat(adminColumn(env, "SELECT count(DISTINCT pid)::text || ' of ' || count(*) FROM sessions"))
                .as("both steps on one pooled connection").containsExactly("1 of 2");
        assertThat(adminColumn(env, "SELECT concat_ws(' ', work_mem, search_path, prepared, temp_gone, listening,"
                + " advisory) FROM sessions WHERE step = 'look'"))
                .containsExactly(adminColumn(env, "SELECT concat_ws(' ', current_setting('work_mem'),"
                        + " '\"$user\", public', 0, true, 0, 0)").get(0));
    }

    @Test
    void an_if_takes_the_short_path_from_its_condition_into_the_taken_arm() {
        Worker worker = env.startWorker(FaultInjector.NONE, true);

        // ?? is JDBC's escape for the ?> operator's question mark.
        String id = env.start("('SELECT true AS ok' ??> " + insert("if", "then") + " !> " + insert("if", "else") + ") ~> "
                + insert("if", "after"));

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("if")).containsExactly("after", "then");
        assertThat(worker.stats().shortPathTurns()).as("after the condition, the arm's step and the last step")
                .isEqualTo(3);
    }

    @Test
    void join_branches_take_the_short_path_inside_and_at_their_end_and_the_join_itself_the_queue() {
        Worker worker = env.startWorker(FaultInjector.NONE, true);

        String id = env.start(insert("join", "a") + " ~> ((" + insert("join", "b1") + " ~> " + write("join", "b2")
                + ") & (" + insert("join", "c1") + " ~> " + write("join", "c2") + ")) ~> " + insert("join", "d"));

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("join")).containsExactly("a", "b1", "b2", "c1", "c2", "d");
        // a's turn starts the branches and the parent's turns take their results: the queue. Each
        // branch's two turns (to its second step, and its end) and d's are short.
        assertThat(worker.stats().shortPathTurns()).isEqualTo(5);
    }

    @Test
    void a_write_with_a_question_mark_operator_and_a_trailing_comment_goes_with_its_completion() {
        // The step's statement travels ahead of the completion in one text for the driver: its
        // own ? (jsonb's operator, not a parameter) and a comment at its end must stay its own.
        Worker worker = env.startWorker(FaultInjector.NONE, true);
        String id = env.start("'INSERT INTO steps (run, step) SELECT ''qmark'', ''s1'' WHERE jsonb_build_object(''a'', 1) ? ''a''"
                + " -- only if the key is there' ~> " + write("qmark", "s2"));

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("qmark")).containsExactly("s1", "s2");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [], \"row_count\": 0}");
        assertThat(worker.stats().shortPathTurns()).as("s1's completion with the next turn, and s2's").isEqualTo(2);
    }

    @Test
    void with_the_short_path_off_every_turn_takes_the_queue_and_the_outcome_is_the_same() {
        Worker worker = env.startWorker(FaultInjector.NONE, false);

        String id = env.start(sequence("queued", 5));

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("queued")).containsExactly("s1", "s2", "s3", "s4", "s5");
        assertThat(worker.stats().shortPathTurns()).isZero();
        assertHistoryIsWhole(id, 5);
    }

    @Test
    void a_message_queued_while_the_step_commits_sends_that_turn_to_the_queue() throws SQLException {
        // At the third step's short path, an event arrives for the instance (no wait consumes it).
        String id = startArmed(sequence("raced", 5), (instance, call) -> {
            if (call == 3) {
                env.queryAsAdmin("SELECT df_engine.raise_event(?, 'nudge', '1')", instance);
            }
        });
        Worker worker = env.startWorker(HOOKS, true);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("raced")).containsExactly("s1", "s2", "s3", "s4", "s5");
        // The event that was waiting comes before s3's completion in history: the short path did
        // not jump ahead of it.
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.history WHERE instance_id = ?"
                + " AND event_type = 'EventRaised' AND name = 'nudge'", id)).isEqualTo(1);
        assertThat(adminLong(env, """
                SELECT ((SELECT seq FROM df_engine.history WHERE instance_id = ? AND name = 'nudge')
                      < (SELECT seq FROM df_engine.history WHERE instance_id = ? AND event_type = 'TaskCompleted'
                          ORDER BY seq OFFSET 2 LIMIT 1))::integer
                """, id, id)).as("nudge before s3's completion").isEqualTo(1);
        assertThat(worker.stats().shortPathTurns()).as("at most every turn but the raced one").isBetween(2L, 4L);
        assertHistoryIsWhole(id, 5);
    }

    @Test
    void a_cancel_while_the_step_commits_rolls_the_step_back_and_nothing_runs_after_it() throws SQLException {
        String id = startArmed(sequence("cancelled", 4), (instance, call) -> {
            if (call == 2) {
                env.queryAsApp("SELECT df.cancel(?)", instance);
            }
        });
        env.startWorker(HOOKS, true);

        assertThat(env.await(id, DONE)).isEqualTo("cancelled");
        assertThat(stepsOf("cancelled")).containsExactly("s1");
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?", id)).isZero();
        assertThat(adminColumn(env, "SELECT status FROM df_engine.instances WHERE id = ?", id))
                .containsExactly("Cancelled");
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.history WHERE instance_id = ?"
                + " AND event_type = 'TaskCompleted'", id)).as("only s1's completion").isEqualTo(1);
    }

    @Test
    void a_crash_before_the_short_path_commits_reruns_the_step_and_its_row_exists_once() throws SQLException {
        Map<String, AtomicInteger> crashed = new ConcurrentHashMap<>();
        String id = startArmed(sequence("crash_before", 3), (instance, call) -> {
            if (call == 2 && crashed.computeIfAbsent(instance, k -> new AtomicInteger()).getAndIncrement() == 0) {
                throw new SimulatedCrashException(FaultPoint.SHORT_PATH_DECIDED);
            }
        });
        env.startWorker(HOOKS, true);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(stepsOf("crash_before")).containsExactly("s1", "s2", "s3");
        // The crashed attempt of s2 rolled back and left only a used sequence value.
        assertThat(adminLong(env, "SELECT count(*) FROM steps WHERE run = 'crash_before'")).isEqualTo(3);
        assertThat(crashed.get(id).get()).isEqualTo(1);
        assertHistoryIsWhole(id, 3);
    }

    @Test
    void a_crash_after_the_short_path_committed_never_reruns_the_step_and_its_successor_runs_once()
            throws SQLException {
        Map<String, AtomicInteger> crashed = new ConcurrentHashMap<>();
        String id = startArmedAt(FaultPoint.AFTER_ACTIVITY_COMMIT, sequence("crash_after", 3), (instance, call) -> {
            if (call == 1 && crashed.computeIfAbsent(instance, k -> new AtomicInteger()).getAndIncrement() == 0) {
                throw new SimulatedCrashException(FaultPoint.AFTER_ACTIVITY_COMMIT);
            }
        });
        env.startWorker(HOOKS, true);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        // s2 was leased to the "dead" worker by s1's short path; it ran once its lease expired.
        assertThat(adminColumn(env, "SELECT step FROM steps WHERE run = 'crash_after' ORDER BY attempt"))
                .containsExactly("s1", "s2", "s3");
        assertHistoryIsWhole(id, 3);
    }

    @Test
    void two_workers_racing_over_the_same_instances_run_every_step_exactly_once() {
        Worker a = env.startWorker(FaultInjector.NONE, true);
        Worker b = env.startWorker(FaultInjector.NONE, true);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ids.add(env.start(sequence("pair" + i, 6)));
        }

        for (int i = 0; i < ids.size(); i++) {
            assertThat(env.await(ids.get(i), DONE)).isEqualTo("completed");
            assertThat(stepsOf("pair" + i)).containsExactly("s1", "s2", "s3", "s4", "s5", "s6");
            assertHistoryIsWhole(ids.get(i), 6);
        }
        assertThat(a.stats().shortPathTurns() + b.stats().shortPathTurns()).isPositive();
    }

    /**
     * The history of a finished sequence of {@code steps} steps: each task scheduled and
     * completed once, and the positions without gaps.
     */
    private static void assertHistoryIsWhole(String id, int steps) {
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.history WHERE instance_id = ?"
                + " AND event_type = 'TaskCompleted'", id)).isEqualTo(steps);
        assertThat(adminLong(env, "SELECT count(DISTINCT task_id) FROM df_engine.history WHERE instance_id = ?"
                + " AND event_type = 'TaskScheduled'", id)).isEqualTo(steps);
        assertThat(adminLong(env, "SELECT max(seq) - count(*) FROM df_engine.history WHERE instance_id = ?", id))
                .isZero();
    }

    private static String startArmed(String workflow, BiConsumer<String, Integer> hook) throws SQLException {
        return startArmedAt(FaultPoint.SHORT_PATH_DECIDED, workflow, hook);
    }

    /** Starts a workflow with a hook armed for it before any worker can see it. */
    private static String startArmedAt(FaultPoint point, String workflow, BiConsumer<String, Integer> hook)
            throws SQLException {
        return env.startArmed(workflow, id -> HOOKS.arm(id, point, hook));
    }

    /** Runs an armed instance's hook at its fault point, with the count of calls so far (from 1). */
    private static final class Hooks implements FaultInjector {
        private record Armed(FaultPoint point, BiConsumer<String, Integer> hook) {
        }

        private final Map<String, Armed> armed = new ConcurrentHashMap<>();
        private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();

        void arm(String id, FaultPoint point, BiConsumer<String, Integer> hook) {
            armed.put(id, new Armed(point, hook));
        }

        @Override
        public void at(FaultPoint point, String instanceId) {
            Armed a = armed.get(instanceId);
            if (a == null || a.point() != point) {
                return;
            }
            a.hook().accept(instanceId, calls.computeIfAbsent(instanceId, k -> new AtomicInteger()).incrementAndGet());
        }
    }
}
