package io.pgdurable.reconcile;

import static io.pgdurable.reconcile.ReconcileDatabase.ids;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reconciliation at the cap, with bad settings, and with passes that meet each other. */
class ReconcileLoadTest {
    private ReconcileDatabase db;

    @BeforeEach
    void freshDatabase() {
        db = ReconcileDatabase.create("reconcile_load");
    }

    private Reconciler reconciler() {
        return new Reconciler(db.dataSource(), Clock.systemUTC());
    }

    @Test
    void a_pass_over_ten_thousand_and_fifty_young_terminal_instances_keeps_exactly_the_newest_ten_thousand()
            throws Exception {
        int total = Reconciler.HARD_CAP + 50;
        // Number 0x100000 is the newest, an hour old; each next one 100 ms older.
        db.seed(Seed.of(0x100000, total).agedAt(Instant.now().minus(Duration.ofHours(1)))
                .olderEach(Duration.ofMillis(100)));

        ReconcileResult r = reconciler().runOnce(Reconciler.Trigger.CLI, null);

        assertThat(r.ok()).as(r.error()).isTrue();
        assertThat(r.instancesRemoved()).isEqualTo(50);
        assertThat(r.nodesRemoved()).isEqualTo(50);
        assertThat(r.engineRecordsRetired()).isEqualTo(50);
        assertThat(db.dfIds()).hasSize(Reconciler.HARD_CAP).containsAll(ids(0x100000, Reconciler.HARD_CAP));
        assertThat(db.engineRootIds()).hasSize(Reconciler.HARD_CAP).containsAll(ids(0x100000, Reconciler.HARD_CAP));
        assertThat(db.count("SELECT count(*) FROM df_engine.instances WHERE parent_id IS NOT NULL"))
                .isEqualTo(Reconciler.HARD_CAP);
        assertThat(db.count("SELECT count(*) FROM df_engine.history")).isEqualTo(4L * Reconciler.HARD_CAP);
        assertThat(db.count("SELECT count(*) FROM df_engine.executions")).isEqualTo(2L * Reconciler.HARD_CAP);
        assertThat(db.count("SELECT count(*) FROM df.nodes")).isEqualTo(Reconciler.HARD_CAP);
    }

    @Test
    void a_few_instances_older_than_the_window_are_removed_though_far_below_the_cap() throws Exception {
        db.set(ReconcileSettings.RETENTION_DAYS, "30");
        db.seed(Seed.of(0x100, 200).agedAt(Instant.now().minus(Duration.ofDays(29))).olderEach(Duration.ofSeconds(1)));
        db.seed(Seed.of(0x900, 3).agedAt(Instant.now().minus(Duration.ofDays(31))).olderEach(Duration.ofDays(100)));

        ReconcileResult r = reconciler().runOnce(Reconciler.Trigger.CLI, null);

        assertThat(r.instancesRemoved()).isEqualTo(3);
        assertThat(r.engineRecordsRetired()).isEqualTo(3);
        assertThat(db.dfIds()).containsExactlyElementsOf(ids(0x100, 200));
        assertThat(db.engineRootIds()).containsExactlyElementsOf(ids(0x100, 200));
    }

    @ParameterizedTest(name = "retention_days = ''{0}''")
    @ValueSource(strings = {"abc", "-1", "1e9", "36501", "7.5", "0x10", "30 days"})
    void a_pass_with_a_malformed_or_out_of_range_retention_deletes_nothing_and_reports_the_error(String bad)
            throws Exception {
        seedExpiredAndOrphans();
        db.set(ReconcileSettings.RETENTION_DAYS, bad);

        ReconcileResult r = reconciler().runOnce(Reconciler.Trigger.CLI, null);

        assertThat(r.ok()).isFalse();
        assertThat(r.error()).contains(ReconcileSettings.RETENTION_DAYS, "'" + bad + "'");
        assertThat(r.settings()).isNull();
        assertThat(r.instancesRemoved() + r.nodesRemoved() + r.engineRecordsRetired() + r.orphansReclaimed()).isZero();
        assertNothingRemoved();
        assertThat(db.strings("SELECT concat_ws('|', error, retention_days, instances_removed, finished_at IS NOT NULL)"
                + " FROM df.reconcile_runs WHERE id = ?", r.runId())).containsExactly(r.error() + "|0|t");
    }

    @Test
    void a_pass_with_a_malformed_interval_deletes_nothing_and_reports_the_error() throws Exception {
        seedExpiredAndOrphans();
        db.set(ReconcileSettings.RECONCILE_INTERVAL, "soon");

        ReconcileResult r = reconciler().runOnce(Reconciler.Trigger.CLI, null);

        assertThat(r.error()).contains(ReconcileSettings.RECONCILE_INTERVAL, "'soon'");
        assertNothingRemoved();
        assertThat(db.strings("SELECT error FROM df.reconcile_runs WHERE id = ?", r.runId())).containsExactly(r.error());
    }

