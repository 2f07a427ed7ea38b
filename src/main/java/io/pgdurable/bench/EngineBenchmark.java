package io.pgdurable.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pgdurable.engine.ActivityContext;
import io.pgdurable.engine.DurableException;
import io.pgdurable.engine.OrchestrationContext;
import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.schema.SchemaInstaller;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;

/**
 * Measures the engine against the database it runs on, with an in-process {@link Worker}.
 *
 * <p>Every activity inserts one row into {@code bench_rows} and completes exactly-once with
 * {@link ActivityContext#completeAndCommit}, so the row and the step's completion commit
 * together; each engine scenario then checks that the table holds exactly one row per step.
 * The {@linkplain Scenario#CEILING ceiling} scenario measures the same single-row commit without
 * the engine, which bounds what any engine on this database can reach; the {@linkplain
 * Scenario#FLOOR floor} scenario commits the writes of a short-path step without the engine, which
 * bounds what this engine's data model can reach.
 *
 * <p>Each scenario begins by emptying {@code bench_rows} and deleting every engine instance whose
 * orchestration name starts with {@value #NAME_PREFIX}; the last scenario's data stays for
 * inspection. No other worker should serve the database meanwhile: one that does not know the
 * {@code bench.*} orchestrations would take their work and fail it.
 */
public final class EngineBenchmark {

    /** Prefix of every orchestration and activity name the benchmark registers. */
    public static final String NAME_PREFIX = "bench.";

    /** Steps of the short orchestration the long workflow is compared with. */
    public static final int REFERENCE_STEPS = 10;

    static final String INSERT_ACTIVITY = NAME_PREFIX + "insert";
    static final String WARMUP = NAME_PREFIX + "warmup";
    /** The application name of the pool the engine scenarios' activities write their rows on. */
    static final String ACTIVITY_CONNECTIONS = "pg-durable bench activity";
    static final String THROUGHPUT = NAME_PREFIX + "throughput";
    static final String LATENCY = NAME_PREFIX + "latency";
    static final String REFERENCE = NAME_PREFIX + "reference";
    static final String LONG = NAME_PREFIX + "long";

    private static final int REFERENCE_RUNS = 3;
    private static final int WARMUP_SINGLE_RUNS = 20;
    /** Unmeasured steps each client of the ceiling and floor scenarios takes first. */
    private static final int WARMUP_INSERTS = 20;
    /** How often a wait reads the instances' status, besides being told of each end by the worker. */
    private static final long GROUP_CHECK_MILLIS = 100;
    private static final long SINGLE_CHECK_MILLIS = 20;
    private static final Duration RECENT_HEARTBEAT = Duration.ofMinutes(1);
    private static final String PAYLOAD = "x".repeat(100);

