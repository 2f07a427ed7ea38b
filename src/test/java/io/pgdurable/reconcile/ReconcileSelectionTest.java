package io.pgdurable.reconcile;

import static io.pgdurable.reconcile.ReconcileDatabase.childId;
import static io.pgdurable.reconcile.ReconcileDatabase.id;
import static io.pgdurable.reconcile.ReconcileDatabase.ids;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import io.pgdurable.testing.SettableClock;
import io.pgdurable.testing.TestCluster;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Which df instances a pass removes: the age window, the hard cap, the order, what counts as age,
 * and what is never touched. Rows are written by hand with exact ages against a settable clock.
 */
class ReconcileSelectionTest {
    private static final Instant NOW = Instant.parse("2026-06-01T12:00:00Z");
    private static final Duration DAY = Duration.ofDays(1);

    private final SettableClock clock = new SettableClock(NOW);
    private ReconcileDatabase db;

    @BeforeEach
    void freshDatabase() {
        db = ReconcileDatabase.create("reconcile_selection");
        db.set(ReconcileSettings.RETENTION_DAYS, "30");
    }

    private ReconcileResult pass(int batchSize) throws SQLException {
        ReconcileResult r = new Reconciler(db.dataSource(), clock, batchSize).runOnce(Reconciler.Trigger.CLI, "test");
        assertThat(r.error()).as("error of the pass").isNull();
        assertThat(r.skipped()).isFalse();
        return r;
    }

    private static Instant daysAgo(double days) {
        return NOW.minus(Duration.ofMillis((long) (days * DAY.toMillis())));
    }

    private static Set<String> union(List<String> a, List<String> b) {
        Set<String> s = new TreeSet<>(a);
        s.addAll(b);
        return s;
    }

    private static List<String> withChildren(List<String> ids) {
        List<String> out = new ArrayList<>(ids);
        ids.forEach(i -> out.add(ReconcileDatabase.childOf(i)));
        return out;
    }

    @Test
    void terminal_instances_older_than_retention_are_removed_and_younger_ones_kept() throws SQLException {
        db.seed(Seed.of(0x10, 5).agedAt(daysAgo(31)).olderEach(DAY));                 // 31..35 days: expired
        db.seed(Seed.of(0x20, 5).agedAt(daysAgo(1)).olderEach(DAY));                  // 1..5 days: kept
        db.seed(Seed.of(0x30, 2).status("failed").agedAt(daysAgo(29)));                // inside the window
        db.seed(Seed.of(0x40, 2).status("cancelled").agedAt(daysAgo(400)));            // long expired
        db.seed(Seed.one(0x50).agedAt(NOW.minus(Duration.ofDays(30))));                // exactly at the cutoff: kept
        db.seed(Seed.one(0x51).agedAt(NOW.minus(Duration.ofDays(30)).minusNanos(1_000))); // 1 µs past it

        ReconcileResult r = pass(3);

        List<String> removed = new ArrayList<>(ids(0x10, 5));
        removed.addAll(ids(0x40, 2));
        removed.add(id(0x51));
        Set<String> kept = union(ids(0x20, 5), ids(0x30, 2));
        kept.add(id(0x50));
        assertThat(r.instancesRemoved()).isEqualTo(8);
        assertThat(r.nodesRemoved()).isEqualTo(8);
        assertThat(r.engineRecordsRetired()).isEqualTo(8);
        assertThat(r.orphansReclaimed()).isZero();
        assertThat(r.settings().retentionDays()).isEqualTo(30);
        assertThat(db.dfIds()).containsExactlyElementsOf(kept);
        assertThat(db.engineRootIds()).containsExactlyElementsOf(kept);
        assertThat(db.count("SELECT count(*) FROM df.nodes")).isEqualTo(kept.size());
        for (String gone : withChildren(removed)) {
            assertThat(db.engineRowsOf(gone)).as("engine rows of %s", gone).isZero();
        }
        for (String stays : withChildren(List.copyOf(kept))) {
            assertThat(db.engineRowsOf(stays)).as("engine rows of %s", stays).isPositive();
        }
    }

