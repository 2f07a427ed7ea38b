package io.pgdurable.bench;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Optional;

/** The figures of one benchmark run; a scenario that did not run has no entry. */
public final class BenchmarkReport {

    /** Raw commit rate: {@code threads} clients doing autocommit single-row INSERTs. */
    public record Ceiling(int threads, long inserts, Duration elapsed) {
        public double insertsPerSecond() {
            return inserts / seconds(elapsed);
        }
    }

    /**
     * The floor scenario: {@code steps} short-path steps' writes committed without the engine in
     * {@code elapsed}, and what the check after it found for all {@code written} steps (the
     * unmeasured ones included): the steps' rows, their distinct steps and their history events.
     */
    public record Floor(int threads, long steps, Duration elapsed, long written, long rows, long distinctRows,
                        long events) {
        public double stepsPerSecond() {
            return steps / seconds(elapsed);
        }

        /** Every step committed whole: one row of its own and three history events. */
        public boolean ok() {
            return rows == written && distinctRows == written && events == 3 * written;
        }

        /** {@code OK}, or {@code MISMATCH} and what differs. */
        public String describe() {
            return ok() ? "OK (" + written + " steps, each one row and three history events)"
                    : "MISMATCH: " + rows + " rows (" + distinctRows + " distinct steps) and " + events
                            + " history events for " + written + " steps, expected one row and three events each";
        }
    }

    /**
     * One loop of the completion scenario: {@code calls} calls of {@code df_engine.complete_and_advance}
     * with {@code turn} turns ({@code engine} or {@code df}) in one session in {@code elapsed}, and
     * what the orchestration they drove holds afterwards: its history events and its queue items.
     */
    public record Completion(String turn, long calls, Duration elapsed, long events, long queued) {
        public double microsPerCall() {
            return elapsed.toNanos() / 1000.0 / calls;
        }

        /** Every call took the short path: three events each after the first, one item left leased. */
        public boolean ok() {
            return events == 1 + 3 * calls && queued == 1;
        }

        /** {@code OK}, or {@code MISMATCH} and what differs. */
        public String describe() {
            return ok() ? "OK (" + events + " history events, the last step leased)"
                    : "MISMATCH: " + events + " history events and " + queued + " queue items after " + calls
                            + " calls, expected " + (1 + 3 * calls) + " events and one item";
        }
    }

    /** {@code instances} orchestrations of {@code steps} activities each, started at once. */
    public record Throughput(int instances, int steps, Duration wall, LatencyStats instanceLatency,
                             Verification verification) {
        public double stepsPerSecond() {
            return (double) instances * steps / seconds(wall);
        }
    }

    /** Start-to-completed times of single-step orchestrations run one at a time, seen by the client. */
    public record Latency(LatencyStats stats, Verification verification) {
    }

    /** Single df.start calls of a chain of {@code steps} SQL steps, each rolled back, timed by the client. */
    public record Starts(int steps, LatencyStats stats) {
    }

    /**
     * One orchestration of {@code steps} sequential activities against the median of short
     * {@code referenceSteps}-step runs.
     */
    public record LongWorkflow(int steps, Duration total, int referenceSteps, Duration referenceTotal,
                               Verification verification) {
        public double perStepNanos() {
            return (double) total.toNanos() / steps;
        }

        public double referencePerStepNanos() {
            return (double) referenceTotal.toNanos() / referenceSteps;
        }

        /** Per-step cost of the long run over that of the short one; 1.0 means no slowdown with length. */
        public double ratio() {
            return perStepNanos() / referencePerStepNanos();
        }
    }

    /**
     * The fairness scenario: {@code floodInstances} one-step workflows of one role, each step
     * taking {@code floodStep}, then one workflow of another role. {@code floodStepsBeforeOther}
     * of the flood's steps finished between the other role's df.start and its step;
     * {@code floodStepsDone} had finished when its workflow completed.
     */
    public record Fairness(int floodInstances, Duration floodStep, int threads, int perRole,
                           long floodStepsBeforeOther, long floodStepsDone, Duration otherLatency,
                           Verification verification) {
    }