    private static final String CREATE_TABLE = """
            CREATE TABLE IF NOT EXISTS public.bench_rows (
                id          bigserial PRIMARY KEY,
                instance_id text,
                step        int,
                payload     text
            )""";
    private static final String INSERT_ROW = "INSERT INTO public.bench_rows (instance_id, step, payload) VALUES (?, ?, ?)";
    private static final String CLEAR_ROWS = "TRUNCATE public.bench_rows";
    /**
     * One step of the floor scenario, sent as one round trip and committed as one transaction
     * (the statements before one Sync): the step's row, three history events, the next step's
     * item leased an hour ahead, and the completed step's item deleted.
     */
    private static final String FLOOR_STEP = """
            INSERT INTO public.bench_rows (instance_id, step, payload) VALUES (?, ?, ?);
            INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)
            VALUES (?, 1, ?, 'OrchestratorStarted', now()), (?, 1, ?, 'TaskCompleted', now()),
                   (?, 1, ?, 'TaskScheduled', now());
            INSERT INTO df_engine.activity_queue
                (instance_id, execution_id, task_id, name, input, lease_owner, lease_token, visible_at, attempts)
            VALUES (?, 1, ?, 'bench.floor', ?, 'bench-floor', gen_random_uuid(), now() + interval '1 hour', 1);
            DELETE FROM df_engine.activity_queue WHERE instance_id = ? AND execution_id = 1 AND task_id = ?""";
    private static final String COUNT_FLOOR = CostMeter.OWN_MARK + """
            WITH ids AS MATERIALIZED (SELECT ?::text[] AS ids)
            SELECT (SELECT count(*) FROM public.bench_rows, ids WHERE instance_id = ANY (ids)),
                   (SELECT count(DISTINCT (instance_id, step)) FROM public.bench_rows, ids WHERE instance_id = ANY (ids)),
                   (SELECT count(*) FROM df_engine.history, ids WHERE instance_id = ANY (ids))""";
    private static final String CLEAR_FLOOR = """
            WITH ids AS MATERIALIZED (SELECT ?::text[] AS ids),
                 rows AS (DELETE FROM public.bench_rows USING ids WHERE instance_id = ANY (ids)),
                 history AS (DELETE FROM df_engine.history USING ids WHERE instance_id = ANY (ids))
            DELETE FROM df_engine.activity_queue USING ids WHERE instance_id = ANY (ids)""";
    private static final String CLEAR_INSTANCES = """
            WITH doomed AS (SELECT id FROM df_engine.instances WHERE name LIKE 'bench.%'),
                 history AS (DELETE FROM df_engine.history WHERE instance_id IN (SELECT id FROM doomed)),
                 orchestrator AS (DELETE FROM df_engine.orchestrator_queue
                                   WHERE instance_id IN (SELECT id FROM doomed)),
                 activity AS (DELETE FROM df_engine.activity_queue WHERE instance_id IN (SELECT id FROM doomed))
            DELETE FROM df_engine.instances WHERE id IN (SELECT id FROM doomed)""";
    private static final String START_MANY =
            "SELECT count(df_engine.start_orchestration(id, ?, ?)) FROM unnest(?::text[]) AS id";
    private static final String COUNT_UNFINISHED =
            CostMeter.OWN_MARK + "SELECT count(*) FROM df_engine.instances WHERE status IN ('Pending', 'Running') AND name = ?";
    private static final String STATUS = CostMeter.OWN_MARK + "SELECT status FROM df_engine.instances WHERE id = ?";
    private static final String INSTANCE_LATENCIES = CostMeter.OWN_MARK + """
            SELECT (extract(epoch FROM completed_at - created_at) * 1e9)::bigint
              FROM df_engine.instances
             WHERE name = ? AND completed_at IS NOT NULL""";
    private static final String COUNT_ROWS = CostMeter.OWN_MARK + "SELECT count(*), count(DISTINCT (instance_id, step)) FROM public.bench_rows";
    private static final String COUNT_COMPLETED = CostMeter.OWN_MARK + """
            SELECT count(*) FILTER (WHERE status = 'Completed'),
                   (array_agg(id || ' ' || status || ': ' || coalesce(output, ''))
                        FILTER (WHERE status <> 'Completed'))[1]
              FROM df_engine.instances
             WHERE name = ANY (?)""";
    private static final String OTHER_WORKERS =
            CostMeter.OWN_MARK + "SELECT count(*) FROM df_engine.workers WHERE last_seen_at > now() - make_interval(secs => ?)";

    private final BenchmarkSettings settings;
    private final PrintWriter out;
    private final String runTag = UUID.randomUUID().toString().substring(0, 8);
    private final Finishes finishes = new Finishes();

    public EngineBenchmark(BenchmarkSettings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
    }

