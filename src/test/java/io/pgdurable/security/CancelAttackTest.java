package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.testing.TestCluster;
import io.pgdurable.worker.FaultInjector;
import io.pgdurable.worker.FaultPoint;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A cancel must stop work, not just bookkeeping: once df.cancel has committed, no step of the
 * instance starts (not one the worker claimed in advance, not one in another database), and a
 * statement that is running is cancelled, without being retried.
 *
 * <p>The worker has three activity threads and holds at most two items of one submitting role at
 * once, running or waiting for a thread. A hook at the point where a claimed item is about to
 * start holds JOIN branches there. Two branches of another role's instance hold two threads, so
 * of the two branches the worker claims for the cancelled instance one is held at its start on
 * the third thread and one waits for a thread: the test cancels while both are claimed.
 */
class CancelAttackTest {
    private static final Duration BOUND = Duration.ofSeconds(20);
    /** Statements of a cancelled instance must be gone well before this. */
    private static final Duration PROMPTLY = Duration.ofSeconds(5);
    private static final int THREADS = 3;
    /** Items of one role the worker holds at once: the cancelled instance's claimed branches. */
    private static final int SHARE = 2;
    /** Branches of the other role's instance, each holding a thread: within its share, leaving one thread free. */
    private static final int BLOCKERS = THREADS - 1;
    /** Another submitting role, whose instance keeps threads busy. */
    private static final String BLOCKER_ROLE = "cancel_attack_blocker";

    private static DfTestEnvironment env;
    private static String otherDb;
    private static Worker worker;
    private static GraphRuntime graph;
    private static final HeldStarts held = new HeldStarts();

    @BeforeAll
    static void setUp() throws SQLException {
        env = new DfTestEnvironment("cancel_attack");
        otherDb = env.cluster().createEmptyDatabase("cancel_attack_other");
        env.cluster().createLoginRole(BLOCKER_ROLE);
        env.exec("SELECT df.grant_usage('" + BLOCKER_ROLE + "')");
        String effects = """
                CREATE SEQUENCE cancel_effect_seq;
                CREATE TABLE cancel_effects (
                    tag text NOT NULL,
                    seq bigint NOT NULL DEFAULT nextval('cancel_effect_seq'),
                    at  timestamptz NOT NULL DEFAULT clock_timestamp());
                CREATE SEQUENCE cancel_attempt_seq;
                """;
        for (String db : List.of(env.database(), otherDb)) {
            try (Connection c = env.cluster().connect(db); Statement s = c.createStatement()) {
                s.execute(effects);
                for (String role : List.of(env.role(), BLOCKER_ROLE)) {
                    s.execute("GRANT USAGE ON SEQUENCE cancel_effect_seq, cancel_attempt_seq TO " + role);
                    s.execute("GRANT INSERT, SELECT ON cancel_effects TO " + role);
                }
            }
        }
        String url = env.cluster().jdbcUrl(env.database(), TestCluster.SUPERUSER);
        graph = new GraphRuntime(url, 16, 8, Duration.ofSeconds(10));
        Registry registry = graph.register(new Registry());
        worker = Worker.start(WorkerConfig.builder(url)
                .activityThreads(THREADS)
                .maxActivitiesPerRole(SHARE)
                .pollInterval(Duration.ofMillis(50))
                // Long enough that the periodic renewal alone would not explain a prompt stop.
                .leaseDuration(Duration.ofSeconds(30))
                .shutdownGrace(Duration.ofSeconds(2))
                .faultInjector(held)
                .build(), registry, graph::attach);
    }

    @AfterEach
    void letEverythingGo() {
        held.releaseAll();
    }

    @AfterAll
    static void tearDown() {
        held.releaseAll();
        if (worker != null) {
            worker.close();
        }
        if (graph != null) {
            graph.close();
        }
        env.close();
    }

