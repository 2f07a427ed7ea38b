package io.pgdurable.pljava;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.Registry;
import io.pgdurable.engine.RegistryContributor;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.reconcile.ReconcileLoop;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import io.pgdurable.worker.WorkerStats;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The worker as {@code df.run_worker} hosts it. This class is loaded by {@link IsolatedClasses},
 * and the calling thread reaches it only through {@code java.*} types (by reflection, as an
 * {@link AutoCloseable} whose summary is a JSON string), since its classes are distinct from
 * PL/Java's copies. Its threads never call into the backend: they use loopback JDBC, and their log
 * records go to a queue that {@code df.run_worker} drains and raises as warnings.
 */
public final class HostedWorker implements AutoCloseable {
    /**
     * The loggers whose records are captured. Held strongly: java.util.logging forgets the
     * handlers and levels of loggers nobody references.
     */
    private static final List<Logger> LOGGERS = List.of(Logger.getLogger("io.pgdurable"),
            Logger.getLogger("com.zaxxer.hikari"), Logger.getLogger("org.postgresql"));

    /**
     * How long stopping may take when the backend exits: PL/Java gives the JVM's shutdown five
     * seconds before it kills the process, and a killed process would send the whole cluster
     * through crash recovery.
     */
    static final Duration EXIT_BUDGET = Duration.ofMillis(3000);
    /** What running activities get of that budget before their items are given back. */
    static final Duration EXIT_GRACE = Duration.ofMillis(1000);
    /** How long past its planned end a worker nobody stopped keeps running. */
    static final Duration OVERRUN = Duration.ofSeconds(30);

    private final GraphRuntime graph;
    private final ReconcileLoop reconciliation;
    private final Worker worker;
    private final Handler handler;
    private final Thread shutdownHook;
    private final Thread watchdog;
    private final long startedNanos = System.nanoTime();
    private boolean stopped;
    private volatile String stopError;

    private HostedWorker(GraphRuntime graph, ReconcileLoop reconciliation, Worker worker, Handler handler,
            Duration planned) {
        this.graph = graph;
        this.reconciliation = reconciliation;
        this.worker = worker;
        this.handler = handler;
        // A backend told to terminate exits from the SQL loop around this worker, not through it;
        // PL/Java then destroys the JVM, which runs shutdown hooks once no non-daemon thread is
        // left (all of ours are daemons). Stopping the worker there, within a budget, takes its
        // heartbeat row away and hands its activities back before the process goes.
        this.shutdownHook = new Thread(() -> stopWithin(EXIT_BUDGET), "pg_durable-backend-exit");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        // df.run_worker always stops the worker; should that call ever fail to, the worker still
        // ends shortly after its planned time rather than with the backend.
        this.watchdog = new Thread(() -> {
            try {
                Thread.sleep(planned.plus(OVERRUN).toMillis());
                stop(worker.config().shutdownGrace());
            } catch (InterruptedException stoppedInTime) {
                // closed normally
            }
        }, "pg_durable-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    /**
     * Starts the worker and its periodic reconciliation.
     *
     * @param logs where log records go; the caller drains it on its own thread
     * @param planned how long the caller means to let it run
     */
    public static HostedWorker start(String jdbcUrl, String user, String workerId, long backendPid,
                                     Queue<LogRecord> logs, Duration planned) {
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
        // df.run_worker raises each record as a WARNING: lesser records would only be noise there.
        handler.setLevel(java.util.logging.Level.WARNING);
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
            Worker worker = Worker.start(config, registry, graph::attach);
            ReconcileLoop reconciliation = ReconcileLoop.startOn(worker.dataSource(), worker.id());
            return new HostedWorker(graph, reconciliation, worker, handler, planned);
        } catch (RuntimeException e) {
            graph.close();
            restoreLogging(handler);
            throw e;
        }
    }

    /** What the worker did so far, as a JSON object (seconds run, turns, activities, worker id). */
    public String summary() {
        WorkerStats stats = worker.stats();
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("ran", true);
        out.put("seconds", Duration.ofNanos(System.nanoTime() - startedNanos).toMillis() / 1000.0);
        out.put("worker_id", stats.workerId());
        out.put("turns", stats.turns());
        out.put("short_path_turns", stats.shortPathTurns());
        out.put("activities", stats.activities());
        if (stopError != null) {
            out.put("stop_error", stopError);
        }
        return out.toString();
    }

    /**
     * Stops gracefully: no more claims, running activities finish or give back their items. Never
     * throws; a failure shows in {@link #summary()} as {@code stop_error}.
     */
    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running or has run: it stops the worker
        }
        watchdog.interrupt();
        stop(worker.config().shutdownGrace());
    }

    /** Stops on another thread and waits at most {@code budget} for it. */
    private void stopWithin(Duration budget) {
        Thread stopping = new Thread(() -> stop(EXIT_GRACE), "pg_durable-stop");
        stopping.setDaemon(true);
        stopping.start();
        try {
            stopping.join(budget.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized void stop(Duration grace) {
        if (stopped) {
            return;
        }
        stopped = true;
        try {
            // The reconciliation and the signal router use the worker's pool: stop them first.
            reconciliation.close();
            graph.detach();
            worker.close(grace);
            graph.close();
        } catch (RuntimeException e) {
            stopError = e.toString();
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
