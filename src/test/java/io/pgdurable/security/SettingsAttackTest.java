package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ADMIN;
import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.BOB;
import static io.pgdurable.security.SecurityFixture.DB_OWNER;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static io.pgdurable.security.SecurityFixture.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Ordinary roles try to make the worker's reconciliation delete finished instances early by
 * changing {@code pg_durable.retention_days} (and the interval): with SET and set_config in their
 * own sessions and in a step, and where the worker would read it (ALTER ROLE, ALTER DATABASE,
 * ALTER SYSTEM). The worker reads the settings in its own sessions (USER_GUIDE 9, 17.2), so the
 * session changes do nothing and the others are refused; the passes keep the server's 30 days.
 * The database's own setting, changed by the superuser, does take effect, which shows the passes
 * would have deleted had the attack worked.
 */
class SettingsAttackTest {
    private static final String RETENTION = "pg_durable.retention_days";
    private static final String INTERVAL = "pg_durable.reconcile_interval";

    private static SecurityFixture fx;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_settings");
        fx.exec("ALTER DATABASE sec_settings SET " + INTERVAL + " = '1'");
        fx.startWorkerWithReconciliation();
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    @Test
    void no_ordinary_role_can_set_the_reconciliation_settings_where_the_worker_reads_them() {
        for (String role : List.of(ALICE, BOB, MALLORY, DB_OWNER, ADMIN)) {
            for (String setting : List.of(RETENTION, INTERVAL)) {
                String denied = "permission denied to set parameter \"" + setting + "\"";
                fx.refusalAs(role, "ALTER ROLE " + role + " SET " + setting + " = 0").is("42501", denied);
                fx.refusalAs(role, "ALTER ROLE " + role + " IN DATABASE sec_settings SET " + setting + " = 0")
                        .is("42501", denied);
                fx.refusalAs(role, "ALTER SYSTEM SET " + setting + " = 0").is("42501", denied);
            }
        }
        // The database owner may set ordinary parameters for its database, but not these.
        fx.refusalAs(DB_OWNER, "ALTER DATABASE sec_settings SET " + RETENTION + " = 0")
                .is("42501", "permission denied to set parameter \"" + RETENTION + "\"");
        fx.refusalAs(DB_OWNER, "ALTER DATABASE sec_settings SET " + INTERVAL + " = 0")
                .is("42501", "permission denied to set parameter \"" + INTERVAL + "\"");

        assertThat(fx.columnAs(SecurityFixture.SUPERUSER, "SELECT s FROM pg_db_role_setting, unnest(setconfig) s"
                + " WHERE (setdatabase = (SELECT oid FROM pg_database WHERE datname = 'sec_settings') OR setrole IN"
                + " (SELECT oid FROM pg_roles WHERE rolname LIKE 'sec\\_%')) AND s LIKE 'pg\\_durable.%'"))
                .containsExactly(INTERVAL + "=1");
        assertThat(fx.count("SELECT count(*) FROM pg_file_settings WHERE name IN (?, ?)", RETENTION, INTERVAL)).isZero();
    }

    @Test
    void a_retention_set_in_sessions_and_steps_does_not_shorten_what_the_worker_keeps() throws SQLException {
        String alices = fx.startAs(ALICE, "'SELECT 1 AS kept'");
        String bobs = fx.startAs(BOB, "'SELECT 2 AS kept'");
        assertThat(fx.awaitAs(ALICE, alices)).isEqualTo("completed");
        assertThat(fx.awaitAs(BOB, bobs)).isEqualTo("completed");

        try (Connection alice = fx.connect(ALICE); Connection owner = fx.connect(DB_OWNER);
             Statement a = alice.createStatement(); Statement o = owner.createStatement()) {
            for (Statement s : List.of(a, o)) {
                s.execute("SET " + RETENTION + " = 0");
                s.execute("SET " + INTERVAL + " = 0");
                s.execute("SELECT set_config('" + RETENTION + "', '0', false)");
            }
            String step = fx.startAs(ALICE, "'SELECT set_config(''" + RETENTION + "'', ''0'', false) AS set'");
            assertThat(fx.awaitAs(ALICE, step)).isEqualTo("completed");

            // Two whole passes that began after every attempt, while those sessions stay open.
            String since = fx.query("SELECT clock_timestamp()::text");
            DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df.reconcile_runs WHERE trigger = 'worker'"
                    + " AND started_at > ?::timestamptz AND finished_at IS NOT NULL", since) >= 2,
                    PATIENCE, "two periodic passes");
            assertThat(fx.columnAs(SecurityFixture.SUPERUSER, "SELECT retention_days || ' ' || instances_removed || ' '"
                    + " || coalesce(error, 'ok') FROM df.reconcile_runs WHERE trigger = 'worker'"
                    + " AND started_at > ?::timestamptz AND finished_at IS NOT NULL", since))
                    .isNotEmpty().allMatch("30 0 ok"::equals);
            assertThat(fx.queryAs(ALICE, "SELECT df.status(?)", alices)).isEqualTo("completed");
            assertThat(fx.queryAs(BOB, "SELECT df.status(?)", bobs)).isEqualTo("completed");
        }

        // Set where the worker reads it, by the superuser, the same retention removes them.
        fx.exec("ALTER DATABASE sec_settings SET " + RETENTION + " = '0'");
        try {
            fx.environment().stopWorkers();
            fx.startWorkerWithReconciliation();
            DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df.instances WHERE id IN (?, ?)", alices, bobs) == 0,
                    PATIENCE, "a pass with the database's retention of 0 days to remove them");
        } finally {
            fx.exec("ALTER DATABASE sec_settings RESET " + RETENTION);
        }
    }
}
