package io.pgdurable.bench;

import io.pgdurable.db.ConnectionSpec;
import io.pgdurable.engine.DurableException;
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
import java.util.Locale;
import java.util.UUID;
import java.util.function.BooleanSupplier;

/**
 * The fairness scenario: one role floods the worker with one-step workflows whose steps each sleep
 * a little ({@code pg_sleep}), and once the flood is running a second role starts a single
 * one-step workflow. The figure is how many of the flood's steps finished after the second role's
 * {@code df.start} and before its step ran, counted with one sequence that every step draws from
 * when it finishes, so it does not depend on timing. First in, first out, it is nearly the whole
 * flood; with fair claims it is a few steps per thread. The second role's df.start-to-completed
 * time is shown too, and every step's row is checked to exist exactly once.
 */
public final class FairnessBenchmark {
    /** The flooding role: the df scenario's role. */
    static final String FLOOD_ROLE = DfBenchmark.ROLE;
    /** The role that starts one workflow while the flood runs; created if missing. */
    static final String OTHER_ROLE = "durable_bench_other";
    private static final Duration POLL = Duration.ofMillis(5);

    private final BenchmarkSettings settings;
    private final PrintWriter out;
    private final int floodInstances;
    private final Duration floodStep;
    private final String label = "bench-fair-" + UUID.randomUUID().toString().substring(0, 8);
    private final String warmupLabel = label.replace("bench-fair-", "bench-fair-warmup-");

    /** With the settings' flood size and step duration. */
    public FairnessBenchmark(BenchmarkSettings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
        this.floodInstances = settings.fairnessFlood();
        this.floodStep = settings.fairnessStep();
    }

    /** Runs the scenario on a worker of its own, with the benchmark's thread settings. */
    public BenchmarkReport.Fairness run(Connection admin) throws SQLException {
        prepare(admin);
        String url = settings.jdbcUrl();
        int threads = settings.activityThreads();
        WorkerConfig config = WorkerConfig.builder(url)
                .user(settings.user())
                .password(settings.password())
                .activityThreads(threads)
                .maxActivitiesPerRole(settings.maxActivitiesPerRole())
                .orchestrationThreads(settings.orchestrationThreads())
                .turnBatchSize(settings.turnBatchSize())
                .shortPath(settings.shortPath())
                .build();
        out.printf(Locale.ROOT, "fairness: role %s starts %d one-step workflows (%d ms steps); once they run, role %s"
                        + " starts one (%d activity threads, at most %d per role) ...%n",
                FLOOD_ROLE, floodInstances, floodStep.toMillis(), OTHER_ROLE, threads, config.maxActivitiesPerRole());
        out.flush();
        try (GraphRuntime graph = new GraphRuntime(url, threads, threads, Duration.ofSeconds(30));
             Worker worker = Worker.start(config, graph.register(new Registry()), graph::attach);
             Connection flood = connectAs(FLOOD_ROLE);
             Connection other = connectAs(OTHER_ROLE)) {
            // One workflow of each role first, so that both roles' step connections are open and
            // the figure measures scheduling, not logging in.
            String warmFlood = text(flood, "SELECT df.start('SELECT 1', ?)", warmupLabel);
            String warmOther = text(other, "SELECT df.start('SELECT 1', ?)", warmupLabel);
            awaitCondition(() -> "completed".equals(status(admin, warmFlood))
                    && "completed".equals(status(admin, warmOther)), "the warm-up workflows");
            startFlood(flood);
            awaitCondition(() -> floodSteps(admin) >= 2L * threads, "the flood's first " + 2 * threads + " steps");
            long mark = single(admin, "SELECT nextval('public.bench_fair_seq')");
            long started = System.nanoTime();
            String otherId = text(other, "SELECT df.start('INSERT INTO public.bench_fair_steps (seq, role, instance_id)"
                    + " SELECT nextval(''public.bench_fair_seq''), ''other'', ''{sys_instance_id}''', ?)", label + "-other");
            awaitCondition(() -> "completed".equals(status(admin, otherId)), "the other role's workflow");
            Duration otherLatency = Duration.ofNanos(System.nanoTime() - started);
            long floodDone = floodSteps(admin);
            long before = single(admin, "SELECT count(*) FROM public.bench_fair_steps WHERE role = 'flood' AND seq > " + mark
                    + " AND seq < (SELECT seq FROM public.bench_fair_steps WHERE role = 'other')");
            awaitCondition(() -> unfinished(admin) == 0, "the flood's workflows");
            BenchmarkReport.Verification check = verify(admin);
            BenchmarkReport.Fairness result = new BenchmarkReport.Fairness(floodInstances,
                    floodStep, threads, config.maxActivitiesPerRole(), before, floodDone,
                    otherLatency, check);
            out.printf(Locale.ROOT, "fairness: %d flood steps finished between the other role's df.start and its step"
                            + " (%d of %d flood steps done when it completed); other df.start->completed %s%n",
                    before, floodDone, floodInstances, LatencyStats.millis(otherLatency.toNanos()));
            out.printf(Locale.ROOT, "fairness: rows %s%n", check.describe());
            out.flush();
            return result;
        }
    }

