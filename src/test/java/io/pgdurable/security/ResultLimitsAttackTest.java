package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.engine.Limits;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.worker.FaultInjector;
import io.pgdurable.worker.FaultPoint;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Resource exhaustion through results: a step returning millions of rows, a huge string, a value
 * nested past what the worker reads, signal data of the same kinds, and a turn that keeps failing.
 * Each is refused with an error naming the limit and its worker option before anything of the
 * step commits, and the instance fails exactly once instead of bouncing between dispatch loops.
 */
class ResultLimitsAttackTest {
    private static final Duration DONE = Duration.ofSeconds(90);

    /** Turns tried per instance until it is failed (the first instance of each batch; tests run one at a time). */
    private static final Map<String, AtomicInteger> TURNS = new ConcurrentHashMap<>();
    /** Times the worker set out to fail an instance whose turn failed. */
    private static final Map<String, AtomicInteger> ENGINE_FAILURES = new ConcurrentHashMap<>();
    /** Instances whose next turn is made to fail, as a bug in orchestration code would. */
    private static final Set<String> SABOTAGED = ConcurrentHashMap.newKeySet();
    /** Whether another connection could lock the failing instance when the worker first set out to fail it. */
    private static final AtomicReference<Boolean> CLAIM_OPEN_WHILE_FAILING = new AtomicReference<>();

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("limits_attack");
        env.exec("CREATE TABLE public.effects (what text)");
        env.exec("GRANT ALL ON public.effects TO " + env.role());
        env.startWorker(ResultLimitsAttackTest::hook);
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    private static void hook(FaultPoint point, String instanceId) {
        if (point == FaultPoint.BEFORE_TURN_COMMIT) {
            if (!ENGINE_FAILURES.containsKey(instanceId)) {
                // Once failed, the instance's leftover messages are dropped by turns that change
                // nothing; those are not attempts of the failing turn.
                TURNS.computeIfAbsent(instanceId, k -> new AtomicInteger()).incrementAndGet();
            }
            if (SABOTAGED.contains(instanceId)) {
                throw new IllegalStateException("orchestration bug: this turn cannot be written");
            }
        } else if (point == FaultPoint.FAILING_INSTANCE) {
            ENGINE_FAILURES.computeIfAbsent(instanceId, k -> new AtomicInteger()).incrementAndGet();
            if (SABOTAGED.contains(instanceId)) {
                CLAIM_OPEN_WHILE_FAILING.compareAndSet(null, lockableByOthers(instanceId));
            }
        }
    }

    @Test
    void a_step_returning_ten_million_rows_fails_at_the_row_limit_and_leaves_no_effect() {
        String id = env.start("""
                'WITH mark AS (INSERT INTO public.effects VALUES (''rows'') RETURNING 1)
                 SELECT generate_series(1, 10000000) AS g FROM mark'""");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(rootError(id)).contains("has more than 100000 rows; the limit is 100000 rows",
                "worker option " + Limits.ROWS_OPTION);
        assertThat(effects("rows")).as("the step's INSERT rolled back with it").isZero();
        assertFailedOnceByItsOwnCode(id);
    }

    @Test
    void a_twenty_megabyte_string_fails_the_step_before_it_commits() {
        String id = env.start("""
                'WITH mark AS (INSERT INTO public.effects VALUES (''string'') RETURNING 1)
                 SELECT repeat(''x'', 20000000) AS s FROM mark'""");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(rootError(id)).contains("column \"s\" of row 1", "holds a string of 20000000 characters",
                "the limit is " + Limits.DEFAULT_STRING_LENGTH + " characters", "worker option " + Limits.STRING_OPTION);
        assertThat(effects("string")).isZero();
        assertFailedOnceByItsOwnCode(id);
    }

    @Test
    void a_json_value_nested_1100_levels_fails_the_step_before_it_commits() {
        String id = env.start("""
                'WITH mark AS (INSERT INTO public.effects VALUES (''deep'') RETURNING 1)
                 SELECT (repeat(''['', 1100) || repeat('']'', 1100))::jsonb AS j FROM mark'""");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(rootError(id)).contains("column \"j\" of row 1", "nests 1100 levels deep; the limit is 1000 levels",
                "worker option " + Limits.DEPTH_OPTION);
        assertThat(effects("deep")).isZero();
        assertFailedOnceByItsOwnCode(id);
    }

