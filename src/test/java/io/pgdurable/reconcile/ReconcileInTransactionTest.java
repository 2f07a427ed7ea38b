package io.pgdurable.reconcile;

import static io.pgdurable.reconcile.ReconcileDatabase.ids;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A whole pass in the caller's transaction ({@link Reconciler#runInTransaction}, which
 * {@code df.reconcile()} runs as {@code df_engine.reconcile_pass}): what it removes, that it never
 * commits, its bound, where its settings come from, and the lock it shares with batched passes.
 */
class ReconcileInTransactionTest {
    private static final Instant LONG_AGO = Instant.now().minus(Duration.ofDays(400));

    private ReconcileDatabase db;

    @BeforeEach
    void freshDatabase() {
        db = ReconcileDatabase.create("reconcile_in_tx");
    }

    private Reconciler reconciler() {
        return new Reconciler(db.dataSource(), Clock.systemUTC());
    }

    @Test
    void a_pass_in_the_callers_transaction_removes_what_is_due_and_commits_nothing_itself() throws Exception {
        db.seed(Seed.of(0x10, 20).agedAt(LONG_AGO));
        db.seed(Seed.of(0x100, 5).agedAt(Instant.now().minus(Duration.ofDays(1))));
        db.seed(Seed.of(0x200, 4).engineOnly().agedAt(LONG_AGO));

        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            ReconcileResult r = reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null);