    /**
     * Runs the chosen scenarios in order, printing progress as it goes.
     *
     * @throws DurableException if the schema is missing or out of date, or orchestrations do not
     *         finish within the timeout
     */
    public BenchmarkReport run() throws SQLException {
        BenchmarkReport.Ceiling ceiling = null;
        BenchmarkReport.Floor floor = null;
        List<BenchmarkReport.Completion> completion = List.of();
        BenchmarkReport.Throughput throughput = null;
        BenchmarkReport.Latency latency = null;
        BenchmarkReport.Latency latencyInJvm = null;
        BenchmarkReport.LongWorkflow longWorkflow = null;
        BenchmarkReport.Throughput df = null;
        BenchmarkReport.Latency dfLatency = null;
        BenchmarkReport.Latency dfJoin = null;
        List<BenchmarkReport.Starts> dfStart = List.of();
        BenchmarkReport.Throughput inDatabase = null;
        BenchmarkReport.Fairness fairness = null;
        Map<String, CostMeter.Cost> costs = new LinkedHashMap<>();
        List<BenchmarkReport.ScaleLevel> scale = List.of();
        try (Connection admin = settings.connect("pg-durable bench")) {
            checkSchema(admin);
            execute(admin, CREATE_TABLE);
            describeServer(admin);
            CostMeter meter = CostMeter.probe(admin);
            if (settings.runs(Scenario.CEILING)) {
                clear(admin);
                ceiling = runCeiling();
            }
            if (settings.runs(Scenario.FLOOR)) {
                floor = runFloor(admin);
            }
            if (settings.runs(Scenario.COMPLETION)) {
                completion = new CompletionBenchmark(settings, out).run(admin, meter, costs);
            }
            if (settings.runs(Scenario.THROUGHPUT) || settings.runs(Scenario.LATENCY) || settings.runs(Scenario.LONG)) {
                warnAboutOtherWorkers(admin);
                try (HikariDataSource rowPool = rowPool();
                     Worker worker = Worker.start(workerConfig(), registry(rowPool));
                     Connection client = settings.connect("pg-durable bench client")) {
                    Runner runner = new Runner(admin, client, new EngineClient(worker.dataSource()), worker, meter, costs);
                    runner.warmUp();
                    if (settings.runs(Scenario.THROUGHPUT)) {
                        clear(admin);
                        throughput = runner.throughput();
                    }
                    if (settings.runs(Scenario.LATENCY)) {
                        runner.warmUpSingles(false);
                        clear(admin);
                        latency = runner.latency(false);
                        runner.warmUpSingles(true);
                        clear(admin);
                        latencyInJvm = runner.latency(true);
                    }
                    if (settings.runs(Scenario.LONG)) {
                        clear(admin);
                        longWorkflow = runner.longWorkflow();
                    }
                }
            }
            if (settings.runs(Scenario.DF)) {
                df = new DfBenchmark(settings, out, Scenario.DF).run(admin, meter, costs);
            }
            if (settings.runs(Scenario.DF_LATENCY)) {
                dfLatency = new DfBenchmark(settings, out, Scenario.DF_LATENCY).latency(admin, meter, costs);
            }
            if (settings.runs(Scenario.DF_JOIN)) {
                dfJoin = new DfBenchmark(settings, out, Scenario.DF_JOIN).latency(admin, meter, costs);
            }
            if (settings.runs(Scenario.DF_START)) {
                dfStart = new DfStartBenchmark(settings, out).run(admin, meter, costs);
            }
            if (settings.runs(Scenario.IN_DATABASE)) {
                inDatabase = new DfBenchmark(settings, out, Scenario.IN_DATABASE).run(admin, meter, costs);
            }
            if (settings.runs(Scenario.FAIRNESS)) {
                fairness = new FairnessBenchmark(settings, out).run(admin);
            }
            if (settings.runs(Scenario.SCALE)) {
                scale = new ScaleBenchmark(settings, out).run(admin, meter, costs);
            }
        }
        return new BenchmarkReport(ceiling, floor, completion, throughput, latency, latencyInJvm, longWorkflow, df, dfLatency, dfJoin,
                dfStart, inDatabase, fairness, scale, costs);
    }

