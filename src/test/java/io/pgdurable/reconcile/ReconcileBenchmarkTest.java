package io.pgdurable.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgdurable.bench.LatencyStats;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How fast a pass removes expired instances, and what it costs a client starting workflows at the
 * same time. Seeds 100,000 expired instances of 10 nodes each, with their engine records
 * (execution and 10 history events each); measures df.start latency from a client calling it in
 * a loop, first alone, then while one pass runs, and times that pass. Prints the figures (targets:
 * at least 5,000 instances removed per second, no df.start slower than 100 ms during the pass);
 * asserts only that everything expired is gone and nothing else is.
 *
 * <p>Skipped unless {@code -Dpgdurable.bench=true}:
 * {@code mvn -o test -Dtest=ReconcileBenchmarkTest -Dpgdurable.bench=true -Dsurefire.failIfNoSpecifiedTests=false};
 * the figures are in {@code target/surefire-reports/io.pgdurable.reconcile.ReconcileBenchmarkTest-output.txt}.
 */
class ReconcileBenchmarkTest {
    private static final int INSTANCES = 100_000;
    private static final int NODES = 10;
    private static final int HISTORY = 10;
    private static final int SEED_CHUNK = 10_000;
    private static final Duration CONTROL = Duration.ofSeconds(10);
    private static final Duration SLOW = Duration.ofMillis(100);

    private static final String FIRST_ID = ReconcileDatabase.id(0x100000);
    private static final String LAST_ID = ReconcileDatabase.id(0x100000 + INSTANCES - 1);

    private DfTestEnvironment env;
    private ReconcileDatabase db;

    @BeforeEach
    void setUp() {
        assumeTrue(Boolean.getBoolean("pgdurable.bench"), "a benchmark: run with -Dpgdurable.bench=true");
        env = new DfTestEnvironment("reconcile_bench");
        db = ReconcileDatabase.existing(env.database());
    }

    @AfterEach
    void tearDown() {
        if (env != null) {
            env.close();
        }
    }

    @Test
    void a_pass_removes_one_hundred_thousand_expired_instances_while_a_client_keeps_starting_workflows()
            throws Exception {
        long seedStarted = System.nanoTime();
        Instant expired = Instant.now().minus(Duration.ofDays(60));
        for (int first = 0x100000; first < 0x100000 + INSTANCES; first += SEED_CHUNK) {
            db.seed(Seed.of(first, SEED_CHUNK).agedAt(expired.minusMillis(first - 0x100000)).olderEach(Duration.ofMillis(1))
                    .nodes(NODES).history(HISTORY).withoutChild());
        }
        db.exec("VACUUM ANALYZE df.instances, df.nodes, df_engine.instances, df_engine.executions, df_engine.history");
        Duration seeding = Duration.ofNanos(System.nanoTime() - seedStarted);
        assertThat(db.count("SELECT count(*) FROM df.nodes")).isEqualTo((long) INSTANCES * NODES);
        assertThat(db.count("SELECT count(*) FROM df_engine.history")).isEqualTo((long) INSTANCES * HISTORY);

        long[] control;
        long[] during;
        ReconcileResult result;
        try (Connection app = env.connectAsApp();
             PreparedStatement start = app.prepareStatement("SELECT df.start('SELECT 1')")) {
            // The same client for a while without a pass, for comparison.
            AtomicBoolean controlDone = new AtomicBoolean();
            CompletableFuture<long[]> controlClient = startLoop(start, controlDone);
            Thread.sleep(CONTROL.toMillis());  // the length of the control measurement, not a wait for an outcome
            controlDone.set(true);
            control = controlClient.get(1, TimeUnit.MINUTES);

            AtomicBoolean passDone = new AtomicBoolean();
            CompletableFuture<long[]> client = startLoop(start, passDone);
            Reconciler reconciler = new Reconciler(db.dataSource(), Clock.systemUTC());
            try {
                result = reconciler.runOnce(Reconciler.Trigger.CLI, "benchmark");
            } finally {
                passDone.set(true);
            }
            during = client.get(1, TimeUnit.MINUTES);
        }

        double seconds = result.duration().toNanos() / 1e9;
        System.out.printf("""
                reconciliation benchmark
                  seeded %,d expired instances (%d nodes, 1 execution, %d history events each) in %.1f s
                  pass: removed %,d instances, %,d nodes, %,d engine records in %.2f s (batch %d)
                  rate: %,.0f instances/s, %,.0f df.nodes rows/s
                  df.start, no pass (%d s):  %s
                  df.start during the pass:  %s
                """,
                INSTANCES, NODES, HISTORY, seeding.toMillis() / 1e3,
                result.instancesRemoved(), result.nodesRemoved(), result.engineRecordsRetired(), seconds,
                Reconciler.DEFAULT_BATCH_SIZE,
                result.instancesRemoved() / seconds, result.nodesRemoved() / seconds,
                CONTROL.toSeconds(), describe(control), describe(during));

        assertThat(result.error()).isNull();
        assertThat(result.instancesRemoved()).isEqualTo(INSTANCES);
        assertThat(result.nodesRemoved()).isEqualTo((long) INSTANCES * NODES);
        assertThat(result.engineRecordsRetired()).isEqualTo(INSTANCES);
        // What was seeded is gone. (df.start ids are random, so a few of the workflows started meanwhile
        // may fall in the seeded id range; they are pending and told apart by status.)
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE id BETWEEN ? AND ? AND status <> 'pending'",
                FIRST_ID, LAST_ID)).isZero();
        assertThat(db.count("SELECT count(*) FROM df.nodes WHERE instance_id BETWEEN ? AND ? AND status <> 'pending'",
                FIRST_ID, LAST_ID)).isZero();
        assertThat(db.count("SELECT count(*) FROM df_engine.instances WHERE id BETWEEN ? AND ? AND status <> 'Pending'",
                FIRST_ID, LAST_ID)).isZero();
        assertThat(db.count("SELECT count(*) FROM df_engine.executions WHERE instance_id BETWEEN ? AND ?"
                + " AND status <> 'Running'", FIRST_ID, LAST_ID)).isZero();
        assertThat(db.count("SELECT count(*) FROM df_engine.history")).isZero();
        // The workflows started meanwhile are pending (no worker runs here) and were left alone.
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE status = 'pending'"))
                .isEqualTo(control.length + during.length);
    }

    /** Calls df.start in a loop on another thread until {@code stop}; returns each call's nanoseconds. */
    private static CompletableFuture<long[]> startLoop(PreparedStatement start, AtomicBoolean stop) {
        return CompletableFuture.supplyAsync(() -> {
            long[] samples = new long[1024];
            int n = 0;
            try {
                while (!stop.get()) {
                    if (n == samples.length) {
                        samples = Arrays.copyOf(samples, n * 2);
                    }
                    samples[n++] = timedStart(start);
                }
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
            return Arrays.copyOf(samples, n);
        });
    }

    private static String describe(long[] nanos) {
        LatencyStats s = LatencyStats.ofNanos(nanos);
        long slow = Arrays.stream(nanos).filter(n -> n > SLOW.toNanos()).count();
        return String.format("n=%,d p50=%s p99=%s max=%s, slower than %d ms: %d", s.count(),
                LatencyStats.millis(s.p50Nanos()), LatencyStats.millis(s.p99Nanos()), LatencyStats.millis(s.maxNanos()),
                SLOW.toMillis(), slow);
    }

    private static long timedStart(PreparedStatement start) throws SQLException {
        long t0 = System.nanoTime();
        try (ResultSet rs = start.executeQuery()) {
            rs.next();
        }
        return System.nanoTime() - t0;
    }
}
