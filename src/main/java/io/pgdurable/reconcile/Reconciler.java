package io.pgdurable.reconcile;

import io.pgdurable.engine.DurableException;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
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
 *       {@code coalesce(terminal_at, created_at)}, never {@code updated_at}, which users can
 *       write. The rest go, oldest first, in batches:
 *       each batch removes the engine records (with children and history) and the df rows in one
 *       statement ({@code df_engine.reconcile_batch}), so no half-removed instance is ever
 *       visible.</li>
 *   <li><b>Orphaned engine records.</b> Graph orchestrations with no df row, that are not
 *       sub-orchestrations, are terminal, and are older than the retention window: at most
 *       {@value #MAX_ORPHANS} a pass.</li>
 * </ol>
 * Pending and running instances are never touched.
 *
 * <p><b>The hard cap, fair between roles.</b> When more than {@value #HARD_CAP} terminal instances
 * are younger than the retention window, the cap keeps them round-robin across submitting roles:
 * every role's newest, then every role's second newest, and so on (within one round, newer
 * first, then the higher id), until {@value #HARD_CAP} are kept. Put another way, it removes the
 * oldest instance of the role that holds the most, again and again, until {@value #HARD_CAP} are
 * left. So one role's flood removes its own history before anyone else's; with one role it is
 * simply the newest {@value #HARD_CAP} ({@code df_engine.reconcile_cap_boundaries}).
 *
 * <p>Two kinds of pass. {@link #runOnce} and {@link #runIfDue} (the worker, the {@code reconcile}
 * command) commit after each batch, so no transaction holds its locks for long.
 * {@link #runInTransaction} runs a whole pass in the caller's open transaction and never commits
 * ({@code df_engine.reconcile_pass}, which {@code df.reconcile()} calls); it removes at most
 * {@value #HARD_CAP} instances, so that transaction stays bounded.
 *
 * <p>Passes never overlap: a pass holds a {@code SHARE ROW EXCLUSIVE} lock on
 * {@value #LOCK_TABLE}, taken {@code NOWAIT}; one that cannot take it does nothing and says so.
 * Only the schema owner may lock that table (no other role has a privilege on it), so
 * no other role can hold it to stall reconciliation. A batched pass holds it on a second
 * connection of its own, in a transaction that does nothing else: that mode needs no snapshot and
 * no transaction id, so the holder holds back no VACUUM.
 */
public final class Reconciler {
    private static final Logger LOG = Logger.getLogger(Reconciler.class.getName());

    /** Terminal instances kept at most, however young. */
    public static final int HARD_CAP = 10_000;
    /** Orphaned engine records reclaimed per pass, at most. */
    public static final int MAX_ORPHANS = 1_000;
    /** Runs kept in {@code df.reconcile_runs}. */
    public static final int KEPT_RUNS = 1_000;
    /** The table whose {@code SHARE ROW EXCLUSIVE} lock a pass holds. */
    public static final String LOCK_TABLE = "df_engine.reconcile_lock";
    /** Instances removed per transaction by default: short enough not to hold locks for long. */
    public static final int DEFAULT_BATCH_SIZE = 500;

    /** SQLSTATE of a lock that NOWAIT could not take. */
    private static final String LOCK_NOT_AVAILABLE = "55P03";
    private static final int LOCK_CHECK_TIMEOUT_SECONDS = 5;

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
    /** Runs after each committed batch of a batched pass; tests use it to look at a pass under way. */
    private volatile Runnable afterBatch = () -> { };

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

    /** Sets what runs after each committed batch of a batched pass (for tests). */
    void afterBatch(Runnable hook) {
        this.afterBatch = Objects.requireNonNull(hook, "hook");
    }

    /**
     * Runs one pass now, whatever the interval, honouring the retention setting, committing after
     * each batch. Returns a skipped result if another pass is running. A failure is recorded and
     * returned, not thrown.
     */
    public ReconcileResult runOnce(Trigger trigger, String workerId) throws SQLException {
        long started = System.nanoTime();
        try (Connection lock = dataSource.getConnection()) {
            if (!tryLock(lock)) {
                LOG.info("reconciliation skipped: another pass is running");
                return ReconcileResult.skipped(Duration.ofNanos(System.nanoTime() - started));
            }
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(true);
                return pass(c, lock, trigger, workerId, started);
            } finally {
                unlock(lock);
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
            try (Connection lock = dataSource.getConnection()) {
                if (!tryLock(lock)) {
                    return Optional.empty();
                }
                try {
                    // Checked again under the lock: another worker may have just finished a pass.
                    if (!due(c, interval)) {
                        return Optional.empty();
                    }
                    return Optional.of(pass(c, lock, Trigger.WORKER, workerId, started));
                } finally {
                    unlock(lock);
                }
            }
        }
    }

    /**
     * Runs a whole pass in the transaction open on {@code c}, and never commits, rolls back or
     * changes its auto-commit: the caller owns the transaction, and the lock is held until it
     * ends. Removes at most {@value #HARD_CAP} expired instances ({@link ReconcileResult#moreRemaining()}
     * says when there may be more) and reads the settings from the server's configuration, not
     * from {@code c}'s session (see {@code df_engine.reconcile_setting}). Returns a skipped result
     * if another pass holds the lock; a failure is recorded in the transaction and returned. The
     * batch size and the clock of this reconciler apply.
     */
    public ReconcileResult runInTransaction(Connection c, Trigger trigger, String workerId) throws SQLException {
        String sql = """
                SELECT df_engine.reconcile_pass(?, ?, ?::timestamptz, ?, ?, ?, ?)::text
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, trigger.label());
            ps.setString(2, workerId);
            ps.setString(3, clock.instant().toString());
            ps.setInt(4, HARD_CAP);
            ps.setInt(5, MAX_ORPHANS);
            ps.setInt(6, KEPT_RUNS);
            ps.setInt(7, batchSize);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                ReconcileResult result = ReconcileResult.fromJson(rs.getString(1));
                if (result.error() != null) {
                    LOG.warning(() -> "reconciliation pass " + result.runId() + " failed: " + result.error());
                }
                return result;
            }
        }
    }

    private ReconcileResult pass(Connection c, Connection lock, Trigger trigger, String workerId, long started)
            throws SQLException {
        long runId = openRun(c, trigger, workerId);
        ReconcileSettings settings = null;
        Counts counts = new Counts();
        try {
            settings = ReconcileSettings.read(c);
            Instant cutoff = clock.instant().minus(settings.retention());
            removeExpired(c, lock, cutoff, counts);
            reclaimOrphans(c, cutoff, counts);
            ReconcileResult result = new ReconcileResult(runId, false, counts.instances, counts.nodes,
                    counts.engine, counts.orphans, false, Duration.ofNanos(System.nanoTime() - started), settings,
                    null);
            closeRun(c, runId, result);
            LOG.info(() -> "reconciliation pass " + runId + ": removed " + result.instancesRemoved() + " instances ("
                    + result.nodesRemoved() + " nodes, " + result.engineRecordsRetired() + " engine records), reclaimed "
                    + result.orphansReclaimed() + " orphans in " + result.duration().toMillis() + " ms");
            return result;
        } catch (SQLException | RuntimeException e) {
            String error = e.getMessage();
            ReconcileResult failed = new ReconcileResult(runId, false, counts.instances, counts.nodes, counts.engine,
                    counts.orphans, false, Duration.ofNanos(System.nanoTime() - started), settings, error);
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

    /**
     * Removes, batch by batch, every terminal instance beyond the cap or older than the cutoff.
     * Each batch is one statement, committed on its own.
     */
    private void removeExpired(Connection c, Connection lock, Instant cutoff, Counts counts) throws SQLException {
        // Each role's newest instance beyond the fair hard cap, as three parallel arrays (empty
        // when the cap does not bite); computed once per pass, like df_engine.reconcile_pass does.
        Array capRoles;
        Array capAges;
        Array capIds;
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT coalesce(array_agg(b.role), '{}'), coalesce(array_agg(b.age), '{}'),
                       coalesce(array_agg(b.id), '{}')
                  FROM df_engine.reconcile_cap_boundaries(?, ?) b
                """)) {
            ps.setInt(1, HARD_CAP);
            ps.setTimestamp(2, Timestamp.from(cutoff));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                capRoles = rs.getArray(1);
                capAges = rs.getArray(2);
                capIds = rs.getArray(3);
            }
        }
        String batch = "SELECT selected, instances, nodes, engine FROM df_engine.reconcile_batch(?, ?, ?, ?, ?)";
        try (PreparedStatement ps = c.prepareStatement(batch)) {
            while (true) {
                ensureLockHeld(lock);
                ps.setTimestamp(1, Timestamp.from(cutoff));
                ps.setArray(2, capRoles);
                ps.setArray(3, capAges);
                ps.setArray(4, capIds);
                ps.setInt(5, batchSize);
                int selected;
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    selected = rs.getInt(1);
                    counts.instances += rs.getLong(2);
                    counts.nodes += rs.getLong(3);
                    counts.engine += rs.getLong(4);
                }
                afterBatch.run();
                if (selected < batchSize) {
                    return;
                }
            }
        }
    }

    // -------------------------------------------------------------------------------------------
    // Step 2: orphaned engine records
    // -------------------------------------------------------------------------------------------

    private static void reclaimOrphans(Connection c, Instant cutoff, Counts counts) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.reconcile_orphans(?, ?)")) {
            ps.setTimestamp(1, Timestamp.from(cutoff));
            ps.setInt(2, MAX_ORPHANS);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                counts.orphans += rs.getLong(1);
            }
        }
    }

    // -------------------------------------------------------------------------------------------
    // Bookkeeping
    // -------------------------------------------------------------------------------------------

    /**
     * Takes the reconciliation lock on {@code lock}, in a transaction left open: true if taken,
     * false if another pass holds it. The transaction runs nothing else until {@link #unlock}.
     */
    private static boolean tryLock(Connection lock) throws SQLException {
        lock.setAutoCommit(false);
        try (Statement s = lock.createStatement()) {
            // The transaction stays idle while the pass works on its other connection.
            s.execute("SET LOCAL idle_in_transaction_session_timeout = 0");
            s.execute("LOCK TABLE " + LOCK_TABLE + " IN SHARE ROW EXCLUSIVE MODE NOWAIT");
            return true;
        } catch (SQLException e) {
            lock.rollback();
            lock.setAutoCommit(true);
            if (LOCK_NOT_AVAILABLE.equals(e.getSQLState())) {
                return false;
            }
            throw e;
        }
    }

    /** Fails the pass before its next batch if the connection holding the lock is gone. */
    private static void ensureLockHeld(Connection lock) throws SQLException {
        if (!lock.isValid(LOCK_CHECK_TIMEOUT_SECONDS)) {
            throw new SQLException("the reconciliation lock was lost: its connection closed; the pass stops here",
                    "55000");
        }
    }

    private static void unlock(Connection lock) {
        try {
            lock.rollback();
            lock.setAutoCommit(true);
        } catch (SQLException e) {
            // The lock goes with the transaction anyway: a pooled connection that failed here is broken.
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

    /** Running totals of a pass. */
    private static final class Counts {
        long instances;
        long nodes;
        long engine;
        long orphans;
    }
}