    @Test
    void unset_retention_means_thirty_days() throws SQLException {
        db.reset(ReconcileSettings.RETENTION_DAYS);
        db.seed(Seed.one(0x10).agedAt(daysAgo(30.5)));
        db.seed(Seed.one(0x11).agedAt(daysAgo(29.5)));

        ReconcileResult r = pass(100);

        assertThat(r.settings().retentionDays()).isEqualTo(ReconcileSettings.DEFAULT_RETENTION_DAYS);
        assertThat(r.instancesRemoved()).isEqualTo(1);
        assertThat(db.dfIds()).containsExactly(id(0x11));
    }

    @Test
    void retention_of_zero_removes_every_terminal_instance_at_the_next_pass() throws SQLException {
        db.set(ReconcileSettings.RETENTION_DAYS, "0");
        db.seed(Seed.of(0x10, 4).agedAt(NOW.minusSeconds(1)));
        db.seed(Seed.one(0x20).status("running").agedAt(NOW.minusSeconds(5)));

        ReconcileResult r = pass(100);

        assertThat(r.instancesRemoved()).isEqualTo(4);
        assertThat(db.dfIds()).containsExactly(id(0x20));
        assertThat(db.engineRootIds()).containsExactly(id(0x20));
    }

    @Test
    void a_removed_instance_takes_its_engine_children_history_executions_and_queued_messages_with_it()
            throws SQLException {
        db.seed(Seed.one(0x10).agedAt(daysAgo(40)).history(7));
        db.seed(Seed.one(0x11).agedAt(daysAgo(2)).history(7));
        for (int n : new int[] {0x10, 0x11}) {
            // Messages that arrive after the end belong to the record too.
            db.exec("INSERT INTO df_engine.orchestrator_queue (instance_id, kind, name, payload)"
                    + " VALUES (?, 'EventRaised', 'late', 'null')", childId(n));
            db.exec("INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name)"
                    + " VALUES (?, 1, 9, 'stray')", id(n));
        }
        assertThat(db.engineRowsOf(id(0x10))).isEqualTo(1 + 1 + 7 + 1);
        assertThat(db.engineRowsOf(childId(0x10))).isEqualTo(1 + 1 + 2 + 1);

        ReconcileResult r = pass(100);

        assertThat(r.instancesRemoved()).isEqualTo(1);
        assertThat(r.engineRecordsRetired()).isEqualTo(1);
        assertThat(db.dfRowsOf(id(0x10))).isZero();
        assertThat(db.engineRowsOf(id(0x10))).isZero();
        assertThat(db.engineRowsOf(childId(0x10))).isZero();
        assertThat(db.dfRowsOf(id(0x11))).isEqualTo(2);
        assertThat(db.engineRowsOf(id(0x11))).isEqualTo(1 + 1 + 7 + 1);
        assertThat(db.engineRowsOf(childId(0x11))).isEqualTo(1 + 1 + 2 + 1);
    }

    @Test
    void the_hard_cap_keeps_exactly_the_newest_ten_thousand_terminal_instances_even_when_young()
            throws SQLException {
        // 10,007 terminal instances, all a day old or younger; the oldest has a forged future
        // updated_at, which must not make it look new.
        db.seed(Seed.of(0x10000, 10_006).agedAt(NOW.minusSeconds(60)).olderEach(Duration.ofSeconds(5)));
        db.seed(Seed.one(0x20000).agedAt(NOW.minus(Duration.ofHours(20))).updatedAt(NOW.plus(Duration.ofDays(3650))));
        // Pending and running instances are neither counted against the cap nor removed.
        db.seed(Seed.of(0x30000, 3).status("running").agedAt(daysAgo(5000)));
        db.seed(Seed.of(0x30010, 2).status("pending").agedAt(daysAgo(5000)));

        ReconcileResult r = pass(3);

        // The oldest: the forged one, then numbers 0x10000 + 10,005 down to + 10,000.
        List<String> removed = new ArrayList<>(ids(0x10000 + 10_000, 6));
        removed.add(id(0x20000));
        assertThat(r.instancesRemoved()).isEqualTo(7);
        assertThat(r.engineRecordsRetired()).isEqualTo(7);
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE status IN ('completed', 'failed', 'cancelled')"))
                .isEqualTo(Reconciler.HARD_CAP);
        Set<String> left = db.dfIds();
        assertThat(left).hasSize(Reconciler.HARD_CAP + 5).doesNotContainAnyElementsOf(removed)
                .containsAll(ids(0x10000, 10_000)).containsAll(ids(0x30000, 3)).containsAll(ids(0x30010, 2));
        assertThat(db.engineRootIds()).isEqualTo(left);
        for (String gone : withChildren(removed)) {
            assertThat(db.engineRowsOf(gone)).as("engine rows of %s", gone).isZero();
        }

        // At the cap, with nothing older than the window, the next pass has nothing to do.
        ReconcileResult again = pass(3);
        assertThat(again.instancesRemoved()).isZero();
        assertThat(db.dfIds()).isEqualTo(left);
    }

