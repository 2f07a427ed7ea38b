package io.pgdurable.engine.store;

import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.TurnResult;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The engine's tables, as the worker uses them. Every method takes the caller's connection and
 * never commits: the caller owns the transaction.
 */
public final class EngineStore {

    /**
     * Claims up to {@code limit} instances that have visible messages, skipping instances another
     * worker is turning, and takes their messages, in one statement. The row lock is the turn's
     * claim: it lasts exactly as long as the turn's transaction, so a crashed worker's claims and
     * taken messages come back the moment its connection dies.
     *
     * <p>Instances are chosen round-robin across the messages' partition keys: each key's oldest
     * messages are ranked 1, 2, 3, ... and the lowest ranks go first (oldest first among equal
     * ranks), so a key with a backlog of thousands of messages delays another key's message by
     * at most one place per key. Each key is read through the (partition_key, visible_at) index
     * with a bounded scan, and the distinct keys are found by skipping through that index, so
     * the claim costs the same with ten or a million messages queued under one key.
     *
     * <p>Messages come oldest first, except that a generation's start and the events carried over
     * from the previous generation come first: they were enqueued when the previous generation
     * committed, but an event raised while that turn ran may have been queued earlier.
     *
     * <p>The history length comes from {@code df_engine.history_length}, called on the locked
     * rows: the statement's own snapshot predates its locks, and a turn of the same instance that
     * committed in between would make a length read with it too short (see migration 008).
     */
    public List<ClaimedTurn> claimTurns(Connection c, int limit) throws SQLException {
        String sql = """
                WITH RECURSIVE keys(k) AS (
                    (SELECT q.partition_key FROM df_engine.orchestrator_queue q ORDER BY q.partition_key LIMIT 1)
                    UNION ALL
                    SELECT (SELECT q.partition_key FROM df_engine.orchestrator_queue q
                             WHERE q.partition_key > keys.k ORDER BY q.partition_key LIMIT 1)
                      FROM keys
                     WHERE keys.k IS NOT NULL),
                candidates AS (
                    SELECT m.instance_id, min(m.rank) AS rank, min(m.visible_at) AS visible_at
                      FROM (SELECT q.instance_id, q.visible_at,
                                   row_number() OVER (PARTITION BY keys.k ORDER BY q.visible_at, q.id) AS rank
                              FROM keys
                             CROSS JOIN LATERAL (
                                   -- The row comparison is what the (partition_key, visible_at)
                                   -- index can use and the visible_at one cannot.
                                   SELECT q.instance_id, q.visible_at, q.id
                                     FROM df_engine.orchestrator_queue q
                                    WHERE q.partition_key = keys.k
                                      AND (q.partition_key, q.visible_at) <= (keys.k, now())
                                    ORDER BY q.visible_at
                                    LIMIT ?) q
                             WHERE keys.k IS NOT NULL) m
                     GROUP BY m.instance_id
                     ORDER BY min(m.rank), min(m.visible_at)
                     LIMIT ?),
                ready AS MATERIALIZED (
                    SELECT i.id, i.name, i.status, i.execution_id,
                           i.parent_id, i.parent_execution_id, i.parent_task_id, i.partition_key
                      FROM candidates r
                      JOIN df_engine.instances i ON i.id = r.instance_id
                     ORDER BY r.rank, r.visible_at
                     LIMIT ?
                       FOR UPDATE OF i SKIP LOCKED),
                taken AS (
                    DELETE FROM df_engine.orchestrator_queue q
                     USING ready r
                     WHERE q.instance_id = r.id AND q.visible_at <= now()
                    RETURNING q.id, q.instance_id, q.execution_id, q.kind, q.task_id, q.name, q.payload)
                SELECT r.id, r.name, r.status, r.execution_id,
                       df_engine.history_length(r.id, r.execution_id),
                       r.parent_id, r.parent_execution_id, r.parent_task_id, r.partition_key,
                       t.id, t.execution_id, t.kind, t.task_id, t.name, t.payload
                  FROM ready r
                  LEFT JOIN taken t ON t.instance_id = r.id
                 ORDER BY r.id, t.kind <> 'ExecutionStarted',
                          NOT (t.kind = 'EventRaised' AND t.execution_id IS NOT NULL), t.id
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, limit * 4);
            ps.setInt(2, limit * 8);
            ps.setInt(3, limit);
            List<ClaimedTurn> turns = new ArrayList<>();
            InstanceRow current = null;
            List<Message> messages = null;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String id = rs.getString(1);
                    if (current == null || !current.id().equals(id)) {
                        current = new InstanceRow(id, rs.getString(2), rs.getString(3), rs.getInt(4), rs.getInt(5),
                                rs.getString(6), (Integer) rs.getObject(7), (Integer) rs.getObject(8),
                                rs.getString(9));
                        messages = new ArrayList<>();
                        turns.add(new ClaimedTurn(current, messages));
                    }
                    long messageId = rs.getLong(10);
                    if (!rs.wasNull()) {
                        messages.add(new Message(messageId, id, (Integer) rs.getObject(11), rs.getString(12),
                                (Integer) rs.getObject(13), rs.getString(14), rs.getString(15)));
                    }
                }
            }
            return turns;
        }
    }

    /** Locks one instance by id for a turn; empty when it is gone or another worker holds it. */
    public List<InstanceRow> lockInstance(Connection c, String instanceId) throws SQLException {
        // The history length is read after the lock, like claimTurns does (see there).
        String sql = """
                WITH locked AS MATERIALIZED (
                    SELECT i.id, i.name, i.status, i.execution_id,
                           i.parent_id, i.parent_execution_id, i.parent_task_id, i.partition_key
                      FROM df_engine.instances i
                     WHERE i.id = ?
                       FOR UPDATE OF i SKIP LOCKED)
                SELECT l.id, l.name, l.status, l.execution_id,
                       df_engine.history_length(l.id, l.execution_id),
                       l.parent_id, l.parent_execution_id, l.parent_task_id, l.partition_key
                  FROM locked l
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, instanceId);
            return readRows(ps);
        }
    }

    /**
     * Locks one instance by id, waiting for a worker that holds it to finish its turn; empty
     * when it is gone.
     */
    public List<InstanceRow> lockInstanceWaiting(Connection c, String instanceId) throws SQLException {
        String sql = """
                WITH locked AS MATERIALIZED (
                    SELECT i.id, i.name, i.status, i.execution_id,
                           i.parent_id, i.parent_execution_id, i.parent_task_id
                      FROM df_engine.instances i
                     WHERE i.id = ?
                       FOR UPDATE OF i)
                SELECT l.id, l.name, l.status, l.execution_id,
                       df_engine.history_length(l.id, l.execution_id),
                       l.parent_id, l.parent_execution_id, l.parent_task_id
                  FROM locked l
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, instanceId);
            return readRows(ps);
        }
    }

    private static List<InstanceRow> readRows(PreparedStatement ps) throws SQLException {
        List<InstanceRow> rows = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                rows.add(new InstanceRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4),
                        rs.getInt(5), rs.getString(6), (Integer) rs.getObject(7), (Integer) rs.getObject(8),
                        rs.getString(9)));
            }
        }
        return rows;
    }

    /** Removes and returns the visible messages of the given (locked) instances, in turn order. */
    public Map<String, List<Message>> takeMessages(Connection c, Collection<String> instanceIds) throws SQLException {
        String sql = """
                WITH taken AS (
                    DELETE FROM df_engine.orchestrator_queue
                     WHERE instance_id = ANY (?) AND visible_at <= now()
                    RETURNING id, instance_id, execution_id, kind, task_id, name, payload)
                SELECT * FROM taken
                 ORDER BY kind <> 'ExecutionStarted',
                          NOT (kind = 'EventRaised' AND execution_id IS NOT NULL),
                          id
                """;
        Map<String, List<Message>> byInstance = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("text", instanceIds.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Message m = new Message(rs.getLong(1), rs.getString(2), (Integer) rs.getObject(3),
                            rs.getString(4), (Integer) rs.getObject(5), rs.getString(6), rs.getString(7));
                    byInstance.computeIfAbsent(m.instanceId(), k -> new ArrayList<>()).add(m);
                }
            }
        }
        return byInstance;
    }

    /** Loads an execution's history from position {@code fromIndex} (0-based) on. */
    public List<HistoryEvent> loadHistory(Connection c, String instanceId, int executionId, int fromIndex)
            throws SQLException {
        String sql = """
                SELECT event_type, task_id, name, payload, event_time
                  FROM df_engine.history
                 WHERE instance_id = ? AND execution_id = ? AND seq > ?
                 ORDER BY seq
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, instanceId);
            ps.setInt(2, executionId);
            ps.setInt(3, fromIndex);
            List<HistoryEvent> events = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    events.add(new HistoryEvent(EventType.valueOf(rs.getString(1)), (Integer) rs.getObject(2),
                            rs.getString(3), rs.getString(4), rs.getTimestamp(5).toInstant()));
                }
            }
            return events;
        }
    }

    /**
     * Collects the writes of several turns and issues each kind as one batched statement, so a
     * batch of turns costs a handful of round trips.
     */
    public TurnWriter turnWriter() {
        return new TurnWriter();
    }

    /** Accumulates turn results; {@link #flush(Connection)} writes them all. */
    public static final class TurnWriter {
        /** Generations whose executions row survives continue-as-new; older ones are deleted. */
        static final int KEPT_GENERATIONS = 100;

        private final List<Object[]> history = new ArrayList<>();
        private final List<Object[]> activities = new ArrayList<>();
        private final List<Object[]> messages = new ArrayList<>();
        private final List<Object[]> children = new ArrayList<>();
        private final List<Object[]> cancels = new ArrayList<>();
        private final List<Object[]> started = new ArrayList<>();
        private final List<Object[]> finished = new ArrayList<>();
        private final List<Object[]> continued = new ArrayList<>();

        /** Records what {@code result} decided for the locked instance {@code row}. */
        public void add(InstanceRow row, TurnResult result, Instant now) {
            int seq = row.eventCount();
            for (HistoryEvent e : result.history()) {
                history.add(new Object[] {row.id(), row.executionId(), ++seq, e.type().name(), e.taskId(), e.name(),
                        e.payload(), ts(e.timestamp())});
            }
            for (Action action : result.actions()) {
                if (action instanceof Action.ScheduleActivity a) {
                    activities.add(new Object[] {row.id(), row.executionId(), a.taskId(), a.name(), a.input(),
                            a.partitionKey() != null ? a.partitionKey() : row.partitionKey()});
                } else if (action instanceof Action.CreateTimer t) {
                    messages.add(new Object[] {row.id(), row.executionId(), EventType.TimerFired.name(), t.taskId(),
                            null, null, ts(t.fireAt())});
                } else if (action instanceof Action.CreateSubOrchestration s) {
                    children.add(new Object[] {s.instanceId(), s.name(), s.input(), row.id(), row.executionId(),
                            s.taskId(), row.partitionKey()});
                } else if (action instanceof Action.CancelSubOrchestration k) {
                    cancels.add(new Object[] {k.instanceId(), k.reason()});
                }
            }
            int eventCount = seq;
            TurnResult.Completion completion = result.completion();
            if (completion == null) {
                if ("Pending".equals(row.status())) {
                    started.add(new Object[] {row.id(), row.executionId()});
                }
            } else if (completion instanceof TurnResult.ContinuedAsNew next) {
                continued.add(new Object[] {row.id(), row.executionId(), eventCount, next.input()});
                int nextExecution = row.executionId() + 1;
                messages.add(new Object[] {row.id(), nextExecution, EventType.ExecutionStarted.name(), null, row.name(),
                        next.input(), null});
                for (HistoryEvent carried : next.carriedEvents()) {
                    messages.add(new Object[] {row.id(), nextExecution, EventType.EventRaised.name(), null,
                            carried.name(), carried.payload(), null});
                }
            } else {
                boolean ok = completion instanceof TurnResult.Completed;
                String output = ok ? ((TurnResult.Completed) completion).output()
                        : ((TurnResult.Failed) completion).failure().toJson();
                finished.add(new Object[] {row.id(), row.executionId(), eventCount, ok ? "Completed" : "Failed",
                        output});
                if (row.parentId() != null) {
                    messages.add(new Object[] {row.parentId(), row.parentExecutionId(),
                            ok ? EventType.SubOrchestrationCompleted.name() : EventType.SubOrchestrationFailed.name(),
                            row.parentTaskId(), null, output, null});
                }
            }
        }

        /** Fails an instance outright, e.g. when no orchestration of its name is registered. */
        public void fail(InstanceRow row, FailureDetails failure, Instant now) {
            HistoryEvent event = new HistoryEvent(EventType.ExecutionFailed, null, null, failure.toJson(), now);
            add(row, new TurnResult(List.of(event), List.of(), List.of(), new TurnResult.Failed(failure)), now);
        }

        public boolean isEmpty() {
            return history.isEmpty() && started.isEmpty() && finished.isEmpty() && continued.isEmpty();
        }

        public void flush(Connection c) throws SQLException {
            batch(c, """
                    INSERT INTO df_engine.history
                        (instance_id, execution_id, seq, event_type, task_id, name, payload, event_time)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, history);
            batch(c, """
                    INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name, input, partition_key)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (instance_id, execution_id, task_id) DO NOTHING
                    """, activities);
            createChildren(c);
            batch(c, """
                    UPDATE df_engine.instances
                       SET status = 'Running', updated_at = clock_timestamp()
                     WHERE id = ? AND execution_id = ? AND status = 'Pending'
                    """, started);
            finishExecutions(c);
            continueExecutions(c);
            batch(c, """
                    INSERT INTO df_engine.orchestrator_queue
                        (instance_id, execution_id, kind, task_id, name, payload, visible_at)
                    VALUES (?, ?, ?, ?, ?, ?, coalesce(?, now()))
                    """, messages);
            for (Object[] cancel : cancels) {
                try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.cancel(?, ?)")) {
                    ps.setString(1, (String) cancel[0]);
                    ps.setString(2, (String) cancel[1]);
                    ps.execute();
                }
            }
            if (!messages.isEmpty() || !cancels.isEmpty()) {
                // Other workers may be idle: wake them. Workers wake themselves locally.
                try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.wake()")) {
                    ps.execute();
                }
            }
        }

        private void createChildren(Connection c) throws SQLException {
            if (children.isEmpty()) {
                return;
            }
            // A child id that already exists fails the parent's task rather than the whole turn.
            // A child shares its parent's fairness key; its start message carries it explicitly,
            // since the message trigger cannot see a row inserted by the same statement.
            String sql = """
                    WITH ins AS (
                        INSERT INTO df_engine.instances
                            (id, name, input, parent_id, parent_execution_id, parent_task_id, partition_key)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (id) DO NOTHING
                        RETURNING id, input, partition_key),
                    ex AS (
                        INSERT INTO df_engine.executions (instance_id, execution_id, input)
                        SELECT id, 1, input FROM ins)
                    INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name, payload, partition_key)
                    SELECT id, 1, 'ExecutionStarted', ?, input, partition_key FROM ins
                    """;
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (Object[] child : children) {
                    bind(ps, child);
                    ps.setString(8, (String) child[1]);
                    ps.addBatch();
                }
                int[] created = ps.executeBatch();
                for (int i = 0; i < created.length; i++) {
                    Object[] child = children.get(i);
                    if (created[i] == 0) {
                        FailureDetails dup = new FailureDetails("DuplicateInstance",
                                "sub-orchestration instance '" + child[0] + "' already exists");
                        messages.add(new Object[] {child[3], child[4], EventType.SubOrchestrationFailed.name(),
                                child[5], null, dup.toJson(), null});
                    }
                }
            }
        }

        private void finishExecutions(Connection c) throws SQLException {
            if (finished.isEmpty()) {
                return;
            }
            batch(c, """
                    UPDATE df_engine.instances
                       SET status = ?, output = ?, updated_at = clock_timestamp(), completed_at = clock_timestamp()
                     WHERE id = ? AND execution_id = ?
                    """, project(finished, 3, 4, 0, 1));
            batch(c, """
                    UPDATE df_engine.executions
                       SET status = ?, output = ?, event_count = ?, ended_at = clock_timestamp()
                     WHERE instance_id = ? AND execution_id = ?
                    """, project(finished, 3, 4, 2, 0, 1));
            // Leftover timers and queued activities of a finished instance will never matter.
            String[] ids = finished.stream().map(f -> (String) f[0]).toArray(String[]::new);
            deleteQueued(c, ids, false);
        }

        private void continueExecutions(Connection c) throws SQLException {
            if (continued.isEmpty()) {
                return;
            }
            // The next generation's input is its own row's input; no need to store it twice.
            batch(c, """
                    UPDATE df_engine.executions
                       SET status = 'ContinuedAsNew', event_count = ?, ended_at = clock_timestamp()
                     WHERE instance_id = ? AND execution_id = ?
                    """, project(continued, 2, 0, 1));
            // Likewise only the latest generations' rows are kept, so a loop of any length stays bounded.
            batch(c, "DELETE FROM df_engine.executions WHERE instance_id = ? AND execution_id <= ? - "
                    + KEPT_GENERATIONS, project(continued, 0, 1));
            // The finished generation's history is dropped: it can never be replayed again, and
            // keeping it would let a long-running loop grow its history without bound.
            batch(c, "DELETE FROM df_engine.history WHERE instance_id = ? AND execution_id = ?",
                    project(continued, 0, 1));
            batch(c, """
                    UPDATE df_engine.instances
                       SET execution_id = execution_id + 1, input = ?, status = 'Running',
                           updated_at = clock_timestamp()
                     WHERE id = ? AND execution_id = ?
                    """, project(continued, 3, 0, 1));
            batch(c, """
                    INSERT INTO df_engine.executions (instance_id, execution_id, input)
                    VALUES (?, ? + 1, ?)
                    """, project(continued, 0, 1, 3));
            String[] ids = continued.stream().map(f -> (String) f[0]).toArray(String[]::new);
            deleteQueued(c, ids, true);
        }

        private static void deleteQueued(Connection c, String[] ids, boolean keepInstanceScoped) throws SQLException {
            Array array = c.createArrayOf("text", ids);
            String messagesSql = keepInstanceScoped
                    ? "DELETE FROM df_engine.orchestrator_queue WHERE instance_id = ANY (?) AND execution_id IS NOT NULL"
                    : "DELETE FROM df_engine.orchestrator_queue WHERE instance_id = ANY (?)";
            try (PreparedStatement ps = c.prepareStatement(messagesSql)) {
                ps.setArray(1, array);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "DELETE FROM df_engine.activity_queue WHERE instance_id = ANY (?)")) {
                ps.setArray(1, array);
                ps.executeUpdate();
            }
        }

        private static List<Object[]> project(List<Object[]> rows, int... columns) {
            List<Object[]> out = new ArrayList<>(rows.size());
            for (Object[] row : rows) {
                Object[] p = new Object[columns.length];
                for (int i = 0; i < columns.length; i++) {
                    p[i] = row[columns[i]];
                }
                out.add(p);
            }
            return out;
        }
    }

    // -------------------------------------------------------------------------------------------
    // Activities
    // -------------------------------------------------------------------------------------------

    /**
     * Claims up to {@code limit} visible activity items in one statement, with no share limit:
     * see {@link #claimActivities(Connection, String, int, Duration, int, Map)}.
     */
    public List<ActivityItem> claimActivities(Connection c, String owner, int limit, Duration lease)
            throws SQLException {
        return claimActivities(c, owner, limit, lease, limit, Map.of());
    }

    /**
     * Claims up to {@code limit} visible activity items in one statement. Each gets a fresh
     * random lease token, and becomes visible again when the lease expires unless renewed.
     *
     * <p>Items are shared out across partition keys. A key may hold at most {@code perKeyLimit}
     * items of the caller at once: {@code held} says how many each key already holds (keys not
     * in it hold none), and a key at its limit gets nothing. The rest is dealt out round-robin,
     * the least-held key first: a key's k-th new item ranks as {@code held + k}, and the lowest
     * ranks win, oldest first among equals. So a newcomer's single item is taken before the next
     * item of a key with a backlog. Each key is read through the (partition_key, visible_at)
     * index with a scan bounded by what it may still take, and the distinct keys are found by
     * skipping through that index, so the claim stays cheap however many items one key queued.
     *
     * @param perKeyLimit items one key may hold at once, counting {@code held}
     * @param held        items each key holds already
     */
    public List<ActivityItem> claimActivities(Connection c, String owner, int limit, Duration lease,
                                              int perKeyLimit, Map<String, Integer> held) throws SQLException {
        String sql = """
                WITH RECURSIVE keys(k) AS (
                    (SELECT q.partition_key FROM df_engine.activity_queue q ORDER BY q.partition_key LIMIT 1)
                    UNION ALL
                    SELECT (SELECT q.partition_key FROM df_engine.activity_queue q
                             WHERE q.partition_key > keys.k ORDER BY q.partition_key LIMIT 1)
                      FROM keys
                     WHERE keys.k IS NOT NULL),
                room AS (
                    SELECT keys.k, coalesce(h.n, 0) AS held,
                           least(?::integer, ?::integer - coalesce(h.n, 0)) AS room
                      FROM keys
                      LEFT JOIN unnest(?::text[], ?::integer[]) AS h(k, n) ON h.k = keys.k
                     WHERE keys.k IS NOT NULL),
                locked AS MATERIALIZED (
                    -- Materialized: a subquery with LIMIT and SKIP LOCKED that the planner chose
                    -- to rescan could hand back more rows than asked for.
                    SELECT r.k, r.held, a.id, a.visible_at
                      FROM room r
                     CROSS JOIN LATERAL (
                           SELECT q.id, q.visible_at
                             FROM df_engine.activity_queue q
                            WHERE q.partition_key = r.k AND (q.partition_key, q.visible_at) <= (r.k, now())
                            ORDER BY q.visible_at
                            LIMIT r.room
                              FOR UPDATE SKIP LOCKED) a
                     WHERE r.room > 0),
                picked AS (
                    SELECT l.id
                      FROM (SELECT l.id, l.visible_at,
                                   l.held + row_number() OVER (PARTITION BY l.k ORDER BY l.visible_at, l.id) AS rank
                              FROM locked l) l
                     ORDER BY l.rank, l.visible_at, l.id
                     LIMIT ?)
                UPDATE df_engine.activity_queue q
                   SET lease_owner = ?, lease_token = gen_random_uuid(),
                       visible_at = now() + make_interval(secs => ?), attempts = q.attempts + 1
                  FROM picked p
                 WHERE q.id = p.id
                RETURNING q.id, q.instance_id, q.execution_id, q.task_id, q.name, q.input, q.lease_token, q.attempts,
                          q.partition_key
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, limit);
            ps.setInt(2, perKeyLimit);
            List<String> keys = new ArrayList<>(held.size());
            List<Integer> counts = new ArrayList<>(held.size());
            for (Map.Entry<String, Integer> e : held.entrySet()) {
                keys.add(e.getKey());
                counts.add(e.getValue());
            }
            ps.setArray(3, c.createArrayOf("text", keys.toArray()));
            ps.setArray(4, c.createArrayOf("integer", counts.toArray()));
            ps.setInt(5, limit);
            ps.setString(6, owner);
            ps.setDouble(7, lease.toMillis() / 1000.0);
            List<ActivityItem> items = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    items.add(new ActivityItem(rs.getLong(1), rs.getString(2), rs.getInt(3), rs.getInt(4),
                            rs.getString(5), rs.getString(6), (UUID) rs.getObject(7), rs.getInt(8),
                            rs.getString(9)));
                }
            }
            return items;
        }
    }

    /**
     * Records an activity's result; false when the lease is no longer held (taken over,
     * duplicate, or the instance was cancelled), in which case nothing was recorded.
     */
    public boolean completeActivity(Connection c, ActivityItem item, String result, boolean failed)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.complete_activity(?, ?, ?, ?)")) {
            ps.setLong(1, item.id());
            ps.setObject(2, item.leaseToken());
            ps.setString(3, result);
            ps.setBoolean(4, failed);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    /**
     * Records an activity's result inside the connection's open transaction and commits it, in
     * one round trip: the completion and {@code COMMIT} travel in one message, and a refused
     * completion raises (SQLSTATE 55000), so the server never reaches the {@code COMMIT} and the
     * transaction, with the activity's own work, is left to roll back.
     *
     * <p>{@code c} may be a SQL step's connection, which keeps the submitting role's own
     * search_path (whatever schemas it names, and whoever may create objects in them). So this
     * statement must resolve nothing through it: the function is schema-qualified, the values are
     * bound with their types (bigint, uuid, text) rather than cast with {@code ::}, and no
     * operator is used. A {@code SET LOCAL search_path} here is not the answer: the user's own
     * deferred triggers fire at this {@code COMMIT} and must see the role's search_path.
     */
    public void completeAndCommit(Connection c, ActivityItem item, String result) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT df_engine.complete_activity_or_fail(?, ?, ?); COMMIT")) {
            ps.setLong(1, item.id());
            ps.setObject(2, item.leaseToken());
            ps.setString(3, result);
            ps.execute();
        }
    }

    /** An activity result waiting to be recorded. */
    public record Completion(ActivityItem item, String result, boolean failed) {
    }

    /**
     * Records many activity results in one statement; results whose lease is no longer held are
     * skipped, exactly as {@link #completeActivity} would. Returns how many were recorded.
     */
    public int completeActivities(Connection c, List<Completion> completions) throws SQLException {
        if (completions.isEmpty()) {
            return 0;
        }
        String sql = """
                WITH done AS (
                    DELETE FROM df_engine.activity_queue q
                     USING unnest(?::bigint[], ?::uuid[], ?::text[], ?::boolean[]) AS r(id, token, result, failed)
                     WHERE q.id = r.id AND q.lease_token = r.token
                    RETURNING q.instance_id, q.execution_id, q.task_id, r.result, r.failed)
                INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
                SELECT instance_id, execution_id, CASE WHEN failed THEN 'TaskFailed' ELSE 'TaskCompleted' END,
                       task_id, result
                  FROM done
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("bigint", completions.stream().map(x -> x.item().id()).toArray()));
            ps.setArray(2, c.createArrayOf("uuid", completions.stream().map(x -> x.item().leaseToken()).toArray()));
            ps.setArray(3, c.createArrayOf("text", completions.stream().map(Completion::result).toArray()));
            ps.setArray(4, c.createArrayOf("boolean", completions.stream().map(Completion::failed).toArray()));
            return ps.executeUpdate();
        }
    }

    /**
     * Extends the leases of items still held and returns their ids; an item missing from the
     * answer has lost its lease: its instance was cancelled, or another worker took it over.
     */
    public Set<Long> renewLeases(Connection c, Collection<ActivityItem> items, Duration lease) throws SQLException {
        if (items.isEmpty()) {
            return Set.of();
        }
        String sql = """
                UPDATE df_engine.activity_queue q
                   SET visible_at = now() + make_interval(secs => ?)
                  FROM unnest(?::bigint[], ?::uuid[]) AS held(id, token)
                 WHERE q.id = held.id AND q.lease_token = held.token
                RETURNING q.id
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setDouble(1, lease.toMillis() / 1000.0);
            ps.setArray(2, c.createArrayOf("bigint", items.stream().map(ActivityItem::id).toArray()));
            ps.setArray(3, c.createArrayOf("uuid", items.stream().map(ActivityItem::leaseToken).toArray()));
            Set<Long> held = new HashSet<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    held.add(rs.getLong(1));
                }
            }
            return held;
        }
    }

    /**
     * Whether {@code item} is still leased with its token. Works on any connection to the
     * engine's database, as any role, inside an open transaction or not.
     */
    public boolean leaseHeld(Connection c, ActivityItem item) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.activity_lease_held(?, ?)")) {
            ps.setLong(1, item.id());
            ps.setObject(2, item.leaseToken());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    /** Gives an item back for another try after {@code delay}, if the lease is still ours. */
    public void releaseActivity(Connection c, ActivityItem item, Duration delay) throws SQLException {
        String sql = """
                UPDATE df_engine.activity_queue
                   SET visible_at = now() + make_interval(secs => ?), lease_owner = NULL, lease_token = NULL
                 WHERE id = ? AND lease_token = ?
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setDouble(1, delay.toMillis() / 1000.0);
            ps.setLong(2, item.id());
            ps.setObject(3, item.leaseToken());
            ps.executeUpdate();
        }
    }

    /** When the next queued message becomes visible, or {@code null} when the queue is empty. */
    public Instant nextMessageDue(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT min(visible_at) FROM df_engine.orchestrator_queue");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            Timestamp t = rs.getTimestamp(1);
            return t == null ? null : t.toInstant();
        }
    }

    // -------------------------------------------------------------------------------------------
    // Workers
    // -------------------------------------------------------------------------------------------

    public void heartbeat(Connection c, String workerId, String host, long pid, String mode) throws SQLException {
        String sql = """
                INSERT INTO df_engine.workers (id, host, pid, mode) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_seen_at = now()
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, workerId);
            ps.setString(2, host);
            ps.setLong(3, pid);
            ps.setString(4, mode);
            ps.executeUpdate();
        }
    }

    public void removeWorker(Connection c, String workerId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM df_engine.workers WHERE id = ?")) {
            ps.setString(1, workerId);
            ps.executeUpdate();
        }
    }

    // -------------------------------------------------------------------------------------------

    private static void batch(Connection c, String sql, List<Object[]> rows) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (rows.size() == 1) {
                bind(ps, rows.get(0));
                ps.executeUpdate();
                return;
            }
            for (Object[] row : rows) {
                bind(ps, row);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private static void bind(PreparedStatement ps, Object[] row) throws SQLException {
        for (int i = 0; i < row.length; i++) {
            Object v = row[i];
            if (v == null) {
                ps.setNull(i + 1, Types.NULL);
            } else if (v instanceof Integer n) {
                ps.setInt(i + 1, n);
            } else if (v instanceof Timestamp t) {
                ps.setTimestamp(i + 1, t);
            } else {
                ps.setString(i + 1, v.toString());
            }
        }
    }

    private static Timestamp ts(Instant instant) {
        return Timestamp.from(instant);
    }
}
