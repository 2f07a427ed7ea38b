package io.pgdurable.bench;

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

/**
 * Whether cost grows with history: the df workload (workflows of SQL steps started with
 * {@code df.start}) and single {@code df.start} calls, measured with 0, 100,000 and 1,000,000
 * finished instances already in the database, then once more with 10,000 instances waiting on
 * signals at the same time. The finished instances are written directly, as a long-running
 * database would hold them between reconciliation passes: a {@code df.instances} row, three
 * {@code df.nodes} rows (a sequence of two SQL steps), and the engine's instance, execution and
 * two history rows, all of the benchmark's role. Nothing removes them afterwards; run it on a
 * throwaway database.
 */
final class ScaleBenchmark {
    /** Nodes of each finished instance written as history. */
    private static final int NODES_PER_INSTANCE = 3;
    private static final int WAITING_PER_TRANSACTION = 1_000;
    /** SQLSTATE of a CHECKPOINT refused to a role without the privilege. */
    private static final String INSUFFICIENT_PRIVILEGE = "42501";

    private final BenchmarkSettings settings;
    private final PrintWriter out;
    private final String tag = UUID.randomUUID().toString().substring(0, 8);

    ScaleBenchmark(BenchmarkSettings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
    }

    List<BenchmarkReport.ScaleLevel> run(Connection admin, CostMeter meter, Map<String, CostMeter.Cost> costs)
            throws SQLException {
        DfBenchmark df = new DfBenchmark(settings, out, Scenario.DF);
        DfBenchmark.prepare(admin);
        List<BenchmarkReport.ScaleLevel> levels = new ArrayList<>();
        long history = countFinished(admin);
        try (DfBenchmark.Host host = df.new InProcessHost(); Connection app = DfBenchmark.connectAsRole(settings)) {
            for (int target : settings.scaleHistory()) {
                if (target > history) {
                    out.printf(Locale.ROOT, "scale: writing %d finished instances of history ...%n", target - history);
                    out.flush();
                    writeHistory(admin, history, target - history);
                    history = target;
                }
                String name = "history " + target;
                warmUp(admin, app, df, host, name);
                levels.add(measure(admin, app, df, host, meter, costs, name, history, 0));
            }
            int waiting = settings.scaleWaiting();
            if (waiting > 0) {
                String waitLabel = "bench-scale-" + tag + "-waiting";
                out.printf(Locale.ROOT, "scale: starting %d workflows that wait for a signal ...%n", waiting);
                out.flush();
                startWaiting(app, waitLabel, waiting);
                awaitWaiting(admin, df, waitLabel, waiting, host);
                warmUp(admin, app, df, host, "waiting " + waiting);
                levels.add(measure(admin, app, df, host, meter, costs, "waiting " + waiting, history, waiting));
                cancel(app, waitLabel);
            }
        }
        return levels;
    }

    /**
     * Before each level: full rounds of the workload (not just --warmup-instances), until the
     * worker's JIT compiler settles or --warmup-rounds ran. The levels are compared with each
     * other, and one measured while the JIT still compiles looks slow: the first level otherwise,
     * and a later one too, after writing the history (a run measured 0.62 ms of compiler CPU per
     * step at a million finished instances, against 0.13 ms at none).
     */
    private void warmUp(Connection admin, Connection app, DfBenchmark df, DfBenchmark.Host host, String level)
            throws SQLException {
        if (settings.warmupInstances() <= 0) {
            return;
        }
        int warmup = Math.max(settings.warmupInstances(), settings.instances());
        out.printf(Locale.ROOT, "scale: warm-up before %s, rounds of %d workflows x %d steps ...%n", level, warmup,
                settings.steps());
        out.flush();
        int[] round = {0};
        WarmupRounds.repeat(out, "scale", settings.warmupRounds(), host::compilerMillis, () -> {
            String warm = "bench-scale-" + tag + "-warmup-" + level.replace(' ', '-') + "-" + ++round[0];
            Finishes.Group started = df.start(app, warm, warmup, settings.steps());
            df.await(admin, warm, warmup, host, started);
        });
    }

