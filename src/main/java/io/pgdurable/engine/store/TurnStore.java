package io.pgdurable.engine.store;

import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The orchestration side of the engine's tables: claims turns, locks instances, takes their
 * messages and loads their history. Every method takes the caller's connection and never commits:
 * the caller owns the transaction, and the row locks it takes are the turns' claims.
 */
public final class TurnStore {
    /** The savepoint a claim sets after its locks, see {@link #claimTurns(Connection, int, boolean)}. */
    public static final String CLAIMED_SAVEPOINT = "pg_durable_claimed";

    /**
     * The transaction-local setting by which a claim hands the ids it locked (a text array) to
     * the statement after it, which takes their messages. Only the worker's own connection sets
     * and reads it, in one round trip.
     */
    static final String CLAIMED_SETTING = "df_engine.claimed_instances";

    /** The distinct partition keys of the queued messages (see {@link StoreSql#partitionKeys}). */
    private static final String KEYS = StoreSql.partitionKeys("df_engine.orchestrator_queue");

    /**
     * Why the statements that take messages test {@code visible_at + interval '0 seconds' <= now()}
     * rather than {@code visible_at <= now()}: so that only the instance index can find the rows.
     * A plan made while the queue looked empty (a connection keeps its plans) otherwise read the
     * (partition_key, visible_at) index through for the due test, and with it every due message
     * of every instance at each claim.
     */
    private static final String TAKEN_BY_INSTANCE = "visible_at + interval '0 seconds' <= now()";

    /** When the next message is due: see {@link #nextMessageDue}. */
    private static final String NEXT_DUE = KEYS + """
            SELECT min(f.visible_at)
              FROM keys
             CROSS JOIN LATERAL (SELECT q.visible_at FROM df_engine.orchestrator_queue q
                                  WHERE q.partition_key = keys.k
                                  ORDER BY q.visible_at
                                  LIMIT 1) f
             WHERE keys.k IS NOT NULL
            """;

    /** {@link #NEXT_DUE} and the {@code COMMIT} after it, sent together. */
    private static final String NEXT_DUE_THEN_COMMIT = StoreSql.INDEX_PLANS + NEXT_DUE + "; COMMIT";

    /** The taken messages in turn order: the start first, then events of the current generation. */
    private static final String TAKEN_IN_TURN_ORDER = """
            SELECT * FROM taken
             ORDER BY kind <> 'ExecutionStarted',
                      NOT (kind = 'EventRaised' AND execution_id IS NOT NULL),
                      id
            """;

    /** The statement of a claim, see {@link #claimTurns(Connection, int, boolean)}. */
    private static final String CLAIMING = KEYS + """
            ,
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
                   FOR UPDATE OF i SKIP LOCKED)
            SELECT r.id, r.name, r.status, r.execution_id,
                   df_engine.history_length(r.id, r.execution_id),
                   r.parent_id, r.parent_execution_id, r.parent_task_id, r.partition_key,
                   (SELECT set_config('%s', coalesce(array_agg(l.id)::text, '{}'), true)
                      FROM ready l)
              FROM ready r
             ORDER BY r.id
            """.formatted(CLAIMED_SETTING);

    /**
     * After the claim, in the same round trip (a new statement, so a new snapshot, taken after
     * the locks): the messages of the instances the claim locked. The setting is emptied first
     * (see {@link #CLAIM}), so a claim of nothing (whose select list is never computed) takes no
     * message, whatever value a session or database default gave it. The due test is written so
     * no index can serve it (see {@link #TAKEN_BY_INSTANCE}).
     */
    private static final String TAKE_CLAIMED = """
            WITH taken AS (
                DELETE FROM df_engine.orchestrator_queue
                 WHERE instance_id = ANY (NULLIF(current_setting('%s', true), '')::text[])
                   AND %s
                RETURNING id, instance_id, execution_id, kind, task_id, name, payload)
            """.formatted(CLAIMED_SETTING, TAKEN_BY_INSTANCE) + TAKEN_IN_TURN_ORDER;