    @Test
    void a_result_over_the_byte_limit_fails_the_step_at_the_row_that_crosses_it() {
        String id = env.start("""
                'WITH mark AS (INSERT INTO public.effects VALUES (''bytes'') RETURNING 1)
                 SELECT repeat(''y'', 1000) AS s FROM generate_series(1, 20000), mark'""");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(rootError(id)).containsPattern("reached \\d+ bytes as JSON at row \\d+; the limit is "
                + Limits.DEFAULT_BYTES + " bytes").contains("worker option " + Limits.BYTES_OPTION);
        assertThat(effects("bytes")).isZero();
        assertFailedOnceByItsOwnCode(id);
    }

    @Test
    void a_result_of_exactly_the_row_limit_is_accepted() {
        String id = env.start("'SELECT generate_series(1, 100000) AS g'");

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(env.queryAsApp("SELECT (df.result(?)::jsonb ->> 'row_count')", id)).isEqualTo("100000");
    }

    @Test
    void signal_data_nested_past_the_depth_limit_fails_the_signal_node_once() {
        String id = env.start("df.wait_for_signal('go') ~> 'INSERT INTO public.effects VALUES (''after deep signal'')'");
        awaitWaiting(id);

        String deep = "[".repeat(1100) + "]".repeat(1100);
        // df.signal refuses it before anything is written ...
        assertThatThrownBy(() -> env.queryAsApp("SELECT df.signal(?, 'go', ?)", id, deep))
                .hasMessageContaining("signal data is nested more than 100 levels deep; the limit is 100 levels");
        assertThat(env.queryAsAdmin("SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", id)).isEqualTo("0");
        // ... and the worker still holds its own line when such data gets in otherwise (an
        // install of 0.1.0, which had no such check, or an administrator writing the buffer).
        deliverBehindDfSignal(id, deep);

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(rootError(id)).contains("the data of signal 'go' nests 1100 levels deep; the limit is 1000 levels",
                "worker option " + Limits.DEPTH_OPTION);
        assertThat(effects("after deep signal")).isZero();
        assertFailedOnceByItsOwnCode(id);
    }

    @Test
    void signal_data_deeper_than_the_worker_reads_fails_the_signal_node_instead_of_the_turn() {
        String id = env.start("df.wait_for_signal('go') ~> 'INSERT INTO public.effects VALUES (''after deeper signal'')'");
        awaitWaiting(id);

        deliverBehindDfSignal(id, "[".repeat(3000) + "]".repeat(3000));

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(rootError(id)).contains("the data of signal 'go' cannot be read",
                "at most " + Limits.READ_MAX_DEPTH + " levels deep");
        assertThat(effects("after deeper signal")).isZero();
        assertFailedOnceByItsOwnCode(id);
    }

    /** Puts signal data into the buffer as the superuser, past df.signal's own limits, for the worker to route. */
    private static void deliverBehindDfSignal(String id, String data) {
        env.queryAsAdmin("""
                INSERT INTO df.signal_buffer (instance_id, signal_name, data, needs_routing)
                VALUES (?, 'go', ?::jsonb, true) RETURNING seq::text
                """, id, data);
        env.queryAsAdmin("SELECT df_engine.wake()::text");
    }