    @Test
    void steps_claimed_in_advance_never_start_once_their_instance_is_cancelled() throws Exception {
        long handled = worker.stats().activities();
        HeldStarts.Hold hold = held.arm();
        String blocker = startBlocker(hold, "blocker-a");
        String id = start(mark("a-before") + " ~> " + join("a-branch", 6), null);
        awaitClaimedAndHeld(id, hold, 6);

        Timestamp cancelled = cancel(id);

        // The item waiting for a thread is dropped: the role's share takes other work at once,
        // though every thread is still held (the blocker's branches, the cancelled instance's
        // first). Without the drop the role would be at its share and nothing of it claimed.
        String other = start(join("b-branch", 2), null);
        DfTestEnvironment.awaitTrue(() -> leasedByWorker(other) == 1, BOUND,
                "another instance's step to be claimed into the freed slot");
        assertThat(hold.arrivals(id)).as("steps of the cancelled instance that reached their start").isEqualTo(1);
        hold.release();
        assertThat(env.await(other, BOUND)).isEqualTo("completed");
        assertThat(awaitBlocker(blocker)).isEqualTo("completed");
        // The blocker's branches, the first step, the claimed branches (one dropped, one refused
        // at its start), and the other instance's branches.
        awaitHandled(handled + BLOCKERS + 1 + SHARE + 2);

        assertThat(hold.arrivals(id)).as("steps of the cancelled instance that reached their start").isEqualTo(1);
        assertNoEffectAfter(env.database(), cancelled, "a-%", List.of("a-before"));
        assertCancelled(id);
    }

    @Test
    void steps_in_another_database_never_start_once_their_instance_is_cancelled() throws Exception {
        long handled = worker.stats().activities();
        HeldStarts.Hold hold = held.arm();
        // The blocker runs in the control database: the share is per role, whatever the database.
        String blocker = startBlocker(hold, "blocker-c");
        String id = start(mark("c-before") + " ~> " + join("c-branch", 6), otherDb);
        awaitClaimedAndHeld(id, hold, 6);

        Timestamp cancelled = cancel(id);
        // The item waiting for a thread is dropped while every thread is still held: only the
        // first step and it can be done with.
        awaitHandled(handled + 1 + 1);
        assertThat(hold.arrivals(id)).as("steps of the cancelled instance that reached their start").isEqualTo(1);
        hold.release();
        assertThat(awaitBlocker(blocker)).isEqualTo("completed");
        // The blocker's branches, the first step, and the claimed branches: one dropped, one
        // refused at its start.
        awaitHandled(handled + BLOCKERS + 1 + SHARE);

        assertThat(hold.arrivals(id)).as("steps of the cancelled instance that reached their start").isEqualTo(1);
        assertNoEffectAfter(otherDb, cancelled, "c-%", List.of("c-before"));
        assertCancelled(id);
    }

    @Test
    void a_running_statement_is_cancelled_promptly_and_not_retried() throws Exception {
        runningStatementIsCancelled("d-long", null);
    }

    @Test
    void a_running_statement_in_another_database_is_cancelled_promptly_and_not_retried() throws Exception {
        runningStatementIsCancelled("e-long", otherDb);
    }

    private static void runningStatementIsCancelled(String tag, String database) throws Exception {
        long handled = worker.stats().activities();
        String db = database == null ? env.database() : database;
        long attemptsBefore = attempts(db);
        String id = start("'SELECT nextval(''cancel_attempt_seq''), pg_sleep(600), ''" + tag + "'' AS tag' ~> "
                + mark(tag + "-after"), database);
        DfTestEnvironment.awaitTrue(() -> running(tag) == 1, BOUND, "the long step to be running");

        cancel(id);

        DfTestEnvironment.awaitTrue(() -> running(tag) == 0, PROMPTLY, "the long step's statement to be cancelled");
        assertCancelled(id);
        assertThat(nodeStatuses(id)).containsExactly(
                "THEN running cancelled", "SQL running cancelled", "SQL pending pending");
        // The worker goes on with other work; the cancelled step never comes back.
        String next = start(mark(tag + "-next"), database);
        assertThat(env.await(next, BOUND)).isEqualTo("completed");
        awaitHandled(handled + 2);
        assertThat(running(tag)).isZero();
        assertThat(attempts(db) - attemptsBefore).as("tries of the cancelled step").isEqualTo(1);
        assertThat(effects(db, tag + "-after")).isZero();
    }