    /**
     * One measurement of the scale scenario: with {@code history} finished instances in the
     * database and {@code waiting} workflows waiting on a signal, the df workload's throughput,
     * the client's time for single df.start calls, and the worker JVM's resident memory.
     */
    public record ScaleLevel(String name, long history, int waiting, Throughput df, LatencyStats starts,
                             long residentBytes) {
    }

    /**
     * What a scenario left behind: every instance should have completed, and {@code bench_rows}
     * should hold one row per activity, no more (exactly-once) and no fewer.
     */
    public record Verification(String scenario, long expectedRows, long rows, long distinctRows,
                               long expectedInstances, long completedInstances, String firstFailure) {
        public boolean ok() {
            return rows == expectedRows && distinctRows == expectedRows && completedInstances == expectedInstances;
        }

        /** {@code OK}, or {@code MISMATCH} and what differs. */
        public String describe() {
            if (ok()) {
                return "OK (" + rows + " rows, " + completedInstances + " instances completed)";
            }
            StringBuilder s = new StringBuilder("MISMATCH: ").append(rows).append(" rows (")
                    .append(distinctRows).append(" distinct instance/step pairs), expected ").append(expectedRows)
                    .append("; ").append(completedInstances).append(" of ").append(expectedInstances)
                    .append(" instances completed");
            if (firstFailure != null) {
                s.append("; first failure: ").append(firstFailure);
            }
            return s.toString();
        }
    }

    private final Ceiling ceiling;
    private final Floor floor;
    private final List<Completion> completion;
    private final Throughput throughput;
    private final Latency latency;
    private final Latency latencyInJvm;
    private final LongWorkflow longWorkflow;
    private final Throughput df;
    private final Latency dfLatency;
    private final Latency dfJoin;
    private final List<Starts> dfStart;
    private final Throughput inDatabase;
    private final Fairness fairness;
    private final List<ScaleLevel> scale;
    private final Map<String, CostMeter.Cost> costs;

    BenchmarkReport(Ceiling ceiling, Floor floor, List<Completion> completion, Throughput throughput,
                    Latency latency, Latency latencyInJvm, LongWorkflow longWorkflow, Throughput df,
                    Latency dfLatency, Latency dfJoin, List<Starts> dfStart, Throughput inDatabase,
                    Fairness fairness, List<ScaleLevel> scale, Map<String, CostMeter.Cost> costs) {
        this.ceiling = ceiling;
        this.floor = floor;
        this.completion = List.copyOf(completion);
        this.throughput = throughput;
        this.latency = latency;
        this.latencyInJvm = latencyInJvm;
        this.longWorkflow = longWorkflow;
        this.df = df;
        this.dfLatency = dfLatency;
        this.dfJoin = dfJoin;
        this.dfStart = List.copyOf(dfStart);
        this.inDatabase = inDatabase;
        this.fairness = fairness;
        this.scale = List.copyOf(scale);
        this.costs = new LinkedHashMap<>(costs);
    }

    /** The fairness scenario: one role's flood against another role's single workflow. */
    public Optional<Fairness> fairness() {
        return Optional.ofNullable(fairness);
    }

    /** The scale scenario's measurements, in order; empty when it did not run. */
    public List<ScaleLevel> scale() {
        return scale;
    }

    /** The control-plane scenario: df workflows of SQL steps started with df.start. */
    public Optional<Throughput> df() {
        return Optional.ofNullable(df);
    }

    /** Single-step df workflows, one at a time, from the df.start call to their end. */
    public Optional<Latency> dfLatency() {
        return Optional.ofNullable(dfLatency);
    }

    /** Workflows of a JOIN of two one-step branches and a step, one at a time; empty unless named. */
    public Optional<Latency> dfJoin() {
        return Optional.ofNullable(dfJoin);
    }

    /** Single df.start calls of chains of growing length, one measurement per length; empty unless named. */
    public List<Starts> dfStart() {
        return dfStart;
    }

    /** The df workload run by df.run_worker inside a backend (PL/Java). */
    public Optional<Throughput> inDatabase() {
        return Optional.ofNullable(inDatabase);
    }

