package io.pgdurable.bench;

import io.pgdurable.db.ConnectionSpec;
import io.pgdurable.engine.DurableException;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.Registry;
import io.pgdurable.graph.GraphRuntime;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.function.LongFunction;
import java.util.function.LongPredicate;

/**
 * The control-plane scenarios: {@code instances} workflows of {@code steps} SQL steps, each step a
 * single-row INSERT, all started with {@code df.start} in one transaction as an ordinary login
 * role. Measures df.start-to-completed throughput and per-instance latency, then checks every
 * step's row exists exactly once. The workflows run on one of two hosts: an in-process worker
 * with the graph runtime ({@code df}), or {@code df.run_worker} inside a backend of the database
 * ({@code in-database}, which needs the PL/Java jar), so the two can be compared on one cluster.
 * The {@code df-latency} scenario runs single-step workflows one at a time on the in-process
 * worker and times each from the {@code df.start} call to the worker's end of it; {@code df-join}
 * does the same with a JOIN of two one-step branches followed by a step.
 */
final class DfBenchmark {
    /** The login role the workflows run as; created if missing. */
    static final String ROLE = "durable_bench";
    /** The application name of the connection whose backend hosts the in-database worker. */
    static final String IN_DATABASE_HOST = "pg-durable bench in-database host";
    private static final Duration POLL = Duration.ofMillis(20);
    /** How long waiting for reported ends goes without reading the database. */
    private static final Duration REPORT_CHECK = Duration.ofSeconds(1);
    /** Single workflows at the end of each warm-up round of the df-latency scenario. */
    private static final int WARMUP_SINGLES = 20;

    private final BenchmarkSettings settings;
    private final PrintWriter out;
    private final Scenario scenario;
    private final String name;
    private final String label = "bench-df-" + UUID.randomUUID().toString().substring(0, 8);
    private final Finishes finishes = new Finishes();

    DfBenchmark(BenchmarkSettings settings, PrintWriter out, Scenario scenario) {
        if (scenario != Scenario.DF && scenario != Scenario.DF_LATENCY && scenario != Scenario.DF_JOIN
                && scenario != Scenario.IN_DATABASE) {
            throw new IllegalArgumentException("not a df scenario: " + scenario.label());
        }
        this.settings = settings;
        this.out = out;
        this.scenario = scenario;
        this.name = scenario.label();
    }

    BenchmarkReport.Throughput run(Connection admin, CostMeter meter, Map<String, CostMeter.Cost> costs)
            throws SQLException {
        prepare(admin);
        int instances = settings.instances();
        int steps = settings.steps();
        try (Host host = scenario == Scenario.DF ? new InProcessHost() : new InDatabaseHost(admin);
             Connection app = connectAsRole(settings)) {
            warmUp(admin, app, host, settings.warmupRounds(), () -> { });
            out.printf(Locale.ROOT, "%s: %d workflows x %d SQL steps, started with df.start in one transaction ...%n",
                    name, instances, steps);
            out.flush();
            CostMeter.Mark mark = meter.start(admin);
            long started = System.nanoTime();
            Finishes.Group run = start(app, label, instances, steps);
            long startCommitted = System.nanoTime();
            long finished = await(admin, label, instances, host, run);
            costs.put(name, meter.stop(admin, mark, (long) instances * steps));
            Duration wall = Duration.ofNanos(finished - started);
            LatencyStats latencies = latencies(admin, label);
            BenchmarkReport.Verification check = verify(admin, label, (long) instances * steps, instances);
            BenchmarkReport.Throughput result = new BenchmarkReport.Throughput(instances, steps, wall, latencies, check);
            out.printf(Locale.ROOT, "%s: %.2f s wall = %.0f steps/s; per instance df.start->completed %s%n",
                    name, BenchmarkReport.seconds(wall), result.stepsPerSecond(), latencies);
            // The start is one statement on one backend, and no step can run before it commits.
            out.printf(Locale.ROOT, "%s: of that wall time, the statement starting the %d workflows and its commit took"
                    + " %.2f s%n", name, instances, (startCommitted - started) / 1e9);
            out.printf(Locale.ROOT, "%s: rows %s%n", name, check.describe());
            out.flush();
            return result;
        }
    }

