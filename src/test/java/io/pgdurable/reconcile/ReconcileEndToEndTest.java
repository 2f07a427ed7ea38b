package io.pgdurable.reconcile;

import static io.pgdurable.graph.e2e.DfTestEnvironment.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The worker's periodic reconciliation against real workflows, with
 * {@code pg_durable.reconcile_interval = 2} and {@code pg_durable.retention_days = 0} set for this
 * test's database only: a rolled-back df.start leaves nothing behind, an engine record that lost
 * its df rows is reclaimed, and a live instance waiting for a signal survives pass after pass
 * until it completes, after which the next pass removes it.
 */
class ReconcileEndToEndTest {
    private static final Duration PATIENCE = Duration.ofSeconds(60);
    private static final String DB = "reconcile_e2e";

    private DfTestEnvironment env;
    private ReconcileDatabase db;

    @BeforeEach
    void setUp() {
        env = new DfTestEnvironment(DB);
        db = ReconcileDatabase.existing(env.database());
        db.set(ReconcileSettings.RECONCILE_INTERVAL, "2");
        db.set(ReconcileSettings.RETENTION_DAYS, "0");
        db.auditDeletions();
        env.exec("CREATE TABLE public.e2e_done (instance_id text PRIMARY KEY)");
        env.exec("GRANT INSERT, SELECT ON public.e2e_done TO " + env.role());
    }

    @AfterEach
    void tearDown() {
        env.close();
    }

    private long finishedWorkerPasses() {
        return db.count("SELECT count(*) FROM df.reconcile_runs WHERE trigger = 'worker' AND finished_at IS NOT NULL");
    }

    @Test
    void the_periodic_pass_reclaims_orphans_and_removes_finished_instances_but_never_a_live_one() throws Exception {
        // The settings belong to this database: a new session elsewhere does not see them.
        String other = env.cluster().createEmptyDatabase(DB + "_other");
        assertThat(ReconcileDatabase.settingSeenIn(other, ReconcileSettings.RECONCILE_INTERVAL)).isNull();
        assertThat(ReconcileDatabase.settingSeenIn(other, ReconcileSettings.RETENTION_DAYS)).isNull();
        assertThat(ReconcileDatabase.settingSeenIn(DB, ReconcileSettings.RECONCILE_INTERVAL)).isEqualTo("2");
        assertThat(ReconcileDatabase.settingSeenIn(DB, ReconcileSettings.RETENTION_DAYS)).isEqualTo("0");

        // An orphan made by hand, before any reconciliation runs: a finished workflow whose df rows
        // were deleted, leaving its engine record behind.
        env.startWorker();
        String orphan = env.start("'SELECT 1'");
        assertThat(env.await(orphan, Duration.ofSeconds(30))).isEqualTo("completed");
        env.exec("DELETE FROM df.instances WHERE id = '" + orphan + "'");
        env.stopWorkers();
        assertThat(db.dfRowsOf(orphan)).isZero();
        assertThat(db.strings("SELECT status FROM df_engine.instances WHERE id = ?", orphan)).containsExactly("Completed");
        db.exec("TRUNCATE public.deleted_instances");

        // A df.start that is rolled back: nothing of it is left in either store.
        String rolledBack;
        try (Connection c = env.connectAsApp()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT df.start('SELECT 2')")) {
                rs.next();
                rolledBack = rs.getString(1);
            }
            c.rollback();
        }
        assertThat(db.dfRowsOf(rolledBack)).isZero();
        assertThat(db.engineRowsOf(rolledBack)).isZero();

        env.startWorkerWithReconciliation();
        String live = env.start("df.wait_for_signal('go') ~> 'INSERT INTO public.e2e_done VALUES ({sys_instance_id})'");
        awaitTrue(() -> db.count("SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", live) == 1, PATIENCE,
                "the live instance to wait for its signal");

        // Three passes while it waits.
        long passesBefore = finishedWorkerPasses();
        awaitTrue(() -> finishedWorkerPasses() >= passesBefore + 3, PATIENCE, "three periodic passes");
        assertThat(db.strings("SELECT status FROM df.instances WHERE id = ?", live)).containsExactly("running");
        assertThat(db.strings("SELECT status FROM df_engine.instances WHERE id = ?", live)).containsExactly("Running");
        assertThat(db.count("SELECT count(*) FROM df.nodes WHERE instance_id = ?", live)).isEqualTo(3);
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs WHERE error IS NOT NULL")).isZero();
        assertThat(db.count("SELECT count(*) FROM public.deleted_instances WHERE id = ?", live)).isZero();
        // The orphan went; the rolled-back start never appeared.
        assertThat(db.engineRowsOf(orphan)).isZero();
        assertThat(db.strings("SELECT store || ':' || status FROM public.deleted_instances WHERE id = ?", orphan))
                .containsExactly("engine:Completed");
        assertThat(db.count("SELECT sum(orphans_reclaimed) FROM df.reconcile_runs")).isEqualTo(1);
        assertThat(db.dfRowsOf(rolledBack) + db.engineRowsOf(rolledBack)).isZero();

        assertThat(env.queryAsApp("SELECT df.signal(?, 'go')", live)).isEqualTo("OK");

        awaitTrue(() -> db.count("SELECT count(*) FROM public.e2e_done WHERE instance_id = ?", live) == 1, PATIENCE,
                "the live instance to run its last step");
        awaitTrue(() -> db.dfRowsOf(live) == 0 && db.engineRowsOf(live) == 0, PATIENCE,
                "a pass to remove the completed instance");
        // It was removed as a completed instance, in both stores.
        assertThat(db.strings("SELECT store || ':' || status FROM public.deleted_instances WHERE id = ? ORDER BY store",
                live)).containsExactly("df:completed", "engine:Completed");
        assertThat(db.count("SELECT sum(instances_removed) FROM df.reconcile_runs")).isEqualTo(1);
        assertThat(db.count("SELECT sum(engine_records_retired) FROM df.reconcile_runs")).isEqualTo(1);

        // Nothing stays running.
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE status IN ('pending', 'running')")).isZero();
        assertThat(db.count("SELECT count(*) FROM df_engine.instances WHERE status IN ('Pending', 'Running')")).isZero();
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs WHERE error IS NOT NULL")).isZero();
    }
}
