package io.pgdurable.reconcile;

import static io.pgdurable.graph.e2e.DfTestEnvironment.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Passes run back to back while live workflows start, run and finish: thousands of expired
 * instances go, and no live instance is touched before it is terminal.
 */
class ReconcileUnderWorkloadTest {
    private static final int LIVE = 200;
    private static final int EXPIRED = 5_000;
    private static final Duration PATIENCE = Duration.ofMinutes(2);

    private static final String FIRST_ID = ReconcileDatabase.id(0x100000);
    private static final String LAST_ID = ReconcileDatabase.id(0x100000 + EXPIRED - 1);

    private DfTestEnvironment env;
    private ReconcileDatabase db;

    @BeforeEach
    void setUp() {
        env = new DfTestEnvironment("reconcile_workload");
        db = ReconcileDatabase.existing(env.database());
        // 0: every terminal instance is removed at the next pass, live ones as soon as they finish.
        db.set(ReconcileSettings.RETENTION_DAYS, "0");
        db.auditDeletions();
        env.exec("CREATE TABLE public.live_done (instance_id text PRIMARY KEY,"
                + " done_at timestamptz NOT NULL DEFAULT clock_timestamp())");
        env.exec("GRANT INSERT, SELECT ON public.live_done TO " + env.role());
    }

    @AfterEach
    void tearDown() {
        env.close();
    }

    @Test
    void passes_during_a_running_workload_remove_expired_instances_and_never_touch_a_live_one() throws Exception {
        Instant expiredAge = Instant.now().minus(Duration.ofDays(2));
        db.seed(Seed.of(0x100000, EXPIRED).agedAt(expiredAge).olderEach(Duration.ofMillis(10)).nodes(3));
        env.startWorker();
        Reconciler reconciler = new Reconciler(db.dataSource(), Clock.systemUTC(), 100);

        // Passes back to back from before the first start until every live workflow is done.
        AtomicBoolean workloadDone = new AtomicBoolean();
        List<ReconcileResult> passes = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> reconciling = CompletableFuture.runAsync(() -> {
            try {
                do {
                    passes.add(reconciler.runOnce(Reconciler.Trigger.CLI, "workload-test"));
                    // Pacing only, to leave the two test cores to the workload between passes.
                    Thread.sleep(20);
                } while (!workloadDone.get());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        awaitTrue(() -> !passes.isEmpty() || db.count("SELECT count(*) FROM df.reconcile_runs") > 0,
                Duration.ofSeconds(30), "the first pass to start");

        String workloadStarted = db.strings("SELECT clock_timestamp()::text").get(0);
        List<String> live = new ArrayList<>();
        try (Connection app = env.connectAsApp();
             PreparedStatement start = app.prepareStatement("SELECT df.start('SELECT pg_sleep(0.1)'"
                     + " ~> 'INSERT INTO public.live_done VALUES ({sys_instance_id})')")) {
            for (int i = 0; i < LIVE; i++) {
                try (ResultSet rs = start.executeQuery()) {
                    rs.next();
                    live.add(rs.getString(1));
                }
            }
        }
        try {
            awaitTrue(() -> db.count("SELECT count(*) FROM public.live_done") == LIVE, PATIENCE,
                    "every live workflow to run its last step");
            awaitTrue(() -> db.count("SELECT count(*) FROM df.instances WHERE status NOT IN ('completed')") == 0
                            && db.count("SELECT count(*) FROM df_engine.instances WHERE status <> 'Completed'") == 0,
                    PATIENCE, "every live workflow to be completed in both stores");
        } finally {
            workloadDone.set(true);
            reconciling.get(2, TimeUnit.MINUTES);
        }

        assertThat(passes).hasSizeGreaterThanOrEqualTo(2).allSatisfy(p -> {
            assertThat(p.error()).isNull();
            assertThat(p.skipped()).isFalse();
        });
        // Passes ran while live workflows did.
        assertThat(db.count("""
                SELECT count(*) FROM df.reconcile_runs
                 WHERE started_at > ?::timestamptz AND started_at < (SELECT max(done_at) FROM public.live_done)
                """, workloadStarted)).isPositive();
        // Every live workflow ran to its end.
        assertThat(new HashSet<>(db.strings("SELECT instance_id FROM public.live_done"))).isEqualTo(Set.copyOf(live));
        // All the expired ones are gone, in both stores. (df.start ids are random: a live one may fall
        // in the seeded range.)
        String[] liveIds = live.toArray(String[]::new);
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE id BETWEEN ? AND ? AND id <> ALL (?)",
                FIRST_ID, LAST_ID, liveIds)).isZero();
        assertThat(db.count("SELECT count(*) FROM df_engine.instances WHERE id BETWEEN ? AND ? AND id <> ALL (?)",
                FIRST_ID, LAST_ID, liveIds)).isZero();
        assertThat(db.count("SELECT count(*) FROM df.nodes WHERE instance_id BETWEEN ? AND ? AND instance_id <> ALL (?)",
                FIRST_ID, LAST_ID, liveIds)).isZero();
        // Nothing was deleted that was not terminal, in either store.
        assertThat(db.strings("SELECT DISTINCT store || ':' || status FROM public.deleted_instances ORDER BY 1"))
                .isSubsetOf("df:completed", "engine:Completed");
        // A live instance is either still there, completed, or was removed as a completed one.
        for (String id : live) {
            // (Created after the workload began: a removed expired instance may have had the same random id.)
            List<String> fate = db.strings("SELECT store || ':' || status FROM public.deleted_instances"
                    + " WHERE id = ? AND created_at >= ?::timestamptz"
                    + " UNION ALL SELECT 'present:' || status FROM df.instances WHERE id = ? ORDER BY 1",
                    id, workloadStarted, id);
            assertThat(fate).as("fate of %s", id).isIn(List.of("present:completed"),
                    List.of("df:completed", "engine:Completed"));
        }
        long removedLive = live.stream().filter(id -> db.dfRowsOf(id) == 0).count();
        assertThat(passes.stream().mapToLong(ReconcileResult::instancesRemoved).sum()).isEqualTo(EXPIRED + removedLive);
        assertThat(passes.stream().mapToLong(ReconcileResult::nodesRemoved).sum()).isEqualTo(3L * EXPIRED + 3 * removedLive);
    }
}
