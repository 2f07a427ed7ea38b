package io.pgdurable.pljava;

import java.lang.reflect.InvocationTargetException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;

/**
 * The Java half of {@code df.run_worker(seconds)}, which hosts the worker runtime inside the
 * calling backend for a bounded time.
 *
 * <p>{@code df.run_worker} itself is PL/pgSQL (in the deployment descriptor): it takes the
 * advisory lock, calls {@link #start}, then loops, waiting in {@code pg_sleep} and calling
 * {@link #poll} for log records, and finally calls {@link #stop}. The waiting happens in SQL, not
 * here, for a reason: when a backend is told to terminate while a Java frame is on its stack and
 * that Java code calls into the backend (SPI, or even a log message), PostgreSQL exits from inside
 * the call and PL/Java's JVM teardown aborts the process, which sends the whole cluster through
 * crash recovery. So only {@link #start} calls into the backend; {@link #poll} and {@link #stop}
 * never do, and use no class of ours but this one and the worker's (PL/Java's loader reads classes
 * through SPI; {@code java.*} classes come from the JDK). A terminate request is therefore acted on
 * in {@code pg_sleep}, outside Java; the JVM's shutdown hook then stops the worker (see
 * {@link HostedWorker}).
 *
 * <p>The worker's threads never call into the backend either: they use loopback JDBC connections
 * ({@link Loopback}), run on classes loaded from a snapshot of the jar ({@link IsolatedClasses})
 * rather than through PL/Java's loader, and queue their log records for {@link #poll}.
 */
final class InDatabaseWorker {
    static final String JAR_NAME = "pg_durable";
    static final int MAX_SECONDS = 3600;

    /** The last jar snapshot, reused while the installed jar does not change. */
    private static IsolatedClasses classes;
    private static String classesFingerprint;

    /** The worker this backend hosts, between {@link #start} and {@link #stop}; else null. */
    private static AutoCloseable running;
    private static Queue<LogRecord> logs;
    private static final SimpleFormatter FORMAT = new SimpleFormatter();

    private InDatabaseWorker() {
    }

    /** Starts the worker; returns its id. Calls into the backend (this thread only). */
    static synchronized String start(int seconds) throws SQLException {
        if (seconds < 1 || seconds > MAX_SECONDS) {
            throw new SQLException("df.run_worker: seconds must be between 1 and " + MAX_SECONDS + ", got " + seconds,
                    "22023");
        }
        // A worker left by a call that could not stop it (the watchdog would end it anyway).
        stop();
        Connection session = DriverManager.getConnection("jdbc:default:connection");
        Loopback loopback = Loopback.fromServerConfiguration(session);
        long backendPid = backendPid(session);
        String workerId = "pljava:" + loopback.database() + ":" + backendPid;
        IsolatedClasses loader = isolatedClasses(session);
        session.close();
        Queue<LogRecord> queue = new ConcurrentLinkedQueue<>();
        running = launch(loader, loopback, workerId, backendPid, queue, seconds);
        logs = queue;
        return workerId;
    }

    /**
     * The worker's log records since the last call, one line each, for {@code df.run_worker} to
     * raise. Never calls into the backend.
     */
    static synchronized String[] poll() {
        List<String> lines = new ArrayList<>();
        Queue<LogRecord> queue = logs;
        if (queue != null) {
            for (LogRecord r = queue.poll(); r != null; r = queue.poll()) {
                lines.add(format(r));
            }
        }
        return lines.toArray(new String[0]);
    }

    /**
     * Stops the worker, waiting for running activities within its grace period, and returns its
     * summary as JSON, or null if none is running. Never calls into the backend.
     */
    static synchronized String stop() {
        AutoCloseable worker = running;
        if (worker == null) {
            return null;
        }
        running = null;
        try {
            worker.close();  // never throws: a failure to stop shows in the summary
            return (String) worker.getClass().getMethod("summary").invoke(worker);
        } catch (Exception e) {
            return null;
        }
    }

    private static String format(LogRecord r) {
        StringBuilder line = new StringBuilder(r.getLoggerName() == null ? "" : r.getLoggerName() + ": ")
                .append(FORMAT.formatMessage(r));
        if (r.getThrown() != null) {
            line.append(": ").append(r.getThrown());
        }
        return line.toString();
    }

    private static AutoCloseable launch(IsolatedClasses loader, Loopback loopback, String workerId, long backendPid,
                                        Queue<LogRecord> queue, int seconds) throws SQLException {
        Thread self = Thread.currentThread();
        ClassLoader previous = self.getContextClassLoader();
        // Threads inherit the context class loader of the thread that creates them, and libraries
        // (ServiceLoader, Jackson) load classes through it: the worker's threads must get the
        // snapshot, never PL/Java's loader.
        self.setContextClassLoader(loader);
        try {
            Class<?> hosted = loader.loadClass(HostedWorker.class.getName());
            AutoCloseable worker = (AutoCloseable) hosted
                    .getMethod("start", String.class, String.class, String.class, long.class, Queue.class,
                            Duration.class)
                    .invoke(null, loopback.jdbcUrl(), loopback.user(), workerId, backendPid, queue,
                            Duration.ofSeconds(seconds));
            worker.getClass().getMethod("summary");  // resolved now, used by stop()
            return worker;
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            StringBuilder detail = new StringBuilder();
            for (LogRecord r = queue.poll(); r != null; r = queue.poll()) {
                detail.append("; ").append(format(r));
            }
            throw new SQLException("df.run_worker: the worker could not start: " + cause + detail, "XX000", cause);
        } catch (ReflectiveOperationException e) {
            throw new SQLException("df.run_worker: cannot load the worker from jar " + JAR_NAME + ": " + e, "XX000", e);
        } finally {
            self.setContextClassLoader(previous);
        }
    }

    private static IsolatedClasses isolatedClasses(Connection session) throws SQLException {
        String fingerprint = IsolatedClasses.fingerprint(session, JAR_NAME);
        if (classes == null || fingerprint == null || !fingerprint.equals(classesFingerprint)) {
            classes = IsolatedClasses.snapshot(session, JAR_NAME);
            classesFingerprint = fingerprint;
        }
        return classes;
    }

    private static long backendPid(Connection session) throws SQLException {
        try (PreparedStatement ps = session.prepareStatement("SELECT pg_backend_pid()");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
