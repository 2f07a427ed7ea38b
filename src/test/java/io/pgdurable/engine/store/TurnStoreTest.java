package io.pgdurable.engine.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.engine.ActivityContext;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.TurnResult;
import io.pgdurable.testing.FlushCountingSocketFactory;
import io.pgdurable.testing.Jdbc;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Locking instances for a turn, as the dispatcher does when it fails one outside a claimed turn,
 * and writing a batch of turns.
 */
class TurnStoreTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static String db;
    /** For the tests of statement writes, whose instances the history test must not see. */
    private static String writesDb;
    /** A database of its own for the short path's turn, whose history the first turns' test must not see. */
    private static String advanceDb;
    /** A database of its own for the next message due, whose queue no other test writes. */
    private static String dueDb;
    /** A database of its own for starts with their first turn. */
    private static String startDb;

    @BeforeAll
    static void database() {
        db = CLUSTER.createDatabase("turn_store");
        writesDb = CLUSTER.createDatabase("turn_store_writes");
        advanceDb = CLUSTER.createDatabase("turn_store_advance");
        dueDb = CLUSTER.createDatabase("turn_store_due");
        startDb = CLUSTER.createDatabase("turn_store_start");
    }

    @Test
    void locking_an_instance_while_waiting_returns_its_row_with_the_partition_key() throws SQLException {
        try (Connection c = CLUSTER.connect(db)) {
            c.setAutoCommit(false);
            try (PreparedStatement s = c.prepareStatement("SELECT df_engine.start_orchestration(?, ?, ?)")) {
                s.setString(1, "wait-1");
                s.setString(2, "waiting.lock");
                s.setString(3, "\"in\"");
                s.execute();
            }
            c.commit();

            List<InstanceRow> rows = new TurnStore().lockInstanceWaiting(c, "wait-1");
            c.rollback();

            assertThat(rows).singleElement().satisfies(row -> {
                assertThat(row.id()).isEqualTo("wait-1");
                assertThat(row.name()).isEqualTo("waiting.lock");
                assertThat(row.status()).isEqualTo("Pending");
                assertThat(row.partitionKey()).isNotNull();
            });
        }
    }

    @Test
    void locking_an_instance_that_is_gone_returns_nothing() throws SQLException {
        try (Connection c = CLUSTER.connect(db)) {
            c.setAutoCommit(false);
            assertThat(new TurnStore().lockInstanceWaiting(c, "no-such-instance")).isEmpty();
            c.rollback();
        }
    }

    @Test
    void a_batch_of_first_turns_is_written_whole_in_any_session_time_zone() throws SQLException {
        Instant at = Instant.parse("2026-01-02T03:04:05.678Z");
        try (Connection c = CLUSTER.connect(db)) {
            for (String id : List.of("first-1", "first-2", "first-cancelled")) {
                try (PreparedStatement s = c.prepareStatement("SELECT df_engine.start_orchestration(?, 'first.turn', '1')")) {
                    s.setString(1, id);
                    s.execute();
                }
            }
            try (Statement s = c.createStatement()) {
                // Cancelled between the claim and the write: the turn must not make it run again.
                s.execute("UPDATE df_engine.instances SET status = 'Cancelled', completed_at = now()"
                        + " WHERE id = 'first-cancelled'");
                // Far from UTC, and from the JVM's zone: times must not shift.
                s.execute("SET TIME ZONE 'Pacific/Chatham'");
            }
            c.setAutoCommit(false);
            List<String> reserved = new ArrayList<>();
            TurnWriter writer = new TurnWriter(leaser(partitionKey -> {
                reserved.add(partitionKey);
                return reserved.size() == 1; // only the first activity is leased at once
            }));
            for (String id : List.of("first-1", "first-2", "first-cancelled")) {
                InstanceRow row = new InstanceRow(id, "first.turn", "Pending", 1, 0, null, null, null, "key-" + id);
                writer.add(row, new TurnResult(
                        List.of(HistoryEvent.orchestratorStarted(at), HistoryEvent.executionStarted("first.turn", "1", at),
                                new HistoryEvent(EventType.TaskScheduled, 0, "step", null, at)),
                        List.of(new Action.ScheduleActivity(0, "step", "\"in 'quoted' \\\\ " + id + "\"", null)),
                        List.of(), null), at);
            }
            writer.flush(c);
            c.commit();

            assertThat(writer.leased()).singleElement().satisfies(item -> {
                assertThat(item.instanceId()).isEqualTo("first-1");
                assertThat(item.partitionKey()).isEqualTo("key-first-1");
            });
            long leasedId = writer.leased().get(0).id();
            try (Statement s = c.createStatement()) {
                assertThat(rows(s, """
                        SELECT instance_id || ' ' || seq || ' ' || event_type || ' ' || coalesce(task_id::text, '-')
                               || ' ' || (event_time = '2026-01-02T03:04:05.678Z'::timestamptz)
                          FROM df_engine.history ORDER BY instance_id, seq""")).containsExactly(
                        "first-1 1 OrchestratorStarted - true", "first-1 2 ExecutionStarted - true",
                        "first-1 3 TaskScheduled 0 true",
                        "first-2 1 OrchestratorStarted - true", "first-2 2 ExecutionStarted - true",
                        "first-2 3 TaskScheduled 0 true",
                        "first-cancelled 1 OrchestratorStarted - true", "first-cancelled 2 ExecutionStarted - true",
                        "first-cancelled 3 TaskScheduled 0 true");
                assertThat(rows(s, "SELECT id || ' ' || status FROM df_engine.instances WHERE id LIKE 'first-%' ORDER BY id"))
                        .containsExactly("first-1 Running", "first-2 Running", "first-cancelled Cancelled");
                assertThat(rows(s, """
                        SELECT instance_id || ' ' || input || ' ' || partition_key || ' ' || coalesce(lease_owner, '-')
                               || ' ' || attempts || ' ' || (id = %d)
                          FROM df_engine.activity_queue WHERE instance_id LIKE 'first-%%' ORDER BY instance_id"""
                        .formatted(leasedId))).containsExactly(
                        "first-1 \"in 'quoted' \\\\ first-1\" key-first-1 worker-w 1 true",
                        "first-2 \"in 'quoted' \\\\ first-2\" key-first-2 - 0 false",
                        "first-cancelled \"in 'quoted' \\\\ first-cancelled\" key-first-cancelled - 0 false");
            }
        }
    }

    @Test
    void a_turn_with_statement_writes_sends_them_behind_its_own_with_generic_plans_only_for_its_own_kinds() throws SQLException {
        Instant at = Instant.parse("2026-01-02T03:04:05Z");
        try (Connection c = CLUSTER.connect(writesDb)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE turn_marks (n serial, what text, plan_mode text)");
            }
            try (PreparedStatement s = c.prepareStatement("SELECT df_engine.start_orchestration('writes-1', 'w.turn', '1')")) {
                s.execute();
            }
            c.setAutoCommit(false);
            TurnWriter writer = new TurnWriter(leaser(partitionKey -> true));
            String mark = "INSERT INTO turn_marks (what, plan_mode) SELECT ? || (SELECT count(*) FROM df_engine.history"
                    + " WHERE instance_id = 'writes-1'), current_setting('plan_cache_mode')";
            InstanceRow row = new InstanceRow("writes-1", "w.turn", "Pending", 1, 0, null, null, null, "key-w");
            writer.add(row, firstTurn(at,
                    // A statement ending in a line comment, then rows, then another statement.
                    List.of(TurnWrite.sql(mark + " -- the history is written first", "sql:"),
                            TurnWrite.rows("INSERT INTO turn_marks (what) SELECT 'rows:' || x"
                                    + " FROM unnest(?::text[]) AS x", "a"),
                            TurnWrite.rows("INSERT INTO turn_marks (what) SELECT 'rows:' || x"
                                    + " FROM unnest(?::text[]) AS x", "b"),
                            TurnWrite.sql(mark, "last:").named("a_kind"))), at);
            writer.flush(c);
            try (Statement s = c.createStatement()) {
                assertThat(rows(s, "SELECT current_setting('plan_cache_mode')"))
                        .as("what follows the turn's writes in its transaction plans as the connection does")
                        .containsExactly("auto");
            }
            c.commit();

            assertThat(writer.leased()).singleElement()
                    .satisfies(item -> assertThat(item.instanceId()).isEqualTo("writes-1"));
            try (Statement s = c.createStatement()) {
                assertThat(rows(s, "SELECT what || ' ' || coalesce(plan_mode, '-') FROM turn_marks ORDER BY n"))
                        .as("every write ran once, in order, after the history; generic plans for a write with a kind")
                        .containsExactly("sql:3 auto", "rows:a -", "rows:b -", "last:3 force_generic_plan");
                assertThat(rows(s, "SELECT current_setting('plan_cache_mode')"))
                        .as("the setting ended with the turn's transaction").containsExactly("auto");
                assertThat(rows(s, "SELECT status FROM df_engine.instances WHERE id = 'writes-1'"))
                        .containsExactly("Running");
            }
        }
    }

    @Test
    void a_failing_statement_write_fails_the_whole_turn() throws SQLException {
        Instant at = Instant.parse("2026-01-02T03:04:05Z");
        try (Connection c = CLUSTER.connect(writesDb)) {
            try (PreparedStatement s = c.prepareStatement("SELECT df_engine.start_orchestration('writes-2', 'w.turn', '1')")) {
                s.execute();
            }
            c.setAutoCommit(false);
            TurnWriter writer = new TurnWriter();
            InstanceRow row = new InstanceRow("writes-2", "w.turn", "Pending", 1, 0, null, null, null, "key-w");
            writer.add(row, firstTurn(at, List.of(TurnWrite.sql("SELECT 1 / (? - 1)", 1))), at);
            assertThatThrownBy(() -> writer.flush(c))
                    .isInstanceOf(SQLException.class).hasMessageContaining("division by zero");
            c.rollback();
            try (Statement s = c.createStatement()) {
                assertThat(rows(s, "SELECT count(*) FROM df_engine.history WHERE instance_id = 'writes-2'"))
                        .containsExactly("0");
                assertThat(rows(s, "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = 'writes-2'"))
                        .containsExactly("0");
            }
        }
    }

    @Test
    void flush_and_commit_commits_a_batch_in_the_writes_round_trip_or_after_the_others() throws SQLException {
        Instant at = Instant.parse("2026-01-02T03:04:05Z");
        try (Connection c = CLUSTER.connect(writesDb); Connection other = CLUSTER.connect(writesDb)) {
            for (String id : List.of("commit-1", "commit-2")) {
                try (PreparedStatement s = c.prepareStatement("SELECT df_engine.start_orchestration(?, 'w.turn', '1')")) {
                    s.setString(1, id);
                    s.execute();
                }
            }
            c.setAutoCommit(false);
            // One turn that schedules a step and writes a statement (one round trip), then one
            // that ends its instance (the writes in order, then the commit).
            TurnWriter chained = new TurnWriter();
            chained.add(new InstanceRow("commit-1", "w.turn", "Pending", 1, 0, null, null, null, "key-w"),
                    firstTurn(at, List.of(TurnWrite.sql("SELECT 1 WHERE ? IS NOT NULL", "x"))), at);
            chained.flushAndCommit(c);
            assertThat(rows(other.createStatement(), "SELECT status FROM df_engine.instances WHERE id = 'commit-1'"))
                    .as("committed: another session sees it").containsExactly("Running");

            TurnWriter inOrder = new TurnWriter();
            inOrder.add(new InstanceRow("commit-2", "w.turn", "Pending", 1, 0, null, null, null, "key-w"),
                    new TurnResult(List.of(HistoryEvent.orchestratorStarted(at),
                            HistoryEvent.executionStarted("w.turn", "1", at),
                            new HistoryEvent(EventType.ExecutionCompleted, null, null, "\"done\"", at)),
                            List.of(), List.of(), new TurnResult.Completed("\"done\"")), at);
            inOrder.flushAndCommit(c);
            assertThat(rows(other.createStatement(), "SELECT status || ' ' || output FROM df_engine.instances"
                    + " WHERE id = 'commit-2'")).containsExactly("Completed \"done\"");

            try (Statement s = c.createStatement()) {
                assertThat(rows(s, "SELECT current_setting('plan_cache_mode')"))
                        .as("the next transaction plans as the connection always did").containsExactly("auto");
            }
            c.rollback();
        }
    }

    @Test
    void flush_and_commit_with_a_failing_write_commits_nothing_and_keeps_the_transaction_to_roll_back_to_a_savepoint()
            throws SQLException {
        Instant at = Instant.parse("2026-01-02T03:04:05Z");
        try (Connection c = CLUSTER.connect(writesDb)) {
            try (PreparedStatement s = c.prepareStatement("SELECT df_engine.start_orchestration('commit-3', 'w.turn', '1')")) {
                s.execute();
            }
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SELECT id FROM df_engine.instances WHERE id = 'commit-3' FOR UPDATE");
                s.execute("SAVEPOINT claimed");
            }
            TurnWriter writer = new TurnWriter();
            writer.add(new InstanceRow("commit-3", "w.turn", "Pending", 1, 0, null, null, null, "key-w"),
                    firstTurn(at, List.of(TurnWrite.sql("SELECT 1 / (? - 1)", 1))), at);
            assertThatThrownBy(() -> writer.flushAndCommit(c))
                    .isInstanceOf(SQLException.class).hasMessageContaining("division by zero");
            try (Statement s = c.createStatement()) {
                s.execute("ROLLBACK TO SAVEPOINT claimed");
                assertThat(rows(s, "SELECT count(*) FROM df_engine.history WHERE instance_id = 'commit-3'"))
                        .as("the turn's writes are undone, the claim's lock kept").containsExactly("0");
            }
            c.rollback();
        }
    }

    /** A leaser for owner "worker-w" with 30-second leases that takes what {@code reserve} accepts. */
    private static TurnWriter.Leaser leaser(java.util.function.Predicate<String> reserve) {
        return new TurnWriter.Leaser() {
            @Override
            public boolean reserve(String partitionKey) {
                return reserve.test(partitionKey);
            }

            @Override
            public String owner() {
                return "worker-w";
            }

            @Override
            public Duration lease() {
                return Duration.ofSeconds(30);
            }
        };
    }

    /** The first turn of a "w.turn" instance: it schedules one step and makes {@code writes}. */
    private static TurnResult firstTurn(Instant at, List<TurnWrite> writes) {
        return new TurnResult(List.of(HistoryEvent.orchestratorStarted(at), HistoryEvent.executionStarted("w.turn", "1", at),
                new HistoryEvent(EventType.TaskScheduled, 0, "step", null, at)),
                List.of(new Action.ScheduleActivity(0, "step", "1", null)), writes, null);
    }

    private static List<String> rows(Statement s, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }
    /**
     * A child's first turn rides with its parent's turn only for a child a turn of the batch
     * creates, once, and only when it does no more than schedule activities; such a child queues
     * no start message.
     */
    @Test
    void a_childs_first_turn_is_taken_only_for_a_child_created_once_and_only_when_it_schedules_activities_alone() {
        Instant now = Instant.parse("2026-12-05T10:00:00Z");
        TurnWriter writer = new TurnWriter();
        writer.add(new InstanceRow("parent", "orch", "Running", 1, 2, null, null, null, "k"), new TurnResult(List.of(),
                List.of(new Action.CreateSubOrchestration(0, "orch.child", "parent-c", "1")), List.of(), null), now);
        TurnResult schedules = new TurnResult(List.of(), List.of(new Action.ScheduleActivity(0, "step", "1")), List.of(),
                null);
        TurnResult setsATimer = new TurnResult(List.of(), List.of(new Action.CreateTimer(0, now)), List.of(), null);
        TurnResult ends = new TurnResult(List.of(), List.of(), List.of(), new TurnResult.Completed("1"));

        assertThatThrownBy(() -> writer.addFirstTurnOfChild("someone-else", schedules, now))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("someone-else is not created");
        assertThatThrownBy(() -> writer.addFirstTurnOfChild("parent-c", setsATimer, now))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does more than schedule activities");
        assertThatThrownBy(() -> writer.addFirstTurnOfChild("parent-c", ends, now))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ends it");
        assertThat(writer.queuedMessages()).as("the child queues its start message").isTrue();
        assertThat(writer.addFirstTurnOfChild("parent-c", schedules, now)).isTrue();
        assertThat(writer.queuedMessages()).as("the child starts with its first turn").isFalse();
        assertThat(writer.addFirstTurnOfChild("parent-c", schedules, now)).as("a second first turn").isFalse();

        // Another parent in the batch creating the same id: neither gets a first turn any more.
        TurnWriter twice = new TurnWriter();
        for (String parent : new String[] {"p1", "p2"}) {
            twice.add(new InstanceRow(parent, "orch", "Running", 1, 2, null, null, null, "k"), new TurnResult(List.of(),
                    List.of(new Action.CreateSubOrchestration(0, "orch.child", "same-c", "1")), List.of(), null), now);
        }
        assertThat(twice.addFirstTurnOfChild("same-c", schedules, now)).isFalse();
    }

    @Test
    void a_single_claim_sets_a_savepoint_that_keeps_the_lock_and_gives_the_messages_back() throws SQLException {
        try (Connection c = CLUSTER.connect(db); Connection other = CLUSTER.connect(db)) {
            try (Statement s = c.createStatement()) {
                s.execute("DELETE FROM df_engine.orchestrator_queue");
                s.execute("SELECT df_engine.start_orchestration('saved-1', 'savepoint.test', '1')");
            }
            c.setAutoCommit(false);
            List<ClaimedTurn> turns = new TurnStore().claimTurns(c, 4, true);
            assertThat(turns).singleElement().satisfies(t -> assertThat(t.messages()).hasSize(1));
            try (Statement s = c.createStatement()) {
                s.execute("UPDATE df_engine.instances SET status = 'Running' WHERE id = 'saved-1'");
                s.execute("ROLLBACK TO SAVEPOINT " + TurnStore.CLAIMED_SAVEPOINT);
                assertThat(rows(s, "SELECT status FROM df_engine.instances WHERE id = 'saved-1'"))
                        .as("the turn's write is undone").containsExactly("Pending");
                assertThat(rows(s, "SELECT kind FROM df_engine.orchestrator_queue WHERE instance_id = 'saved-1'"))
                        .as("the messages are back").containsExactly("ExecutionStarted");
            }
            try (Statement s = other.createStatement()) {
                assertThat(rows(s, "SELECT id FROM df_engine.instances WHERE id = 'saved-1' FOR UPDATE SKIP LOCKED"))
                        .as("the claim's lock is kept").isEmpty();
            }
            c.rollback();
        }
    }

    @Test
    void a_claim_without_the_option_sets_no_savepoint() throws SQLException {
        try (Connection c = CLUSTER.connect(db)) {
            try (Statement s = c.createStatement()) {
                s.execute("DELETE FROM df_engine.orchestrator_queue");
                s.execute("SELECT df_engine.start_orchestration('several-1', 'savepoint.test', '1')");
                s.execute("SELECT df_engine.start_orchestration('several-2', 'savepoint.test', '1')");
            }
            c.setAutoCommit(false);
            assertThat(new TurnStore().claimTurns(c, 4, false)).hasSize(2);
            assertNoClaimSavepoint(c);
            assertThat(new TurnStore().claimTurns(c, 1, false)).hasSize(1);
            assertNoClaimSavepoint(c);
        }
    }

    @Test
    void a_claim_of_several_instances_takes_exactly_their_messages_and_a_claim_of_none_takes_nothing()
            throws SQLException {
        try (Connection c = CLUSTER.connect(db)) {
            try (Statement s = c.createStatement()) {
                s.execute("DELETE FROM df_engine.orchestrator_queue");
                s.execute("SELECT df_engine.start_orchestration('taking-1', 'savepoint.test', '1')");
                s.execute("SELECT df_engine.start_orchestration('taking-2', 'savepoint.test', '1')");
                s.execute("SELECT df_engine.start_orchestration('taking-3', 'savepoint.test', '1')");
            }
            c.setAutoCommit(false);
            List<ClaimedTurn> turns = new TurnStore().claimTurns(c, 2, true);
            assertThat(turns).extracting(t -> t.row().id()).containsExactly("taking-1", "taking-2");
            assertThat(turns).allSatisfy(t -> assertThat(t.messages()).extracting(Message::kind)
                    .containsExactly("ExecutionStarted"));
            // The third instance's start is still queued, and the savepoint keeps the locks while
            // giving the two messages back.
            assertThat(count(c, "SELECT count(*) FROM df_engine.orchestrator_queue")).isEqualTo(1);
            try (Statement s = c.createStatement()) {
                s.execute("ROLLBACK TO SAVEPOINT " + TurnStore.CLAIMED_SAVEPOINT);
            }
            assertThat(count(c, "SELECT count(*) FROM df_engine.orchestrator_queue")).isEqualTo(3);
            c.commit();

            // Nothing claimable (another transaction holds all three): nothing is taken, even
            // when the session names instances in the setting the claim hands its ids by.
            try (Statement s = c.createStatement()) {
                s.execute("SET df_engine.claimed_instances = '{taking-1,taking-2,taking-3}'");
            }
            c.commit();
            try (Connection other = CLUSTER.connect(db)) {
                other.setAutoCommit(false);
                try (Statement s = other.createStatement()) {
                    s.execute("SELECT 1 FROM df_engine.instances WHERE id LIKE 'taking-%' FOR UPDATE");
                }
                assertThat(new TurnStore().claimTurns(c, 4, true)).isEmpty();
                assertThat(count(c, "SELECT count(*) FROM df_engine.orchestrator_queue")).isEqualTo(3);
                other.rollback();
            }
            c.rollback();
        }
    }

    @Test
    void a_short_path_turn_keeps_its_time_to_the_microsecond_in_any_session_date_style_and_time_zone()
            throws SQLException {
        Instant at = Instant.parse("2026-03-04T05:06:07.123456Z");
        UUID token = UUID.randomUUID();
        long itemId;
        try (Connection c = CLUSTER.connect(advanceDb); Statement s = c.createStatement()) {
            s.execute("SELECT df_engine.start_orchestration('advance-time', 'advance.time', '1')");
            s.execute("UPDATE df_engine.instances SET status = 'Running' WHERE id = 'advance-time'");
            s.execute("DELETE FROM df_engine.orchestrator_queue WHERE instance_id = 'advance-time'");
            s.execute("INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)"
                    + " VALUES ('advance-time', 1, 1, 'OrchestratorStarted', now())");
            try (ResultSet rs = s.executeQuery("INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id,"
                    + " name, input, lease_owner, lease_token, visible_at, attempts) VALUES ('advance-time', 1, 0, 'a',"
                    + " '1', 'w', '" + token + "', now() + interval '1 minute', 1) RETURNING id")) {
                rs.next();
                itemId = rs.getLong(1);
            }
        }
        try (Connection c = CLUSTER.connect(advanceDb)) {
            try (Statement s = c.createStatement()) {
                s.execute("SET DateStyle = 'ISO, DMY'"); // pgjdbc accepts only ISO output
                s.execute("SET TimeZone = 'Asia/Kolkata'");
            }
            c.setAutoCommit(false);
            ActivityItem item = new ActivityItem(itemId, "advance-time", 1, 0, "a", "1", token, 1, "");
            TurnResult next = new TurnResult(
                    List.of(HistoryEvent.orchestratorStarted(at), HistoryEvent.taskCompleted(0, "2", at),
                            new HistoryEvent(EventType.TaskScheduled, 1, "a", "3", at)),
                    List.of(new Action.ScheduleActivity(1, "a", "3", null)), List.of(), null);
            TurnAdvance.Outcome outcome = TurnAdvance.completeAdvanceAndCommit(c, item, "2", 1, at, next, null,
                    Duration.ofSeconds(30), null);
            assertThat(outcome.advanced()).isTrue();
        }
        try (Connection c = CLUSTER.connect(advanceDb); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT string_agg(seq || ' ' || event_type || ' '"
                     + " || (event_time = '2026-03-04T05:06:07.123456Z'::timestamptz), ', ' ORDER BY seq)"
                     + " FROM df_engine.history WHERE instance_id = 'advance-time' AND seq > 1")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("2 OrchestratorStarted true, 3 TaskCompleted true, 4 TaskScheduled true");
        }
    }

    /**
     * The completion, what the caller runs before its commit (a SQL step's session reset) and the
     * {@code COMMIT} go to the server in one round trip, on every call, not only on the first few:
     * once pgjdbc had described the statement (a parameter of no declared type made it) it knew the
     * reply carries a text column, could not bound the reply's size, and sent a Sync and waited for
     * the reply before the rest, which then took a round trip of its own.
     */
    @Test
    void a_short_path_turn_its_reset_and_its_commit_go_in_one_round_trip_every_time() throws SQLException {
        Instant at = Instant.parse("2026-03-04T05:06:07Z");
        AtomicInteger flushes = new AtomicInteger();
        List<Integer> perCall = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(advanceDb),
                FlushCountingSocketFactory.counted(TestCluster.SUPERUSER, flushes))) {
            // pgjdbc prepares a statement on the server from its fifth use on (prepareThreshold),
            // and only a prepared one is described.
            List<String> calls = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                calls.add(null);
                calls.add(RESET);
            }
            for (String beforeCommit : calls) {
                ActivityItem item = leasedFirstItem(c, "advance-trips-" + perCall.size());
                c.setAutoCommit(false);
                try (Statement s = c.createStatement()) {
                    s.execute("SELECT 1"); // the step's own work, in its transaction
                }
                TurnResult next = firstItemDoneSecondScheduled(at);
                int before = flushes.get();
                TurnAdvance.Outcome outcome = TurnAdvance.completeAdvanceAndCommit(c, item, "2", 1, at, next, "w",
                        Duration.ofSeconds(30), beforeCommit);
                perCall.add(flushes.get() - before);
                assertThat(outcome.advanced()).isTrue();
                assertThat(outcome.next()).isNotNull();
                c.setAutoCommit(true);
            }
        }
        assertThat(perCall).hasSize(14).containsOnly(1);
    }

    /** The turn after {@link #leasedFirstItem}'s task 0 completed with "2": task 1 ("a", input "3") scheduled. */
    private static TurnResult firstItemDoneSecondScheduled(Instant at) {
        return new TurnResult(
                List.of(HistoryEvent.orchestratorStarted(at), HistoryEvent.taskCompleted(0, "2", at),
                        new HistoryEvent(EventType.TaskScheduled, 1, "a", "3", at)),
                List.of(new Action.ScheduleActivity(1, "a", "3", null)), List.of(), null);
    }

    /**
     * An activity's own statement sent with its completion ({@code writeCompleteAndCommit}): the
     * statement, the short path's turn and the {@code COMMIT} go in one round trip every time, and
     * the row commits with the turn; on the queue path the statement, the completion and the
     * {@code COMMIT} do too. A failing statement commits nothing, and its error is told from the
     * completion's.
     */
    @Test
    void an_activitys_statement_goes_with_its_completion_and_the_commit_in_one_round_trip() throws SQLException {
        Instant at = Instant.parse("2026-03-04T05:06:07Z");
        AtomicInteger flushes = new AtomicInteger();
        List<Integer> perCall = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(advanceDb),
                FlushCountingSocketFactory.counted(TestCluster.SUPERUSER, flushes))) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE public.written (id text PRIMARY KEY, n int)");
            }
            ActivityQueue queue = new ActivityQueue();
            for (int i = 0; i < 14; i++) { // past pgjdbc's prepareThreshold, as in a running worker
                String id = "write-trips-" + i;
                ActivityItem item = leasedFirstItem(c, id);
                c.setAutoCommit(false);
                ActivityWrite write = new ActivityWrite("INSERT INTO public.written (id, n) VALUES (?, ?)", List.of(id, i));
                int before = flushes.get();
                if (i % 2 == 0) {
                    TurnResult next = firstItemDoneSecondScheduled(at);
                    TurnAdvance.Outcome outcome = TurnAdvance.completeAdvanceAndCommit(c, item, "2", 1, at, next, "w",
                            Duration.ofSeconds(30), null, write);
                    assertThat(outcome.advanced()).isTrue();
                    assertThat(outcome.next()).isNotNull();
                } else {
                    queue.completeAndCommit(c, item, "2", null, write);
                }
                perCall.add(flushes.get() - before);
                c.setAutoCommit(true);
            }
            assertThat(perCall).hasSize(14).containsOnly(1);
            assertThat(count(c, "SELECT count(*) FROM public.written")).isEqualTo(14);
            assertThat(count(c, "SELECT count(*) FROM df_engine.history WHERE instance_id LIKE 'write-trips-%'"
                    + " AND event_type = 'TaskCompleted'")).as("the short path's turns").isEqualTo(7);
            assertThat(count(c, "SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id LIKE 'write-trips-%'"
                    + " AND kind = 'TaskCompleted'")).as("the queued completions").isEqualTo(7);

            // The statement fails (the row exists): nothing commits, the item keeps its lease, and
            // the error is the statement's, not the completion's.
            ActivityItem item = leasedFirstItem(c, "write-fails");
            c.setAutoCommit(false);
            SQLException failed = Jdbc.sqlFailure(() -> queue.completeAndCommit(c, item, "2", null,
                    new ActivityWrite("INSERT INTO public.written (id, n) VALUES (?, ?)", List.of("write-trips-0", 0))),
                    "23505", "written_pkey");
            assertThat(ActivityWrite.raisedByCompletion(failed)).isFalse();
            c.rollback();
            // A completion whose lease is gone fails in the function: that error is the completion's.
            SQLException lost = Jdbc.sqlFailure(() -> queue.completeAndCommit(c,
                    new ActivityItem(item.id(), item.instanceId(), 1, 0, "a", "1", UUID.randomUUID(), 1, ""), "2", null,
                    new ActivityWrite("INSERT INTO public.written (id, n) VALUES (?, ?)", List.of("write-lost", 0))),
                    "55000", "no longer leased");
            assertThat(ActivityWrite.raisedByCompletion(lost)).isTrue();
            c.rollback();
            c.setAutoCommit(true);
            assertThat(count(c, "SELECT count(*) FROM public.written WHERE id = 'write-lost'")).isZero();
            assertThat(count(c, "SELECT count(*) FROM df_engine.activity_queue WHERE id = " + item.id()
                    + " AND lease_token = '" + item.leaseToken() + "'")).isEqualTo(1);
        }
    }

    /**
     * The statement a df SQL step sends with its completion: it may end in a line comment, its
     * parameters may be text sent without a type ({@link ActivityContext.UntypedText}, here a
     * date), and a statement (the step's session reset) runs before the {@code COMMIT}. Still one
     * round trip, and everything commits.
     */
    @Test
    void a_statement_ending_in_a_line_comment_goes_with_its_completion_and_the_statement_before_the_commit()
            throws SQLException {
        Instant at = Instant.parse("2026-03-04T05:06:07Z");
        AtomicInteger flushes = new AtomicInteger();
        List<Integer> perCall = new ArrayList<>();
        String beforeCommit = "SELECT pg_catalog.set_config('application_name', 'before-commit-' || "
                + "(SELECT pg_catalog.count(*) FROM public.commented), false)";
        try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(advanceDb),
                FlushCountingSocketFactory.counted(TestCluster.SUPERUSER, flushes))) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE public.commented (id text PRIMARY KEY, at date)");
            }
            for (int i = 0; i < 8; i++) {
                String id = "commented-" + i;
                ActivityItem item = leasedFirstItem(c, id);
                c.setAutoCommit(false);
                ActivityWrite write = ActivityWrite.of("INSERT INTO public.commented (id, at) VALUES (?, ?) -- the end",
                        List.of(id, new ActivityContext.UntypedText("2026-03-04")));
                int before = flushes.get();
                TurnAdvance.Outcome outcome = TurnAdvance.completeAdvanceAndCommit(c, item, "2", 1, at,
                        firstItemDoneSecondScheduled(at), "w", Duration.ofSeconds(30), beforeCommit, write);
                perCall.add(flushes.get() - before);
                assertThat(outcome.advanced()).isTrue();
                c.setAutoCommit(true);
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW application_name")) {
                    rs.next();
                    assertThat(rs.getString(1)).as("the statement before the commit ran after the insert")
                            .isEqualTo("before-commit-" + (i + 1));
                }
            }
            assertThat(perCall).containsOnly(1);
            assertThat(count(c, "SELECT count(*) FROM public.commented WHERE at = date '2026-03-04'")).isEqualTo(8);
        }
    }

    /**
     * A dispatch loop ends its transaction with a look at the next message due: the look and the
     * {@code COMMIT} go in one round trip, and what the transaction wrote stays.
     */
    @Test
    void the_next_message_due_and_the_commit_go_in_one_round_trip() throws SQLException {
        AtomicInteger flushes = new AtomicInteger();
        List<Integer> perCall = new ArrayList<>();
        List<Instant> dues = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(dueDb),
                FlushCountingSocketFactory.counted(TestCluster.SUPERUSER, flushes))) {
            c.setAutoCommit(false);
            for (int i = 0; i < 7; i++) { // past pgjdbc's prepareThreshold, as in a running worker
                try (Statement s = c.createStatement()) {
                    s.execute("SELECT df_engine.start_orchestration('due-" + i + "', 'due.commit', '1')");
                    s.execute("UPDATE df_engine.orchestrator_queue SET visible_at = '2030-01-0" + (i + 1)
                            + "T00:00:00Z' WHERE instance_id = 'due-" + i + "'");
                }
                int before = flushes.get();
                dues.add(new TurnStore().nextMessageDueAndCommit(c));
                perCall.add(flushes.get() - before);
                c.rollback(); // nothing left to roll back: the look committed
            }
        }
        assertThat(perCall).hasSize(7).containsOnly(1);
        assertThat(dues).containsOnly(Instant.parse("2030-01-01T00:00:00Z"));
        try (Connection c = CLUSTER.connect(dueDb)) {
            assertThat(count(c, "SELECT count(*) FROM df_engine.instances WHERE name = 'due.commit'")).isEqualTo(7);
        }
    }

    /**
     * A worker that starts an instance itself writes the instance and its first turn together:
     * one round trip, every time (past pgjdbc's prepareThreshold too), and one commit; the
     * instance is running, its history is the turn's, its first activity is leased to the
     * worker, and no start message waits for a dispatch loop.
     */
    @Test
    void a_start_and_its_first_turn_go_in_one_round_trip_and_commit_together() throws SQLException {
        Instant at = Instant.parse("2026-03-04T05:06:07Z");
        AtomicInteger flushes = new AtomicInteger();
        List<Integer> perCall = new ArrayList<>();
        List<ActivityItem> leased = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(startDb),
                FlushCountingSocketFactory.counted(TestCluster.SUPERUSER, flushes))) {
            for (int i = 0; i < 7; i++) {
                c.setAutoCommit(false);
                TurnWriter writer = new TurnWriter(leaser(partitionKey -> true));
                writer.add(new InstanceRow("start-" + i, "w.turn", "Running", 1, 0, null, null, null, "k"),
                        firstTurn(at, List.of()), at);
                int before = flushes.get();
                assertThat(writer.startFlushAndCommit(c, "start-" + i, "w.turn", "1")).isTrue();
                perCall.add(flushes.get() - before);
                leased.addAll(writer.leased());
                c.setAutoCommit(true);
            }
        }
        assertThat(perCall).hasSize(7).containsOnly(1);
        assertThat(leased).hasSize(7).allSatisfy(item -> {
            assertThat(item.taskId()).isZero();
            assertThat(item.attempt()).isEqualTo(1);
        });
        try (Connection c = CLUSTER.connect(startDb); Statement s = c.createStatement()) {
            assertThat(rows(s, "SELECT status || ' ' || execution_id || ' ' || input FROM df_engine.instances"
                    + " WHERE id = 'start-6'")).containsExactly("Running 1 1");
            assertThat(rows(s, "SELECT seq || ' ' || event_type FROM df_engine.history WHERE instance_id = 'start-6'"
                    + " ORDER BY seq")).containsExactly("1 OrchestratorStarted", "2 ExecutionStarted", "3 TaskScheduled");
            assertThat(rows(s, "SELECT lease_owner || ' ' || attempts || ' ' || partition_key"
                    + " FROM df_engine.activity_queue WHERE instance_id = 'start-6'")).containsExactly("worker-w 1 k");
            assertThat(count(c, "SELECT count(*) FROM df_engine.executions WHERE instance_id ~ '^start-[0-9]$'"))
                    .isEqualTo(7);
            assertThat(count(c, "SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id ~ '^start-[0-9]$'"))
                    .isZero();
        }
    }

    /**
     * An id that exists fails the start with a plain start's error, and nothing of the turn is
     * written; a turn the round trip does not take (here one that ends the instance) sends
     * nothing at all.
     */
    @Test
    void a_start_of_an_existing_id_fails_as_a_plain_start_does_and_an_ending_first_turn_is_not_taken()
            throws SQLException {
        Instant at = Instant.parse("2026-03-04T05:06:07Z");
        AtomicInteger flushes = new AtomicInteger();
        try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(startDb),
                FlushCountingSocketFactory.counted(TestCluster.SUPERUSER, flushes))) {
            try (Statement s = c.createStatement()) {
                s.execute("SELECT df_engine.start_orchestration('start-taken', 'w.other', '0')");
            }
            c.setAutoCommit(false);
            TurnWriter writer = new TurnWriter(leaser(partitionKey -> true));
            writer.add(new InstanceRow("start-taken", "w.turn", "Running", 1, 0, null, null, null, "k"),
                    firstTurn(at, List.of()), at);
            Jdbc.sqlFailure(() -> writer.startFlushAndCommit(c, "start-taken", "w.turn", "1"), "23505",
                    "orchestration instance \"start-taken\" already exists");
            c.rollback();

            TurnWriter ending = new TurnWriter(leaser(partitionKey -> true));
            ending.add(new InstanceRow("start-ends", "w.turn", "Running", 1, 0, null, null, null, "k"),
                    new TurnResult(List.of(HistoryEvent.orchestratorStarted(at),
                            HistoryEvent.executionStarted("w.turn", "1", at),
                            new HistoryEvent(EventType.ExecutionCompleted, null, null, "1", at)),
                            List.of(), List.of(), new TurnResult.Completed("1")), at);
            int before = flushes.get();
            assertThat(ending.startFlushAndCommit(c, "start-ends", "w.turn", "1")).isFalse();
            assertThat(flushes.get()).isEqualTo(before);
            c.rollback();
        }
        try (Connection c = CLUSTER.connect(startDb); Statement s = c.createStatement()) {
            assertThat(rows(s, "SELECT name || ' ' || status FROM df_engine.instances WHERE id IN ('start-taken',"
                    + " 'start-ends')")).containsExactly("w.other Pending");
            assertThat(count(c, "SELECT count(*) FROM df_engine.history WHERE instance_id IN ('start-taken',"
                    + " 'start-ends')")).isZero();
            assertThat(count(c, "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id IN ('start-taken',"
                    + " 'start-ends')")).isZero();
        }
    }

    private static final String RESET = "SELECT df_engine.reset_step_session()";

    /** A running instance {@code id} whose history is its start, with task 0 leased to worker "w". */
    private static ActivityItem leasedFirstItem(Connection c, String id) throws SQLException {
        UUID token = UUID.randomUUID();
        try (Statement s = c.createStatement()) {
            s.execute("SELECT df_engine.start_orchestration('" + id + "', 'advance.trips', '1')");
            s.execute("UPDATE df_engine.instances SET status = 'Running' WHERE id = '" + id + "'");
            s.execute("DELETE FROM df_engine.orchestrator_queue WHERE instance_id = '" + id + "'");
            s.execute("INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)"
                    + " VALUES ('" + id + "', 1, 1, 'OrchestratorStarted', now())");
            try (ResultSet rs = s.executeQuery("INSERT INTO df_engine.activity_queue (instance_id, execution_id,"
                    + " task_id, name, input, lease_owner, lease_token, visible_at, attempts) VALUES ('" + id
                    + "', 1, 0, 'a', '1', 'w', '" + token + "', now() + interval '1 minute', 1) RETURNING id")) {
                rs.next();
                return new ActivityItem(rs.getLong(1), id, 1, 0, "a", "1", token, 1, "");
            }
        }
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void assertNoClaimSavepoint(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("ROLLBACK TO SAVEPOINT " + TurnStore.CLAIMED_SAVEPOINT);
            throw new AssertionError("the savepoint exists");
        } catch (SQLException e) {
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("3B001");
        } finally {
            c.rollback();
        }
    }
}