            assertThat(r.error()).isNull();
            assertThat(r.skipped()).isFalse();
            assertThat(r.instancesRemoved()).isEqualTo(20);
            assertThat(r.nodesRemoved()).isEqualTo(20);
            assertThat(r.engineRecordsRetired()).isEqualTo(20);
            assertThat(r.orphansReclaimed()).isEqualTo(4);
            assertThat(r.moreRemaining()).isFalse();
            assertThat(r.settings()).isEqualTo(new ReconcileSettings(30, 3600));
            // Nothing is visible to others until the caller commits.
            assertThat(db.dfIds()).hasSize(25);
            assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isZero();
            c.commit();
            assertThat(r.runId()).isNotNull();
        }
        assertThat(db.dfIds()).containsExactlyElementsOf(ids(0x100, 5));
        assertThat(db.count("SELECT count(*) FROM df_engine.instances WHERE parent_id IS NULL")).isEqualTo(5);
        assertThat(db.strings("SELECT concat_ws('|', trigger, retention_days, instances_removed, nodes_removed,"
                + " engine_records_retired, orphans_reclaimed, finished_at IS NOT NULL, error IS NULL)"
                + " FROM df.reconcile_runs")).containsExactly("sql|30|20|20|20|4|t|t");
    }

    @Test
    void a_pass_its_caller_rolls_back_leaves_every_row_and_no_record() throws Exception {
        db.seed(Seed.of(0x10, 8).agedAt(LONG_AGO));
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            assertThat(reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null).instancesRemoved()).isEqualTo(8);
            c.rollback();
        }
        assertThat(db.dfIds()).hasSize(8);
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isZero();
    }

    @Test
    void a_pass_in_one_transaction_removes_at_most_the_hard_cap_and_says_that_more_remain() throws Exception {
        db.seed(Seed.of(0x100000, Reconciler.HARD_CAP + 30).agedAt(LONG_AGO));
        Reconciler reconciler = new Reconciler(db.dataSource(), Clock.systemUTC(), 2_000);

        ReconcileResult first;
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            first = reconciler.runInTransaction(c, Reconciler.Trigger.SQL, null);
            c.commit();
        }
        assertThat(first.instancesRemoved()).isEqualTo(Reconciler.HARD_CAP);
        assertThat(first.moreRemaining()).isTrue();
        assertThat(first.toJson().get("more_remaining").asBoolean()).isTrue();
        assertThat(db.dfIds()).hasSize(30);

        ReconcileResult second;
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            second = reconciler.runInTransaction(c, Reconciler.Trigger.SQL, null);
            c.commit();
        }
        assertThat(second.instancesRemoved()).isEqualTo(30);
        assertThat(second.moreRemaining()).isFalse();
        assertThat(db.dfIds()).isEmpty();
    }

    @Test
    void the_calling_session_cannot_shorten_the_retention_of_its_pass() throws Exception {
        db.seed(Seed.of(0x10, 6).agedAt(Instant.now().minus(Duration.ofDays(10))));
        PGSimpleDataSource withOptions = (PGSimpleDataSource) db.dataSource();
        withOptions.setOptions("-c pg_durable.retention_days=0 -c pg_durable.reconcile_interval=abc");
        try (Connection c = withOptions.getConnection()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SET pg_durable.retention_days = 0");
                s.execute("SET LOCAL pg_durable.retention_days = 1");
            }
            assertThat(setting(c, ReconcileSettings.RETENTION_DAYS)).isEqualTo("1");
            ReconcileResult r = reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null);
            c.commit();
            assertThat(r.error()).isNull();
            assertThat(r.settings()).isEqualTo(new ReconcileSettings(30, 3600));
            assertThat(r.instancesRemoved()).isZero();
        }
        assertThat(db.dfIds()).hasSize(6);
    }

    @Test
    void the_databases_configuration_set_by_a_superuser_applies_to_a_pass_in_one_transaction() throws Exception {
        db.seed(Seed.of(0x10, 6).agedAt(Instant.now().minus(Duration.ofDays(10))));
        db.set(ReconcileSettings.RETENTION_DAYS, "7");
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SET pg_durable.retention_days = 30000");  // the session's own value: ignored
            }
            ReconcileResult r = reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null);
            c.commit();
            assertThat(r.settings().retentionDays()).isEqualTo(7);
            assertThat(r.instancesRemoved()).isEqualTo(6);
        }
    }

    @Test
    void the_configuration_files_apply_to_a_pass_in_one_transaction_below_the_databases_setting() throws Exception {
        db.seed(Seed.of(0x10, 6).agedAt(Instant.now().minus(Duration.ofDays(10))));
        try (Connection admin = TestCluster.get().connect("postgres"); Statement s = admin.createStatement()) {
            // ALTER SYSTEM takes a name no module defines only where the session knows it.
            s.execute("SET pg_durable.retention_days = 9");
            s.execute("ALTER SYSTEM SET pg_durable.retention_days = 9");
            try {
                try (Connection c = db.connect()) {
                    c.setAutoCommit(false);
                    ReconcileResult r = reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null);
                    c.rollback();
                    assertThat(r.settings().retentionDays()).isEqualTo(9);
                    assertThat(r.instancesRemoved()).isEqualTo(6);
                }
                db.set(ReconcileSettings.RETENTION_DAYS, "11");
                try (Connection c = db.connect()) {
                    c.setAutoCommit(false);
                    ReconcileResult r = reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null);
                    c.rollback();
                    assertThat(r.settings().retentionDays()).isEqualTo(11);
                    assertThat(r.instancesRemoved()).isZero();
                }
            } finally {
                s.execute("ALTER SYSTEM RESET pg_durable.retention_days");
            }
        }
    }

    @ParameterizedTest(name = "retention_days = ''{0}''")
    @ValueSource(strings = {"abc", "-1", "1e9", "36501", "7.5", "0x10", "30 days"})
    void a_malformed_setting_fails_a_pass_in_one_transaction_with_the_batched_passes_message(String bad)
            throws Exception {
        db.seed(Seed.of(0x10, 5).agedAt(LONG_AGO));
        db.set(ReconcileSettings.RETENTION_DAYS, bad);

        ReconcileResult inTransaction;
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            inTransaction = reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null);
            c.commit();
        }
        ReconcileResult batched = reconciler().runOnce(Reconciler.Trigger.CLI, null);

        assertThat(inTransaction.error()).isEqualTo(batched.error())
                .isEqualTo(ReconcileSettings.RETENTION_DAYS + " must be a whole number of days between 0 and 36500, got '"
                        + bad + "'");
        assertThat(inTransaction.settings()).isNull();
        assertThat(inTransaction.instancesRemoved()).isZero();
        assertThat(db.dfIds()).hasSize(5);
        assertThat(db.strings("SELECT concat_ws('|', error, retention_days, instances_removed, finished_at IS NOT NULL)"
                + " FROM df.reconcile_runs WHERE id = ?", inTransaction.runId())).containsExactly(inTransaction.error() + "|0|t");
    }

    @Test
    void a_pass_in_one_transaction_and_a_batched_pass_never_run_at_once() throws Exception {
        db.seed(Seed.of(0x10, 20).agedAt(LONG_AGO));

        // A batched pass under way: the pass in one transaction is skipped and removes nothing.
        Reconciler batched = new Reconciler(db.dataSource(), Clock.systemUTC(), 5);
        AtomicReference<ReconcileResult> meanwhile = new AtomicReference<>();
        AtomicBoolean looked = new AtomicBoolean();
        batched.afterBatch(() -> {
            if (looked.compareAndSet(false, true)) {
                try (Connection c = db.connect()) {
                    c.setAutoCommit(false);
                    meanwhile.set(reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null));
                    c.commit();
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        ReconcileResult ran = batched.runOnce(Reconciler.Trigger.CLI, "batched");
        assertThat(meanwhile.get().skipped()).isTrue();
        assertThat(meanwhile.get().instancesRemoved()).isZero();
        assertThat(meanwhile.get().runId()).isNull();
        assertThat(ran.instancesRemoved()).isEqualTo(20);

        // A pass in an open transaction holds the lock until that transaction ends.
        db.seed(Seed.of(0x100, 3).agedAt(LONG_AGO));
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            assertThat(reconciler().runInTransaction(c, Reconciler.Trigger.SQL, null).instancesRemoved()).isEqualTo(3);
            assertThat(reconciler().runOnce(Reconciler.Trigger.CLI, null).skipped()).isTrue();
            assertThat(reconciler().runIfDue("worker-a")).isEmpty();
            c.commit();
        }
        ReconcileResult after = reconciler().runOnce(Reconciler.Trigger.CLI, null);
        assertThat(after.skipped()).isFalse();
        assertThat(db.count("SELECT count(*) FROM df.reconcile_runs")).isEqualTo(3);
    }

    @Test
    void the_connection_holding_a_batched_passes_lock_keeps_no_snapshot_and_no_transaction_id() throws Exception {
        db.seed(Seed.of(0x10, 12).agedAt(LONG_AGO));
        Reconciler batched = new Reconciler(db.dataSource(), Clock.systemUTC(), 4);
        List<String> holders = new ArrayList<>();
        batched.afterBatch(() -> holders.addAll(db.strings("""
                SELECT concat_ws('|', a.state, coalesce(a.backend_xmin::text, 'no xmin'),
                                 coalesce(a.backend_xid::text, 'no xid'))
                  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'relation' AND l.relation = 'df_engine.reconcile_lock'::regclass
                   AND l.mode = 'ShareRowExclusiveLock' AND l.granted
                """)));

        assertThat(batched.runOnce(Reconciler.Trigger.CLI, null).instancesRemoved()).isEqualTo(12);

        assertThat(holders).hasSize(4).containsOnly("idle in transaction|no xmin|no xid");
    }

    private static String setting(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT current_setting(?, true)")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
