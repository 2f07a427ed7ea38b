package io.pgdurable.cli;

import io.pgdurable.bench.BenchmarkReport;
import io.pgdurable.bench.BenchmarkSettings;
import io.pgdurable.bench.EngineBenchmark;
import io.pgdurable.bench.Scenario;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import org.postgresql.PGProperty;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code bench}: measures the engine against a database with an in-process worker. */
@Command(
        name = "bench",
        description = {
                "Benchmark the engine against a database that has the df_engine schema installed.",
                "Runs an in-process worker whose activities each insert one row into the table bench_rows"
                        + " (created if missing) exactly-once, and measures: the database's raw insert commit rate"
                        + " (ceiling), steps/s of many orchestrations at once (throughput), start-to-completed time"
                        + " of single-step orchestrations (latency), and the per-step cost of a long orchestration"
                        + " (long); then, as a login role, steps/s of df workflows of SQL steps started with"
                        + " df.start (df) and the df.start-to-completed time of single-step df workflows run one at"
                        + " a time (df-latency).",
                "Not run by default: the fairness scenario floods the worker with one role's one-step workflows"
                        + " and counts how many of their steps finish before another role's single workflow's step"
                        + " runs. The scale scenario runs the df workload and single df.start calls with 0, 100,000"
                        + " and 1,000,000 finished instances written into the database (and left there), then with"
                        + " 10,000 workflows waiting on a signal; run it on a throwaway database. The floor scenario"
                        + " commits the writes of a short-path step (its row, three history events, the next queue"
                        + " item in and the last one out) with the ceiling's clients and no engine: what the data"
                        + " model itself costs. The df-join scenario times, like df-latency, workflows of a df.join"
                        + " of two one-step branches followed by a step. The completion scenario calls"
                        + " df_engine.complete_and_advance 20,000 times in one session's DO block, with engine"
                        + " turns, then with df turns, and no worker: the database's side of a short-path step"
                        + " alone, in microseconds per call. The df-start scenario times single df.start calls of"
                        + " chains of 1, 10, 100 and 250 SQL steps built with ~>, each rolled back (--latency-samples"
                        + " of each), with no worker.",
                "Each scenario first empties bench_rows and deletes the engine's bench.* instances; stop other"
                        + " workers of the database first. Exits with 1 if a row or instance check fails."
        })