    private void seedExpiredAndOrphans() {
        Instant old = Instant.now().minus(Duration.ofDays(400));
        db.seed(Seed.of(0x10, 20).agedAt(old));
        db.seed(Seed.of(0x100, 5).engineOnly().agedAt(old));
    }

    private void assertNothingRemoved() {
        assertThat(db.dfIds()).hasSize(20);
        assertThat(db.count("SELECT count(*) FROM df.nodes")).isEqualTo(20);
        assertThat(db.engineRootIds()).hasSize(25);
        assertThat(db.count("SELECT count(*) FROM df_engine.instances")).isEqualTo(50);
        assertThat(db.count("SELECT count(*) FROM df_engine.history")).isEqualTo(100);
    }

    @Test
    void a_pass_that_finds_the_reconciliation_lock_held_is_skipped_and_does_nothing() throws Exception {
        db.seed(Seed.of(0x10, 5).agedAt(Instant.now().minus(Duration.ofDays(400))));
        try (Connection holder = db.connect()) {
            // The schema owner's own session holds the lock, as another pass would.
            holder.setAutoCommit(false);
            try (PreparedStatement ps = holder.prepareStatement(
                    "LOCK TABLE " + Reconciler.LOCK_TABLE + " IN SHARE ROW EXCLUSIVE MODE")) {
                ps.execute();
            }

            ReconcileResult skipped = reconciler().runOnce(Reconciler.Trigger.CLI, null);

            assertThat(skipped.skipped()).isTrue();
            assertThat(skipped.ok()).isTrue();
            assertThat(skipped.runId()).isNull();
            assertThat(skipped.toJson().get("skipped").asBoolean()).isTrue();
            assertThat(reconciler().runIfDue("worker-a")).isEmpty();
            assertThat(db.dfIds()).hasSize(5);
            assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isZero();
            // Ended before the connection closes: a closing connection's transaction ends some time
            // after close() returns, when the server notices.
            holder.rollback();
        }
        // The lock went with the holder's transaction.
        ReconcileResult ran = reconciler().runOnce(Reconciler.Trigger.CLI, null);
        assertThat(ran.skipped()).isFalse();
        assertThat(ran.instancesRemoved()).isEqualTo(5);
    }

    @Test
    void two_passes_started_together_do_the_work_once_between_them_without_error() throws Exception {
        int expired = 3_000;
        db.seed(Seed.of(0x1000, expired).agedAt(Instant.now().minus(Duration.ofDays(400))).nodes(3).history(6));
        db.seed(Seed.of(0x8000, 200).engineOnly().agedAt(Instant.now().minus(Duration.ofDays(400))));
        CyclicBarrier start = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<ReconcileResult> results = new ArrayList<>();
        try {
            List<Future<ReconcileResult>> futures = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String worker = "racer-" + i;
                futures.add(pool.submit(() -> {
                    Reconciler reconciler = new Reconciler(db.dataSource(), Clock.systemUTC(), 100);
                    start.await(30, TimeUnit.SECONDS);
                    return reconciler.runOnce(Reconciler.Trigger.CLI, worker);
                }));
            }
            for (Future<ReconcileResult> f : futures) {
                results.add(f.get(2, TimeUnit.MINUTES));
            }
        } finally {
            pool.shutdownNow();
        }

        assertThat(results).allSatisfy(r -> assertThat(r.error()).isNull());
        assertThat(results.stream().mapToLong(ReconcileResult::instancesRemoved).sum()).isEqualTo(expired);
        assertThat(results.stream().mapToLong(ReconcileResult::nodesRemoved).sum()).isEqualTo(3L * expired);
        assertThat(results.stream().mapToLong(ReconcileResult::engineRecordsRetired).sum()).isEqualTo(expired);
        assertThat(results.stream().mapToLong(ReconcileResult::orphansReclaimed).sum()).isEqualTo(200);
        long ran = results.stream().filter(r -> !r.skipped()).count();
        assertThat(ran).isBetween(1L, 2L);
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isEqualTo(ran);
        assertThat(db.count("SELECT count(*) FROM df.instances") + db.count("SELECT count(*) FROM df_engine.instances"))
                .isZero();
        // Passes never overlap: each recorded run finished before the next one started.
        try (Connection c = db.connect();
             PreparedStatement ps = c.prepareStatement("""
                     SELECT count(*) FROM df.reconcile_runs a JOIN df.reconcile_runs b ON a.id < b.id
                      WHERE b.started_at < a.finished_at
                     """);
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            assertThat(rs.getLong(1)).isZero();
        }
    }
}
