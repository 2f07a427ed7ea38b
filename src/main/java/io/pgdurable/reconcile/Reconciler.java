package io.pgdurable.reconcile;

import io.pgdurable.engine.DurableException;
import io.pgdurable.schema.SchemaInstaller;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * Keeps the df control plane and the durable engine consistent and bounded. Each pass, over the
 * whole database's df data (it bypasses row-level security, so it must run as the schema owner):
 *
 * <ol>
 *   <li><b>Expired terminal instances.</b> A completed, failed or cancelled instance is kept only
 *       while it is younger than {@code pg_durable.retention_days} and among the
 *       {@value #HARD_CAP} terminal instances the hard cap keeps; age is
 *       {@code coalesce(completed_at, created_at)}, never {@code updated_at}, which users can
 *       write. The rest go, oldest first, in batches: each batch removes the engine records (with
 *       children and history) and the df rows in one transaction, so no half-removed instance is
 *       ever visible.</li>
 *   <li><b>Orphaned engine records.</b> Graph orchestrations with no df row, that are not
 *       sub-orchestrations, are terminal, and are older than the retention window: at most
 *       {@value #MAX_ORPHANS} a pass.</li>
 * </ol>
 * Pending and running instances are never touched.
 *
 * <p><b>The hard cap, fair between roles.</b> When more than {@value #HARD_CAP} terminal instances
 * are younger than the retention window, the cap keeps them round-robin across submitting roles:
 * every role's newest, then every role's second newest, and so on (within one round, newer
 * first, then the higher id), until {@value #HARD_CAP} are kept. Put another way, it removes
 * the oldest instance of the role that holds the most, again and again, until {@value #HARD_CAP}
 * are left; among roles that hold equally many, the oldest of their oldest goes first. So each
 * role keeps all of its instances or at least as many as any role that loses some: one role's
 * flood removes its own history before anyone else's. With one role it is simply the newest
 * {@value #HARD_CAP}. Passes never overlap: a pass holds the
 * advisory lock {@link #LOCK_KEY}, and one that cannot take it does nothing and says so.
 */
public final class Reconciler {
    private static final Logger LOG = Logger.getLogger(Reconciler.class.getName());

    /** Terminal instances kept at most, however young. */
    public static final int HARD_CAP = 10_000;
    /** Orphaned engine records reclaimed per pass, at most. */
    public static final int MAX_ORPHANS = 1_000;
    /** Runs kept in {@code df.reconcile_runs}. */
    public static final int KEPT_RUNS = 1_000;
    /** The name {@link #LOCK_KEY} is derived from. */
    public static final String LOCK_NAME = "pg_durable:reconcile";
    /** Session advisory lock held by a pass. */
    public static final long LOCK_KEY = SchemaInstaller.lockKey(LOCK_NAME);
    /** Instances removed per transaction by default: short enough not to hold locks for long. */
    public static final int DEFAULT_BATCH_SIZE = 500;

    private static final String GRAPH_ORCHESTRATION = "df.function_graph";

    /** Who asked for a pass; recorded with it. */
    public enum Trigger {
        WORKER("worker"), SQL("sql"), CLI("cli");

        private final String label;

        Trigger(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    private final DataSource dataSource;
    private final Clock clock;
    private final int batchSize;

    public Reconciler(DataSource dataSource, Clock clock) {
        this(dataSource, clock, DEFAULT_BATCH_SIZE);
    }

    public Reconciler(DataSource dataSource, Clock clock, int batchSize) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        this.batchSize = batchSize;
    }

    /**
     * Runs one pass now, whatever the interval, honouring the retention setting. Returns a skipped
     * result if another pass is running. A failure is recorded and returned, not thrown.
     */
    public ReconcileResult runOnce(Trigger trigger, String workerId) throws SQLException {
        long started = System.nanoTime();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(true);
            if (!tryLock(c)) {
                LOG.info("reconciliation skipped: another pass is running");
                return ReconcileResult.skipped(Duration.ofNanos(System.nanoTime() - started));
            }
            try {
                return pass(c, trigger, workerId, started);
            } finally {
                unlock(c);
            }
        }
    }

    /**
     * The worker's periodic pass: runs only if the interval is not 0 and no periodic pass (by any
     * worker) started within the last interval. Returns empty when nothing was due.
     */
    public Optional<ReconcileResult> runIfDue(String workerId) throws SQLException {
        long started = System.nanoTime();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(true);
            int interval = ReconcileSettings.readInterval(c);
            if (interval == 0 || !due(c, interval)) {
                return Optional.empty();
            }
            if (!tryLock(c)) {
                return Optional.empty();
            }
            try {
                // Checked again under the lock: another worker may have just finished a pass.
                if (!due(c, interval)) {
                    return Optional.empty();
                }
                return Optional.of(pass(c, Trigger.WORKER, workerId, started));
            } finally {
                unlock(c);
            }
        }
    }

    private ReconcileResult pass(Connection c, Trigger trigger, String workerId, long started) throws SQLException {
        long runId = openRun(c, trigger, workerId);
        ReconcileSettings settings = null;
        Counts counts = new Counts();
        try {
            settings = ReconcileSettings.read(c);
            Instant cutoff = clock.instant().minus(settings.retention());
            removeExpired(c, cutoff, counts);
            reclaimOrphans(c, cutoff, counts);
            ReconcileResult result = new ReconcileResult(runId, false, counts.instances, counts.nodes,
                    counts.engine, counts.orphans, Duration.ofNanos(System.nanoTime() - started), settings, null);
            closeRun(c, runId, result);
            LOG.info(() -> "reconciliation pass " + runId + ": removed " + result.instancesRemoved() + " instances ("
                    + result.nodesRemoved() + " nodes, " + result.engineRecordsRetired() + " engine records), reclaimed "
                    + result.orphansReclaimed() + " orphans in " + result.duration().toMillis() + " ms");
            return result;
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(c);
            String error = e.getMessage();
            ReconcileResult failed = new ReconcileResult(runId, false, counts.instances, counts.nodes, counts.engine,
                    counts.orphans, Duration.ofNanos(System.nanoTime() - started), settings, error);
            if (e instanceof DurableException) {
                LOG.warning(() -> "reconciliation pass " + runId + " failed: " + error);  // a setting: no trace needed
            } else {
                LOG.log(Level.WARNING, "reconciliation pass " + runId + " failed: " + error, e);
            }
            try {
                closeRun(c, runId, failed);
            } catch (SQLException recordFailure) {
                LOG.log(Level.WARNING, "could not record the failure of reconciliation pass " + runId, recordFailure);
            }
            return failed;
        }
    }

    // -------------------------------------------------------------------------------------------
    // Step 1: expired terminal instances
    // -------------------------------------------------------------------------------------------

    /** Removes, batch by batch, every terminal instance beyond the cap or older than the cutoff. */
    private void removeExpired(Connection c, Instant cutoff, Counts counts) throws SQLException {
        List<CapBoundary> boundaries = capBoundaries(c, cutoff);
        // An instance goes when it is older than the cutoff, or when its role has a cap boundary
        // and it is that boundary or older.
        String select = """
                SELECT i.id FROM df.instances i
                  LEFT JOIN unnest(?::oid[], ?::timestamptz[], ?::text[]) AS b(role, age, id)
                    ON b.role = i.submitted_by::oid
                 WHERE i.status IN ('completed', 'failed', 'cancelled')
                   AND (coalesce(i.completed_at, i.created_at) < ?
                        OR (coalesce(i.completed_at, i.created_at), i.id) <= (b.age, b.id))
                 ORDER BY coalesce(i.completed_at, i.created_at), i.id
                 LIMIT ?
                   FOR UPDATE OF i SKIP LOCKED
                """;
        Array roles = c.createArrayOf("oid", boundaries.stream().map(CapBoundary::role).toArray());
        Array ages = c.createArrayOf("timestamptz", boundaries.stream().map(CapBoundary::age).toArray());
        Array boundaryIds = c.createArrayOf("text", boundaries.stream().map(CapBoundary::id).toArray());
        while (true) {
            c.setAutoCommit(false);
            List<String> ids = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(select)) {
                ps.setArray(1, roles);
                ps.setArray(2, ages);
                ps.setArray(3, boundaryIds);
                ps.setTimestamp(4, Timestamp.from(cutoff));
                ps.setInt(5, batchSize);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getString(1));
                    }
                }
            }
            if (ids.isEmpty()) {
                c.commit();
                c.setAutoCommit(true);
                return;
            }
            Array array = c.createArrayOf("text", ids.toArray());
            long engine = count(c, "SELECT count(*) FROM df_engine.delete_instances(?)", array);
            long nodes = update(c, "DELETE FROM df.nodes WHERE instance_id = ANY (?)", array);
            long instances = update(c, "DELETE FROM df.instances WHERE id = ANY (?)"
                    + " AND status IN ('completed', 'failed', 'cancelled')", array);
            c.commit();
            c.setAutoCommit(true);
            counts.instances += instances;
            counts.nodes += nodes;
            counts.engine += engine;
            if (ids.size() < batchSize) {
                return;
            }
        }
    }

    /**
     * Where the hard cap cuts each role's terminal instances younger than the cutoff (older ones go
     * anyway): for every role that loses some, the newest instance it loses; that one and all of
     * the role's older ones go. Empty while the cap does not bite. Computed once per pass, so
     * instances that finish during the pass are not counted and never removed by it.
     */
    private static List<CapBoundary> capBoundaries(Connection c, Instant cutoff) throws SQLException {
        // How many young terminal instances each role holds: one scan, no sort. The newest age
        // seen bounds the next query, so instances that finish in between do not shift its ranks.
        String countSql = """
                SELECT submitted_by::oid::bigint, count(*), max(coalesce(completed_at, created_at))
                  FROM df.instances
                 WHERE status IN ('completed', 'failed', 'cancelled')
                   AND coalesce(completed_at, created_at) >= ?
                 GROUP BY submitted_by
                """;
        Map<Long, Long> held = new HashMap<>();
        Timestamp newest = null;
        try (PreparedStatement ps = c.prepareStatement(countSql)) {
            ps.setTimestamp(1, Timestamp.from(cutoff));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    held.put(rs.getLong(1), rs.getLong(2));
                    Timestamp age = rs.getTimestamp(3);
                    newest = newest == null || age.after(newest) ? age : newest;
                }
            }
        }
        long total = held.values().stream().mapToLong(Long::longValue).sum();
        if (total <= HARD_CAP) {
            return List.of();
        }
        // Dealt round-robin, each role's instances ranked newest first, the first HARD_CAP places
        // are every rank below the level and the newest few of the rank-`level` instances.
        long level = waterLevel(held.values(), HARD_CAP);
        long keptAtLevel = HARD_CAP - kept(held.values(), level - 1);
        List<Long> reaching = held.entrySet().stream().filter(e -> e.getValue() >= level).map(Map.Entry::getKey)
                .toList();
        // The rank-`level` and rank-`level + 1` instances of each role that reaches the level:
        // a top-N read per role, newest first through the terminal-age index, no full sort.
        String edgeSql = """
                SELECT role, pos, age, id
                  FROM (SELECT r.role, t.age, t.id,
                               row_number() OVER (PARTITION BY r.role ORDER BY t.age DESC, t.id DESC) AS pos
                          FROM unnest(?::bigint[]) AS r(role)
                         CROSS JOIN LATERAL (
                               SELECT coalesce(i.completed_at, i.created_at) AS age, i.id
                                 FROM df.instances i
                                WHERE i.status IN ('completed', 'failed', 'cancelled')
                                  AND coalesce(i.completed_at, i.created_at) BETWEEN ? AND ?
                                  AND i.submitted_by::oid::bigint = r.role
                                ORDER BY coalesce(i.completed_at, i.created_at) DESC, i.id DESC
                               OFFSET ? LIMIT 2) t) edge
                 ORDER BY pos, age DESC, id DESC
                """;
        Map<Long, CapBoundary> atLevel = new LinkedHashMap<>();
        Map<Long, CapBoundary> aboveLevel = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(edgeSql)) {
            ps.setArray(1, c.createArrayOf("bigint", reaching.toArray()));
            ps.setTimestamp(2, Timestamp.from(cutoff));
            ps.setTimestamp(3, newest);
            ps.setLong(4, level - 1);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    CapBoundary row = new CapBoundary(rs.getLong(1), rs.getTimestamp(3), rs.getString(4));
                    (rs.getLong(2) == 1 ? atLevel : aboveLevel).put(row.role(), row);
                }
            }
        }
        // A role whose rank-`level` instance is among the newest keptAtLevel keeps it and loses
        // the next (if it has one); any other loses its rank-`level` instance and all older ones.
        List<CapBoundary> boundaries = new ArrayList<>();
        long place = 0;
        for (CapBoundary edge : atLevel.values()) {
            if (place++ < keptAtLevel) {
                CapBoundary next = aboveLevel.get(edge.role());
                if (next != null) {
                    boundaries.add(next);
                }
            } else {
                boundaries.add(edge);
            }
        }
        return boundaries;
    }

    /** The smallest level such that keeping up to that many of each role's instances keeps {@code cap}. */
    static long waterLevel(Collection<Long> held, long cap) {
        long low = 1;
        long high = held.stream().mapToLong(Long::longValue).max().orElse(0);
        while (low < high) {
            long mid = low + (high - low) / 2;
            if (kept(held, mid) >= cap) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        return low;
    }

    /** Instances kept when each role keeps at most {@code level} of those it holds. */
    private static long kept(Collection<Long> held, long level) {
        return held.stream().mapToLong(n -> Math.min(n, level)).sum();
    }

    /** A role's newest instance beyond the cap. */
    private record CapBoundary(long role, Timestamp age, String id) {
    }

    // -------------------------------------------------------------------------------------------
    // Step 2: orphaned engine records
    // -------------------------------------------------------------------------------------------

    private void reclaimOrphans(Connection c, Instant cutoff, Counts counts) throws SQLException {
        String select = """
                SELECT e.id FROM df_engine.instances e
                 WHERE e.name = ?
                   AND e.parent_id IS NULL
                   AND strpos(e.id, '::') = 0
                   AND e.status IN ('Completed', 'Failed', 'Cancelled')
                   AND coalesce(e.completed_at, e.created_at) < ?
                   AND NOT EXISTS (SELECT 1 FROM df.instances d WHERE d.id = e.id)
                 ORDER BY coalesce(e.completed_at, e.created_at), e.id
                 LIMIT ?
                """;
        List<String> ids = new ArrayList<>();
        c.setAutoCommit(false);
        try {
            try (PreparedStatement ps = c.prepareStatement(select)) {
                ps.setString(1, GRAPH_ORCHESTRATION);
                ps.setTimestamp(2, Timestamp.from(cutoff));
                ps.setInt(3, MAX_ORPHANS);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getString(1));
                    }
                }
            }
            if (!ids.isEmpty()) {
                // delete_instances re-checks terminal status and age itself, under row locks; a df
                // row that appeared meanwhile is excluded by the NOT EXISTS in the same statement.
                String delete = """
                        SELECT count(*) FROM df_engine.delete_instances(
                            ARRAY(SELECT x FROM unnest(?::text[]) AS x
                                   WHERE NOT EXISTS (SELECT 1 FROM df.instances d WHERE d.id = x)), ?, ?)
                        """;
                try (PreparedStatement ps = c.prepareStatement(delete)) {
                    ps.setArray(1, c.createArrayOf("text", ids.toArray()));
                    ps.setTimestamp(2, Timestamp.from(cutoff));
                    ps.setInt(3, MAX_ORPHANS);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        counts.orphans += rs.getLong(1);
                    }
                }
            }
            c.commit();
        } finally {
            c.setAutoCommit(true);
        }
    }

    // -------------------------------------------------------------------------------------------
    // Bookkeeping
    // -------------------------------------------------------------------------------------------

    private static boolean tryLock(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
            ps.setLong(1, LOCK_KEY);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private static void unlock(Connection c) {
        try {
            if (!c.getAutoCommit()) {
                c.rollback();
                c.setAutoCommit(true);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_unlock(?)")) {
                ps.setLong(1, LOCK_KEY);
                ps.execute();
            }
        } catch (SQLException e) {
            // The lock goes with the session anyway: a pooled connection that failed here is broken.
            LOG.log(Level.FINE, "releasing the reconciliation lock", e);
        }
    }

    private static boolean due(Connection c, int intervalSeconds) throws SQLException {
        String sql = """
                SELECT NOT EXISTS (SELECT 1 FROM df.reconcile_runs
                                    WHERE trigger = 'worker'
                                      AND started_at > clock_timestamp() - make_interval(secs => ?))
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, intervalSeconds);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private static long openRun(Connection c, Trigger trigger, String workerId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO df.reconcile_runs (trigger, worker_id) VALUES (?, ?) RETURNING id")) {
            ps.setString(1, trigger.label());
            ps.setString(2, workerId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static void closeRun(Connection c, long runId, ReconcileResult r) throws SQLException {
        c.setAutoCommit(true);
        String sql = """
                UPDATE df.reconcile_runs
                   SET finished_at = clock_timestamp(), retention_days = ?, instances_removed = ?,
                       nodes_removed = ?, engine_records_retired = ?, orphans_reclaimed = ?, error = ?
                 WHERE id = ?
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, r.settings() == null ? null : r.settings().retentionDays());
            ps.setLong(2, r.instancesRemoved());
            ps.setLong(3, r.nodesRemoved());
            ps.setLong(4, r.engineRecordsRetired());
            ps.setLong(5, r.orphansReclaimed());
            ps.setString(6, r.error());
            ps.setLong(7, runId);
            ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM df.reconcile_runs WHERE id <= ?")) {
            ps.setLong(1, runId - KEPT_RUNS);
            ps.executeUpdate();
        }
    }

    private static long count(Connection c, String sql, Array ids) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, ids);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static long update(Connection c, String sql, Array ids) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, ids);
            return ps.executeUpdate();
        }
    }

    private static void rollbackQuietly(Connection c) {
        try {
            if (!c.getAutoCommit()) {
                c.rollback();
            }
        } catch (SQLException e) {
            LOG.log(Level.FINE, "rollback failed", e);
        }
    }

    /** Running totals of a pass. */
    private static final class Counts {
        long instances;
        long nodes;
        long engine;
        long orphans;
    }
}
