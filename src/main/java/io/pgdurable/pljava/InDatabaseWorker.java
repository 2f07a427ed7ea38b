package io.pgdurable.pljava;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.Registry;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.reconcile.ReconcileResult;
import io.pgdurable.reconcile.Reconciler;
import io.pgdurable.schema.SchemaInstaller;
import io.pgdurable.worker.RegistryContributor;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import io.pgdurable.worker.WorkerStats;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code df.run_worker(seconds)}: the worker runtime hosted inside the calling backend for a
 * bounded time. Its loops run on threads of their own over loopback JDBC connections (never SPI,
 * which belongs to the calling thread); the calling thread only waits, and every
 * {@value #CHECK_MILLIS} ms asks the backend, through PL/Java's own connection, whether the query
 * was cancelled or the backend told to terminate, so either stops the worker promptly.
 *
 * <p>One in-database worker runs at a time per database: the call holds a session advisory lock
 * ({@link #LOCK_KEY}) and returns at once, doing nothing, if another backend holds it. External
 * workers need no lock and run alongside.
 */
final class InDatabaseWorker {
    private static final Logger LOG = Logger.getLogger(InDatabaseWorker.class.getName());
    static final String LOCK_NAME = "pg_durable:run_worker";
    static final long LOCK_KEY = SchemaInstaller.lockKey(LOCK_NAME);
    static final long CHECK_MILLIS = 100;
    static final int MAX_SECONDS = 3600;

    private InDatabaseWorker() {
    }

    static String run(int seconds) throws SQLException {
        if (seconds < 1 || seconds > MAX_SECONDS) {
            throw new SQLException("df.run_worker: seconds must be between 1 and " + MAX_SECONDS + ", got " + seconds,
                    "22023");
        }
        ObjectNode summary = JsonNodeFactory.instance.objectNode();
        try (Connection session = DriverManager.getConnection("jdbc:default:connection")) {
            if (!advisoryLock(session, "pg_try_advisory_lock")) {
                summary.put("ran", false);
                summary.put("reason", "another df.run_worker() is running in this database");
                return summary.toString();
            }
            try {
                return host(session, seconds, summary);
            } finally {
                advisoryLock(session, "pg_advisory_unlock");
            }
        }
    }

    private static String host(Connection session, int seconds, ObjectNode summary) throws SQLException {
        Loopback loopback = Loopback.fromCallingSession();
        long started = System.nanoTime();
        long backendPid = backendPid(session);
        WorkerConfig config = WorkerConfig.builder(loopback.jdbcUrl())
                .user(loopback.user())
                .mode("pljava")
                .host("in-database")
                .processId(backendPid)
                .workerId("pljava:" + loopback.database() + ":" + backendPid)
                .orchestrationThreads(1)
                .activityThreads(4)
                .pollInterval(Duration.ofMillis(250))
                .shutdownGrace(Duration.ofSeconds(3))
                .build();
        GraphRuntime graph = new GraphRuntime(loopback.jdbcUrl(), 4, 4, Duration.ofSeconds(30));
        Registry registry = graph.register(RegistryContributor.discover());
        WorkerStats stats;
        Optional<ReconcileResult> reconciled = Optional.empty();
        try (graph; Worker worker = Worker.start(config, registry)) {
            graph.attach(worker.dataSource());
            try {
                reconciled = new Reconciler(worker.dataSource(), Clock.systemUTC()).runIfDue(worker.id());
            } catch (SQLException e) {
                LOG.log(Level.WARNING, "df.run_worker: periodic reconciliation could not run", e);
            }
            long deadline = started + Duration.ofSeconds(seconds).toNanos();
            while (System.nanoTime() < deadline) {
                try {
                    Thread.sleep(CHECK_MILLIS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
                // A cancel or terminate request surfaces as an exception from the next call into
                // the backend; it propagates, and the try-with-resources stops the worker.
                checkForInterrupts(session);
            }
            stats = worker.stats();
        }
        summary.put("ran", true);
        summary.put("seconds", Duration.ofNanos(System.nanoTime() - started).toMillis() / 1000.0);
        summary.put("turns", stats.turns());
        summary.put("activities", stats.activities());
        summary.put("worker_id", stats.workerId());
        reconciled.ifPresent(r -> summary.set("reconciliation", r.toJson()));
        return summary.toString();
    }

    private static long backendPid(Connection session) throws SQLException {
        try (PreparedStatement ps = session.prepareStatement("SELECT pg_backend_pid()");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void checkForInterrupts(Connection session) throws SQLException {
        try (PreparedStatement ps = session.prepareStatement("SELECT 1")) {
            ps.executeQuery().close();
        }
    }

    private static boolean advisoryLock(Connection session, String function) throws SQLException {
        try (PreparedStatement ps = session.prepareStatement("SELECT " + function + "(?)")) {
            ps.setLong(1, LOCK_KEY);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }
}