    @Test
    void when_the_hard_cap_bites_one_roles_flood_loses_its_own_instances_not_another_roles() throws SQLException {
        TestCluster.get().createLoginRole("cap_flooder");
        TestCluster.get().createLoginRole("cap_bystander");
        // The bystander's 100 are the oldest of all, but every one of them is young.
        db.seed(Seed.of(0x10, 100).submittedBy("cap_bystander").agedAt(NOW.minus(Duration.ofMinutes(25)))
                .olderEach(Duration.ofSeconds(1)));
        db.seed(Seed.of(0x100000, 10_500).submittedBy("cap_flooder").agedAt(NOW.minusSeconds(10))
                .olderEach(Duration.ofMillis(100)));

        ReconcileResult r = pass(500);

        // 10,600 young terminal instances: the flooder, holding the most, gives up 600, its oldest.
        assertThat(r.instancesRemoved()).isEqualTo(600);
        assertThat(r.engineRecordsRetired()).isEqualTo(600);
        Set<String> left = db.dfIds();
        assertThat(left).hasSize(Reconciler.HARD_CAP).containsAll(ids(0x10, 100))
                .containsAll(ids(0x100000, 9_900)).doesNotContainAnyElementsOf(ids(0x100000 + 9_900, 600));
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE submitted_by = 'cap_flooder'::regrole"))
                .isEqualTo(9_900);
        assertThat(db.engineRootIds()).isEqualTo(left);

        ReconcileResult again = pass(500);
        assertThat(again.instancesRemoved()).isZero();
    }

    @Test
    void the_hard_cap_evens_out_roles_that_all_hold_more_than_their_share() throws SQLException {
        TestCluster.get().createLoginRole("cap_a");
        TestCluster.get().createLoginRole("cap_b");
        TestCluster.get().createLoginRole("cap_c");
        // 3,000 + 4,000 + 7,000 = 14,000 young: levelled to 3,000 + 3,500 + 3,500.
        db.seed(Seed.of(0x100000, 3_000).submittedBy("cap_a").agedAt(NOW.minusSeconds(10))
                .olderEach(Duration.ofMillis(10)));
        db.seed(Seed.of(0x200000, 4_000).submittedBy("cap_b").agedAt(NOW.minusSeconds(20))
                .olderEach(Duration.ofMillis(10)));
        db.seed(Seed.of(0x300000, 7_000).submittedBy("cap_c").agedAt(NOW.minusSeconds(5))
                .olderEach(Duration.ofMillis(10)));

        ReconcileResult r = pass(1_000);

        assertThat(r.instancesRemoved()).isEqualTo(4_000);
        assertThat(db.dfIds()).containsAll(ids(0x100000, 3_000)).containsAll(ids(0x200000, 3_500))
                .containsAll(ids(0x300000, 3_500)).hasSize(Reconciler.HARD_CAP);
    }

