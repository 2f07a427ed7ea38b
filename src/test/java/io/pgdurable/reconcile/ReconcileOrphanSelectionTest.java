package io.pgdurable.reconcile;

import static io.pgdurable.reconcile.ReconcileDatabase.BRANCH;
import static io.pgdurable.reconcile.ReconcileDatabase.GRAPH;
import static io.pgdurable.reconcile.ReconcileDatabase.childId;
import static io.pgdurable.reconcile.ReconcileDatabase.id;
import static io.pgdurable.reconcile.ReconcileDatabase.ids;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import io.pgdurable.testing.SettableClock;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Orphaned engine records: graph orchestrations with no df row, reclaimed once terminal and older
 * than the retention window, at most {@value Reconciler#MAX_ORPHANS} a pass; everything else in
 * the engine is left alone.
 */
class ReconcileOrphanSelectionTest {
    private static final Instant NOW = Instant.parse("2026-06-01T12:00:00Z");

    private final SettableClock clock = new SettableClock(NOW);
    private ReconcileDatabase db;

    @BeforeEach
    void freshDatabase() {
        db = ReconcileDatabase.create("reconcile_orphans");
        db.set(ReconcileSettings.RETENTION_DAYS, "30");
    }

    private ReconcileResult pass() throws SQLException {
        ReconcileResult r = new Reconciler(db.dataSource(), clock, 50).runOnce(Reconciler.Trigger.CLI, "test");
        assertThat(r.error()).as("error of the pass").isNull();
        return r;
    }

    private static Instant daysAgo(int days) {
        return NOW.minus(Duration.ofDays(days));
    }

    @Test
    void old_terminal_graph_records_without_a_df_row_are_reclaimed_with_their_children_and_history()
            throws SQLException {
        db.seed(Seed.one(0x10).status("completed").engineOnly().agedAt(daysAgo(31)).history(5));
        db.seed(Seed.one(0x11).status("failed").engineOnly().agedAt(daysAgo(45)));
        db.seed(Seed.one(0x12).status("cancelled").engineOnly().agedAt(daysAgo(400)));
        db.exec("INSERT INTO df_engine.orchestrator_queue (instance_id, kind, name, payload)"
                + " VALUES (?, 'EventRaised', 'late', 'null')", id(0x11));

        ReconcileResult r = pass();

        assertThat(r.orphansReclaimed()).isEqualTo(3);
        assertThat(r.instancesRemoved()).isZero();
        assertThat(r.engineRecordsRetired()).isZero();
        for (int n : new int[] {0x10, 0x11, 0x12}) {
            assertThat(db.engineRowsOf(id(n))).as("engine rows of %s", id(n)).isZero();
            assertThat(db.engineRowsOf(childId(n))).as("engine rows of %s", childId(n)).isZero();
        }
        assertThat(db.count("SELECT count(*) FROM df_engine.instances")).isZero();
    }

    @Test
    void reclamation_leaves_df_backed_sub_orchestration_non_terminal_young_and_foreign_records_alone()
            throws SQLException {
        // One genuine orphan, so the pass demonstrably reclaims something.
        db.seed(Seed.one(0x01).engineOnly().agedAt(daysAgo(60)));

        // Backed by a df row that is young (kept by step 1) although the engine record is old.
        db.seed(Seed.one(0x10).agedAt(daysAgo(2)));
        db.exec("UPDATE df_engine.instances SET created_at = ?, completed_at = ? WHERE id = ?",
                ReconcileDatabase.utc(daysAgo(90)), ReconcileDatabase.utc(daysAgo(89)), id(0x10));
        // Backed by a running df row while the engine record is already terminal and old.
        db.seed(Seed.one(0x11).status("running").agedAt(daysAgo(90)));
        db.exec("UPDATE df_engine.instances SET status = 'Completed', completed_at = ? WHERE id = ?",
                ReconcileDatabase.utc(daysAgo(89)), id(0x11));
        // Sub-orchestrations: an id with '::' and no parent, and a child of a parent that is gone.
        db.engineRecord("000000a0::1::00000002", GRAPH, "Completed", null, daysAgo(90));
        db.engineRecord("000000a1", GRAPH, "Completed", "000000ff", daysAgo(90));
        db.engineRecord("000000a2::3::00000004", BRANCH, "Failed", "000000fe", daysAgo(90));
        // Not terminal, however old.
        db.engineRecord("000000b0", GRAPH, "Running", null, daysAgo(900));
        db.engineRecord("000000b1", GRAPH, "Pending", null, daysAgo(900));
        // Terminal but younger than the window.
        db.seed(Seed.one(0xc0).engineOnly().agedAt(daysAgo(29)));
        db.seed(Seed.one(0xc1).status("failed").engineOnly().agedAt(daysAgo(29)));
        // Another orchestration's records are not df's to reclaim.
        db.engineRecord("000000d0", "billing.monthly_close", "Completed", null, daysAgo(900));
        long before = db.count("SELECT count(*) FROM df_engine.instances");

        ReconcileResult r = pass();

        assertThat(r.orphansReclaimed()).isEqualTo(1);
        assertThat(r.instancesRemoved()).isZero();
        assertThat(db.engineRowsOf(id(0x01))).isZero();
        assertThat(db.engineRowsOf(childId(0x01))).isZero();
        // The orphan and its child are the only records gone.
        assertThat(db.count("SELECT count(*) FROM df_engine.instances")).isEqualTo(before - 2);
        for (String stays : List.of(id(0x10), childId(0x10), id(0x11), childId(0x11), "000000a0::1::00000002",
                "000000a1", "000000a2::3::00000004", "000000b0", "000000b1", id(0xc0), childId(0xc0), id(0xc1),
                "000000d0")) {
            assertThat(db.engineRowsOf(stays)).as("engine rows of %s", stays).isEqualTo(4);
        }
        assertThat(db.dfIds()).containsExactly(id(0x10), id(0x11));

        // Once the young ones age past the window, they go too; the rest still stays.
        clock.set(NOW.plus(Duration.ofDays(2)));
        ReconcileResult later = pass();
        assertThat(later.orphansReclaimed()).isEqualTo(2);
        assertThat(db.engineRowsOf(id(0xc0))).isZero();
        assertThat(db.engineRowsOf(id(0xc1))).isZero();
        assertThat(db.count("SELECT count(*) FROM df_engine.instances")).isEqualTo(before - 2 - 4);
    }

    @Test
    void at_most_one_thousand_orphans_are_reclaimed_per_pass_oldest_first() throws SQLException {
        int total = Reconciler.MAX_ORPHANS + 5;
        // Number 0x1000 is the youngest; each next one a minute older.
        db.seed(Seed.of(0x1000, total).engineOnly().withoutChild().agedAt(daysAgo(31)).olderEach(Duration.ofMinutes(1)));
        // Older still, but running: they neither go nor take the places of those that may.
        db.seed(Seed.of(0x8000, Reconciler.MAX_ORPHANS).status("running").engineOnly().withoutChild()
                .agedAt(daysAgo(900)));
        List<String> running = ids(0x8000, Reconciler.MAX_ORPHANS);

        ReconcileResult first = pass();

        assertThat(first.orphansReclaimed()).isEqualTo(Reconciler.MAX_ORPHANS);
        assertThat(db.engineRootIds()).hasSize(5 + running.size()).containsAll(ids(0x1000, 5)).containsAll(running);

        ReconcileResult second = pass();

        assertThat(second.orphansReclaimed()).isEqualTo(5);
        assertThat(db.engineRootIds()).containsExactlyElementsOf(running);
    }
}