    private BenchmarkReport.ScaleLevel measure(Connection admin, Connection app, DfBenchmark df, DfBenchmark.Host host,
                                               CostMeter meter, Map<String, CostMeter.Cost> costs, String name,
                                               long history, int waiting) throws SQLException {
        int instances = settings.instances();
        int steps = settings.steps();
        String label = "bench-scale-" + tag + "-" + name.replace(' ', '-');
        out.printf(Locale.ROOT, "scale %s: %d workflows x %d SQL steps ...%n", name, instances, steps);
        out.flush();
        execute(admin, "TRUNCATE public.bench_df_rows");
        CostMeter.Mark mark = meter.start(admin);
        long started = System.nanoTime();
        Finishes.Group run = df.start(app, label, instances, steps);
        long finished = df.await(admin, label, instances, host, run);
        costs.put("scale " + name, meter.stop(admin, mark, (long) instances * steps));
        Duration wall = Duration.ofNanos(finished - started);
        BenchmarkReport.Verification check = df.verify(admin, label, (long) instances * steps, instances);
        BenchmarkReport.Throughput throughput = new BenchmarkReport.Throughput(instances, steps, wall,
                df.latencies(admin, label), check);
        LatencyStats starts = timeStarts(app, label + "-start");
        long rss = CostMeter.jvmResidentBytes();
        out.printf(Locale.ROOT, "scale %s: %.0f steps/s; df.start %s; worker JVM RSS %d MB; rows %s%n", name,
                throughput.stepsPerSecond(), starts, rss >> 20, check.describe());
        out.flush();
        return new BenchmarkReport.ScaleLevel(name, history, waiting, throughput, starts, rss);
    }

    /** Single df.start calls of a one-step workflow, each its own transaction, timed by the client. */
    private LatencyStats timeStarts(Connection app, String label) throws SQLException {
        int samples = settings.latencySamples();
        long[] nanos = new long[samples];
        try (PreparedStatement ps = app.prepareStatement("SELECT df.start('SELECT 1', ?)")) {
            ps.setString(1, label);
            for (int i = 0; i < samples; i++) {
                long t = System.nanoTime();
                ps.executeQuery().close();
                nanos[i] = System.nanoTime() - t;
            }
        }
        return LatencyStats.ofNanos(nanos);
    }

