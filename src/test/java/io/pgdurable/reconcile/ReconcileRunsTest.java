package io.pgdurable.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code df.reconcile_runs}: every pass is recorded, the table stays bounded, and it paces the worker. */
class ReconcileRunsTest {
    private ReconcileDatabase db;

    @BeforeEach
    void freshDatabase() {
        db = ReconcileDatabase.create("reconcile_runs");
    }

    private Reconciler reconciler() {
        return new Reconciler(db.dataSource(), Clock.systemUTC());
    }

    @Test
    void a_pass_is_recorded_with_its_trigger_worker_retention_and_counts() throws SQLException {
        db.set(ReconcileSettings.RETENTION_DAYS, "7");
        db.seed(Seed.of(0x10, 3).agedAt(Instant.now().minus(Duration.ofDays(8))).nodes(3));
        db.seed(Seed.one(0x20).engineOnly().agedAt(Instant.now().minus(Duration.ofDays(8))));

        ReconcileResult r = reconciler().runOnce(Reconciler.Trigger.CLI, "ops-laptop");

        assertThat(r.ok()).isTrue();
        assertThat(r.runId()).isNotNull();
        assertThat(db.strings("""
                SELECT concat_ws('|', trigger, worker_id, retention_days, instances_removed, nodes_removed,
                                 engine_records_retired, orphans_reclaimed, coalesce(error, '-'),
                                 finished_at >= started_at)
                  FROM df.reconcile_runs WHERE id = ?
                """, r.runId())).containsExactly("cli|ops-laptop|7|3|9|3|1|-|t");
        assertThat(r.toJson().get("instances_removed").asLong()).isEqualTo(3);
        assertThat(r.toJson().get("nodes_removed").asLong()).isEqualTo(9);
        assertThat(r.toJson().get("orphans_reclaimed").asLong()).isEqualTo(1);
        assertThat(r.toJson().get("run_id").asLong()).isEqualTo(r.runId());
    }

    @Test
    void reconcile_runs_keeps_at_most_the_newest_thousand_passes() throws SQLException {
        int fake = 1_100;
        db.exec("""
                INSERT INTO df.reconcile_runs (trigger, worker_id, started_at, finished_at, retention_days)
                SELECT 'worker', 'w' || n, now() - (? - n) * interval '1 hour', now() - (? - n) * interval '1 hour', 30
                  FROM generate_series(1, ?) AS n
                """, fake, fake, fake);
        long firstFake = db.count("SELECT min(id) FROM df.reconcile_runs");
        long lastFake = db.count("SELECT max(id) FROM df.reconcile_runs");

        ReconcileResult r = reconciler().runOnce(Reconciler.Trigger.SQL, null);

        assertThat(r.ok()).isTrue();
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isLessThanOrEqualTo(Reconciler.KEPT_RUNS);
        assertThat(db.count("SELECT max(id) FROM df.reconcile_runs")).isEqualTo(r.runId());
        assertThat(db.strings("SELECT trigger FROM df.reconcile_runs WHERE id = ?", r.runId())).containsExactly("sql");
        // The oldest went, the newest stayed.
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs WHERE id BETWEEN ? AND ?", firstFake,
                firstFake + 99)).isZero();
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs WHERE id BETWEEN ? AND ?", lastFake - 899,
                lastFake)).isEqualTo(900);
    }

    @Test
    void the_periodic_pass_runs_when_none_ran_within_the_interval_and_not_again_until_then()
            throws SQLException {
        db.set(ReconcileSettings.RECONCILE_INTERVAL, "600");
        Reconciler reconciler = reconciler();

        Optional<ReconcileResult> first = reconciler.runIfDue("worker-a");
        Optional<ReconcileResult> second = reconciler.runIfDue("worker-b");

        assertThat(first).hasValueSatisfying(r -> assertThat(r.ok()).isTrue());
        assertThat(second).isEmpty();
        // On-demand passes do not count: the worker's cadence is its own.
        reconciler.runOnce(Reconciler.Trigger.CLI, null);
        assertThat(db.strings("SELECT trigger || ':' || coalesce(worker_id, '-') FROM df.reconcile_runs ORDER BY id"))
                .containsExactly("worker:worker-a", "cli:-");

        // A worker pass that started longer ago than the interval makes the next one due.
        db.exec("UPDATE df.reconcile_runs SET started_at = started_at - interval '601 seconds' WHERE trigger = 'worker'");
        assertThat(reconciler.runIfDue("worker-b")).isPresent();
    }

    @Test
    void an_interval_of_zero_disables_the_periodic_pass_but_not_a_pass_on_demand() throws SQLException {
        db.set(ReconcileSettings.RECONCILE_INTERVAL, "0");
        db.set(ReconcileSettings.RETENTION_DAYS, "0");
        db.seed(Seed.one(0x10).agedAt(Instant.now().minusSeconds(60)));
        Reconciler reconciler = reconciler();

        assertThat(reconciler.runIfDue("worker-a")).isEmpty();
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isZero();
        assertThat(db.dfIds()).hasSize(1);

        ReconcileResult onDemand = reconciler.runOnce(Reconciler.Trigger.SQL, null);
        assertThat(onDemand.instancesRemoved()).isEqualTo(1);
        assertThat(onDemand.settings().intervalSeconds()).isZero();
    }

    @Test
    void a_bad_interval_is_reported_by_the_periodic_pass_without_running_it() {
        db.set(ReconcileSettings.RECONCILE_INTERVAL, "hourly");

        Reconciler reconciler = reconciler();

        assertThatThrownBy(() -> reconciler.runIfDue("worker-a"))
                .hasMessageContaining("pg_durable.reconcile_interval").hasMessageContaining("'hourly'");
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isZero();
    }
}
