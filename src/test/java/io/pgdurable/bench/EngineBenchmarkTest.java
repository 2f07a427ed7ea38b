package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.cli.Main;
import io.pgdurable.engine.DurableException;
import io.pgdurable.testing.TestCluster;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.SQLException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EngineBenchmarkTest {

    private final TestCluster cluster = TestCluster.get();

    @Test
    void tiny_benchmark_runs_every_scenario_and_finds_exactly_one_row_per_step() throws SQLException {
        String db = cluster.createDatabase("bench_tiny");
        BenchmarkSettings settings = BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .activityThreads(2)
                .instances(5)
                .steps(3)
                .latencySamples(5)
                .longSteps(20)
                .ceilingDuration(Duration.ofSeconds(1))
                .warmupInstances(2)
                .warmupRounds(2)
                .timeout(Duration.ofMinutes(2))
                .build();
        StringWriter printed = new StringWriter();

        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();

        assertThat(report.ceiling()).hasValueSatisfying(c -> assertThat(c.inserts()).isPositive());
        assertThat(report.throughput()).hasValueSatisfying(t -> {
            assertThat(t.verification().expectedRows()).isEqualTo(15);
            assertThat(t.instanceLatency().count()).isEqualTo(5);
        });
        assertThat(report.latency()).hasValueSatisfying(l -> assertThat(l.stats().count()).isEqualTo(5));
        // The same single-step runs started with Worker.startOrchestration, checked the same way.
        assertThat(report.latencyInJvm()).hasValueSatisfying(l -> {
            assertThat(l.stats().count()).isEqualTo(5);
            assertThat(l.verification().expectedRows()).isEqualTo(5);
        });
        assertThat(report.longWorkflow()).hasValueSatisfying(l -> assertThat(l.steps()).isEqualTo(20));
        assertThat(report.df()).hasValueSatisfying(d -> {
            assertThat(d.verification().expectedRows()).isEqualTo(15);
            assertThat(d.instanceLatency().count()).isEqualTo(5);
        });
        assertThat(report.dfLatency()).hasValueSatisfying(l -> {
            assertThat(l.stats().count()).isEqualTo(5);
            assertThat(l.verification().expectedRows()).isEqualTo(5);
        });
        assertThat(report.verifications()).hasSize(6)
                .allSatisfy(v -> assertThat(v.ok()).as(v.scenario() + ": " + v.describe()).isTrue());
        assertThat(report.ok()).isTrue();
        assertThat(printed.toString()).contains("throughput: rows OK", "latency: rows OK", "latency in-JVM: rows OK",
                "long: rows OK", "df: rows OK", "df-latency: rows OK");
        // The df scenario says how much of its wall time the start statement took.
        assertThat(printed.toString()).containsPattern(
                "(?m)^df: of that wall time, the statement starting the 5 workflows and its commit took \\d+\\.\\d\\d s$");
        StringWriter summary = new StringWriter();
        report.printSummary(new PrintWriter(summary, true));
        assertThat(summary.toString())
                .containsPattern("(?m)^latency 1 step     p50 \\S+ ms  p99 \\S+ ms  max \\S+ ms  \\(5 samples\\)  rows OK$")
                .containsPattern("(?m)^latency in-JVM     p50 \\S+ ms  p99 \\S+ ms  max \\S+ ms  \\(5 samples\\)  rows OK$")
                .containsPattern("(?m)^cost latency-jvm   statements/step ")
                .containsPattern("(?m)^df latency 1 step  p50 \\S+ ms  p99 \\S+ ms  max \\S+ ms  \\(5 samples\\)  rows OK$");
        // Warm-up rounds repeat until the JIT settles, at most --warmup-rounds of them.
        assertThat(printed.toString()).containsPattern("warm-up: warm-up round 1 took \\d+\\.\\d\\d s, JIT compiler ")
                .containsPattern("df: warm-up round 1 took ")
                .doesNotContain("warm-up round 3");
        // The latency scenarios then warm the single-workflow path alone, and clear its rows (checked above).
        assertThat(printed.toString())
                .containsPattern("(?s)latency: warm-up, rounds of 100 single-step runs \\.\\.\\.\\R"
                        + "latency: warm-up round 1 took .*latency: 5 single-step orchestrations")
                .containsPattern("(?s)latency in-JVM: warm-up, rounds of 100 single-step runs \\.\\.\\.\\R"
                        + "latency in-JVM: warm-up round 1 took .*latency in-JVM: 5 single-step orchestrations one at a time, started"
                        + " with Worker.startOrchestration")
                .containsPattern("(?s)df-latency: warm-up, rounds of 100 single workflows \\.\\.\\.\\R"
                        + "df-latency: warm-up round 1 took .*df-latency: 5 single-step workflows");
    }

    @Test
    void bench_command_prints_a_summary_and_exits_zero_when_the_rows_check_out() {
        String db = cluster.createDatabase("bench_cli");

        Run run = run("bench", "--url", cluster.jdbcUrl(db, TestCluster.SUPERUSER), "--scenarios", "throughput",
                "--threads", "2", "--instances", "3", "--steps", "2", "--warmup-instances", "0");

        assertThat(run.exitCode).as(run.err).isZero();
        assertThat(run.out).contains("summary", "throughput         steps/s").doesNotContain("ceiling ", "MISMATCH");
        // Below the scenario lines: what a step cost, each figure measured or said to be skipped.
        assertThat(run.out).containsPattern("cost throughput +statements/step (\\d|and server ms/step skipped)")
                .containsPattern("worker JVM cpu ms/step \\d+\\.\\d{3}")
                .containsPattern("database cpu ms/step (\\d+\\.\\d{3}|skipped)");
        // The test's cluster runs on this machine, so its CPU is also split by connection.
        assertThat(run.out).containsPattern("(?m)^cost throughput .*  database cpu ms/step on activity connections"
                + " \\d+\\.\\d{3}  on worker connections \\d+\\.\\d{3}  elsewhere \\d+\\.\\d{3}$");
    }

    @Test
    void the_floor_commits_a_short_path_steps_writes_checks_them_and_leaves_nothing_behind() throws SQLException {
        assertThat(BenchmarkSettings.builder("jdbc:postgresql://localhost/x").build().runs(Scenario.FLOOR))
                .as("not a default").isFalse();
        String db = cluster.createDatabase("bench_floor");
        BenchmarkSettings settings = BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .activityThreads(2)
                .ceilingDuration(Duration.ofMillis(300))
                .scenarios(EnumSet.of(Scenario.FLOOR))
                .build();
        StringWriter printed = new StringWriter();

        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();

        assertThat(report.ceiling()).isEmpty();
        assertThat(report.floor()).hasValueSatisfying(f -> {
            assertThat(f.threads()).isEqualTo(2);
            assertThat(f.steps()).isPositive();
            // Every step, the 20 unmeasured ones of each client included, left one row and three events.
            assertThat(f.written()).isEqualTo(f.steps() + 2 * 20);
            assertThat(f.rows()).isEqualTo(f.written());
            assertThat(f.distinctRows()).isEqualTo(f.written());
            assertThat(f.events()).isEqualTo(3 * f.written());
            assertThat(f.ok()).isTrue();
        });
        assertThat(report.ok()).isTrue();
        assertThat(report.problems()).isEmpty();
        // A floor whose steps lost an event is a failed check, named in the report's problems.
        BenchmarkReport.Floor broken = new BenchmarkReport.Floor(2, 10, Duration.ofSeconds(1), 50, 50, 50, 149);
        assertThat(broken.ok()).isFalse();
        assertThat(new BenchmarkReport(null, broken, List.of(), null, null, null, null, null, null, null, List.of(), null,
                null, List.of(), Map.of()).problems())
                .containsExactly("floor: MISMATCH: 50 rows (50 distinct steps) and 149 history events for 50 steps,"
                        + " expected one row and three events each");
        assertThat(printed.toString()).containsPattern("(?m)^floor: \\d+ steps in \\d+\\.\\d\\d s = \\d+ steps/s$")
                .containsPattern("(?m)^floor: rows OK \\(\\d+ steps, each one row and three history events\\)$");
        StringWriter summary = new StringWriter();
        report.printSummary(new PrintWriter(summary, true));
        assertThat(summary.toString())
                .containsPattern("(?m)^floor              step writes/s      \\d+ +\\(2 threads, 0\\.3 s\\)  rows OK$")
                .doesNotContain("ceiling ");
        // Its rows are gone: the history, the queue items (one per client was left leased) and the step rows.
        try (var c = cluster.connect(db); var s = c.createStatement();
             var rs = s.executeQuery("SELECT (SELECT count(*) FROM df_engine.history)"
                     + " + (SELECT count(*) FROM df_engine.activity_queue)"
                     + " + (SELECT count(*) FROM public.bench_rows WHERE instance_id LIKE 'floor-%')")) {
            rs.next();
            assertThat(rs.getLong(1)).isZero();
        }
    }

    @Test
    void the_df_join_scenario_times_join_workflows_one_at_a_time_and_checks_their_rows() throws SQLException {
        assertThat(BenchmarkSettings.builder("jdbc:postgresql://localhost/x").build().runs(Scenario.DF_JOIN))
                .as("not a default").isFalse();
        String db = cluster.createDatabase("bench_df_join");
        BenchmarkSettings settings = BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .activityThreads(2)
                .instances(3)
                .steps(2)
                .latencySamples(4)
                .warmupInstances(2)
                .warmupRounds(1)
                .timeout(Duration.ofMinutes(2))
                .scenarios(EnumSet.of(Scenario.DF_JOIN))
                .build();
        StringWriter printed = new StringWriter();

        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();

        // Four workflows, each a JOIN of two one-step branches and a step: three rows apiece.
        assertThat(report.dfJoin()).hasValueSatisfying(l -> {
            assertThat(l.stats().count()).isEqualTo(4);
            assertThat(l.verification().expectedRows()).isEqualTo(12);
            assertThat(l.verification().ok()).as(l.verification().describe()).isTrue();
        });
        assertThat(report.dfLatency()).isEmpty();
        assertThat(printed.toString()).contains("df-join: 4 workflows of a JOIN of two one-step branches and a step one"
                + " at a time", "df-join: rows OK (12 rows, 4 instances completed)");
        StringWriter summary = new StringWriter();
        report.printSummary(new PrintWriter(summary, true));
        assertThat(summary.toString())
                .containsPattern("(?m)^df latency join    p50 \\S+ ms  p99 \\S+ ms  max \\S+ ms  \\(4 samples\\)  rows OK$")
                .containsPattern("(?m)^cost df-join       statements/step ");
    }

    @Test
    void the_df_start_scenario_times_chains_of_growing_length_and_leaves_no_workflow_behind() throws SQLException {
        assertThat(BenchmarkSettings.builder("jdbc:postgresql://localhost/x").build().runs(Scenario.DF_START))
                .as("not a default").isFalse();
        String db = cluster.createDatabase("bench_df_start");
        BenchmarkSettings settings = BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .latencySamples(3)
                .scenarios(EnumSet.of(Scenario.DF_START))
                .build();
        StringWriter printed = new StringWriter();

        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();

        assertThat(report.dfStart()).extracting(BenchmarkReport.Starts::steps).containsExactly(1, 10, 100, 250);
        assertThat(report.dfStart()).allSatisfy(s -> assertThat(s.stats().count()).isEqualTo(3));
        assertThat(report.ok()).isTrue();
        assertThat(printed.toString()).contains("df-start: 3 single df.start calls of a chain of n SQL steps built"
                + " with ~>, each rolled back, for n = 1, 10, 100, 250");
        StringWriter summary = new StringWriter();
        report.printSummary(new PrintWriter(summary, true));
        assertThat(summary.toString())
                .containsPattern("(?m)^df start 1 step    p50 \\S+ ms  p99 \\S+ ms  max \\S+ ms  \\(3 samples, each rolled back\\)$")
                .containsPattern("(?m)^df start 250 steps p50 \\S+ ms  p99 \\S+ ms  max \\S+ ms  \\(3 samples, each rolled back\\)$")
                .containsPattern("(?m)^cost df-start-250  statements/step ");
        // Every start was rolled back: no workflow was left to run.
        try (var c = cluster.connect(db); var s = c.createStatement();
             var rs = s.executeQuery("SELECT (SELECT count(*) FROM df.instances) + (SELECT count(*) FROM df_engine.instances)")) {
            rs.next();
            assertThat(rs.getLong(1)).isZero();
        }
    }

    @Test
    void the_in_database_scenario_is_named_on_request_only_and_needs_df_run_worker() throws SQLException {
        assertThat(Scenario.parseList("df, in-database")).containsExactly(Scenario.DF, Scenario.IN_DATABASE);
        assertThat(BenchmarkSettings.builder("jdbc:postgresql://localhost/x").build().runs(Scenario.IN_DATABASE))
                .as("not a default: it needs PL/Java").isFalse();

        String db = cluster.createDatabase("bench_no_pljava");
        try (var c = cluster.connect(db); var s = c.createStatement()) {
            s.execute("DROP FUNCTION IF EXISTS df.run_worker(integer)");
        }
        BenchmarkSettings settings = BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .scenarios(EnumSet.of(Scenario.IN_DATABASE))
                .build();
        assertThatThrownBy(() -> new EngineBenchmark(settings, new PrintWriter(new StringWriter())).run())
                .isInstanceOf(DurableException.class)
                .hasMessageContaining("df.run_worker() is not installed in this database")
                .hasMessageContaining("pljava-deploy/install.sql");
    }

    @Test
    void benchmark_against_a_database_without_the_schema_says_to_run_install() {
        String db = cluster.createEmptyDatabase("bench_no_schema");
        BenchmarkSettings settings = BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .scenarios(EnumSet.of(Scenario.CEILING))
                .build();

        assertThatThrownBy(() -> new EngineBenchmark(settings, new PrintWriter(new StringWriter())).run())
                .isInstanceOf(DurableException.class)
                .hasMessageContaining("not installed")
                .hasMessageContaining("install");
    }

    @Test
    void warm_up_rounds_outside_their_range_are_a_usage_error_naming_the_option() {
        for (String rounds : new String[] {"0", "1001"}) {
            Run run = run("bench", "--url", cluster.jdbcUrl("postgres", TestCluster.SUPERUSER),
                    "--scenarios", "throughput", "--warmup-rounds", rounds);

            assertThat(run.exitCode).as(rounds).isEqualTo(2);
            assertThat(run.err).contains("--warmup-rounds must be between 1 and 1000, got " + rounds);
        }
    }

    @Test
    void warm_up_rounds_default_to_thirty_in_the_command_and_in_the_settings() {
        Run help = run("bench", "--help");

        assertThat(help.out).containsPattern("--warmup-rounds=<n>\\s+At most this many warm-up rounds per"
                + " scenario:[^(]*\\(default: 30\\)");
        assertThat(BenchmarkSettings.builder("jdbc:postgresql://localhost/x").build().warmupRounds()).isEqualTo(30);
    }

    @Test
    void the_completion_loop_takes_the_short_path_every_call_checks_the_history_and_leaves_nothing_behind()
            throws SQLException {
        assertThat(BenchmarkSettings.builder("jdbc:postgresql://localhost/x").build().runs(Scenario.COMPLETION))
                .as("not a default").isFalse();
        String db = cluster.createDatabase("bench_completion");
        // What a run stopped mid-loop leaves: an engine instance and a df instance of its own.
        try (var c = cluster.connect(db); var s = c.createStatement()) {
            s.execute("INSERT INTO df_engine.instances (id, name, status) VALUES ('b0000001', 'bench.completion',"
                    + " 'Running')");
            s.execute("INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)"
                    + " VALUES ('b0000001', 1, 1, 'ExecutionStarted', now())");
            s.execute("INSERT INTO df.instances (id, label, root_node, status) VALUES ('b0000001', 'bench-completion',"
                    + " '00000000', 'running')");
        }
        BenchmarkSettings settings = BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .completionCalls(300)
                .scenarios(EnumSet.of(Scenario.COMPLETION))
                .build();
        StringWriter printed = new StringWriter();

        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();

        assertThat(report.completion()).extracting(BenchmarkReport.Completion::turn).containsExactly("engine", "df");
        assertThat(report.completion()).allSatisfy(c -> {
            assertThat(c.calls()).isEqualTo(300);
            // Each call appended three events to the first, and leased the next step: one item left.
            assertThat(c.events()).isEqualTo(901);
            assertThat(c.queued()).isEqualTo(1);
            assertThat(c.ok()).isTrue();
            assertThat(c.microsPerCall()).isPositive();
        });
        assertThat(report.problems()).isEmpty();
        assertThat(printed.toString())
                .containsPattern("(?m)^completion: 300 engine turns in \\d+\\.\\d\\d s = \\d+\\.\\d us per call$")
                .containsPattern("(?m)^completion: 300 df turns in \\d+\\.\\d\\d s = \\d+\\.\\d us per call$")
                .contains("completion: engine rows OK (901 history events, the last step leased)")
                .contains("completion: df rows OK (901 history events, the last step leased)");
        StringWriter summary = new StringWriter();
        report.printSummary(new PrintWriter(summary, true));
        assertThat(summary.toString())
                .containsPattern("(?m)^completion         us/call            \\d+\\.\\d +\\(300 engine turns"
                        + " through complete_and_advance, one session\\)  rows OK$")
                .containsPattern("(?m)^completion df      us/call            \\d+\\.\\d +\\(300 df turns"
                        + " through complete_and_advance, one session\\)  rows OK$")
                // Each loop's cost per call, the database's CPU among it (the test's cluster is local).
                .containsPattern("(?m)^cost completion    .*database cpu ms/step \\d+\\.\\d{3}")
                .containsPattern("(?m)^cost completion-df .*database cpu ms/step \\d+\\.\\d{3}");
        // A loop whose calls left the wrong history is a failed check, named in the report's problems.
        BenchmarkReport.Completion broken = new BenchmarkReport.Completion("df", 10, Duration.ofMillis(5), 30, 1);
        assertThat(new BenchmarkReport(null, null, List.of(broken), null, null, null, null, null, null, null, List.of(),
                null, null, List.of(), Map.of()).problems())
                .containsExactly("completion df: MISMATCH: 30 history events and 1 queue items after 10 calls,"
                        + " expected 31 events and one item");
        // Both orchestrations of each loop (the unmeasured one too) are gone with their history, queue
        // items and df rows, and so is what the stopped run had left.
        try (var c = cluster.connect(db); var s = c.createStatement();
             var rs = s.executeQuery("SELECT (SELECT count(*) FROM df_engine.history)"
                     + " + (SELECT count(*) FROM df_engine.activity_queue)"
                     + " + (SELECT count(*) FROM df_engine.instances)"
                     + " + (SELECT count(*) FROM df.instances) + (SELECT count(*) FROM df.nodes)")) {
            rs.next();
            assertThat(rs.getLong(1)).isZero();
        }
    }

    @Test
    void unknown_scenario_is_a_usage_error() {
        Run run = run("bench", "--url", cluster.jdbcUrl("postgres", TestCluster.SUPERUSER),
                "--scenarios", "ceiling,fast");

        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("unknown scenario 'fast': expected ceiling, floor, completion, throughput, latency, long, df,"
                + " df-latency, df-join, df-start, in-database, fairness or scale");
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = Main.commandLine();
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        int exitCode = cmd.execute(args);
        return new Run(exitCode, out.toString(), err.toString());
    }

    private record Run(int exitCode, String out, String err) {
    }
}
