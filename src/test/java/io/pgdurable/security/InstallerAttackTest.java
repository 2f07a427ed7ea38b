package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.schema.InstallResult;
import io.pgdurable.schema.SchemaInstaller;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A database owner who is not a superuser attacks the install: by creating the schemas first, so
 * that it owns what is installed into them, or by holding the lock installers wait for.
 */
class InstallerAttackTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final String OWNER = "installer_attack_owner";
    private static final AtomicInteger DATABASES = new AtomicInteger();
    /** The advisory key installers used to serialise on; any role could compute and take it. */
    private static final long OLD_ADVISORY_KEY = -967880897120856539L;

    private final SchemaInstaller installer = new SchemaInstaller();
    private String db;

    @BeforeAll
    static void createOwner() {
        CLUSTER.createLoginRole(OWNER);
    }

    @BeforeEach
    void databaseOwnedByAnOrdinaryRole() throws SQLException {
        db = CLUSTER.createEmptyDatabase("installer_attack_" + DATABASES.incrementAndGet());
        try (Connection c = CLUSTER.connect(db)) {
            exec(c, "ALTER DATABASE " + db + " OWNER TO " + OWNER);
        }
    }

    @Test
    void an_engine_schema_created_in_advance_by_another_role_is_refused() throws SQLException {
        try (Connection owner = CLUSTER.connect(db, OWNER)) {
            exec(owner, "CREATE SCHEMA df_engine");
        }
        try (Connection c = CLUSTER.connect(db)) {
            assertThatThrownBy(() -> installer.install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessage("pg_durable: schema df_engine already exists and is owned by role \"" + OWNER
                            + "\", not by the installing role \"postgres\"; refusing to install into it, since its"
                            + " owner could replace what is installed there. Drop it, or if you trust it, make"
                            + " \"postgres\" its owner, then install again.")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));

            assertThat(query(c, "SELECT count(*) FROM pg_class WHERE relnamespace = 'df_engine'::regnamespace"))
                    .as("nothing created in the foreign schema").isEqualTo("0");
        }
    }

    @Test
    void a_control_schema_created_in_advance_by_another_role_is_refused() throws SQLException {
        try (Connection owner = CLUSTER.connect(db, OWNER)) {
            exec(owner, "CREATE SCHEMA df");
        }
        try (Connection c = CLUSTER.connect(db)) {
            assertThatThrownBy(() -> installer.install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessageStartingWith("pg_durable: schema df already exists and is owned by role \"" + OWNER + "\"")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
            assertThat(query(c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'df_engine'")).isEqualTo("0");
        }
    }

    @Test
    void the_old_advisory_lock_key_held_by_an_ordinary_role_no_longer_blocks_install() throws Exception {
        try (Connection owner = CLUSTER.connect(db, OWNER); Connection c = CLUSTER.connect(db)) {
            owner.setAutoCommit(false);
            exec(owner, "SELECT pg_advisory_xact_lock(" + OLD_ADVISORY_KEY + ")");

            CompletableFuture<InstallResult> install = CompletableFuture.supplyAsync(() -> {
                try {
                    return installer.install(c);
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });

            assertThat(install.get(2, TimeUnit.MINUTES).previousVersion()).isNull();
            owner.rollback();
        }
    }

    @Test
    void the_database_owner_cannot_take_the_install_lock() throws SQLException {
        try (Connection c = CLUSTER.connect(db)) {
            installer.install(c);
        }
        try (Connection owner = CLUSTER.connect(db, OWNER)) {
            owner.setAutoCommit(false);
            assertThatThrownBy(() -> exec(owner, SchemaInstaller.LOCK_STATEMENT))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("permission denied for table schema_files")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
        }
    }

    private static String query(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static void exec(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
