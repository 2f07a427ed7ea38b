package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.adminColumn;
import static io.pgdurable.graph.e2e.SqlProbe.adminLong;
import static io.pgdurable.graph.e2e.SqlProbe.execAsApp;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.worker.FaultInjector;
import io.pgdurable.worker.FaultPoint;
import io.pgdurable.worker.SimulatedCrashException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SQL steps happen exactly once even when the worker "dies" around the commit that records them:
 * before it, the step's work is rolled back with it and the step runs again once its lease
 * expires; after it, the step never runs again.
 */
class ExactlyOnceStepTest {
    private static final Duration DONE = Duration.ofSeconds(40);
    /** Four INSERT steps, two of them in parallel JOIN branches (their own engine instances). */
    private static final String WORKFLOW = """
            'INSERT INTO %1$s (step) VALUES (''a'')'
            ~> ('INSERT INTO %1$s (step) VALUES (''b'')' & 'INSERT INTO %1$s (step) VALUES (''c'')')
            ~> 'INSERT INTO %1$s (step) VALUES (''d'') RETURNING step'
            """;

    private static final CrashPlan CRASHES = new CrashPlan();
    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("once_e2e");
        for (String table : new String[] {"once_before", "once_after"}) {
            execAsApp(env, "CREATE SEQUENCE " + table + "_attempts");
            // Sequences are not transactional: the attempt counter keeps rolled-back attempts.
            execAsApp(env, "CREATE TABLE " + table + " (step text NOT NULL, attempt bigint NOT NULL DEFAULT nextval('"
                    + table + "_attempts'))");
        }
        env.startWorker(CRASHES);
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void crash_before_the_step_commits_reruns_the_step_and_its_row_exists_exactly_once() throws SQLException {
        String id = startArmed(WORKFLOW.formatted("once_before"), FaultPoint.BEFORE_ACTIVITY_COMMIT);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"step\": \"d\"}], \"row_count\": 1}");
        assertThat(adminColumn(env, "SELECT step FROM once_before ORDER BY step")).containsExactly("a", "b", "c", "d");
        assertThat(CRASHES.crashes(id)).isEqualTo(4);
        // Every step was attempted twice. d, which returns rows, ran before its completion was
        // written: its crashed attempt left no row, only a used sequence value. a, b and c return
        // none and go to the database with their completion in one round trip, so the crash came
        // before their statement was sent (a round trip cut short after its statement ran is the
        // next test).
        assertThat(adminLong(env, "SELECT last_value FROM once_before_attempts")).isEqualTo(5);
        assertNoStepCompletedTwice(id);
    }

    @Test
    void a_write_whose_round_trip_dies_after_its_statement_ran_is_rolled_back_and_runs_again() {
        // The step's first attempt ends its own session in the middle of its statement, after
        // the row was inserted and before the completion and the COMMIT sent with it could run.
        execAsApp(env, "CREATE SEQUENCE cut_attempts");
        execAsApp(env, "CREATE TABLE cut_rows (step text NOT NULL, attempt bigint NOT NULL)");
        String id = env.start("""
                'INSERT INTO cut_rows (step, attempt) VALUES (''a'', nextval(''cut_attempts''))'
                ~> 'INSERT INTO cut_rows (step, attempt)
                    SELECT ''b'', n FROM (SELECT nextval(''cut_attempts'') AS n) s
                     WHERE n > 2 OR pg_terminate_backend(pg_backend_pid())'
                ~> 'INSERT INTO cut_rows (step, attempt) VALUES (''c'', nextval(''cut_attempts''))'
                """);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(adminColumn(env, "SELECT step || ' ' || attempt FROM cut_rows ORDER BY attempt"))
                .as("b's first attempt (2) rolled back with its session").containsExactly("a 1", "b 3", "c 4");
        assertThat(adminLong(env, """
                SELECT count(*) FROM df_engine.history WHERE instance_id = ? AND event_type = 'TaskCompleted'
                """, id)).isEqualTo(3);
    }

    @Test
    void crash_after_the_step_commits_never_runs_the_step_again() throws SQLException {
        String id = startArmed(WORKFLOW.formatted("once_after"), FaultPoint.AFTER_ACTIVITY_COMMIT);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"step\": \"d\"}], \"row_count\": 1}");
        assertThat(adminColumn(env, "SELECT step FROM once_after ORDER BY step")).containsExactly("a", "b", "c", "d");
        assertThat(CRASHES.crashes(id)).isEqualTo(4);
        // One attempt per step: nothing ran twice.
        assertThat(adminLong(env, "SELECT last_value FROM once_after_attempts")).isEqualTo(4);
        assertNoStepCompletedTwice(id);
    }

    /** Starts a workflow and arms the crash plan for it before the worker can see it. */
    private static String startArmed(String workflow, FaultPoint point) throws SQLException {
        return env.startArmed(workflow, id -> CRASHES.arm(id, point));
    }

    private static void assertNoStepCompletedTwice(String id) {
        assertThat(adminLong(env, """
                SELECT count(*) FROM (
                    SELECT instance_id, execution_id, task_id FROM df_engine.history
                     WHERE event_type = 'TaskCompleted' AND (instance_id = ? OR instance_id LIKE ? || '::%')
                     GROUP BY instance_id, execution_id, task_id HAVING count(*) > 1) dup
                """, id, id)).isZero();
        assertThat(adminLong(env, """
                SELECT count(*) FROM df_engine.history
                 WHERE event_type = 'TaskCompleted' AND (instance_id = ? OR instance_id LIKE ? || '::%')
                """, id, id)).isEqualTo(4);
    }

    /**
     * Crashes the first attempt of every SQL step of an armed workflow at one fault point. Steps
     * of one engine instance run one after another, so within an engine instance (the root or a
     * branch) odd-numbered calls are first attempts.
     */
    private static final class CrashPlan implements FaultInjector {
        private final Map<String, FaultPoint> armed = new ConcurrentHashMap<>();
        private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        private final Map<String, AtomicInteger> crashes = new ConcurrentHashMap<>();

        void arm(String rootId, FaultPoint point) {
            armed.put(rootId, point);
        }

        int crashes(String rootId) {
            AtomicInteger n = crashes.get(rootId);
            return n == null ? 0 : n.get();
        }

        @Override
        public void at(FaultPoint point, String instanceId) {
            String root = instanceId.split("::", 2)[0];
            if (armed.get(root) != point) {
                return;
            }
            int call = calls.computeIfAbsent(instanceId, k -> new AtomicInteger()).incrementAndGet();
            boolean firstAttempt = point != FaultPoint.BEFORE_ACTIVITY_COMMIT || call % 2 == 1;
            if (firstAttempt) {
                crashes.computeIfAbsent(root, k -> new AtomicInteger()).incrementAndGet();
                throw new SimulatedCrashException(point);
            }
        }
    }
}