    public Optional<Ceiling> ceiling() {
        return Optional.ofNullable(ceiling);
    }

    /** A short-path step's writes without the engine; empty unless named. */
    public Optional<Floor> floor() {
        return Optional.ofNullable(floor);
    }

    /** The database's side of a short-path step alone, engine turns then df turns; empty unless named. */
    public List<Completion> completion() {
        return completion;
    }

    public Optional<Throughput> throughput() {
        return Optional.ofNullable(throughput);
    }

    public Optional<Latency> latency() {
        return Optional.ofNullable(latency);
    }

    /** The latency scenario's single-step orchestrations started with {@code Worker.startOrchestration}. */
    public Optional<Latency> latencyInJvm() {
        return Optional.ofNullable(latencyInJvm);
    }

    public Optional<LongWorkflow> longWorkflow() {
        return Optional.ofNullable(longWorkflow);
    }

    /** The row and instance checks of every engine scenario that ran. */
    public List<Verification> verifications() {
        List<Verification> all = new ArrayList<>();
        throughput().ifPresent(t -> all.add(t.verification()));
        latency().ifPresent(l -> all.add(l.verification()));
        latencyInJvm().ifPresent(l -> all.add(l.verification()));
        longWorkflow().ifPresent(l -> all.add(l.verification()));
        df().ifPresent(d -> all.add(d.verification()));
        dfLatency().ifPresent(l -> all.add(l.verification()));
        dfJoin().ifPresent(l -> all.add(l.verification()));
        inDatabase().ifPresent(d -> all.add(d.verification()));
        fairness().ifPresent(f -> all.add(f.verification()));
        scale.forEach(l -> all.add(l.df().verification()));
        return all;
    }

    /** True when every check passed. */
    public boolean ok() {
        return problems().isEmpty();
    }

