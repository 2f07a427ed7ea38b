package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.reconcile.ReconcileDatabase;
import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import io.pgdurable.reconcile.ReconcileResult;
import io.pgdurable.reconcile.Reconciler;
import io.pgdurable.schema.SchemaInstaller;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Stalling reconciliation by holding its lock. Passes used to take an advisory lock keyed by a
 * public name, so any role could hold it and every pass reported "skipped" (exit code 0). Now a
 * pass locks {@code df_engine.reconcile_lock}, which only the schema owner may lock: each role
 * below holds the old advisory lock and every lock it is allowed to take, and the pass runs and
 * removes what is due all the same.
 */
class ReconcileLockAttackTest {
    private static final String OUTSIDER = "reconcile_outsider";   // no df usage
    private static final String USER = "reconcile_user";           // df.grant_usage
    private static final String DELEGATE = "reconcile_delegate";   // df.grant_usage(with_grant => true)
    private static final String DB_OWNER = "reconcile_db_owner";   // owns the database, not a superuser
    private static final Instant LONG_AGO = Instant.now().minus(Duration.ofDays(400));

    private final TestCluster cluster = TestCluster.get();
    private ReconcileDatabase db;

    @BeforeEach
    void databaseWithRoles() {
        db = ReconcileDatabase.create("reconcile_attack");
        for (String role : List.of(OUTSIDER, USER, DELEGATE, DB_OWNER)) {
            cluster.createLoginRole(role);
        }
        db.exec("SELECT df.grant_usage(?)", USER);
        db.exec("SELECT df.grant_usage(?, with_grant => true)", DELEGATE);
        db.exec("ALTER DATABASE " + db.name() + " OWNER TO " + DB_OWNER);
    }

    @Test
    void a_role_without_df_usage_cannot_take_the_lock_and_does_not_stall_a_pass() throws Exception {
        try (Connection attacker = holdEverythingItCan(OUTSIDER)) {
            assertLockRefused(OUTSIDER);
            assertPassesRunAndRemove();
        }
    }

    @Test
    void a_df_user_cannot_take_the_lock_or_one_that_conflicts_with_it_and_does_not_stall_a_pass() throws Exception {
        try (Connection attacker = holdEverythingItCan(USER)) {
            assertLockRefused(USER);
            assertRefused(USER, "LOCK TABLE df.reconcile_runs IN SHARE ROW EXCLUSIVE MODE NOWAIT",
                    "permission denied for table reconcile_runs");
            assertPassesRunAndRemove();
        }
    }

    @Test
    void a_delegated_administrator_cannot_take_the_lock_and_does_not_stall_a_pass() throws Exception {
        try (Connection attacker = holdEverythingItCan(DELEGATE)) {
            assertLockRefused(DELEGATE);
            assertRefused(DELEGATE, "LOCK TABLE df.reconcile_runs IN SHARE ROW EXCLUSIVE MODE NOWAIT",
                    "permission denied for table reconcile_runs");
            assertPassesRunAndRemove();
        }
    }

    @Test
    void a_database_owner_cannot_take_the_lock_nor_set_the_retention_of_the_database() throws Exception {
        assertRefused(DB_OWNER, "ALTER DATABASE " + db.name() + " SET pg_durable.retention_days = 0",
                "permission denied to set parameter \"pg_durable.retention_days\"");
        assertRefused(DB_OWNER, "ALTER ROLE " + DB_OWNER + " SET pg_durable.retention_days = 0",
                "permission denied to set parameter \"pg_durable.retention_days\"");
        try (Connection attacker = holdEverythingItCan(DB_OWNER)) {
            assertLockRefused(DB_OWNER);
            assertPassesRunAndRemove();
        }
    }

    @Test
    void no_role_but_the_owner_holds_a_privilege_on_the_lock_table_or_the_runs_table() {
        assertThat(db.strings("""
                SELECT c.oid::regclass || ' ' || pg_get_userbyid(a.grantee) || ' ' || a.privilege_type
                  FROM pg_class c, aclexplode(c.relacl) a
                 WHERE c.oid IN ('df_engine.reconcile_lock'::regclass, 'df.reconcile_runs'::regclass)
                   AND a.grantee <> c.relowner
                """)).isEmpty();
        for (String role : List.of(OUTSIDER, USER, DELEGATE, DB_OWNER)) {
            for (String table : List.of(Reconciler.LOCK_TABLE, "df.reconcile_runs")) {
                assertThat(db.strings("SELECT has_table_privilege(?, ?,"
                        + " 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')::text", role, table))
                        .as("%s on %s", role, table).containsExactly("false");
            }
        }
    }

    // -------------------------------------------------------------------------------------------

    /**
     * A transaction of {@code role}, left open, holding the advisory lock passes used to take and
     * every table lock the role may take on df's tables.
     */
    private Connection holdEverythingItCan(String role) throws SQLException {
        Connection c = cluster.connect(db.name(), role);
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("SELECT pg_advisory_lock(" + SchemaInstaller.lockKey("pg_durable:reconcile") + ")");
            for (String table : List.of("df.instances", "df.nodes", "df.vars", "df.reconcile_runs")) {
                for (String mode : List.of("ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE ROW EXCLUSIVE", "SHARE",
                        "SHARE UPDATE EXCLUSIVE", "ROW EXCLUSIVE", "ROW SHARE", "ACCESS SHARE")) {
                    s.execute("SAVEPOINT attempt");
                    try {
                        s.execute("LOCK TABLE " + table + " IN " + mode + " MODE NOWAIT");
                        s.execute("RELEASE SAVEPOINT attempt");
                        break;  // the strongest mode this role may take on this table
                    } catch (SQLException refused) {
                        s.execute("ROLLBACK TO SAVEPOINT attempt");
                    }
                }
            }
        }
        return c;
    }

    private void assertLockRefused(String role) {
        assertRefused(role, "LOCK TABLE " + Reconciler.LOCK_TABLE + " IN SHARE ROW EXCLUSIVE MODE NOWAIT",
                "permission denied for table reconcile_lock");
    }

    private void assertRefused(String role, String sql, String message) {
        assertThatThrownBy(() -> {
            try (Connection c = cluster.connect(db.name(), role); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                s.execute(sql);
            }
        }).as("%s: %s", role, sql).isInstanceOf(SQLException.class)
                .hasMessageContaining(message)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
    }

    /** A batched pass and a pass in one transaction each run and remove what is due. */
    private void assertPassesRunAndRemove() throws SQLException {
        db.seed(Seed.of(0x10, 5).agedAt(LONG_AGO));
        ReconcileResult batched = new Reconciler(db.dataSource(), Clock.systemUTC()).runOnce(Reconciler.Trigger.CLI, null);
        assertThat(batched.skipped()).as("batched pass skipped").isFalse();
        assertThat(batched.error()).isNull();
        assertThat(batched.instancesRemoved()).isEqualTo(5);

        db.seed(Seed.of(0x20, 3).agedAt(LONG_AGO));
        ReconcileResult inTransaction;
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            inTransaction = new Reconciler(db.dataSource(), Clock.systemUTC())
                    .runInTransaction(c, Reconciler.Trigger.SQL, null);
            c.commit();
        }
        assertThat(inTransaction.skipped()).as("pass in one transaction skipped").isFalse();
        assertThat(inTransaction.error()).isNull();
        assertThat(inTransaction.instancesRemoved()).isEqualTo(3);
        assertThat(db.dfIds()).isEmpty();
    }
}
