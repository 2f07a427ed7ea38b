package io.pgdurable.bench;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The df-start scenario: what {@code df.start} costs its caller as the graph grows. For each
 * chain length of {@link #CHAINS}, {@code --latency-samples} single {@code df.start} calls of a
 * chain of that many SQL steps, built with {@code ~>} in the calling statement itself (as a
 * user writes it), run as the bench role, each in a transaction that is rolled back: no workflow
 * runs, nothing stays, and no worker is needed. Each call is timed by the client, from sending
 * the statement to its result (the {@code BEGIN} travels with it; the rollback is not timed).
 * Until 2026-12-06 the builders decoded the chain built so far at every {@code ~>}, and the time
 * grew with the square of the length.
 */
final class DfStartBenchmark {
    /** The chain lengths measured: one step, the df scenario's ten, and long chains (a graph is at most 256 deep). */
    static final int[] CHAINS = {1, 10, 100, 250};
    /** Unmeasured calls per length first: the session compiles the functions a start calls on its first use. */
    private static final int WARMUP_CALLS = 20;
    private static final String LABEL = "bench-df-start";

    private final BenchmarkSettings settings;
    private final PrintWriter out;

    DfStartBenchmark(BenchmarkSettings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
    }

    /**
     * One measurement per length of {@link #CHAINS}; each one's cost goes to {@code costs} as
     * {@code df-start-<n>}, per call.
     */
    List<BenchmarkReport.Starts> run(Connection admin, CostMeter meter, Map<String, CostMeter.Cost> costs)
            throws SQLException {
        DfBenchmark.prepare(admin);
        int samples = settings.latencySamples();
        out.printf(Locale.ROOT, "df-start: %d single df.start calls of a chain of n SQL steps built with ~>,"
                + " each rolled back, for n = %s (after %d unmeasured each) ...%n", samples,
                Arrays.stream(CHAINS).mapToObj(String::valueOf).collect(Collectors.joining(", ")), WARMUP_CALLS);
        out.flush();
        List<BenchmarkReport.Starts> results = new ArrayList<>();
        try (Connection app = DfBenchmark.connectAsRole(settings)) {
            app.setAutoCommit(false);
            for (int steps : CHAINS) {
                try (PreparedStatement start = app.prepareStatement(statement(steps))) {
                    for (int i = 0; i < WARMUP_CALLS; i++) {
                        call(app, start);
                    }
                    long[] nanos = new long[samples];
                    CostMeter.Mark mark = meter.start(admin);
                    for (int i = 0; i < samples; i++) {
                        nanos[i] = call(app, start);
                    }
                    costs.put("df-start-" + steps, meter.stop(admin, mark, samples));
                    BenchmarkReport.Starts result = new BenchmarkReport.Starts(steps, LatencyStats.ofNanos(nanos));
                    out.printf(Locale.ROOT, "df-start: %d steps: %s%n", steps, result.stats());
                    out.flush();
                    results.add(result);
                }
            }
        }
        return results;
    }

    /** The statement that starts a chain of {@code steps} SQL steps, the chain written with {@code ~>}. */
    static String statement(int steps) {
        return "SELECT df.start(" + DfBenchmark.workflow(steps) + ", '" + LABEL + "')";
    }

    /** One start, rolled back; returns its time in nanoseconds. */
    private static long call(Connection app, PreparedStatement start) throws SQLException {
        long started = System.nanoTime();
        try (ResultSet rs = start.executeQuery()) {
            if (!rs.next() || rs.getString(1) == null) {
                throw new SQLException("df.start returned no instance id");
            }
        }
        long took = System.nanoTime() - started;
        app.rollback();
        return took;
    }
}