    private void checkSchema(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT to_regclass('df_engine.schema_files') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) {
                throw new DurableException("the df_engine schema is not installed in this database, or is older than"
                        + " this build; run 'pg-durable install --url <jdbc-url>' first");
            }
        }
        List<String> shipped = new SchemaInstaller().shippedFiles().stream()
                .filter(f -> f.isStep()).map(f -> f.file()).toList();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT file FROM df_engine.schema_files WHERE kind = 'step'")) {
            List<String> recorded = new ArrayList<>();
            while (rs.next()) {
                recorded.add(rs.getString(1));
            }
            if (!recorded.containsAll(shipped)) {
                throw new DurableException("the df_engine schema is older than this build needs ("
                        + new SchemaInstaller().version() + "); run 'pg-durable install --url <jdbc-url>' first");
            }
        }
    }

    private void describeServer(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT current_database(), current_setting('server_version'),"
                     + " current_setting('synchronous_commit'), current_setting('fsync')")) {
            rs.next();
            out.printf(Locale.ROOT, "database %s on PostgreSQL %s (synchronous_commit=%s, fsync=%s)%n",
                    rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4));
        }
        out.printf(Locale.ROOT, "worker: %d activity threads (at most %d per role), %d orchestration threads,"
                        + " turn batch %d%n", settings.activityThreads(), settings.maxActivitiesPerRole() > 0
                        ? settings.maxActivitiesPerRole()
                        : WorkerConfig.defaultMaxActivitiesPerRole(settings.activityThreads()),
                settings.orchestrationThreads(), settings.turnBatchSize());
        out.flush();
    }

    private void warnAboutOtherWorkers(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(OTHER_WORKERS)) {
            ps.setLong(1, RECENT_HEARTBEAT.toSeconds());
            long others = single(ps);
            if (others > 0) {
                out.printf(Locale.ROOT, "warning: %d other worker(s) sent a heartbeat in the last minute;"
                        + " they compete for the benchmark's work and fail bench.* orchestrations they do not know%n",
                        others);
                out.flush();
            }
        }
    }

    /** Empties {@code bench_rows} and deletes the benchmark's engine instances, their history and queued work. */
    private static void clear(Connection c) throws SQLException {
        execute(c, CLEAR_ROWS);
        execute(c, CLEAR_INSTANCES);
    }

    private BenchmarkReport.Ceiling runCeiling() throws SQLException {
        int threads = settings.activityThreads();
        out.printf(Locale.ROOT, "ceiling: %d clients doing autocommit single-row INSERTs for %.1f s ...%n",
                threads, BenchmarkReport.seconds(settings.ceilingDuration()));
        out.flush();
        Timed timed = runClients("ceiling", threads, i -> prepared("pg-durable bench ceiling", INSERT_ROW, (ps, step) -> {
            ps.setString(1, "ceiling-" + runTag + "-" + i);
            ps.setInt(2, step);
            ps.setString(3, PAYLOAD);
        }));
        BenchmarkReport.Ceiling result = new BenchmarkReport.Ceiling(threads, timed.count(), timed.elapsed());
        out.printf(Locale.ROOT, "ceiling: %d inserts in %.2f s = %.0f commits/s%n",
                timed.count(), BenchmarkReport.seconds(timed.elapsed()), result.insertsPerSecond());
        out.flush();
        return result;
    }

    /**
     * The floor: what a step on the short path writes, without the engine. Each transaction
     * inserts the step's own row, appends three history events (the turn's start, the step's
     * completion, the next step scheduled), inserts the next step's queue item leased (an hour
     * ahead, so no worker claims it) and deletes the completed one, in one round trip and one
     * commit, by as many clients as the ceiling. No worker, no lock, no check, no JSON: what the
     * present data model costs on this database, which no worker built on it can beat. Its rows
     * are deleted afterwards.
     */
    private BenchmarkReport.Floor runFloor(Connection admin) throws SQLException {
        int threads = settings.activityThreads();
        out.printf(Locale.ROOT, "floor: %d clients each committing a short-path step's writes without the engine"
                + " (its row, three history events, the next queue item in and the last one out) for %.1f s ...%n",
                threads, BenchmarkReport.seconds(settings.ceilingDuration()));
        out.flush();
        String[] ids = new String[threads];
        for (int i = 0; i < threads; i++) {
            ids[i] = "floor-" + runTag + "-" + i;
        }
        Timed timed;
        try {
            timed = runClients("floor", threads, i -> prepared("pg-durable bench floor", FLOOR_STEP,
                    (ps, step) -> bindFloorStep(ps, ids[i], step)));
            BenchmarkReport.Floor result = checkFloor(admin, ids, threads, timed);
            out.printf(Locale.ROOT, "floor: %d steps in %.2f s = %.0f steps/s%n",
                    timed.count(), BenchmarkReport.seconds(timed.elapsed()), result.stepsPerSecond());
            out.printf(Locale.ROOT, "floor: rows %s%n", result.describe());
            out.flush();
            return result;
        } finally {
            try (PreparedStatement ps = admin.prepareStatement(CLEAR_FLOOR)) {
                ps.setArray(1, admin.createArrayOf("text", ids));
                ps.execute();
            }
        }
    }

    /** Binds step {@code step}'s parameters. */
    private interface StepBinder {
        void bind(PreparedStatement ps, int step) throws SQLException;
    }

    /** A client loop executing {@code sql}, bound by {@code binder}, once per step on a connection of its own. */
    private ClientLoop prepared(String applicationName, String sql, StepBinder binder) throws SQLException {
        Connection c = settings.connect(applicationName);
        try {
            PreparedStatement ps = c.prepareStatement(sql);
            return new ClientLoop() {
                @Override
                public void step(int step) throws SQLException {
                    binder.bind(ps, step);
                    ps.execute();
                }

                @Override
                public void close() throws SQLException {
                    try (c) {
                        ps.close();
                    }
                }
            };
        } catch (SQLException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** Binds one floor step: step {@code step} of instance {@code id} (see {@link #FLOOR_STEP}). */
    private static void bindFloorStep(PreparedStatement ps, String id, int step) throws SQLException {
        int p = 1;
        ps.setString(p++, id);
        ps.setInt(p++, step);
        ps.setString(p++, PAYLOAD);
        for (int e = 0; e < 3; e++) {
            ps.setString(p++, id);
            ps.setInt(p++, 3 * step + e + 1);
        }
        ps.setString(p++, id);
        ps.setInt(p++, step + 1);
        ps.setString(p++, PAYLOAD);
        ps.setString(p++, id);
        ps.setInt(p, step);
    }

    /** The floor's figures, with what its steps left: their rows and history events. */
    private BenchmarkReport.Floor checkFloor(Connection admin, String[] ids, int threads, Timed timed)
            throws SQLException {
        try (PreparedStatement ps = admin.prepareStatement(COUNT_FLOOR)) {
            ps.setArray(1, admin.createArrayOf("text", ids));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new BenchmarkReport.Floor(threads, timed.count(), timed.elapsed(),
                        timed.count() + (long) threads * WARMUP_INSERTS, rs.getLong(1), rs.getLong(2), rs.getLong(3));
            }
        }
    }

    /** What one client of a fixed-duration scenario repeats: step {@code step} of its work. */
    private interface ClientLoop extends AutoCloseable {
        void step(int step) throws SQLException;

        @Override
        default void close() throws SQLException {
        }
    }

    /** Opens one client's {@link ClientLoop}; client {@code i} of the scenario. */
    private interface ClientSetup {
        ClientLoop open(int i) throws SQLException;
    }

    private record Timed(long count, Duration elapsed) {
    }

    /**
     * Runs {@code threads} clients for {@code --ceiling-seconds}: each opens its loop, runs
     * {@value #WARMUP_INSERTS} unmeasured steps, and once all are ready, steps until the deadline.
     * Returns the measured steps of all clients and the time they took.
     */
    private Timed runClients(String name, int threads, ClientSetup setup) throws SQLException {
        ExecutorService pool = Executors.newFixedThreadPool(threads, named("pg_durable-bench-" + name));
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch go = new CountDownLatch(1);
        AtomicLong deadline = new AtomicLong();
        List<Future<Long>> counts = new ArrayList<>();
        try {
            for (int i = 0; i < threads; i++) {
                int client = i;
                counts.add(pool.submit(() -> stepUntilDeadline(setup, client, ready, go, deadline)));
            }
            ready.await();
            long started = System.nanoTime();
            deadline.set(started + settings.ceilingDuration().toNanos());
            go.countDown();
            long steps = 0;
            for (Future<Long> f : counts) {
                steps += f.get();
            }
            return new Timed(steps, Duration.ofNanos(System.nanoTime() - started));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DurableException("interrupted while measuring the " + name, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            throw new DurableException("a " + name + " client failed: " + e.getCause(), e.getCause());
        } finally {
            go.countDown();
            pool.shutdownNow();
        }
    }

    private static long stepUntilDeadline(ClientSetup setup, int client, CountDownLatch ready, CountDownLatch go,
                                          AtomicLong deadline) throws SQLException, InterruptedException {
        boolean counted = false;
        try (ClientLoop loop = setup.open(client)) {
            int step = 0;
            for (; step < WARMUP_INSERTS; step++) {
                loop.step(step);
            }
            ready.countDown();
            counted = true;
            go.await();
            long end = deadline.get();
            long count = 0;
            while (System.nanoTime() < end) {
                loop.step(step++);
                count++;
            }
            return count;
        } finally {
            if (!counted) {
                ready.countDown();
            }
        }
    }

    private Registry registry(DataSource rows) {
        Registry registry = new Registry().activity(INSERT_ACTIVITY, ctx -> insertRow(rows, ctx));
        for (String name : List.of(WARMUP, THROUGHPUT, LATENCY, REFERENCE, LONG)) {
            registry.orchestration(name, EngineBenchmark::sequence);
        }
        return registry;
    }

    /** Runs {@code input} insert activities one after another. */
    private static Object sequence(OrchestrationContext ctx) {
        int steps = ctx.input(Integer.class);
        for (int step = 1; step <= steps; step++) {
            ctx.callActivity(INSERT_ACTIVITY, step, Integer.class).await();
        }
        return steps;
    }

    /**
     * Inserts one row and records the step's completion in the same transaction, both in one
     * round trip ({@link ActivityContext#writeCompleteAndCommit}).
     */
    private static Object insertRow(DataSource rows, ActivityContext ctx) throws SQLException {
        int step = ctx.input(Integer.class);
        try (Connection c = rows.getConnection()) {
            ctx.writeCompleteAndCommit(c, INSERT_ROW, List.of(ctx.instanceId(), step, PAYLOAD), step);
        }
        return step;
    }

    private WorkerConfig workerConfig() {
        return WorkerConfig.builder(settings.jdbcUrl())
                .user(settings.user())
                .password(settings.password())
                .activityThreads(settings.activityThreads())
                .maxActivitiesPerRole(settings.maxActivitiesPerRole())
                .orchestrationThreads(settings.orchestrationThreads())
                .turnBatchSize(settings.turnBatchSize())
                .shortPath(settings.shortPath())
                .onInstanceFinished(finishes)
                .build();
    }

    /** The activities' own pool, one connection per activity thread, autocommit off for completeAndCommit. */
    private HikariDataSource rowPool() {
        HikariConfig hc = new HikariConfig();
        hc.setDataSource(settings.connectionSpec().withApplicationName(ACTIVITY_CONNECTIONS).dataSource());
        hc.setPoolName("pg_durable-bench-rows");
        hc.setMaximumPoolSize(settings.activityThreads());
        hc.setMinimumIdle(settings.activityThreads());
        hc.setAutoCommit(false);
        hc.setConnectionTimeout(10_000);
        return new HikariDataSource(hc);
    }

    /** The engine scenarios, sharing the admin connection, a client connection and the running worker. */
    private final class Runner {
        private final Connection admin;
        private final Connection client;
        private final EngineClient engine;
        private final Worker worker;
        private final PreparedStatement status;
        private final AtomicInteger serial = new AtomicInteger();
        private final CostMeter meter;
        private final Map<String, CostMeter.Cost> costs;

        Runner(Connection admin, Connection client, EngineClient engine, Worker worker, CostMeter meter,
               Map<String, CostMeter.Cost> costs) throws SQLException {
            this.admin = admin;
            this.client = client;
            this.engine = engine;
            this.worker = worker;
            this.meter = meter;
            this.costs = costs;
            this.status = client.prepareStatement(STATUS);
        }

        void warmUp() throws SQLException {
            int n = settings.warmupInstances();
            if (n == 0) {
                return;
            }
            out.printf(Locale.ROOT, "warm-up: rounds of %d x %d steps at once, then %d single-step runs ...%n",
                    n, settings.steps(), WARMUP_SINGLE_RUNS);
            out.flush();
            long started = System.nanoTime();
            WarmupRounds.repeat(out, "warm-up", settings.warmupRounds(), () -> {
                awaitGroup(WARMUP, n, startMany(WARMUP, n, settings.steps()));
                for (int i = 0; i < WARMUP_SINGLE_RUNS; i++) {
                    runOne(WARMUP, 1);
                }
            });
            out.printf(Locale.ROOT, "warm-up: done in %.2f s%n", (System.nanoTime() - started) / 1e9);
            out.flush();
        }

        /**
         * Single-step runs until the JIT settles on them, before the latency scenario (see {@link
         * WarmupRounds#singles}); with {@code inJvm}, started with {@link Worker#startOrchestration}.
         */
        void warmUpSingles(boolean inJvm) throws SQLException {
            if (settings.warmupInstances() == 0) {
                return;
            }
            WarmupRounds.singles(out, inJvm ? "latency in-JVM" : "latency", "single-step runs", settings.warmupRounds(),
                    WarmupRounds::compilerMillis, () -> runOne(WARMUP, 1, inJvm));
        }

        BenchmarkReport.Throughput throughput() throws SQLException {
            int instances = settings.instances();
            int steps = settings.steps();
            out.printf(Locale.ROOT, "throughput: %d orchestrations x %d steps, started in one transaction ...%n",
                    instances, steps);
            out.flush();
            CostMeter.Mark mark = meter.start(admin);
            long started = System.nanoTime();
            long finished = awaitGroup(THROUGHPUT, instances, startMany(THROUGHPUT, instances, steps));
            costs.put("throughput", meter.stop(admin, mark, (long) instances * steps));
            Duration wall = Duration.ofNanos(finished - started);
            LatencyStats perInstance = instanceLatencies(THROUGHPUT);
            BenchmarkReport.Verification check = verify("throughput", (long) instances * steps, instances,
                    List.of(THROUGHPUT));
            BenchmarkReport.Throughput result =
                    new BenchmarkReport.Throughput(instances, steps, wall, perInstance, check);
            out.printf(Locale.ROOT, "throughput: %.2f s wall = %.0f steps/s; per instance start->completed %s%n",
                    BenchmarkReport.seconds(wall), result.stepsPerSecond(), perInstance);
            out.printf(Locale.ROOT, "throughput: rows %s%n", check.describe());
            out.flush();
            return result;
        }

        /**
         * Single-step orchestrations one at a time, each from its start to the worker's end of it:
         * started by the client (a plain start: the notification wakes a dispatch loop, whose claim
         * and turn come before the step), or, with {@code inJvm}, by {@link
         * Worker#startOrchestration} in the worker's JVM, whose first turn commits with the start.
         */
        BenchmarkReport.Latency latency(boolean inJvm) throws SQLException {
            int samples = settings.latencySamples();
            String scenario = inJvm ? "latency in-JVM" : "latency";
            out.printf(Locale.ROOT, "%s: %d single-step orchestrations one at a time, started %s, each awaited until"
                    + " the worker has committed its end ...%n", scenario, samples,
                    inJvm ? "with Worker.startOrchestration" : "by a client");
            out.flush();
            long[] nanos = new long[samples];
            CostMeter.Mark mark = meter.start(admin);
            for (int i = 0; i < samples; i++) {
                nanos[i] = runOne(LATENCY, 1, inJvm);
            }
            costs.put(inJvm ? "latency-jvm" : "latency", meter.stop(admin, mark, samples));
            LatencyStats stats = LatencyStats.ofNanos(nanos);
            BenchmarkReport.Verification check = verify(scenario, samples, samples, List.of(LATENCY));
            out.printf(Locale.ROOT, "%s: start->completed %s  mean %s%n",
                    scenario, stats, LatencyStats.millis(stats.meanNanos()));
            out.printf(Locale.ROOT, "%s: rows %s%n", scenario, check.describe());
            out.flush();
            return new BenchmarkReport.Latency(stats, check);
        }

        BenchmarkReport.LongWorkflow longWorkflow() throws SQLException {
            int steps = settings.longSteps();
            out.printf(Locale.ROOT, "long: %d runs of a %d-step orchestration, then one of %d steps ...%n",
                    REFERENCE_RUNS, REFERENCE_STEPS, steps);
            out.flush();
            long[] reference = new long[REFERENCE_RUNS];
            for (int i = 0; i < REFERENCE_RUNS; i++) {
                reference[i] = runOne(REFERENCE, REFERENCE_STEPS);
            }
            Duration referenceTotal = Duration.ofNanos(LatencyStats.ofNanos(reference).p50Nanos());
            CostMeter.Mark mark = meter.start(admin);
            Duration total = Duration.ofNanos(runOne(LONG, steps));
            costs.put("long", meter.stop(admin, mark, steps));
            BenchmarkReport.Verification check = verify("long",
                    (long) REFERENCE_RUNS * REFERENCE_STEPS + steps, REFERENCE_RUNS + 1, List.of(REFERENCE, LONG));
            BenchmarkReport.LongWorkflow result =
                    new BenchmarkReport.LongWorkflow(steps, total, REFERENCE_STEPS, referenceTotal, check);
            out.printf(Locale.ROOT,
                    "long: %d-step median %s (%s per step); %d steps %.2f s (%s per step); ratio %.2f%n",
                    REFERENCE_STEPS, LatencyStats.millis(referenceTotal.toNanos()),
                    LatencyStats.millis(result.referencePerStepNanos()), steps, BenchmarkReport.seconds(total),
                    LatencyStats.millis(result.perStepNanos()), result.ratio());
            out.printf(Locale.ROOT, "long: rows %s%n", check.describe());
            out.flush();
            return result;
        }

        /** Starts {@code count} instances of {@code name} in one statement, hence one transaction. */
        private Finishes.Group startMany(String name, int count, int steps) throws SQLException {
            Finishes.Group group = finishes.group(name + "-" + runTag);
            String[] ids = new String[count];
            for (int i = 0; i < count; i++) {
                ids[i] = nextId(name);
            }
            try (PreparedStatement ps = admin.prepareStatement(START_MANY)) {
                ps.setString(1, name);
                ps.setString(2, Integer.toString(steps));
                ps.setArray(3, admin.createArrayOf("text", ids));
                ps.executeQuery().close();
            }
            return group;
        }

        /**
         * Waits until the worker has reported all {@code count} instances of {@code group} ended,
         * confirmed by reading that none of {@code name} is pending or running (read every 100 ms
         * meanwhile, in case one ended unreported); returns when the last end was seen.
         */
        private long awaitGroup(String name, int count, Finishes.Group group) throws SQLException {
            long deadline = System.nanoTime() + settings.timeout().toNanos();
            long allSeen = 0;
            try (PreparedStatement ps = admin.prepareStatement(COUNT_UNFINISHED)) {
                ps.setString(1, name);
                while (true) {
                    if (allSeen == 0 && awaitQuietly(group, count) >= count) {
                        allSeen = System.nanoTime();
                    } else if (allSeen != 0) {
                        pause(GROUP_CHECK_MILLIS * 1_000_000);
                    }
                    long unfinished = single(ps);
                    long now = System.nanoTime();
                    if (unfinished == 0) {
                        return allSeen != 0 ? allSeen : now;
                    }
                    if (now > deadline) {
                        throw new DurableException(unfinished + " of " + count + " " + name
                                + " orchestrations were still unfinished after " + settings.timeout()
                                + " (--timeout-seconds); see the worker log");
                    }
                }
            }
        }

        /**
         * Starts one instance and waits until the worker reports it ended (reading its status every
         * 20 ms meanwhile, in case it ended unreported); returns start-to-end nanoseconds, as the
         * waiting thread saw them.
         */
        private long runOne(String name, int steps) throws SQLException {
            return runOne(name, steps, false);
        }

        private long runOne(String name, int steps, boolean inJvm) throws SQLException {
            String id = nextId(name);
            CountDownLatch ended = finishes.single(id);
            long started = System.nanoTime();
            if (inJvm) {
                worker.startOrchestration(name, id, steps);
            } else {
                engine.start(client, name, id, steps);
            }
            status.setString(1, id);
            return finishes.awaitEnd(id, ended, SINGLE_CHECK_MILLIS, started + settings.timeout().toNanos(), () -> {
                try (ResultSet rs = status.executeQuery()) {
                    return rs.next() && InstanceInfo.isTerminal(rs.getString(1));
                }
            }, () -> "orchestration " + id + " did not finish within " + settings.timeout()
                    + " (--timeout-seconds); see the worker log") - started;
        }

        private LatencyStats instanceLatencies(String name) throws SQLException {
            List<Long> values = new ArrayList<>();
            try (PreparedStatement ps = admin.prepareStatement(INSTANCE_LATENCIES)) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        values.add(rs.getLong(1));
                    }
                }
            }
            return LatencyStats.ofNanos(values.stream().mapToLong(Long::longValue).toArray());
        }

        private BenchmarkReport.Verification verify(String scenario, long expectedRows, long expectedInstances,
                                                    List<String> names) throws SQLException {
            long rows;
            long distinct;
            try (Statement st = admin.createStatement(); ResultSet rs = st.executeQuery(COUNT_ROWS)) {
                rs.next();
                rows = rs.getLong(1);
                distinct = rs.getLong(2);
            }
            try (PreparedStatement ps = admin.prepareStatement(COUNT_COMPLETED)) {
                ps.setArray(1, admin.createArrayOf("text", names.toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return new BenchmarkReport.Verification(scenario, expectedRows, rows, distinct,
                            expectedInstances, rs.getLong(1), rs.getString(2));
                }
            }
        }

        private String nextId(String name) {
            return name + "-" + runTag + "-" + serial.incrementAndGet();
        }
    }

    private static long single(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static int awaitQuietly(Finishes.Group group, int count) {
        try {
            return group.await(count, GROUP_CHECK_MILLIS);
        } catch (InterruptedException e) {
            throw interrupted(e);
        }
    }

    /** Keeps the thread's interrupt and says what it stopped. */
    private static DurableException interrupted(InterruptedException e) {
        Thread.currentThread().interrupt();
        return new DurableException("interrupted while waiting for bench orchestrations", e);
    }

    private static void pause(long nanos) {
        LockSupport.parkNanos(nanos);
        if (Thread.currentThread().isInterrupted()) {
            throw new DurableException("interrupted while waiting for bench orchestrations");
        }
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.getAndIncrement());
            t.setDaemon(true);
            return t;
        };
    }
}