    /**
     * Single-step workflows started one at a time with {@code df.start}, each timed from the call
     * until the in-process worker reports the instance ended. The start's transaction commits
     * right after the call, once the benchmark watches for the new id (the worker cannot end an
     * instance it cannot see yet), so each sample includes that commit.
     */
    BenchmarkReport.Latency latency(Connection admin, CostMeter meter, Map<String, CostMeter.Cost> costs)
            throws SQLException {
        prepare(admin);
        int samples = settings.latencySamples();
        try (Host host = new InProcessHost();
             Connection app = connectAsRole(settings)) {
            try (PreparedStatement start = app.prepareStatement(singleStart());
                 PreparedStatement status = admin.prepareStatement(CostMeter.OWN_MARK
                         + "SELECT status IN ('completed', 'failed', 'cancelled') FROM df.instances WHERE id = ?")) {
                String warm = label + "-warmup-singles";
                warmUp(admin, app, host, settings.warmupRounds(), () -> {
                    for (int i = 0; i < WARMUP_SINGLES; i++) {
                        runOne(app, start, status, warm, host);
                    }
                });
                if (settings.warmupInstances() > 0) {
                    // Then the single-workflow path alone until the JIT settles on it.
                    WarmupRounds.singles(out, name, "single workflows", settings.warmupRounds(), host::compilerMillis,
                            () -> runOne(app, start, status, warm, host));
                    execute(admin, "TRUNCATE public.bench_df_rows");
                }
                out.printf(Locale.ROOT, "%s: %d %s one at a time, each from the df.start call until"
                        + " the worker has committed its end ...%n", name, samples, scenario == Scenario.DF_JOIN
                        ? "workflows of a JOIN of two one-step branches and a step" : "single-step workflows");
                out.flush();
                long[] nanos = new long[samples];
                CostMeter.Mark mark = meter.start(admin);
                for (int i = 0; i < samples; i++) {
                    nanos[i] = runOne(app, start, status, label, host);
                }
                costs.put(name, meter.stop(admin, mark, samples));
                LatencyStats stats = LatencyStats.ofNanos(nanos);
                BenchmarkReport.Verification check = verify(admin, label, (long) samples * stepsOfOne(), samples);
                out.printf(Locale.ROOT, "%s: df.start->completed %s  mean %s%n", name, stats,
                        LatencyStats.millis(stats.meanNanos()));
                out.printf(Locale.ROOT, "%s: rows %s%n", name, check.describe());
                out.flush();
                return new BenchmarkReport.Latency(stats, check);
            }
        }
    }

    /** The start of one workflow of the latency scenarios: one step, or a JOIN of two and a step after it. */
    private String singleStart() {
        if (scenario == Scenario.DF_JOIN) {
            return "SELECT df.start(df.join(" + step(1) + ", " + step(2) + ") ~> " + step(3) + ", ?)";
        }
        return "SELECT df.start(" + workflow(1) + ", ?)";
    }

    /** The steps (rows) of one workflow of {@link #singleStart}. */
    private int stepsOfOne() {
        return scenario == Scenario.DF_JOIN ? 3 : 1;
    }

    /**
     * Runs one single-step workflow; returns nanoseconds from the df.start call to its end.
     * {@code status} reads whether an instance (its one parameter) has ended.
     */
    private long runOne(Connection app, PreparedStatement start, PreparedStatement status, String runLabel,
                        Host host) throws SQLException {
        app.setAutoCommit(false);
        long started = System.nanoTime();
        String id;
        CountDownLatch ended;
        try {
            start.setString(1, runLabel);
            try (ResultSet rs = start.executeQuery()) {
                rs.next();
                id = rs.getString(1);
            }
            ended = finishes.single(id);
            app.commit();
        } finally {
            app.setAutoCommit(true);
        }
        status.setString(1, id);
        return finishes.awaitEnd(id, ended, POLL.toMillis(), started + settings.timeout().toNanos(), () -> {
            // In case it ended unreported: the worker reports every instance it ends.
            try (ResultSet rs = status.executeQuery()) {
                if (rs.next() && rs.getBoolean(1)) {
                    return true;
                }
            }
            host.check();
            return false;
        }, () -> "df workflow " + id + " did not finish within " + settings.timeout()
                + " (--timeout-seconds); see the worker log") - started;
    }

