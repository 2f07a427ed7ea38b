package io.pgdurable.engine.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The activity queue: claims activity items under a lease, renews and checks leases, records
 * results and gives items back for another try. Every method takes the caller's connection and
 * never commits, except {@link #completeAndCommit}, which says so.
 */
public final class ActivityQueue {
    private static final StoreSql.Completion COMPLETE_OR_FAIL =
            new StoreSql.Completion("SELECT df_engine.complete_activity_or_fail(?, ?, ?)");

    /**
     * The claim of {@link #claimActivities(Connection, String, int, Duration, int, Map)}, planned
     * without sequential or bitmap scans ({@link StoreSql#INDEX_PLANS}).
     */
    private static final String CLAIM = StoreSql.INDEX_PLANS + StoreSql.partitionKeys("df_engine.activity_queue") + """
            ,
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
             WHERE q.id = ANY (ARRAY(SELECT p.id FROM picked p))
            RETURNING q.id, q.instance_id, q.execution_id, q.task_id, q.name, q.input, q.lease_token, q.attempts,
                      q.partition_key
            """;

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
     * The picked items are then updated by primary key: joined to the queue instead, the
     * statement's generic plan read the whole queue (a hash join over a sequential scan) at every
     * claim that took something, so a claim cost more the more items were queued or leased.
     *
     * <p>The claim is planned without sequential or bitmap scans ({@link StoreSql#INDEX_PLANS}):
     * a plan kept from when the queue was a few pages long read the whole queue, or all of one
     * key's items, at each claim once it had filled (in {@code bench --scenarios=df
     * --instances=3000}: about 1,650 rows and 1 ms per claim).
     *
     * @param perKeyLimit items one key may hold at once, counting {@code held}
     * @param held        items each key holds already
     */
    public List<ActivityItem> claimActivities(Connection c, String owner, int limit, Duration lease,
                                              int perKeyLimit, Map<String, Integer> held) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(CLAIM)) {
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
            ps.execute();
            try (ResultSet rs = StoreSql.resultAfterIndexPlans(ps)) {
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
    public void completeAndCommit(Connection c, ActivityItem item, String result, String beforeCommit)
            throws SQLException {
        completeAndCommit(c, item, result, beforeCommit, null);
    }

    /**
     * {@link #completeAndCommit(Connection, ActivityItem, String, String)} with the activity's own
     * {@code write} (or {@code null}) ahead of the completion, in the same round trip.
     */
    public void completeAndCommit(Connection c, ActivityItem item, String result, String beforeCommit,
                                  ActivityWrite write) throws SQLException {
        try (PreparedStatement ps = COMPLETE_OR_FAIL.prepare(c, beforeCommit, write, item, result)) {
            ps.execute();
        }
    }

    /** An activity result waiting to be recorded. */
    public record Completion(ActivityItem item, String result, boolean failed) {
    }

    /**
     * Records many activity results in one statement; results whose lease is no longer held are
     * skipped, exactly as {@code df_engine.complete_activity} does. Returns how many were recorded.
     */
    public int completeActivities(Connection c, List<Completion> completions) throws SQLException {
        if (completions.isEmpty()) {
            return 0;
        }
        // A function, not a join of the results to the queue: see df_engine.complete_activities.
        String sql = "SELECT df_engine.complete_activities(?::bigint[], ?::uuid[], ?::text[], ?::boolean[])";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("bigint", completions.stream().map(x -> x.item().id()).toArray()));
            ps.setArray(2, c.createArrayOf("uuid", completions.stream().map(x -> x.item().leaseToken()).toArray()));
            ps.setArray(3, c.createArrayOf("text", completions.stream().map(Completion::result).toArray()));
            ps.setArray(4, c.createArrayOf("boolean", completions.stream().map(Completion::failed).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
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
        // A function, not a join of the items to the queue: see df_engine.renew_activity_leases.
        String sql = "SELECT df_engine.renew_activity_leases(?::bigint[], ?::uuid[], ?::double precision)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("bigint", items.stream().map(ActivityItem::id).toArray()));
            ps.setArray(2, c.createArrayOf("uuid", items.stream().map(ActivityItem::leaseToken).toArray()));
            ps.setDouble(3, lease.toMillis() / 1000.0);
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
}
