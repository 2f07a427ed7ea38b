package io.pgdurable.worker;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.WorkerRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * The worker runtime: orchestration dispatch loops, the activity pool, LISTEN wake-ups, lease
 * renewal and a heartbeat, over one bounded connection pool. The same code runs as a standalone
 * process ({@code java -jar pg-durable.jar worker}) and inside a database backend.
 *
 * <p>{@link #close()} shuts down gracefully: it stops claiming, lets running activities finish
 * within the grace period, gives back the leases of those that did not, and removes the
 * heartbeat row.
 */
public final class Worker implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Worker.class.getName());

    private final WorkerConfig config;
    private final Registry registry;
    private final HikariDataSource dataSource;
    private final Runtime runtime = new Runtime();
    private final SessionCache sessions;
    private final Wakeup orchestrationWakeup = new Wakeup();
    private final Wakeup activityWakeup = new Wakeup();
    private final AtomicLong turns = new AtomicLong();
    private final AtomicLong activities = new AtomicLong();
    private final AtomicLong shortPathTurns = new AtomicLong();
    private final WorkerRegistry workers = new WorkerRegistry();
    private final List<Thread> loops = new ArrayList<>();
    private final ThreadPoolExecutor activityPool;
    private final ScheduledExecutorService housekeeping;
    private final ActivityDispatcher activityDispatcher;
    private final NotificationListener listener;
    private final CompletionBatcher completions;
    private final LocalActivities localActivities;
    private final LocalStart localStart;
    private final AtomicBoolean leaseCheckQueued = new AtomicBoolean();
    private Thread completionThread;
    private final long startedNanos = System.nanoTime();
    private volatile boolean stopping;
    private boolean closed;

    private Worker(WorkerConfig config, Registry registry) {
        this.config = config;
        this.registry = registry;
        this.sessions = new SessionCache(config.sessionCacheSize());
        this.dataSource = new HikariDataSource(poolConfig(config));
        // A plain queue the dispatcher can take a claimed item back out of, should its instance
        // be cancelled before a thread picks it up.
        this.activityPool = new ThreadPoolExecutor(config.activityThreads(), config.activityThreads(),
                0L, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), named("pg_durable-activity"));
        this.housekeeping = Executors.newSingleThreadScheduledExecutor(named("pg_durable-housekeeping"));
        this.completions = new CompletionBatcher(runtime);
        this.activityDispatcher = new ActivityDispatcher(runtime, activityPool, completions);
        this.localActivities = config.shortPath() ? new LocalActivities(activityDispatcher, config) : null;
        this.listener = config.listen() ? new NotificationListener(runtime) : null;
        this.localStart = new LocalStart(runtime, new EngineClient(dataSource));
    }

    /** Starts a worker; it runs until {@link #close()}. */
    public static Worker start(WorkerConfig config, Registry registry) {
        return start(config, registry, pool -> { });
    }

    /**
     * Starts a worker whose registry needs the worker's own pool, such as the df graph runtime's
     * steps ({@code GraphRuntime::attach}): {@code beforeWork} gets the pool before any of the
     * worker's threads starts, so not even work waiting from before the start can run first.
     */
    public static Worker start(WorkerConfig config, Registry registry, Consumer<DataSource> beforeWork) {
        Worker worker = new Worker(config, registry);
        try {
            beforeWork.accept(worker.dataSource);
            worker.begin();
        } catch (RuntimeException e) {
            worker.close();
            throw e;
        }
        return worker;
    }

    private void begin() {
        heartbeat();
        completionThread = new Thread(completions, "pg_durable-completions");
        completionThread.setDaemon(true);
        completionThread.start();
        for (int i = 0; i < config.orchestrationThreads(); i++) {
            startLoop("pg_durable-orchestration-" + i, new OrchestrationDispatcher(runtime));
        }
        startLoop("pg_durable-activity-claim", activityDispatcher);
        if (listener != null) {
            startLoop("pg_durable-listen", listener);
        }
        long renewMillis = Math.max(100, config.leaseDuration().toMillis() / 3);
        housekeeping.scheduleWithFixedDelay(activityDispatcher::renewLeases, renewMillis, renewMillis,
                TimeUnit.MILLISECONDS);
        long beat = config.heartbeatInterval().toMillis();
        housekeeping.scheduleWithFixedDelay(this::heartbeat, beat, beat, TimeUnit.MILLISECONDS);
        LOG.info(() -> "worker started: " + config);
    }

    public String id() {
        return config.workerId();
    }

    public WorkerConfig config() {
        return config;
    }

    /** The worker's engine connection pool. */
    public DataSource dataSource() {
        return dataSource;
    }

    /**
     * Starts an orchestration and, when this worker can, runs its first turn right here: the
     * instance, that turn and the activities it schedules commit together in one round trip, and
     * the activities start on this worker at once, with no notification, claim or second commit
     * in between (the engine guide, "Starting from the worker's JVM"). Otherwise (the
     * orchestration is not registered here, the short path is off, the worker is stopping, or the
     * first turn ends the instance, starts children, sets a timer, sends messages or fails) it
     * is a plain start, as {@link io.pgdurable.engine.store.EngineClient#start(String, String,
     * Object)} makes, and the dispatch loops take the first turn. Either way the start is
     * committed, and durable, when this returns; the errors are a plain start's (an empty name or
     * id, SQLSTATE 22023; an id that exists, 23505). A null id gets a random one. Returns the id.
     */
    public String startOrchestration(String name, String instanceId, Object input) throws SQLException {
        return localStart.start(name, instanceId, input);
    }

    public WorkerStats stats() {
        return new WorkerStats(config.workerId(), turns.get(), activities.get(),
                Duration.ofNanos(System.nanoTime() - startedNanos), shortPathTurns.get());
    }

    /** Stops gracefully, giving running activities the configured grace period. */
    @Override
    public void close() {
        close(config.shutdownGrace());
    }

    /**
     * Stops: no more claims; running activities get {@code grace} to finish, then give their items
     * back at once (another worker takes them without waiting for the lease to expire).
     */
    public synchronized void close(Duration grace) {
        if (closed) {
            return;
        }
        closed = true;
        stopping = true;
        LOG.info(() -> "worker " + config.workerId() + " stopping");
        orchestrationWakeup.releaseAll();
        activityWakeup.releaseAll();
        if (listener != null) {
            listener.close();
        }
        try {
            for (Thread loop : loops) {
                loop.join(Math.max(1000, grace.toMillis()));
            }
            activityDispatcher.drain(grace);
            if (completionThread != null) {
                // Results of activities that finished are recorded before the pool closes.
                completionThread.join(Math.max(1000, grace.toMillis()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        activityPool.shutdownNow();
        housekeeping.shutdownNow();
        sessions.clear();
        try (Connection c = dataSource.getConnection()) {
            workers.removeWorker(c, config.workerId());
        } catch (SQLException e) {
            LOG.log(Level.FINE, "could not remove heartbeat row", e);
        }
        dataSource.close();
        LOG.info(() -> "worker " + config.workerId() + " stopped: " + stats());
    }

    /** Checks the claimed items' leases soon, on the housekeeping thread; repeated calls coalesce. */
    private void checkActivityLeases() {
        if (stopping || !leaseCheckQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            housekeeping.execute(() -> {
                leaseCheckQueued.set(false);
                activityDispatcher.renewLeases();
            });
        } catch (RejectedExecutionException e) {
            leaseCheckQueued.set(false);
        }
    }

    private void heartbeat() {
        try (Connection c = dataSource.getConnection()) {
            workers.heartbeat(c, config.workerId(), config.host(), config.processId(), config.mode());
        } catch (SQLException e) {
            LOG.log(Level.WARNING, "heartbeat failed", e);
        }
    }

    private void startLoop(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        loops.add(t);
    }

    private static HikariConfig poolConfig(WorkerConfig config) {
        HikariConfig hc = new HikariConfig();
        hc.setDataSource(config.connectionSpec()
                .withApplicationName("pg_durable worker")
                .withProperty("reWriteBatchedInserts", "true")
                .dataSource());
        hc.setPoolName("pg_durable-engine");
        hc.setMaximumPoolSize(config.maxPoolSize());
        hc.setMinimumIdle(Math.min(2, config.maxPoolSize()));
        hc.setConnectionTimeout(10_000);
        // Engine bookkeeping commits without waiting for its WAL flush. Safe because WAL is
        // sequential: anything that acts on a turn's effects and commits synchronously (an
        // exactly-once step, a client's call) flushes the turn first; a turn lost in a crash
        // before that is simply run again from the messages its rollback restored.
        hc.setConnectionInitSql("SET synchronous_commit = off");
        return hc;
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.getAndIncrement());
            t.setDaemon(true);
            return t;
        };
    }

    private final class Runtime implements WorkerRuntime {
        @Override
        public WorkerConfig config() {
            return config;
        }

        @Override
        public Registry registry() {
            return registry;
        }

        @Override
        public DataSource dataSource() {
            return dataSource;
        }

        @Override
        public SessionCache sessions() {
            return sessions;
        }

        @Override
        public Wakeup orchestrationWakeup() {
            return orchestrationWakeup;
        }

        @Override
        public Wakeup activityWakeup() {
            return activityWakeup;
        }

        @Override
        public boolean stopping() {
            return stopping;
        }

        @Override
        public void activityLeasesMayBeLost() {
            checkActivityLeases();
        }

        @Override
        public void countTurns(int n) {
            turns.addAndGet(n);
        }

        @Override
        public void countActivities(int n) {
            activities.addAndGet(n);
        }

        @Override
        public LocalActivities localActivities() {
            return localActivities;
        }

        @Override
        public void countShortPathTurn() {
            turns.incrementAndGet();
            shortPathTurns.incrementAndGet();
        }
    }
}