    /**
     * Rounds of the df workload that are not measured, each followed by {@code after}, until the
     * host's JIT settles or {@code rounds} ran.
     */
    private void warmUp(Connection admin, Connection app, Host host, int rounds, WarmupRounds.Round after)
            throws SQLException {
        if (settings.warmupInstances() <= 0) {
            return;
        }
        int steps = settings.steps();
        out.printf(Locale.ROOT, "%s: warm-up, rounds of %d workflows x %d steps ...%n", name,
                settings.warmupInstances(), steps);
        out.flush();
        int[] round = {0};
        WarmupRounds.repeat(out, name, rounds, host::compilerMillis, () -> {
            String warm = label + "-warmup-" + ++round[0];
            Finishes.Group started = start(app, warm, settings.warmupInstances(), steps);
            await(admin, warm, settings.warmupInstances(), host, started);
            after.run();
        });
        execute(admin, "TRUNCATE public.bench_df_rows");
    }

    /** Where the workflows run while they are measured. */
    interface Host extends AutoCloseable {
        /** Fails if the host stopped working; called while waiting. */
        void check() throws SQLException;

        /** CPU time so far, in ms, of the JIT compiler of the JVM that runs the workflows, or -1 if unknown. */
        double compilerMillis();

        /** Whether the host's worker reports each instance it ends to this benchmark (see {@link Finishes}). */
        boolean reportsEnds();

        @Override
        void close() throws SQLException;
    }

    /** A worker with the graph runtime in this process. */
    final class InProcessHost implements Host {
        private final GraphRuntime graph;
        private final Worker worker;

        InProcessHost() {
            String url = settings.jdbcUrl();
            graph = new GraphRuntime(url, settings.activityThreads(), settings.activityThreads(), Duration.ofSeconds(30));
            WorkerConfig config = WorkerConfig.builder(url)
                    .user(settings.user())
                    .password(settings.password())
                    .activityThreads(settings.activityThreads())
                    .maxActivitiesPerRole(settings.maxActivitiesPerRole())
                    .orchestrationThreads(settings.orchestrationThreads())
                    .turnBatchSize(settings.turnBatchSize())
                    .shortPath(settings.shortPath())
                    .onInstanceFinished(finishes)
                    .build();
            try {
                worker = Worker.start(config, graph.register(new Registry()), graph::attach);
            } catch (RuntimeException e) {
                graph.close();
                throw e;
            }
        }

        @Override
        public void check() {
        }

        @Override
        public double compilerMillis() {
            return WarmupRounds.compilerMillis();
        }

        @Override
        public boolean reportsEnds() {
            return true;
        }

        @Override
        public void close() {
            // The signal router stops before the worker's pool it uses closes.
            graph.detach();
            try {
                worker.close();
            } finally {
                graph.close();
            }
        }
    }

    /**
     * {@code SELECT df.run_worker(...)} on a connection of its own, cancelled when the measurement
     * is over. The thread settings of this benchmark do not apply: the in-database worker has its
     * own (one orchestration loop, four activity threads).
     */
    private final class InDatabaseHost implements Host {
        private final Connection connection;
        private final Statement statement;
        private final Thread thread;
        private final long backendPid;
        private volatile SQLException failure;
        private volatile String summary;

        InDatabaseHost(Connection admin) throws SQLException {
            try (Statement s = admin.createStatement();
                 ResultSet rs = s.executeQuery("SELECT to_regprocedure('df.run_worker(integer)') IS NOT NULL")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new DurableException("df.run_worker() is not installed in this database: the in-database"
                            + " scenario needs the PL/Java jar (psql -v jar=... -f pljava-deploy/install.sql)");
                }
            }
            long seconds = Math.min(3600, settings.timeout().toSeconds() * 2 + 60);
            connection = settings.connect(IN_DATABASE_HOST);
            statement = connection.createStatement();
            try (ResultSet rs = statement.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                backendPid = rs.getLong(1);
            }
            thread = new Thread(() -> {
                try (ResultSet rs = statement.executeQuery("SELECT df.run_worker(" + seconds + ")::text")) {
                    rs.next();
                    summary = rs.getString(1);
                } catch (SQLException e) {
                    failure = e;
                }
            }, IN_DATABASE_HOST);
            thread.setDaemon(true);
            thread.start();
            out.printf(Locale.ROOT, "%s: started SELECT df.run_worker(%d) in its own session%n", name, seconds);
            out.flush();
        }

