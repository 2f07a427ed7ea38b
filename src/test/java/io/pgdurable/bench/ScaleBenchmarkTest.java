package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.testing.TestCluster;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scale scenario: the df workload measured as finished history grows, then with workflows waiting. */
class ScaleBenchmarkTest {

    private final TestCluster cluster = TestCluster.get();

    @Test
    void each_level_writes_its_history_measures_the_workload_and_leaves_the_waiting_workflows_cancelled()
            throws SQLException {
        String db = cluster.createDatabase("bench_scale");
        BenchmarkSettings settings = smallScale(db)
                .latencySamples(4)
                .warmupInstances(0)
                .scaleHistory(List.of(0, 40, 100))
                .scaleWaiting(6)
                .build();
        StringWriter printed = new StringWriter();

        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();
        StringWriter summary = new StringWriter();
        report.printSummary(new PrintWriter(summary, true));

        assertThat(report.scale()).extracting(BenchmarkReport.ScaleLevel::name)
                .containsExactly("history 0", "history 40", "history 100", "waiting 6");
        assertThat(report.scale()).extracting(BenchmarkReport.ScaleLevel::history).containsExactly(0L, 40L, 100L, 100L);
        assertThat(report.scale()).allSatisfy(l -> {
            assertThat(l.df().verification().ok()).as(l.name() + ": " + l.df().verification().describe()).isTrue();
            assertThat(l.starts().count()).isEqualTo(4);
        });
        assertThat(report.ok()).isTrue();
        try (Connection c = cluster.connect(db); Statement s = c.createStatement()) {
            assertThat(count(s, "SELECT count(*) FROM df.instances WHERE label = 'bench-scale-history'"
                    + " AND status = 'completed'")).isEqualTo(100);
            assertThat(count(s, "SELECT count(*) FROM df.nodes n JOIN df.instances i ON i.id = n.instance_id"
                    + " WHERE i.label = 'bench-scale-history'")).isEqualTo(300);
            assertThat(count(s, "SELECT count(*) FROM df_engine.instances e JOIN df.instances i ON i.id = e.id"
                    + " WHERE i.label = 'bench-scale-history' AND e.status = 'Completed'")).isEqualTo(100);
            assertThat(count(s, "SELECT count(*) FROM df.instances WHERE label LIKE 'bench-scale-%-waiting'"
                    + " AND status = 'cancelled'")).as("the waiting workflows are cancelled at the end").isEqualTo(6);
        }
        assertThat(summary.toString())
                .containsPattern("scale history 0 +steps/s +\\d+ +\\(3 x 2 SQL steps, 0 finished, 0 waiting\\)"
                        + "  df.start p50 .* p99 .*  worker RSS \\d+ MB  rows OK")
                .contains("(3 x 2 SQL steps, 100 finished, 6 waiting)")
                .containsPattern("scale growth +0 -> 100 finished: steps/s [+-]\\d+%  df.start p99 [+-]\\d+%")
                .contains("cost scale history 0", "cost scale waiting 6");
    }

    @Test
    void each_level_is_measured_after_full_warm_up_rounds_that_stop_when_the_jit_settles() throws SQLException {
        String db = cluster.createDatabase("bench_scale_warmup");
        BenchmarkSettings settings = smallScale(db)
                .latencySamples(2)
                .warmupInstances(2)
                .warmupRounds(3)
                .scaleHistory(List.of(0, 5))
                .scaleWaiting(0)
                .build();
        StringWriter printed = new StringWriter();

        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();

        assertThat(report.ok()).isTrue();
        String output = printed.toString();
        // A round is the whole workload (--instances), not the smaller --warmup-instances, and
        // the rounds run again after the history is written, right before the level they warm.
        assertThat(output).containsSubsequence(
                "scale: warm-up before history 0, rounds of 3 workflows x 2 steps ...",
                "scale history 0: 3 workflows x 2 SQL steps ...",
                "scale: writing 5 finished instances of history ...",
                "scale: warm-up before history 5, rounds of 3 workflows x 2 steps ...",
                "scale history 5: 3 workflows x 2 SQL steps ...");
        List<String> lines = output.lines().toList();
        long rounds = 0;
        for (String level : List.of("history 0", "history 5")) {
            int from = lines.indexOf("scale: warm-up before " + level + ", rounds of 3 workflows x 2 steps ...");
            List<String> own = lines.subList(from + 1, lines.size()).stream()
                    .takeWhile(l -> l.startsWith("scale: warm-up round ")).toList();
            assertThat(own).as(level).hasSizeBetween(1, 3);
            assertThat(own.size() == 3 || own.get(own.size() - 1).endsWith("; settled"))
                    .as(level + ": the rounds stop when the JIT settles, or at --warmup-rounds").isTrue();
            rounds += own.size();
        }
        try (Connection c = cluster.connect(db); Statement s = c.createStatement()) {
            assertThat(count(s, "SELECT count(*) FROM df.instances WHERE label LIKE 'bench-scale-%-warmup-%'"
                    + " AND status = 'completed'")).as("three workflows per round printed").isEqualTo(3 * rounds);
        }
    }

    @Test
    void scale_settings_out_of_order_or_out_of_range_are_refused_naming_the_value() {
        BenchmarkSettings.Builder b = BenchmarkSettings.builder("jdbc:postgresql://localhost/x");

        assertThatThrownBy(() -> b.scaleHistory(List.of(0, 1000, 500)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must increase, got [0, 1000, 500]");
        assertThatThrownBy(() -> b.scaleHistory(List.of(-1)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("scale history level -1 is out of range");
        assertThatThrownBy(() -> b.scaleHistory(List.of(0)).scaleWaiting(-5).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got -5");
    }

    /** The scale scenario alone on database {@code db}: 3 workflows of 2 steps per level, 2 threads. */
    private BenchmarkSettings.Builder smallScale(String db) {
        return BenchmarkSettings.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .scenarios(EnumSet.of(Scenario.SCALE))
                .activityThreads(2)
                .instances(3)
                .steps(2)
                .timeout(Duration.ofMinutes(2));
    }

    private static long count(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