    /**
     * Writes {@code count} finished instances after the {@code already} written before, in one
     * transaction per table. Ids come from a counter and skip any id in use.
     */
    private void writeHistory(Connection admin, long already, long count) throws SQLException {
        long from = 0x40000000L + already;
        long to = from + count - 1;
        boolean autoCommit = admin.getAutoCommit();
        admin.setAutoCommit(false);
        try {
            execute(admin, "CREATE TEMP TABLE bench_scale_ids ON COMMIT DROP AS"
                    + " SELECT lpad(to_hex(n), 8, '0') AS id,"
                    + "        now() - interval '1 day' + n * interval '1 microsecond' AS at"
                    + "   FROM generate_series(" + from + "::bigint, " + to + "::bigint) AS n"
                    + "  WHERE NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = lpad(to_hex(n), 8, '0'))");
            String role = "'" + DfBenchmark.ROLE + "'::regrole";
            execute(admin, "INSERT INTO df.instances (id, label, root_node, status, submitted_by, created_at,"
                    + " updated_at, completed_at, terminal_at)"
                    + " SELECT id, 'bench-scale-history', '00000001', 'completed', " + role + ", at, at, at, at"
                    + "   FROM bench_scale_ids");
            execute(admin, "INSERT INTO df.nodes (id, instance_id, node_type, query, left_node, right_node, status,"
                    + " result, submitted_by)"
                    + " SELECT n.id, s.id, n.type, n.query, n.l, n.r, 'completed', n.result, " + role
                    + "   FROM bench_scale_ids s CROSS JOIN (VALUES"
                    + "        ('00000001', 'THEN', NULL, '00000002', '00000003', NULL::jsonb),"
                    + "        ('00000002', 'SQL', 'SELECT 1', NULL, NULL, '{\"?column?\": 1}'::jsonb),"
                    + "        ('00000003', 'SQL', 'SELECT 2', NULL, NULL, '{\"?column?\": 2}'::jsonb))"
                    + "        AS n(id, type, query, l, r, result)");
            execute(admin, "INSERT INTO df_engine.instances (id, name, status, output, partition_key, created_at,"
                    + " updated_at, completed_at)"
                    + " SELECT id, 'df.function_graph', 'Completed', '{}', '" + DfBenchmark.ROLE + "', at, at, at"
                    + "   FROM bench_scale_ids ON CONFLICT (id) DO NOTHING");
            execute(admin, "INSERT INTO df_engine.executions (instance_id, execution_id, status, event_count,"
                    + " started_at, ended_at)"
                    + " SELECT id, 1, 'Completed', 2, at, at FROM bench_scale_ids ON CONFLICT DO NOTHING");
            execute(admin, "INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)"
                    + " SELECT id, 1, e, CASE e WHEN 1 THEN 'ExecutionStarted' ELSE 'ExecutionCompleted' END, at"
                    + "   FROM bench_scale_ids CROSS JOIN generate_series(1, 2) AS e ON CONFLICT DO NOTHING");
            admin.commit();
        } catch (SQLException | RuntimeException e) {
            admin.rollback();
            throw e;
        } finally {
            admin.setAutoCommit(autoCommit);
        }
        // Vacuumed now rather than by autovacuum in the middle of the next measurement.
        for (String table : List.of("df.instances", "df.nodes", "df_engine.instances", "df_engine.executions",
                "df_engine.history")) {
            execute(admin, "VACUUM (ANALYZE) " + table);
        }
        // And the WAL of all that checkpointed now, not by a checkpoint spread over the next
        // measurement (whose first change to each page then writes the whole page again).
        try {
            execute(admin, "CHECKPOINT");
        } catch (SQLException e) {
            if (!INSUFFICIENT_PRIVILEGE.equals(e.getSQLState())) {
                throw e;
            }
            out.printf(Locale.ROOT, "scale: no CHECKPOINT after writing the history (%s); a checkpoint may"
                    + " overlap the next measurement%n", e.getMessage());
            out.flush();
        }
    }

    private void startWaiting(Connection app, String label, int count) throws SQLException {
        app.setAutoCommit(false);
        try (PreparedStatement ps = app.prepareStatement(
                "SELECT df.start(df.wait_for_signal('bench_go'), ?) FROM generate_series(1, ?)")) {
            for (int done = 0; done < count; done += WAITING_PER_TRANSACTION) {
                ps.setString(1, label);
                ps.setInt(2, Math.min(WAITING_PER_TRANSACTION, count - done));
                ps.executeQuery().close();
                app.commit();
            }
        } finally {
            app.setAutoCommit(true);
        }
    }

    /** Until every waiting workflow has opened its signal wait. */
    private static void awaitWaiting(Connection admin, DfBenchmark df, String label, int count, DfBenchmark.Host host)
            throws SQLException {
        df.pollCount(admin, CostMeter.OWN_MARK + """
                SELECT count(*) FROM df.signal_waits w JOIN df.instances i ON i.id = w.instance_id
                 WHERE i.label = ?""", label, open -> open >= count, host,
                open -> "scale: only " + open + " of " + count + " workflows were waiting for their signal");
    }

    private static void cancel(Connection app, String label) throws SQLException {
        try (PreparedStatement ps = app.prepareStatement(
                "SELECT count(df.cancel(i.id)) FROM df.instances i WHERE i.label = ? AND i.status IN ('pending', 'running')")) {
            ps.setString(1, label);
            ps.executeQuery().close();
        }
    }

    private static long countFinished(Connection admin) throws SQLException {
        try (Statement s = admin.createStatement();
             ResultSet rs = s.executeQuery(CostMeter.OWN_MARK
                     + "SELECT count(*) FROM df.instances WHERE label = 'bench-scale-history'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