    // ---------------------------------------------------------------------------------------------

    /** A SQL step that records {@code tag} (with a sequence number and the time) in cancel_effects. */
    private static String mark(String tag) {
        return "'INSERT INTO cancel_effects (tag) VALUES (''" + tag + "'')'";
    }

    /** A JOIN of {@code n} branches, each one marking step. */
    private static String join(String tag, int n) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 1; i <= n; i++) {
            sb.append(i == 1 ? "" : " & ").append(mark(tag + i));
        }
        return sb.append(")").toString();
    }

    private static String start(String graphExpression, String database) {
        return database == null
                ? env.queryAsApp("SELECT df.start(" + graphExpression + ")")
                : env.queryAsApp("SELECT df.start(" + graphExpression + ", database => ?)", database);
    }

    /**
     * Starts, as the other role in the control database, a JOIN whose branches are held at their
     * start, and waits until each holds a thread.
     */
    private static String startBlocker(HeldStarts.Hold hold, String tag) throws SQLException {
        String id;
        try (Connection c = env.cluster().connect(env.database(), BLOCKER_ROLE);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT df.start(" + join(tag, BLOCKERS) + ")")) {
            rs.next();
            id = rs.getString(1);
        }
        DfTestEnvironment.awaitTrue(() -> hold.arrivals(id) == BLOCKERS, BOUND,
                "the other role's " + BLOCKERS + " branches to hold a thread each");
        return id;
    }

    /** Waits for the other role's instance to end (only its submitter sees it) and returns its status. */
    private static String awaitBlocker(String id) throws SQLException {
        try (Connection c = env.cluster().connect(env.database(), BLOCKER_ROLE);
             PreparedStatement ps = c.prepareStatement("SELECT df.await_instance(?, ?)")) {
            ps.setString(1, id);
            ps.setInt(2, (int) BOUND.toSeconds());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /** Cancels as the submitter; returns a time after the cancel committed. */
    private static Timestamp cancel(String id) {
        assertThat(env.queryAsApp("SELECT df.cancel(?)", id)).isEqualTo("Instance " + id + " cancelled: Cancelled by user");
        return new Timestamp(env.queryAsAdmin("SELECT clock_timestamp()::text"));
    }

    /**
     * The role's share of branches claimed: one held at its start on the last free thread, one
     * waiting for a thread; and the JOIN fully laid out (each of its {@code branches} steps
     * queued, no orchestration turn pending), so the cancel meets every step already there.
     */
    private static void awaitClaimedAndHeld(String id, HeldStarts.Hold hold, int branches) {
        DfTestEnvironment.awaitTrue(() -> hold.arrivals(id) == 1 && leasedByWorker(id) == SHARE
                        && queued(id) == branches && pendingMessages(id) == 0,
                BOUND, "the last thread to hold a branch, " + SHARE + " branches to be claimed and "
                        + branches + " queued");
    }

    /** Branch steps of {@code rootId} in the queue, claimed or not. */
    private static long queued(String rootId) {
        return count(env.database(), "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id LIKE ? || '::%'",
                rootId);
    }

    /** Orchestration messages of {@code rootId} or its sub-orchestrations not yet processed. */
    private static long pendingMessages(String rootId) {
        return count(env.database(), "SELECT count(*) FROM df_engine.orchestrator_queue"
                + " WHERE instance_id = ? OR instance_id LIKE ? || '::%'", rootId, rootId);
    }

    /** The worker is done with (ran, refused or dropped) this many items since it started. */
    private static void awaitHandled(long items) {
        DfTestEnvironment.awaitTrue(() -> worker.stats().activities() >= items, BOUND,
                "the worker to be done with every item it claimed");
    }

    /** Branch steps of {@code rootId} claimed by the worker and not finished. */
    private static long leasedByWorker(String rootId) {
        return count(env.database(), "SELECT count(*) FROM df_engine.activity_queue"
                + " WHERE instance_id LIKE ? || '::%' AND lease_owner = ?", rootId, worker.id());
    }

    /**
     * The only effects with tags like {@code pattern} are {@code expected}, all before the cancel
     * committed, and no other step even started: a rolled-back insert would still have used up a
     * sequence number.
     */
    private static void assertNoEffectAfter(String db, Timestamp cancelled, String pattern, List<String> expected) {
        assertThat(column(db, "SELECT tag FROM cancel_effects WHERE tag LIKE ? ORDER BY seq", pattern))
                .containsExactlyElementsOf(expected);
        assertThat(count(db, "SELECT count(*) FROM cancel_effects WHERE tag LIKE ? AND at >= ?::timestamptz",
                pattern, cancelled.text()))
                .as("effects after the cancel committed").isZero();
        assertThat(count(db, "SELECT last_value - (SELECT max(seq) FROM cancel_effects) FROM cancel_effect_seq"))
                .as("sequence numbers used by steps whose insert did not commit").isZero();
    }

    private static void assertCancelled(String id) {
        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("cancelled");
        assertThat(column(env.database(), "SELECT DISTINCT status FROM df_engine.instances"
                + " WHERE id = ? OR id LIKE ? || '::%'", id, id)).containsExactly("Cancelled");
        assertThat(count(env.database(), "SELECT count(*) FROM df_engine.activity_queue"
                + " WHERE instance_id = ? OR instance_id LIKE ? || '::%'", id, id)).isZero();
    }

    /** "type stored inferred" per node, in execution order, as the submitter sees them. */
    private static List<String> nodeStatuses(String id) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = env.connectAsApp();
             PreparedStatement ps = c.prepareStatement(
                     "SELECT node_type || ' ' || coalesce(status, 'null') || ' ' || inferred_status"
                             + " FROM df.instance_nodes(?)")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    private static long running(String tag) {
        return count(env.database(), "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                + " AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(600)%' AND query LIKE ?", "%" + tag + "%");
    }

    private static long attempts(String db) {
        return count(db, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM cancel_attempt_seq");
    }

    private static long effects(String db, String tag) {
        return count(db, "SELECT count(*) FROM cancel_effects WHERE tag = ?", tag);
    }

    private static long count(String db, String sql, Object... params) {
        List<String> values = column(db, sql, params);
        return values.isEmpty() || values.get(0) == null ? 0 : Long.parseLong(values.get(0));
    }

    private static List<String> column(String db, String sql, Object... params) {
        try (Connection c = env.cluster().connect(db); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            List<String> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** A server timestamp, kept as its text so it compares exactly in SQL. */
    private record Timestamp(String text) {
    }

    /**
     * While a hold is armed, holds every activity item of a sub-orchestration (a JOIN branch) at
     * the moment it is about to start, until the hold is released. Steps of root orchestrations
     * pass.
     */
    private static final class HeldStarts implements FaultInjector {
        private volatile Hold current;

        Hold arm() {
            Hold hold = new Hold();
            current = hold;
            return hold;
        }

        void releaseAll() {
            Hold hold = current;
            if (hold != null) {
                hold.release();
            }
        }

        @Override
        public void at(FaultPoint point, String instanceId) {
            Hold hold = current;
            if (point != FaultPoint.BEFORE_ACTIVITY_START || hold == null || !instanceId.contains("::")) {
                return;
            }
            hold.arrived.computeIfAbsent(instanceId.substring(0, instanceId.indexOf("::")), k -> new AtomicInteger())
                    .incrementAndGet();
            try {
                hold.released.await(3 * BOUND.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        static final class Hold {
            private final CountDownLatch released = new CountDownLatch(1);
            private final Map<String, AtomicInteger> arrived = new ConcurrentHashMap<>();

            /** How many branch steps of instance {@code rootId} reached their start. */
            int arrivals(String rootId) {
                AtomicInteger n = arrived.get(rootId);
                return n == null ? 0 : n.get();
            }

            void release() {
                released.countDown();
            }
        }
    }
}