    /** Each check that failed, as {@code <scenario>: <what differs>}. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        floor().filter(f -> !f.ok()).ifPresent(f -> problems.add("floor: " + f.describe()));
        completion().stream().filter(c -> !c.ok())
                .forEach(c -> problems.add("completion " + c.turn() + ": " + c.describe()));
        verifications().stream().filter(v -> !v.ok()).forEach(v -> problems.add(v.scenario() + ": " + v.describe()));
        return problems;
    }

    /** The summary block: one line per scenario that ran. */
    public void printSummary(PrintWriter out) {
        out.println();
        out.println("summary");
        ceiling().ifPresent(c -> out.printf(Locale.ROOT,
                "ceiling            insert commits/s   %-8.0f (%d threads, %.1f s)%n",
                c.insertsPerSecond(), c.threads(), seconds(c.elapsed())));
        floor().ifPresent(f -> out.printf(Locale.ROOT,
                "floor              step writes/s      %-8.0f (%d threads, %.1f s)  rows %s%n",
                f.stepsPerSecond(), f.threads(), seconds(f.elapsed()), f.ok() ? "OK" : "MISMATCH"));
        completion().forEach(c -> out.printf(Locale.ROOT,
                "%-19sus/call            %-8.1f (%d %s turns through complete_and_advance, one session)  rows %s%n",
                "engine".equals(c.turn()) ? "completion" : "completion " + c.turn(), c.microsPerCall(), c.calls(),
                c.turn(), c.ok() ? "OK" : "MISMATCH"));
        throughput().ifPresent(t -> out.printf(Locale.ROOT,
                "throughput         steps/s            %-8.0f (%d x %d, %.2f s)  instance p50 %s  p99 %s  rows %s%n",
                t.stepsPerSecond(), t.instances(), t.steps(), seconds(t.wall()),
                LatencyStats.millis(t.instanceLatency().p50Nanos()),
                LatencyStats.millis(t.instanceLatency().p99Nanos()), verdict(t.verification())));
        latency().ifPresent(l -> printLatency(out, "latency 1 step", l));
        latencyInJvm().ifPresent(l -> printLatency(out, "latency in-JVM", l));
        longWorkflow().ifPresent(l -> out.printf(Locale.ROOT,
                "long workflow      %d steps  per-step %s  vs %d-step %s  ratio %.2f  (total %.2f s)  rows %s%n",
                l.steps(), LatencyStats.millis(l.perStepNanos()), l.referenceSteps(),
                LatencyStats.millis(l.referencePerStepNanos()), l.ratio(), seconds(l.total()),
                verdict(l.verification())));
        df().ifPresent(t -> printWorkflows(out, "df workflows", t));
        dfLatency().ifPresent(l -> printLatency(out, "df latency 1 step", l));
        dfJoin().ifPresent(l -> printLatency(out, "df latency join", l));
        dfStart().forEach(s -> printStarts(out, s));
        inDatabase().ifPresent(t -> printWorkflows(out, "df in-database", t));
        fairness().ifPresent(f -> out.printf(Locale.ROOT,
                "fairness           flood steps before other role's step %d  (%d x 1 step of %d ms, %d threads,"
                        + " %d per role)  other df.start->completed %s  rows %s%n",
                f.floodStepsBeforeOther(), f.floodInstances(), f.floodStep().toMillis(), f.threads(), f.perRole(),
                LatencyStats.millis(f.otherLatency().toNanos()), verdict(f.verification())));
        for (ScaleLevel l : scale) {
            out.printf(Locale.ROOT,
                    "scale %-12s steps/s            %-8.0f (%d x %d SQL steps, %d finished, %d waiting)"
                            + "  df.start p50 %s  p99 %s  worker RSS %d MB  rows %s%n",
                    l.name(), l.df().stepsPerSecond(), l.df().instances(), l.df().steps(), l.history(), l.waiting(),
                    LatencyStats.millis(l.starts().p50Nanos()), LatencyStats.millis(l.starts().p99Nanos()),
                    l.residentBytes() >> 20, verdict(l.df().verification()));
        }
        if (scale.size() > 1) {
            ScaleLevel first = scale.get(0);
            ScaleLevel last = scale.stream().filter(l -> l.waiting() == 0).reduce((a, b) -> b).orElse(first);
            out.printf(Locale.ROOT, "scale growth       %d -> %d finished: steps/s %+.0f%%  df.start p99 %+.0f%%%n",
                    first.history(), last.history(),
                    100.0 * (last.df().stepsPerSecond() / first.df().stepsPerSecond() - 1),
                    100.0 * ((double) last.starts().p99Nanos() / first.starts().p99Nanos() - 1));
        }
        // Added below the scenario lines, so that scripts reading those lines keep working.
        costs.forEach((scenario, cost) -> out.printf(Locale.ROOT, "cost %-13s %s%n", scenario, cost.describe()));
        out.flush();
    }

    private static void printLatency(PrintWriter out, String title, Latency l) {
        out.printf(Locale.ROOT, "%-18s p50 %s  p99 %s  max %s  (%d samples)  rows %s%n", title,
                LatencyStats.millis(l.stats().p50Nanos()), LatencyStats.millis(l.stats().p99Nanos()),
                LatencyStats.millis(l.stats().maxNanos()), l.stats().count(), verdict(l.verification()));
    }

    private static void printStarts(PrintWriter out, Starts s) {
        String title = "df start " + s.steps() + (s.steps() == 1 ? " step" : " steps");
        out.printf(Locale.ROOT, "%-18s p50 %s  p99 %s  max %s  (%d samples, each rolled back)%n", title,
                LatencyStats.millis(s.stats().p50Nanos()), LatencyStats.millis(s.stats().p99Nanos()),
                LatencyStats.millis(s.stats().maxNanos()), s.stats().count());
    }

    private static void printWorkflows(PrintWriter out, String title, Throughput t) {
        out.printf(Locale.ROOT,
                "%-18s steps/s            %-8.0f (%d x %d SQL steps, %.2f s)  instance p50 %s  p99 %s  rows %s%n",
                title, t.stepsPerSecond(), t.instances(), t.steps(), seconds(t.wall()),
                LatencyStats.millis(t.instanceLatency().p50Nanos()),
                LatencyStats.millis(t.instanceLatency().p99Nanos()), verdict(t.verification()));
    }

    private static String verdict(Verification v) {
        return v.ok() ? "OK" : "MISMATCH";
    }

    static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }
}