        @Override
        public void check() throws SQLException {
            if (thread.isAlive()) {
                return;
            }
            if (failure != null) {
                throw new SQLException("df.run_worker() failed: " + failure.getMessage(), failure.getSQLState(), failure);
            }
            boolean refused = summary != null && !JsonCodec.tree(summary).path("ran").asBoolean(true);
            throw new DurableException("df.run_worker() returned early: " + summary + (refused
                    ? " (unschedule the scheduled in-database worker, df.unschedule_worker(), while benchmarking)" : ""));
        }

        /** The backend's JVM, PL/Java's: its compiler threads, when the database runs on this machine. */
        @Override
        public double compilerMillis() {
            return CostMeter.compilerCpuMillis(Long.toString(backendPid));
        }

        /** The in-database worker runs in another process: waiting polls the database. */
        @Override
        public boolean reportsEnds() {
            return false;
        }

        @Override
        public void close() throws SQLException {
            try {
                if (thread.isAlive()) {
                    statement.cancel();
                }
                thread.join(Duration.ofSeconds(30).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                connection.close();
            }
        }
    }

    /** The df scenarios' role (with df usage), and the table its steps write, emptied. */
    static void prepare(Connection admin) throws SQLException {
        try (Statement s = admin.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_regnamespace('df') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) {
                throw new DurableException("the df schema is not installed; run `pg-durable install --url <jdbc-url>` first");
            }
        }
        execute(admin, """
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'durable_bench') THEN
                        CREATE ROLE durable_bench LOGIN;
                    END IF;
                END $$""");
        execute(admin, "SELECT df.grant_usage('" + ROLE + "')");
        execute(admin, "CREATE TABLE IF NOT EXISTS public.bench_df_rows (id bigserial PRIMARY KEY, instance_id text NOT NULL,"
                + " step int NOT NULL)");
        execute(admin, "GRANT SELECT, INSERT ON public.bench_df_rows TO " + ROLE);
        execute(admin, "GRANT USAGE ON SEQUENCE public.bench_df_rows_id_seq TO " + ROLE);
        execute(admin, "TRUNCATE public.bench_df_rows");
    }

    /** The workflow: {@code steps} single-row INSERT steps in sequence. */
    static String workflow(int steps) {
        List<String> parts = new ArrayList<>();
        for (int i = 1; i <= steps; i++) {
            parts.add(step(i));
        }
        return String.join(" ~> ", parts);
    }

    /** Step {@code i} of a workflow: the row of its instance and step number. */
    private static String step(int i) {
        return "'INSERT INTO bench_df_rows (instance_id, step) VALUES (''{sys_instance_id}'', " + i + ")'";
    }

    /**
     * Starts {@code count} workflows of {@code steps} steps labelled {@code runLabel}, in one
     * transaction; returns the group that counts their ends as an in-process worker reports them
     * (registered before the start commits, so no end can come first).
     */
    Finishes.Group start(Connection app, String runLabel, int count, int steps) throws SQLException {
        String sql = "SELECT df.start(" + workflow(steps) + ", ?) FROM generate_series(1, ?)";
        app.setAutoCommit(false);
        try (PreparedStatement ps = app.prepareStatement(sql)) {
            ps.setString(1, runLabel);
            ps.setInt(2, count);
            List<String> ids = new ArrayList<>(count);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
            Finishes.Group started = finishes.members(ids);
            app.commit();
            return started;
        } finally {
            app.setAutoCommit(true);
        }
    }

    /**
     * Waits until the {@code count} workflows labelled {@code runLabel} (counted in {@code started},
     * from {@link #start}) have ended; returns {@link System#nanoTime()} then. An in-process worker
     * reports each end, so waiting reads the database only when no report came for a while (to
     * confirm, and in case an end went unreported); polling it every 20 ms, as for the in-database
     * worker, cost about a millisecond of database CPU per poll with 2,000 workflows, counted in the
     * scenario's cost line.
     */
    long await(Connection admin, String runLabel, int count, Host host, Finishes.Group started) throws SQLException {
        String unfinished = CostMeter.OWN_MARK
                + "SELECT count(*) FROM df.instances WHERE label = ? AND status IN ('pending', 'running')";
        LongFunction<String> late = left -> name + ": " + left + " of " + count + " df workflows were still unfinished";
        if (!host.reportsEnds()) {
            return pollCount(admin, unfinished, runLabel, left -> left == 0, host, late);
        }
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        try (PreparedStatement ps = admin.prepareStatement(unfinished)) {
            ps.setString(1, runLabel);
            while (true) {
                if (started.await(count, REPORT_CHECK.toMillis()) >= count) {
                    return System.nanoTime();
                }
                long left;
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    left = rs.getLong(1);
                }
                long now = System.nanoTime();
                if (left == 0) {
                    return now;
                }
                host.check();
                if (now > deadline) {
                    throw new DurableException(late.apply(left) + " after " + settings.timeout()
                            + " (--timeout-seconds); see the worker log");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DurableException("interrupted", e);
        } finally {
            finishes.forget(started);
        }
    }

    /**
     * Polls {@code countQuery} (one parameter: the run label) until {@code done} holds for its
     * count, checking the host meanwhile; returns when that was seen. Past the timeout it fails
     * with {@code late}'s description of the last count.
     */
    long pollCount(Connection admin, String countQuery, String runLabel, LongPredicate done, Host host,
                   LongFunction<String> late) throws SQLException {
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        try (PreparedStatement ps = admin.prepareStatement(countQuery)) {
            ps.setString(1, runLabel);
            while (true) {
                long count;
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    count = rs.getLong(1);
                }
                long now = System.nanoTime();
                if (done.test(count)) {
                    return now;
                }
                host.check();
                if (now > deadline) {
                    throw new DurableException(late.apply(count) + " after " + settings.timeout()
                            + " (--timeout-seconds); see the worker log");
                }
                try {
                    Thread.sleep(POLL.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new DurableException("interrupted", e);
                }
            }
        }
    }

    LatencyStats latencies(Connection admin, String runLabel) throws SQLException {
        List<Long> nanos = new ArrayList<>();
        try (PreparedStatement ps = admin.prepareStatement(CostMeter.OWN_MARK + """
                SELECT (extract(epoch FROM completed_at - created_at) * 1e9)::bigint
                  FROM df.instances WHERE label = ? AND completed_at IS NOT NULL""")) {
            ps.setString(1, runLabel);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    nanos.add(rs.getLong(1));
                }
            }
        }
        return LatencyStats.ofNanos(nanos.stream().mapToLong(Long::longValue).toArray());
    }

    BenchmarkReport.Verification verify(Connection admin, String runLabel, long expectedRows, long expectedInstances)
            throws SQLException {
        long rows;
        long distinct;
        try (Statement s = admin.createStatement();
             ResultSet rs = s.executeQuery(CostMeter.OWN_MARK
                     + "SELECT count(*), count(DISTINCT (instance_id, step)) FROM public.bench_df_rows")) {
            rs.next();
            rows = rs.getLong(1);
            distinct = rs.getLong(2);
        }
        try (PreparedStatement ps = admin.prepareStatement(CostMeter.OWN_MARK + """
                SELECT count(*) FILTER (WHERE i.status = 'completed'),
                       min(n.result::text) FILTER (WHERE n.status = 'failed')
                  FROM df.instances i LEFT JOIN df.nodes n ON n.instance_id = i.id AND n.status = 'failed'
                 WHERE i.label = ?""")) {
            ps.setString(1, runLabel);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new BenchmarkReport.Verification(name, expectedRows, rows, distinct, expectedInstances,
                        rs.getLong(1), rs.getString(2));
            }
        }
    }

    /** The workflows' role logs in like the worker's step connections do: no password, its own defaults. */
    static Connection connectAsRole(BenchmarkSettings settings) throws SQLException {
        return ConnectionSpec.fromUrl(settings.jdbcUrl()).forStep(ROLE, null)
                .withApplicationName("pg-durable bench df client").open();
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