    @Test
    void when_equal_roles_cannot_all_keep_one_more_the_newer_instance_of_that_round_is_kept() throws SQLException {
        TestCluster.get().createLoginRole("cap_p");
        TestCluster.get().createLoginRole("cap_q");
        TestCluster.get().createLoginRole("cap_r");
        // 3 x 4,000: each keeps 3,333, and one more place is left for the newest of the three
        // 3,334th-newest instances, which is cap_p's (all of cap_p's are the newest).
        db.seed(Seed.of(0x100000, 4_000).submittedBy("cap_p").agedAt(NOW.minusSeconds(1))
                .olderEach(Duration.ofMillis(1)));
        db.seed(Seed.of(0x200000, 4_000).submittedBy("cap_q").agedAt(NOW.minusSeconds(100))
                .olderEach(Duration.ofMillis(1)));
        db.seed(Seed.of(0x300000, 4_000).submittedBy("cap_r").agedAt(NOW.minusSeconds(200))
                .olderEach(Duration.ofMillis(1)));

        ReconcileResult r = pass(1_000);

        assertThat(r.instancesRemoved()).isEqualTo(2_000);
        assertThat(db.dfIds()).containsAll(ids(0x100000, 3_334)).containsAll(ids(0x200000, 3_333))
                .containsAll(ids(0x300000, 3_333)).hasSize(Reconciler.HARD_CAP);
    }

    @Test
    void ties_in_age_at_the_cap_boundary_are_broken_by_id_lowest_first() throws SQLException {
        db.seed(Seed.of(0x10000, 9_998).agedAt(NOW.minusSeconds(60)).olderEach(Duration.ofSeconds(1)));
        Instant tie = NOW.minus(Duration.ofHours(12));
        // Five instances of exactly the same age, older than all the others, written out of id order,
        // with both ways of having that age.
        db.seed(Seed.one(0x50).agedAt(tie));
        db.seed(Seed.one(0x20).agedAt(tie).status("failed").withoutTerminalAt());
        db.seed(Seed.one(0x40).agedAt(tie).status("cancelled"));
        db.seed(Seed.one(0x10).agedAt(tie));
        db.seed(Seed.one(0x30).agedAt(tie).status("cancelled").withoutTerminalAt());

        ReconcileResult r = pass(2);

        assertThat(r.instancesRemoved()).isEqualTo(3);
        assertThat(db.dfIds()).doesNotContain(id(0x10), id(0x20), id(0x30)).contains(id(0x40), id(0x50))
                .hasSize(Reconciler.HARD_CAP);
        assertThat(db.engineRootIds()).doesNotContain(id(0x10), id(0x20), id(0x30)).contains(id(0x40), id(0x50));
    }

    @Test
    void expired_instances_are_removed_oldest_first_so_an_interrupted_pass_leaves_the_newest() throws SQLException {
        // Not interrupted here: the order is observable through the audit of deletions.
        db.auditDeletions();
        db.seed(Seed.one(0x13).agedAt(daysAgo(31)));
        db.seed(Seed.one(0x11).agedAt(daysAgo(33)));
        db.seed(Seed.one(0x12).agedAt(daysAgo(32)).status("failed").withoutTerminalAt());
        db.seed(Seed.one(0x10).agedAt(daysAgo(32)));   // same age as 0x12: the lower id goes first

        pass(1);

        assertThat(db.strings("SELECT id FROM public.deleted_instances WHERE store = 'df' ORDER BY deleted_at"))
                .containsExactly(id(0x11), id(0x10), id(0x12), id(0x13));
    }

    @Test
    void a_forged_updated_at_neither_keeps_an_expired_instance_nor_expires_a_young_one() throws SQLException {
        db.seed(Seed.one(0x10).agedAt(daysAgo(40)).updatedAt(NOW.plus(Duration.ofDays(365 * 100))));
        db.seed(Seed.one(0x11).agedAt(daysAgo(1)).updatedAt(Instant.parse("1990-01-01T00:00:00Z")));
        db.seed(Seed.one(0x12).status("failed").withoutTerminalAt().agedAt(daysAgo(40)).updatedAt(NOW));

        ReconcileResult r = pass(100);

        assertThat(r.instancesRemoved()).isEqualTo(2);
        assertThat(db.dfIds()).containsExactly(id(0x11));
        assertThat(db.engineRootIds()).containsExactly(id(0x11));
    }