    /** A claim's round trip, without and with the savepoint between the claim and the taking (each text built once). */
    private static final String CLAIM = "SET LOCAL " + CLAIMED_SETTING + " = ''; " + StoreSql.INDEX_PLANS + CLAIMING
            + "; " + TAKE_CLAIMED;
    private static final String CLAIM_WITH_SAVEPOINT = "SET LOCAL " + CLAIMED_SETTING + " = ''; " + StoreSql.INDEX_PLANS
            + CLAIMING
            + "; SAVEPOINT " + CLAIMED_SAVEPOINT + "; " + TAKE_CLAIMED;


    /**
     * Claims up to {@code limit} instances that have visible messages, skipping instances another
     * worker is turning, and takes their messages. The row lock is the turn's claim: it lasts
     * exactly as long as the turn's transaction, so a crashed worker's claims and taken messages
     * come back the moment its connection dies.
     *
     * <p>Instances are chosen round-robin across the messages' partition keys: each key's oldest
     * messages are ranked 1, 2, 3, ... and the lowest ranks go first (oldest first among equal
     * ranks), so a key with a backlog of thousands of messages delays another key's message by
     * at most one place per key. Each key is read through the (partition_key, visible_at) index
     * with a bounded scan, and the distinct keys are found by skipping through that index, so
     * the claim costs the same with ten or a million messages queued under one key.
     *
     * <p>The messages are taken by a second statement, once the locks are held, and the history
     * length is read by {@code df_engine.history_length} on the locked rows. The claim hands the
     * ids it locked to that statement through the transaction-local setting {@value
     * #CLAIMED_SETTING}, so both travel in one round trip. In READ COMMITTED the claiming
     * statement's snapshot predates its locks: when
     * another turn of the same instance commits in between, the locked row is that turn's
     * version, but the statement would not see the messages that turn queued (a continue-as-new's
     * start of the next generation and the events it carries) nor the history it appended. Taken
     * in the same statement, an event raised meanwhile could then reach the next generation
     * before its start, which was dropped as a duplicate (see migration 008 for the history
     * length).
     */
    public List<ClaimedTurn> claimTurns(Connection c, int limit) throws SQLException {
        return claimTurns(c, limit, false);
    }

    /**
     * {@link #claimTurns(Connection, int)}; with {@code savepoint}, the claim also sets the
     * savepoint {@link #CLAIMED_SAVEPOINT} once its instances are locked, in the same round trip,
     * before their messages are taken. Rolling back to it keeps the claim (the locks; the
     * messages are back in the queue, under those locks), so a turn claimed alone that fails can
     * fail its instance without letting another dispatch loop take the same turn meanwhile. The
     * savepoint is set whatever the claim found, since the claim's result is not known when its
     * round trip is sent; a claim of several instances leaves it unused.
     */
    public List<ClaimedTurn> claimTurns(Connection c, int limit, boolean savepoint) throws SQLException {
        List<InstanceRow> rows;
        Map<String, List<Message>> messages;
        try (PreparedStatement ps = c.prepareStatement(savepoint ? CLAIM_WITH_SAVEPOINT : CLAIM)) {
            ps.setInt(1, limit * 4);
            ps.setInt(2, limit * 8);
            ps.setInt(3, limit);
            ps.execute();
            try (ResultSet rs = StoreSql.resultAfterIndexPlans(ps)) {
                rows = readRows(rs);
            }
            messages = readMessages(ps);
        }
        if (rows.isEmpty()) {
            return List.of();
        }
        List<ClaimedTurn> turns = new ArrayList<>(rows.size());
        for (InstanceRow row : rows) {
            turns.add(new ClaimedTurn(row, messages.getOrDefault(row.id(), new ArrayList<>())));
        }
        return turns;
    }