    private void prepare(Connection admin) throws SQLException {
        try (Statement s = admin.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_regnamespace('df') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) {
                throw new DurableException("the df schema is not installed; run `pg-durable install --url <jdbc-url>` first");
            }
        }
        for (String role : new String[] {FLOOD_ROLE, OTHER_ROLE}) {
            execute(admin, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + role + "') THEN"
                    + " CREATE ROLE " + role + " LOGIN; END IF; END $$");
            execute(admin, "SELECT df.grant_usage('" + role + "')");
        }
        execute(admin, "CREATE TABLE IF NOT EXISTS public.bench_fair_steps (seq bigint PRIMARY KEY, role text NOT NULL,"
                + " instance_id text NOT NULL)");
        execute(admin, "CREATE SEQUENCE IF NOT EXISTS public.bench_fair_seq");
        execute(admin, "GRANT SELECT, INSERT ON public.bench_fair_steps TO " + FLOOD_ROLE + ", " + OTHER_ROLE);
        execute(admin, "GRANT USAGE ON SEQUENCE public.bench_fair_seq TO " + FLOOD_ROLE + ", " + OTHER_ROLE);
        execute(admin, "TRUNCATE public.bench_fair_steps");
    }

    /** Every flood workflow in one transaction; each step draws its number when its sleep ends. */
    private void startFlood(Connection flood) throws SQLException {
        String step = "'INSERT INTO public.bench_fair_steps (seq, role, instance_id) SELECT nextval(''public.bench_fair_seq''),"
                + " ''flood'', ''{sys_instance_id}'' FROM pg_sleep(" + floodStep.toMillis() / 1000.0 + ")'";
        flood.setAutoCommit(false);
        try (PreparedStatement ps = flood.prepareStatement(
                "SELECT count(df.start(" + step + ", ?)) FROM generate_series(1, ?)")) {
            ps.setString(1, label + "-flood");
            ps.setInt(2, floodInstances);
            ps.executeQuery().close();
            flood.commit();
        } finally {
            flood.setAutoCommit(true);
        }
    }

    private long floodSteps(Connection admin) {
        return uncheckedSingle(admin, "SELECT count(*) FROM public.bench_fair_steps WHERE role = 'flood'");
    }

    private long unfinished(Connection admin) {
        return uncheckedSingle(admin, "SELECT count(*) FROM df.instances WHERE label LIKE '" + label
                + "-%' AND status IN ('pending', 'running')");
    }

    private String status(Connection admin, String id) {
        try (PreparedStatement ps = admin.prepareStatement("SELECT status FROM df.instances WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                String status = rs.next() ? rs.getString(1) : null;
                if ("failed".equals(status) || "cancelled".equals(status)) {
                    throw new DurableException("fairness: the other role's workflow " + id + " is " + status);
                }
                return status;
            }
        } catch (SQLException e) {
            throw new DurableException("fairness: " + e.getMessage(), e);
        }
    }

    private BenchmarkReport.Verification verify(Connection admin) throws SQLException {
        long rows = single(admin, "SELECT count(*) FROM public.bench_fair_steps");
        long distinct = single(admin, "SELECT count(DISTINCT instance_id) FROM public.bench_fair_steps");
        try (PreparedStatement ps = admin.prepareStatement("""
                SELECT count(*) FILTER (WHERE i.status = 'completed'),
                       min(n.result::text) FILTER (WHERE n.status = 'failed')
                  FROM df.instances i LEFT JOIN df.nodes n ON n.instance_id = i.id AND n.status = 'failed'
                 WHERE i.label LIKE ?""")) {
            ps.setString(1, label + "-%");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new BenchmarkReport.Verification("fairness", floodInstances + 1L, rows, distinct,
                        floodInstances + 1L, rs.getLong(1), rs.getString(2));
            }
        }
    }

    private void awaitCondition(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new DurableException("fairness: gave up waiting for " + what + " after " + settings.timeout()
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

    /** The roles log in like the worker's step connections do: no password. */
    private Connection connectAs(String role) throws SQLException {
        return ConnectionSpec.fromUrl(settings.jdbcUrl()).withUser(role)
                .withApplicationName("pg-durable bench fairness client").open();
    }

    private static long uncheckedSingle(Connection c, String sql) {
        try {
            return single(c, sql);
        } catch (SQLException e) {
            throw new DurableException("fairness: " + e.getMessage(), e);
        }
    }

    private static long single(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String text(Connection c, String sql, String param) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, param);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
