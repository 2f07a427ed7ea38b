package io.pgdurable.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.store.ActivityItem;
import io.pgdurable.engine.store.ActivityQueue;
import io.pgdurable.engine.store.ClaimedTurn;
import io.pgdurable.engine.store.TurnStore;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Claims share work out across partition keys: a key with a backlog of {@value #BACKLOG} items
 * does not delay another key's item, a key at its share gets nothing more, and the claim reads
 * about as many queue rows as it hands out, however long one key's backlog is and however stale
 * the plan its connection keeps.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FairClaimTest {
    private static final int BACKLOG = 100_000;
    private static final Duration LEASE = Duration.ofSeconds(30);

    private final EngineTestSupport support = new EngineTestSupport("fair_claim");
    private final ActivityQueue queue = new ActivityQueue();
    private final TurnStore turnStore = new TurnStore();

    @BeforeEach
    void emptyQueues() throws SQLException {
        exec("TRUNCATE df_engine.activity_queue, df_engine.orchestrator_queue, df_engine.instances CASCADE");
    }

    @Test
    void another_keys_item_is_claimed_before_the_rest_of_a_backlog_queued_ahead_of_it() throws SQLException {
        queueActivities("flood", 1_000);
        queueActivities("late", 1);

        List<ActivityItem> claimed = claim(2, 8, Map.of());

        assertThat(claimed).extracting(ActivityItem::partitionKey).containsExactlyInAnyOrder("flood", "late");
    }

    @Test
    void the_key_holding_fewer_items_is_served_first() throws SQLException {
        queueActivities("flood", 1_000);
        queueActivities("late", 1);

        List<ActivityItem> claimed = claim(1, 8, Map.of("flood", 3));

        assertThat(claimed).extracting(ActivityItem::partitionKey).containsExactly("late");
    }

    @Test
    void a_key_at_its_share_gets_nothing_however_many_slots_are_free() throws SQLException {
        queueActivities("flood", 1_000);

        assertThat(claim(16, 4, Map.of("flood", 4))).isEmpty();
        assertThat(claim(16, 4, Map.of("flood", 1))).hasSize(3);
    }

    @Test
    void a_claim_with_a_large_backlog_of_one_key_reads_only_a_few_queue_rows() throws SQLException {
        exec("INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name, partition_key,"
                + " visible_at) SELECT 'flood-' || g, 1, 0, 'step', 'flood', now() - interval '1 hour' + g * interval '1 ms'"
                + " FROM generate_series(1, " + BACKLOG + ") g");
        queueActivities("late", 1);
        exec("ANALYZE df_engine.activity_queue");

        List<ActivityItem> claimed;
        QueueReads reads;
        try (Connection c = support.connect()) {
            c.setAutoCommit(false);
            long started = System.nanoTime();
            claimed = queue.claimActivities(c, "w", 8, LEASE, 4, Map.of("flood", 2));
            long micros = (System.nanoTime() - started) / 1000;
            reads = QueueReads.of(c, "activity_queue");
            c.commit();
            System.out.println("activity claim with " + BACKLOG + " items of one key queued: " + reads
                    + ", " + micros + " us");
        }

        assertThat(claimed).extracting(ActivityItem::partitionKey).containsExactlyInAnyOrder("late", "flood", "flood");
        assertThat(reads.sequentialScans()).isZero();
        assertThat(reads.rowsFetched()).isLessThan(50);
    }

    /**
     * A worker's connections keep their claim's plan from when the queue was last empty: a plan
     * made for an empty table read the whole queue at every claim once it filled (a sequential
     * scan, and a sort, for each key). Vacuum no longer shrinks the queue tables, so an emptied
     * queue still plans as the table it was, and the claimed items are updated by primary key.
     */
    @Test
    void a_claim_planned_while_the_queue_was_empty_reads_only_a_few_rows_once_it_has_filled() throws SQLException {
        emptyTheActivityQueueAfterABacklog();

        PlannedClaim claim = claimPlannedBefore(() -> {
            leaseToAnotherWorker(3_000);
            queueActivities("flood", 16);
        });

        assertThat(claim.items()).hasSize(16).extracting(ActivityItem::instanceId).allMatch(id -> id.startsWith("flood-"));
        assertThat(claim.reads().sequentialScans()).as(claim.reads().toString()).isZero();
        assertThat(claim.reads().rowsFetched()).as(claim.reads().toString()).isLessThan(100);
    }

    /**
     * The same on a queue emptied after a short backlog (a new installation's first minutes, a
     * bench round's warm-up): vacuum leaves the table a few pages long and no rows, and a plan
     * made then found the claimed items by primary key only while the index looked cheaper than
     * reading those few pages; otherwise it scanned the whole queue at every claim, however full
     * it grew (in {@code bench --scenarios=df --instances=3000}, 1,650 rows per claim). A claim
     * is now planned without sequential or bitmap scans, whatever the table's size.
     */
    @ParameterizedTest(name = "after a backlog of {0}")
    @ValueSource(ints = {0, 200, 500, 1_000})
    void a_claim_planned_on_a_queue_emptied_after_a_short_backlog_reads_only_a_few_rows_once_it_has_filled(int backlog)
            throws SQLException {
        exec("TRUNCATE df_engine.activity_queue");
        if (backlog > 0) {
            queueActivities("earlier", backlog);
            exec("DELETE FROM df_engine.activity_queue");
            exec("VACUUM ANALYZE df_engine.activity_queue");
        }

        PlannedClaim claim = claimPlannedBefore(() -> queueActivities("backlog", 3_000));

        assertThat(claim.items()).hasSize(16).extracting(ActivityItem::instanceId).allMatch(id -> id.startsWith("backlog-"));
        assertThat(claim.reads().sequentialScans()).as(claim.reads().toString()).isZero();
        assertThat(claim.reads().rowsFetched()).as(claim.reads().toString()).isLessThan(100);
    }

    /**
     * The settings a claim is planned with last for its own round trip, and a worker claims in
     * autocommit: written as {@code SET LOCAL}, they raised "SET LOCAL can only be used in
     * transaction blocks" at every claim, into the server's log and to the driver.
     */
    @Test
    void a_claim_in_autocommit_raises_no_warning() throws SQLException {
        queueActivities("quiet", 3);
        List<SQLWarning> warnings = new ArrayList<>();
        List<ActivityItem> claimed;
        try (Connection c = support.connect()) {
            assertThat(c.getAutoCommit()).isTrue();
            claimed = queue.claimActivities(keepingWarnings(c, warnings), "w", 16, LEASE, 16, Map.of());
        }

        assertThat(claimed).extracting(ActivityItem::instanceId).contains("quiet-1", "quiet-2", "quiet-3");
        assertThat(warnings).isEmpty();
    }

    /**
     * Renewing a worker's leases, planned while the queue was empty, once 3,000 other items are
     * leased: the renewal joined its items to the queue by a hash join over a sequential scan and
     * read every row; now each item is looked up by its id.
     */
    @Test
    void a_lease_renewal_planned_while_the_queue_was_empty_reads_only_its_own_items() throws SQLException {
        emptyTheActivityQueueAfterABacklog();

        List<ActivityItem> mine;
        Set<Long> renewed;
        QueueReads reads;
        try (Connection c = support.connect()) {
            queueActivities("mine", 16);
            for (int i = 0; i < 10; i++) {
                // Past pgjdbc's prepare threshold and the server's custom-plan tries: the plan is now cached.
                List<ActivityItem> held = queue.claimActivities(c, "w", 16, LEASE, 16, Map.of());
                assertThat(queue.renewLeases(c, held, LEASE)).hasSize(held.size());
                exec("UPDATE df_engine.activity_queue SET lease_owner = NULL, lease_token = NULL, visible_at = now()");
            }
            leaseToAnotherWorker(3_000);
            mine = queue.claimActivities(c, "w", 16, LEASE, 16, Map.of());
            c.setAutoCommit(false);
            renewed = queue.renewLeases(c, mine, LEASE);
            reads = QueueReads.of(c, "activity_queue");
            c.commit();
        }

        assertThat(mine).hasSize(16);
        assertThat(renewed).containsExactlyInAnyOrderElementsOf(mine.stream().map(ActivityItem::id).toList());
        assertThat(reads.sequentialScans()).as(reads.toString()).isZero();
        // The 16 items' own dead versions from the ten rounds above are read too (about 540 rows);
        // the 3,000 other leased items are not.
        assertThat(reads.rowsFetched()).as(reads.toString()).isLessThan(1_000);
    }

    /**
     * Recording a batch of results, planned while the queue was empty, once 3,000 other items are
     * leased: like the renewal above, the batch was joined to the whole queue.
     */
    @Test
    void a_batch_of_results_planned_while_the_queue_was_empty_reads_only_its_own_items() throws SQLException {
        startInstances("mine", 16);
        exec("DELETE FROM df_engine.orchestrator_queue");
        emptyTheActivityQueueAfterABacklog();

        int recorded;
        QueueReads reads;
        try (Connection c = support.connect()) {
            for (int i = 0; i < 10; i++) {
                // Past pgjdbc's prepare threshold and the server's custom-plan tries: the plan is now cached.
                queueActivities("mine", 16);
                List<ActivityItem> held = queue.claimActivities(c, "w", 16, LEASE, 16, Map.of());
                assertThat(queue.completeActivities(c, completions(held))).isEqualTo(held.size());
                exec("DELETE FROM df_engine.orchestrator_queue");
            }
            leaseToAnotherWorker(3_000);
            queueActivities("mine", 16);
            List<ActivityItem> mine = queue.claimActivities(c, "w", 16, LEASE, 16, Map.of());
            assertThat(mine).hasSize(16);
            c.setAutoCommit(false);
            recorded = queue.completeActivities(c, completions(mine));
            reads = QueueReads.of(c, "activity_queue");
            c.commit();
        }

        assertThat(recorded).isEqualTo(16);
        assertThat(reads.sequentialScans()).as(reads.toString()).isZero();
        // The 16 items' dead versions from the ten rounds above may be read too; the 3,000 other items are not.
        assertThat(reads.rowsFetched()).as(reads.toString()).isLessThan(1_000);
    }

    private static List<ActivityQueue.Completion> completions(List<ActivityItem> items) {
        return items.stream().map(item -> new ActivityQueue.Completion(item, "\"done\"", false)).toList();
    }

    /**
     * As for activities: the turn claim's plan, made while the queue was empty, once 3,000
     * messages of one key wait for later. It read them all twice (every message of the key
     * through the visible_at index, filtered by key) and, taking the claimed turns' messages, every
     * due message through the (partition_key, visible_at) index; now each key is read through
     * that index and the messages through their instances'.
     */
    @ParameterizedTest(name = "emptied after a backlog of {0}")
    @ValueSource(ints = {0, 200, 500, 1_000, 3_000})
    void a_turn_claim_planned_while_the_queue_was_empty_reads_only_a_few_rows_once_it_has_filled(int backlog)
            throws SQLException {
        exec("TRUNCATE df_engine.orchestrator_queue");
        exec("INSERT INTO df_engine.instances (id, name, partition_key)"
                + " SELECT 'earlier-' || g, 'orch', 'earlier' FROM generate_series(1, 3000) g ON CONFLICT DO NOTHING");
        exec("DELETE FROM df_engine.instances WHERE id LIKE 'flood-%'");
        if (backlog > 0) {
            exec("INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name)"
                    + " SELECT 'earlier-' || g, 1, 'ExecutionStarted', 'orch' FROM generate_series(1, " + backlog + ") g");
            exec("DELETE FROM df_engine.orchestrator_queue");
            exec("VACUUM ANALYZE df_engine.orchestrator_queue");
        }

        List<ClaimedTurn> turns;
        QueueReads reads;
        Instant due;
        try (Connection c = support.connect()) {
            c.setAutoCommit(false);
            for (int i = 0; i < 10; i++) {
                assertThat(turnStore.claimTurns(c, 16)).isEmpty();
                assertThat(turnStore.nextMessageDue(c)).isNull();
                c.rollback();
            }
            exec("INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name, visible_at)"
                    + " SELECT 'earlier-' || g, 1, 'TimerFired', 'orch', now() + interval '1 hour' + g * interval '1 s'"
                    + " FROM generate_series(1, 3000) g");
            startInstances("flood", 16);
            turns = turnStore.claimTurns(c, 16);
            reads = QueueReads.of(c, "orchestrator_queue");
            due = turnStore.nextMessageDue(c);
            c.rollback();
        }

        assertThat(turns).hasSize(16).extracting(t -> t.row().id()).allMatch(id -> id.startsWith("flood-"));
        assertThat(reads.sequentialScans()).as(reads.toString()).isZero();
        // The claim reads up to 4 messages per turn asked for; taking the turns' messages reads them again.
        assertThat(reads.rowsFetched()).as(reads.toString()).isLessThan(2 * (4 * 16 + 1) + 50);
        // With the claimed turns' messages taken, the next message due is the first timer.
        assertThat(due).isBetween(Instant.now().plus(Duration.ofMinutes(59)), Instant.now().plus(Duration.ofMinutes(61)));
    }

    @Test
    void another_keys_turn_is_claimed_before_the_rest_of_a_backlog_of_starts() throws SQLException {
        startInstances("flood", 1_000);
        startInstances("late", 1);

        List<ClaimedTurn> turns;
        try (Connection c = support.connect()) {
            turns = turnStore.claimTurns(c, 2);
        }

        assertThat(turns).extracting(t -> t.row().partitionKey()).containsExactlyInAnyOrder("flood", "late");
    }

    @Test
    void a_turn_claim_with_a_large_backlog_of_one_key_reads_only_a_few_queue_rows() throws SQLException {
        exec("INSERT INTO df_engine.instances (id, name, partition_key)"
                + " SELECT 'flood-' || g, 'orch', 'flood' FROM generate_series(1, " + BACKLOG + ") g");
        exec("INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name, visible_at)"
                + " SELECT 'flood-' || g, 1, 'ExecutionStarted', 'orch', now() - interval '1 hour' + g * interval '1 ms'"
                + " FROM generate_series(1, " + BACKLOG + ") g");
        startInstances("late", 1);
        exec("ANALYZE df_engine.orchestrator_queue, df_engine.instances");

        List<ClaimedTurn> turns;
        QueueReads reads;
        try (Connection c = support.connect()) {
            c.setAutoCommit(false);
            long started = System.nanoTime();
            turns = turnStore.claimTurns(c, 32);
            long micros = (System.nanoTime() - started) / 1000;
            reads = QueueReads.of(c, "orchestrator_queue");
            c.rollback();
            System.out.println("turn claim of 32 with " + BACKLOG + " starts of one key queued: " + reads
                    + ", " + micros + " us");
        }

        assertThat(turns).hasSize(32).extracting(t -> t.row().partitionKey()).contains("late");
        assertThat(reads.sequentialScans()).isZero();
        // Each key's scan reads at most 4 messages per turn asked for; taking the turns' messages reads them again.
        assertThat(reads.rowsFetched()).isLessThan(2 * (4 * 32 + 1) + 50);
    }

    // -------------------------------------------------------------------------------------------

    private List<ActivityItem> claim(int limit, int perKey, Map<String, Integer> held) throws SQLException {
        try (Connection c = support.connect()) {
            return queue.claimActivities(c, "w", limit, LEASE, perKey, held);
        }
    }

    /** A claim of up to 16 items and how it read the activity queue. */
    private record PlannedClaim(List<ActivityItem> items, QueueReads reads) {
    }

    private interface Filling {
        void run() throws SQLException;
    }

    /**
     * Claims on a connection that has planned its claim on the queue as it is now, then claims
     * up to 16 items once {@code filling} has run.
     */
    private PlannedClaim claimPlannedBefore(Filling filling) throws SQLException {
        try (Connection c = support.connect()) {
            for (int i = 0; i < 10; i++) {
                // Past pgjdbc's prepare threshold and the server's custom-plan tries: the plan is now cached.
                assertThat(queue.claimActivities(c, "w", 16, LEASE, 16, Map.of())).isEmpty();
            }
            filling.run();
            c.setAutoCommit(false);
            List<ActivityItem> items = queue.claimActivities(c, "w", 16, LEASE, 16, Map.of());
            QueueReads reads = QueueReads.of(c, "activity_queue");
            c.commit();
            return new PlannedClaim(items, reads);
        }
    }

    /** How a transaction read one queue table so far, from {@code pg_stat_xact_user_tables}. */
    private record QueueReads(long sequentialScans, long rowsFetched) {
        static QueueReads of(Connection c, String table) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("SELECT seq_scan, seq_tup_read + coalesce(idx_tup_fetch, 0)"
                    + " FROM pg_stat_xact_user_tables WHERE schemaname = 'df_engine' AND relname = ?")) {
                ps.setString(1, table);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return new QueueReads(rs.getLong(1), rs.getLong(2));
                }
            }
        }

        @Override
        public String toString() {
            return sequentialScans + " sequential scans, " + rowsFetched + " queue rows read";
        }
    }

    /** {@code c}, whose statements add their warnings to {@code into} as they close. */
    private static Connection keepingWarnings(Connection c, List<SQLWarning> into) {
        return (Connection) Proxy.newProxyInstance(FairClaimTest.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    Object result = invoke(c, method, args);
                    if (!(result instanceof PreparedStatement ps)) {
                        return result;
                    }
                    return Proxy.newProxyInstance(FairClaimTest.class.getClassLoader(),
                            new Class<?>[] {PreparedStatement.class}, (p, m, a) -> {
                                if (m.getName().equals("close")) {
                                    for (SQLWarning w = ps.getWarnings(); w != null; w = w.getNextWarning()) {
                                        into.add(w);
                                    }
                                }
                                return invoke(ps, m, a);
                            });
                });
    }

    private static Object invoke(Object target, java.lang.reflect.Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** A backlog of 3,000 items, deleted, and the table vacuumed and analyzed: a queue emptied in production. */
    private void emptyTheActivityQueueAfterABacklog() throws SQLException {
        queueActivities("earlier", 3_000);
        exec("DELETE FROM df_engine.activity_queue");
        exec("VACUUM ANALYZE df_engine.activity_queue");
    }

    /** {@code count} items of key "flood", leased to another worker for a minute. */
    private void leaseToAnotherWorker(int count) throws SQLException {
        exec("INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name, partition_key,"
                + " lease_owner, lease_token, visible_at) SELECT 'leased-' || g, 1, 0, 'step', 'flood', 'other',"
                + " gen_random_uuid(), now() + interval '1 minute' FROM generate_series(1, " + count + ") g");
    }

    private void queueActivities(String key, int count) throws SQLException {
        exec("INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name, partition_key)"
                + " SELECT '" + key + "-' || g, 1, 0, 'step', '" + key + "' FROM generate_series(1, " + count + ") g");
    }

    private void startInstances(String key, int count) throws SQLException {
        exec("INSERT INTO df_engine.instances (id, name, partition_key)"
                + " SELECT '" + key + "-' || g, 'orch', '" + key + "' FROM generate_series(1, " + count + ") g");
        exec("INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name)"
                + " SELECT '" + key + "-' || g, 1, 'ExecutionStarted', 'orch' FROM generate_series(1, " + count + ") g");
    }

    private void exec(String sql) throws SQLException {
        try (Connection c = support.connect(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
