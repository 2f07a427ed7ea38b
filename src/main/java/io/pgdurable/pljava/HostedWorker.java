package io.pgdurable.pljava;

import io.pgdurable.engine.Registry;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.worker.RegistryContributor;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import io.pgdurable.worker.WorkerStats;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The worker as {@code df.run_worker} hosts it. This class is loaded by {@link IsolatedClasses},
 * and the calling thread reaches it only through {@code java.*} types (by reflection, as an
 * {@link AutoCloseable} and a {@code Map}), since its classes are distinct from PL/Java's copies.
 * Its threads never call into the backend: they use loopback JDBC, and their log records go to a
 * queue that the calling thread drains into the server log.
 */
public final class HostedWorker implements AutoCloseable {
    /**
     * The loggers whose records are captured. Held strongly: java.util.logging forgets the
     * handlers and levels of loggers nobody references.
     */
    private static final List<Logger> LOGGERS = List.of(Logger.getLogger("io.pgdurable"),
            Logger.getLogger("com.zaxxer.hikari"), Logger.getLogger("org.postgresql"));

    private final GraphRuntime graph;
    private final Worker worker;
    private final Handler handler;
    private final Thread shutdownHook;

    private HostedWorker(GraphRuntime graph, Worker worker, Handler handler) {
        this.graph = graph;
        this.worker = worker;
        this.handler = handler;
        // A backend told to terminate exits without returning to this function; PL/Java then
        // destroys the JVM, which runs shutdown hooks first. Stopping the worker there keeps its
        // threads from running on while the process tears the JVM down.
        this.shutdownHook = new Thread(this::stop, "pg_durable-backend-exit");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Starts the worker and its periodic reconciliation.
     *
     * @param logs where log records go; the caller drains it on its own thread
     */
    public static HostedWorker start(String jdbcUrl, String user, String workerId, long backendPid,
                                     Queue<LogRecord> logs) {
        // DriverManager hands a driver only to callers whose class loader sees the same driver
        // class: register this loader's own copy of pgjdbc.
        try {
            Class.forName("org.postgresql.Driver", true, HostedWorker.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("pgjdbc is missing from the jar", e);
        }
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (isLoggable(record)) {
                    logs.offer(record);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        for (Logger logger : LOGGERS) {
            logger.setUseParentHandlers(false);
            logger.addHandler(handler);
        }
        LOGGERS.get(1).setLevel(java.util.logging.Level.WARNING);  // pool start/stop chatter
        WorkerConfig config = WorkerConfig.builder(jdbcUrl)
                .user(user)
                .mode("pljava")
                .host("in-database")
                .processId(backendPid)
                .workerId(workerId)
                .orchestrationThreads(1)
                .activityThreads(4)
                .pollInterval(Duration.ofMillis(250))
                .shutdownGrace(Duration.ofSeconds(3))
                .build();
        GraphRuntime graph = new GraphRuntime(jdbcUrl, 4, 4, Duration.ofSeconds(30));
        try {
            Registry registry = graph.register(RegistryContributor.discover());
            Worker worker = Worker.start(config, registry);
            graph.attach(worker.dataSource());
            graph.startReconciliation(worker.dataSource(), worker.id());
            return new HostedWorker(graph, worker, handler);
        } catch (RuntimeException e) {
            graph.close();
            restoreLogging(handler);
            throw e;
        }
    }

    /** What the worker did so far. */
    public Map<String, Object> summary() {
        WorkerStats stats = worker.stats();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("worker_id", stats.workerId());
        out.put("turns", stats.turns());
        out.put("activities", stats.activities());
        return out;
    }

    /** Stops gracefully: no more claims, running activities finish or give back their leases. */
    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running or has run: it stops the worker
        }
        stop();
    }

    private synchronized void stop() {
        try {
            worker.close();
            graph.close();
        } finally {
            restoreLogging(handler);
        }
    }

    private static void restoreLogging(Handler handler) {
        for (Logger logger : LOGGERS) {
            logger.removeHandler(handler);
            logger.setUseParentHandlers(true);
        }
    }
}