final class BenchCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions database;

    @Spec
    CommandSpec spec;

    @Option(names = "--scenarios", paramLabel = "<list>", defaultValue = Scenario.DEFAULTS,
            description = "Comma-separated scenarios to run (default: ${DEFAULT-VALUE}).")
    String scenarios;

    @Option(names = "--threads", paramLabel = "<n>", defaultValue = "8",
            description = "Worker activity threads, and client threads of the ceiling (default: ${DEFAULT-VALUE}).")
    int activityThreads;

    @Option(names = "--max-activities-per-role", paramLabel = "<n>", defaultValue = "0",
            description = "Worker: activities of one role (partition key) held at once; below --threads"
                    + " (default: the worker's, --threads - 1).")
    int maxActivitiesPerRole;

    @Option(names = "--orchestration-threads", paramLabel = "<n>", defaultValue = "2",
            description = "Worker orchestration dispatch loops (default: ${DEFAULT-VALUE}).")
    int orchestrationThreads;

    @Option(names = "--turn-batch", paramLabel = "<n>", defaultValue = "32",
            description = "Orchestration turns committed per transaction, at most (default: ${DEFAULT-VALUE}).")
    int turnBatch;

    @Option(names = "--short-path", paramLabel = "<true|false>", defaultValue = "true", arity = "1",
            description = "A step that completes in its own transaction commits its instance's next turn there"
                    + " too, and the worker runs the next step at once (default: ${DEFAULT-VALUE}).")
    boolean shortPath;

    @Option(names = "--instances", paramLabel = "<n>", defaultValue = "200",
            description = "Throughput: orchestrations started at once (default: ${DEFAULT-VALUE}).")
    int instances;

    @Option(names = "--steps", paramLabel = "<n>", defaultValue = "10",
            description = "Throughput: activities per orchestration (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--latency-samples", paramLabel = "<n>", defaultValue = "200",
            description = "Latency: single-step orchestrations run one at a time (default: ${DEFAULT-VALUE}).")
    int latencySamples;

    @Option(names = "--long-steps", paramLabel = "<n>", defaultValue = "500",
            description = "Long: activities of the long orchestration (default: ${DEFAULT-VALUE}).")
    int longSteps;

    @Option(names = "--fairness-flood", paramLabel = "<n>", defaultValue = "2000",
            description = "Fairness: one-step workflows the flooding role starts at once (default: ${DEFAULT-VALUE}).")
    int fairnessFlood;

    @Option(names = "--fairness-step-ms", paramLabel = "<ms>", defaultValue = "10",
            description = "Fairness: how long each of the flood's steps sleeps (default: ${DEFAULT-VALUE}).")
    long fairnessStepMillis;

    @Option(names = "--scale-history", paramLabel = "<list>", split = ",", defaultValue = "0,100000,1000000",
            description = "Scale: finished instances in the database at each measurement, increasing"
                    + " (default: ${DEFAULT-VALUE}).")
    List<Integer> scaleHistory;

    @Option(names = "--scale-waiting", paramLabel = "<n>", defaultValue = "10000",
            description = "Scale: workflows waiting on a signal during the last measurement; 0 skips it"
                    + " (default: ${DEFAULT-VALUE}).")
    int scaleWaiting;

    @Option(names = "--ceiling-seconds", paramLabel = "<s>", defaultValue = "5",
            description = "Ceiling and floor: how long the clients write (default: ${DEFAULT-VALUE}).")
    double ceilingSeconds;

    @Option(names = "--warmup-instances", paramLabel = "<n>", defaultValue = "200",
            description = "Orchestrations run unmeasured before the engine scenarios; 0 skips"
                    + " (default: ${DEFAULT-VALUE}).")
    int warmupInstances;

    @Option(names = "--warmup-rounds", paramLabel = "<n>", defaultValue = "30",
            description = "At most this many warm-up rounds per scenario: rounds repeat until the JIT compiler"
                    + " takes under a tenth of a round's time; scale runs them before each of its levels"
                    + " (default: ${DEFAULT-VALUE}).")
    int warmupRounds;

    @Option(names = "--timeout-seconds", paramLabel = "<s>", defaultValue = "600",
            description = "Give up when orchestrations take longer than this to finish (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() throws SQLException {
        BenchmarkSettings settings = settings();
        PrintWriter out = spec.commandLine().getOut();
        BenchmarkReport report = new EngineBenchmark(settings, out).run();
        report.printSummary(out);
        if (!report.ok()) {
            PrintWriter err = spec.commandLine().getErr();
            report.problems().forEach(problem -> err.println("bench: " + problem));
            err.flush();
            return 1;
        }
        return 0;
    }

    private BenchmarkSettings settings() {
        Properties props = database.properties("pg-durable bench");
        Set<Scenario> chosen;
        try {
            chosen = Scenario.parseList(scenarios);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--scenarios: " + e.getMessage());
        }
        try {
            return BenchmarkSettings.builder(database.url())
                    .user(PGProperty.USER.getOrDefault(props))
                    .password(PGProperty.PASSWORD.getOrDefault(props))
                    .scenarios(chosen)
                    .activityThreads(activityThreads)
                    .maxActivitiesPerRole(maxActivitiesPerRole)
                    .orchestrationThreads(orchestrationThreads)
                    .turnBatchSize(turnBatch)
                    .shortPath(shortPath)
                    .instances(instances)
                    .steps(steps)
                    .latencySamples(latencySamples)
                    .longSteps(longSteps)
                    .ceilingDuration(Duration.ofMillis(Math.round(ceilingSeconds * 1000)))
                    .warmupInstances(warmupInstances)
                    .warmupRounds(warmupRounds)
                    .fairnessFlood(fairnessFlood)
                    .fairnessStep(Duration.ofMillis(fairnessStepMillis))
                    .timeout(Duration.ofSeconds(timeoutSeconds))
                    .scaleHistory(scaleHistory)
                    .scaleWaiting(scaleWaiting)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
