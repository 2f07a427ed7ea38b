package io.pgdurable.pljava;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.schema.SchemaInstaller;
import java.lang.reflect.InvocationTargetException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * {@code df.run_worker(seconds)}: the worker runtime hosted inside the calling backend for a
 * bounded time.
 *
 * <p>The worker's threads must never call into the backend, which belongs to the thread running
 * this function: they use loopback JDBC connections (never SPI), run on classes loaded from a
 * snapshot of the jar ({@link IsolatedClasses}) rather than through PL/Java's loader, and hand
 * their log records to this thread. This thread only waits, forwards those records to the server
 * log, and every {@value #CHECK_MILLIS} ms asks the backend whether the query was cancelled or the
 * backend told to terminate; a cancel stops the worker before the error propagates.
 *
 * <p>One in-database worker runs at a time per database: the call holds a transaction-scoped
 * advisory lock ({@link #LOCK_KEY}) and returns at once, doing nothing, if another backend holds it. External
 * workers need no lock and run alongside.
 */
final class InDatabaseWorker {
    static final String JAR_NAME = "pg_durable";
    static final String LOCK_NAME = "pg_durable:run_worker";
    static final long LOCK_KEY = SchemaInstaller.lockKey(LOCK_NAME);
    static final long CHECK_MILLIS = 100;
    static final int MAX_SECONDS = 3600;

    /** The last jar snapshot, reused while the installed jar does not change. */
    private static IsolatedClasses classes;
    private static String classesFingerprint;

    private InDatabaseWorker() {
    }

    static String run(int seconds) throws SQLException {
        // Runs on the backend's own thread; see the class comment for what the others may not do.
        if (seconds < 1 || seconds > MAX_SECONDS) {
            throw new SQLException("df.run_worker: seconds must be between 1 and " + MAX_SECONDS + ", got " + seconds,
                    "22023");
        }
        ObjectNode summary = JsonNodeFactory.instance.objectNode();
        Connection session = DriverManager.getConnection("jdbc:default:connection");
        // A transaction-scoped lock: it goes when the calling transaction ends, however it ends.
        if (!tryLock(session)) {
            summary.put("ran", false);
            summary.put("reason", "another df.run_worker() is running in this database");
            session.close();
            return summary.toString();
        }
        host(session, seconds, summary);
        session.close();
        return summary.toString();
    }

    private static void host(Connection session, int seconds, ObjectNode summary) throws SQLException {
        Loopback loopback = Loopback.fromCallingSession();
        long backendPid = backendPid(session);
        // Load now what this thread needs afterwards: once a cancel has been raised, PL/Java's
        // loader (which reads classes through the backend) can load nothing more.
        summary.put("ran", true);
        summary.putPOJO("preload", 0L);
        summary.toString();
        summary.remove("preload");
        String workerId = "pljava:" + loopback.database() + ":" + backendPid;
        Queue<LogRecord> logs = new ConcurrentLinkedQueue<>();
        long started = System.nanoTime();
        AutoCloseable worker = start(session, loopback, workerId, backendPid, logs);
        Map<String, Object> stats;
        // The wait itself happens in the backend (pg_sleep), which acts on a cancel or terminate
        // request at once; a bare SELECT 1 might never check for them.
        PreparedStatement probe = session.prepareStatement("SELECT pg_sleep(" + CHECK_MILLIS / 1000.0 + ")");
        try {
            long deadline = started + Duration.ofSeconds(seconds).toNanos();
            while (System.nanoTime() < deadline) {
                checkForInterrupts(probe);
                forward(logs);
            }
        } catch (SQLException | RuntimeException e) {
            // Cancelled (or the backend failed): stop every worker thread before the error
            // returns to PostgreSQL, so none of them outlives this call. Their last log records
            // are dropped: the backend may not be called any more.
            closeQuietly(worker);
            throw e;
        }
        probe.close();
        stats = summary(worker);
        closeQuietly(worker);
        forward(logs);
        summary.put("ran", true);
        summary.put("seconds", Duration.ofNanos(System.nanoTime() - started).toMillis() / 1000.0);
        stats.forEach((k, v) -> summary.putPOJO(k, v));
    }

    private static AutoCloseable start(Connection session, Loopback loopback, String workerId, long backendPid,
                                       Queue<LogRecord> logs) throws SQLException {
        IsolatedClasses loader = isolatedClasses(session);
        Thread self = Thread.currentThread();
        ClassLoader previous = self.getContextClassLoader();
        // Threads inherit the context class loader of the thread that creates them, and libraries
        // (ServiceLoader, Jackson) load classes through it: the worker's threads must get the
        // snapshot, never PL/Java's loader.
        self.setContextClassLoader(loader);
        try {
            Class<?> hosted = loader.loadClass(HostedWorker.class.getName());
            return (AutoCloseable) hosted
                    .getMethod("start", String.class, String.class, String.class, long.class, Queue.class)
                    .invoke(null, loopback.jdbcUrl(), loopback.user(), workerId, backendPid, logs);
        } catch (InvocationTargetException e) {
            forward(logs);
            Throwable cause = e.getCause();
            throw new SQLException("df.run_worker: the worker could not start: " + cause, "XX000", cause);
        } catch (ReflectiveOperationException e) {
            throw new SQLException("df.run_worker: cannot load the worker from jar " + JAR_NAME + ": " + e, "XX000", e);
        } finally {
            self.setContextClassLoader(previous);
        }
    }

    private static synchronized IsolatedClasses isolatedClasses(Connection session) throws SQLException {
        String fingerprint = IsolatedClasses.fingerprint(session, JAR_NAME);
        if (classes == null || !fingerprint.equals(classesFingerprint)) {
            classes = IsolatedClasses.snapshot(session, JAR_NAME);
            classesFingerprint = fingerprint;
        }
        return classes;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> summary(AutoCloseable worker) throws SQLException {
        try {
            return (Map<String, Object>) worker.getClass().getMethod("summary").invoke(worker);
        } catch (ReflectiveOperationException e) {
            throw new SQLException("df.run_worker: cannot read the worker's summary: " + e, "XX000", e);
        }
    }

    /** Publishes the worker's log records to the server log, from this (the backend's) thread. */
    private static void forward(Queue<LogRecord> logs) {
        Handler[] handlers = Logger.getLogger("").getHandlers();
        for (LogRecord r = logs.poll(); r != null; r = logs.poll()) {
            for (Handler h : handlers) {
                h.publish(r);
            }
        }
    }

    private static void closeQuietly(AutoCloseable worker) {
        try {
            worker.close();
        } catch (Exception e) {
            Logger.getLogger(InDatabaseWorker.class.getName()).warning("df.run_worker: stopping the worker: " + e);
        }
    }

    private static long backendPid(Connection session) throws SQLException {
        try (PreparedStatement ps = session.prepareStatement("SELECT pg_backend_pid()");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Waits {@value #CHECK_MILLIS} ms in the backend, which acts on a pending cancel or terminate
     * request. After such an error no backend call may follow, so nothing is closed on that path:
     * the statement goes with the failed transaction.
     */
    private static void checkForInterrupts(PreparedStatement probe) throws SQLException {
        // PL/Java runs a query when its first row is fetched, not when it is opened.
        ResultSet rs = probe.executeQuery();
        rs.next();
        rs.close();
    }

    private static boolean tryLock(Connection session) throws SQLException {
        try (PreparedStatement ps = session.prepareStatement("SELECT pg_try_advisory_xact_lock(?)")) {
            ps.setLong(1, LOCK_KEY);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }
}