    /**
     * Locks one instance by id, waiting for a worker that holds it to finish its turn; empty
     * when it is gone.
     */
    public List<InstanceRow> lockInstanceWaiting(Connection c, String instanceId) throws SQLException {
        String sql = """
                WITH locked AS MATERIALIZED (
                    SELECT i.id, i.name, i.status, i.execution_id,
                           i.parent_id, i.parent_execution_id, i.parent_task_id, i.partition_key
                      FROM df_engine.instances i
                     WHERE i.id = ?
                       FOR UPDATE OF i)
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

    private static List<InstanceRow> readRows(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            return readRows(rs);
        }
    }

    private static List<InstanceRow> readRows(ResultSet rs) throws SQLException {
        List<InstanceRow> rows = new ArrayList<>();
        while (rs.next()) {
            rows.add(new InstanceRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4),
                    rs.getInt(5), rs.getString(6), (Integer) rs.getObject(7), (Integer) rs.getObject(8),
                    rs.getString(9)));
        }
        return rows;
    }

    /** Removes and returns the visible messages of the given (locked) instances, in turn order. */
    public Map<String, List<Message>> takeMessages(Connection c, Collection<String> instanceIds) throws SQLException {
        // One instance (a turn claimed alone, the common case when few wait) is named by a plain
        // parameter: PostgreSQL plans "= ANY (array parameter)" for an array of unknown length,
        // finds that generic plan dearer than one made for the actual array and so plans the
        // statement again at every call (0.14 ms each, measured); with a single value the generic
        // plan is as good and is kept. The due test is written so no index can serve it (see
        // TAKEN_BY_INSTANCE).
        boolean one = instanceIds.size() == 1;
        String sql = """
                WITH taken AS (
                    DELETE FROM df_engine.orchestrator_queue
                     WHERE instance_id %s AND %s
                    RETURNING id, instance_id, execution_id, kind, task_id, name, payload)
                """.formatted(one ? "= ?" : "= ANY (?)", TAKEN_BY_INSTANCE) + TAKEN_IN_TURN_ORDER;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (one) {
                ps.setString(1, instanceIds.iterator().next());
            } else {
                ps.setArray(1, c.createArrayOf("text", instanceIds.toArray()));
            }
            ps.execute();
            return readMessages(ps);
        }
    }

    /** Reads the messages of the next result set of {@code ps}, by instance. */
    private static Map<String, List<Message>> readMessages(PreparedStatement ps) throws SQLException {
        Map<String, List<Message>> byInstance = new HashMap<>();
        try (ResultSet rs = StoreSql.nextResultSet(ps)) {
            while (rs.next()) {
                Message m = new Message(rs.getLong(1), rs.getString(2), (Integer) rs.getObject(3),
                        rs.getString(4), (Integer) rs.getObject(5), rs.getString(6), rs.getString(7));
                byInstance.computeIfAbsent(m.instanceId(), k -> new ArrayList<>()).add(m);
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
     * When the next queued message becomes visible, or {@code null} when the queue is empty: the
     * earliest of each partition key's first message, the keys found as a claim finds them, so the
     * look costs the same however many messages wait.
     */
    public Instant nextMessageDue(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(NEXT_DUE);
             ResultSet rs = ps.executeQuery()) {
            return due(rs);
        }
    }

    /**
     * {@link #nextMessageDue}, then commits {@code c}'s transaction, in one round trip: a dispatch
     * loop ends its transaction with this look (its claim found nothing, or its batch has
     * committed), and the look and a separate {@code COMMIT} took two.
     */
    public Instant nextMessageDueAndCommit(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(NEXT_DUE_THEN_COMMIT)) {
            ps.execute();
            try (ResultSet rs = StoreSql.resultAfterIndexPlans(ps)) {
                return due(rs);
            }
        }
    }

    private static Instant due(ResultSet rs) throws SQLException {
        rs.next();
        Timestamp t = rs.getTimestamp(1);
        return t == null ? null : t.toInstant();
    }
}