    @Test
    void a_failing_turn_keeps_its_claim_and_fails_its_instance_exactly_once() {
        String id = env.start("df.wait_for_signal('go') ~> 'SELECT 1'");
        awaitWaiting(id);
        int turnsBefore = turns(id);
        SABOTAGED.add(id);

        env.queryAsApp("SELECT df.signal(?, 'go', '{}')", id);

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(CLAIM_OPEN_WHILE_FAILING.get())
                .as("while the worker failed the instance, could another dispatch loop have claimed it?")
                .isFalse();
        assertThat(ENGINE_FAILURES.get(id).get()).isEqualTo(1);
        // Tried once alone; when another instance's turn shared its batch, the batch is first tried
        // whole and then retried one turn at a time to find the failing one, so twice at most.
        assertThat(turns(id) - turnsBefore).as("attempts of the failing turn").isBetween(1, 2);
        assertThat(engineLong("SELECT count(*) FROM df_engine.history WHERE instance_id = ? AND event_type = 'ExecutionFailed'",
                id)).isEqualTo(1);
        assertThat(engineLong("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?", id)).isZero();
        assertThat(env.queryAsAdmin("SELECT output FROM df_engine.instances WHERE id = ?", id))
                .contains("orchestration bug: this turn cannot be written");
    }

    @Test
    void a_join_whose_combined_result_is_over_the_byte_limit_fails_the_join_node() {
        try (DfTestEnvironment small = new DfTestEnvironment("limits_small")) {
            small.startWorker(FaultInjector.NONE, Limits.defaults().withMaxResultBytes(1_000_000));
            String branch = "'SELECT repeat(''z'', 600000) AS s'";
            String id = small.start(branch + " & " + branch);

            assertThat(small.await(id, DONE)).isEqualTo("failed");
            String error = small.queryAsApp("""
                    SELECT n.result #>> '{}' FROM df.nodes n JOIN df.instances i ON i.id = n.instance_id
                     WHERE i.id = ? AND n.id = i.root_node
                    """, id);
            assertThat(error).containsPattern("the result of node [0-9a-f]{8} is \\d+ bytes as JSON; the limit is"
                    + " 1000000 bytes").contains("worker option " + Limits.BYTES_OPTION);
            assertThat(small.queryAsApp("SELECT count(*) FROM df.nodes WHERE instance_id = ? AND node_type = 'SQL'"
                    + " AND status = 'completed'", id)).as("each branch's own result was within the limit").isEqualTo("2");
        }
    }

    // -------------------------------------------------------------------------------------------

    /**
     * The instance failed through its own code (a failed step fails the workflow) in the turn
     * that saw the failure: the worker never had to fail it for a broken turn, its history has
     * one failure, and nothing is left queued that could make a dispatch loop take it again.
     */
    private static void assertFailedOnceByItsOwnCode(String id) {
        assertThat(ENGINE_FAILURES.get(id)).as("turn failures of %s", id).isNull();
        assertThat(engineLong("SELECT count(*) FROM df_engine.history WHERE instance_id = ? AND event_type = 'ExecutionFailed'",
                id)).isEqualTo(1);
        assertThat(engineLong("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?", id)).isZero();
        assertThat(env.queryAsAdmin("SELECT status FROM df_engine.instances WHERE id = ?", id)).isEqualTo("Failed");
    }

    private static int turns(String id) {
        AtomicInteger n = TURNS.get(id);
        return n == null ? 0 : n.get();
    }

    /** The error on the instance's root node. */
    private static String rootError(String id) {
        return env.queryAsApp("""
                SELECT n.result #>> '{}' FROM df.nodes n JOIN df.instances i ON i.id = n.instance_id
                 WHERE i.id = ? AND n.id = i.root_node AND n.status = 'failed'
                """, id);
    }

    private static long effects(String what) {
        return Long.parseLong(env.queryAsAdmin("SELECT count(*) FROM public.effects WHERE what = ?", what));
    }

    private static long engineLong(String sql, String id) {
        return Long.parseLong(env.queryAsAdmin(sql, id));
    }

    private static void awaitWaiting(String id) {
        DfTestEnvironment.awaitTrue(() -> "running".equals(env.queryAsApp(
                "SELECT status FROM df.nodes WHERE instance_id = ? AND node_type = 'SIGNAL'", id)),
                DONE, "the signal wait of " + id);
    }

    /** Whether a connection other than the worker's can lock the instance's engine row right now. */
    private static boolean lockableByOthers(String instanceId) {
        try (Connection c = env.connectAsAdmin()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT 1 FROM df_engine.instances WHERE id = ? FOR UPDATE SKIP LOCKED")) {
                ps.setString(1, instanceId);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next();
                }
            } finally {
                c.rollback();
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