    @Test
    void terminal_instances_without_a_terminal_time_age_from_created_at() throws SQLException {
        db.seed(Seed.one(0x10).status("failed").withoutTerminalAt().agedAt(daysAgo(31)));
        db.seed(Seed.one(0x11).status("cancelled").withoutTerminalAt().agedAt(daysAgo(31)));
        db.seed(Seed.one(0x12).status("completed").withoutTerminalAt().agedAt(daysAgo(31)));
        db.seed(Seed.one(0x20).status("failed").withoutTerminalAt().agedAt(daysAgo(29)));
        db.seed(Seed.one(0x21).status("cancelled").withoutTerminalAt().agedAt(daysAgo(29)));
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE terminal_at IS NULL")).isEqualTo(5);

        ReconcileResult r = pass(100);

        assertThat(r.instancesRemoved()).isEqualTo(3);
        assertThat(db.dfIds()).containsExactly(id(0x20), id(0x21));
        assertThat(db.engineRootIds()).containsExactly(id(0x20), id(0x21));
    }

    @Test
    void a_set_terminal_time_is_the_age_however_long_before_the_instance_was_created() throws SQLException {
        // Created 100 days ago; completed 29 days ago (kept) or 31 days ago (removed).
        Duration longRun = Duration.ofDays(71);
        db.seed(Seed.one(0x10).status("failed").agedAt(daysAgo(29)).createdBefore(longRun));
        db.seed(Seed.one(0x11).status("cancelled").agedAt(daysAgo(29)).createdBefore(longRun));
        db.seed(Seed.one(0x12).status("completed").agedAt(daysAgo(29)).createdBefore(longRun));
        db.seed(Seed.one(0x20).status("failed").agedAt(daysAgo(31)).createdBefore(Duration.ofDays(69)));
        db.seed(Seed.one(0x21).status("cancelled").agedAt(daysAgo(31)).createdBefore(Duration.ofDays(69)));
        assertThat(db.count("SELECT count(*) FROM df.instances WHERE created_at < ?",
                ReconcileDatabase.utc(daysAgo(99)))).isEqualTo(5);

        ReconcileResult r = pass(100);

        assertThat(r.instancesRemoved()).isEqualTo(2);
        assertThat(db.dfIds()).containsExactly(id(0x10), id(0x11), id(0x12));
    }

    @Test
    void pending_and_running_instances_are_never_removed_however_old() throws SQLException {
        db.set(ReconcileSettings.RETENTION_DAYS, "0");
        db.seed(Seed.of(0x10, 3).status("pending").agedAt(daysAgo(20_000)).updatedAt(daysAgo(20_000)));
        db.seed(Seed.of(0x20, 3).status("running").agedAt(daysAgo(20_000)).olderEach(DAY));
        db.seed(Seed.of(0x30, 3).status("completed").agedAt(daysAgo(1)));

        ReconcileResult r = pass(1);

        assertThat(r.instancesRemoved()).isEqualTo(3);
        Set<String> live = union(ids(0x10, 3), ids(0x20, 3));
        assertThat(db.dfIds()).isEqualTo(live);
        assertThat(db.engineRootIds()).isEqualTo(live);
        assertThat(db.count("SELECT count(*) FROM df.nodes")).isEqualTo(6);
        for (String stays : withChildren(List.copyOf(live))) {
            assertThat(db.engineRowsOf(stays)).as("engine rows of %s", stays).isPositive();
        }
    }

    @Test
    void a_terminal_df_instance_whose_engine_record_is_still_running_keeps_that_record() throws SQLException {
        // The df row says completed; the engine still runs a child. The df rows go; the engine
        // record stays until it is terminal (then it is an orphan, reclaimed later).
        db.seed(Seed.one(0x10).agedAt(daysAgo(40)));
        db.exec("UPDATE df_engine.instances SET status = 'Running', completed_at = NULL WHERE id = ?", childId(0x10));

        ReconcileResult r = pass(100);

        assertThat(r.instancesRemoved()).isEqualTo(1);
        assertThat(r.engineRecordsRetired()).isZero();
        assertThat(db.dfRowsOf(id(0x10))).isZero();
        assertThat(db.engineRowsOf(id(0x10))).isPositive();
        assertThat(db.engineRowsOf(childId(0x10))).isPositive();
    }
}
