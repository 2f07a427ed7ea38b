package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.pljava.Loopback;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Where df.run_worker's loopback connections go (and df.reconcile's, while it uses them) is the
 * server's business alone. A role allowed to call those SECURITY DEFINER functions once set
 * pg_durable.loopback_host in its session to {@code 127.0.0.1:PORT/db?options=...} and steered
 * the superuser's connection. Runs {@link Loopback#TARGET_QUERY} on the test cluster, without
 * PL/Java.
 */
class LoopbackTargetAttackTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final String CALLER = "loopback_caller";
    private static final String HOSTILE = "127.0.0.1:1/other?options=-c%20pg_durable.retention_days%3D0&x=";
    private static String db;

    @BeforeAll
    static void setUp() throws SQLException {
        db = CLUSTER.createEmptyDatabase("loopback_target");
        CLUSTER.createLoginRole(CALLER);
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            // pg_file_settings, which the query reads, is for superusers: as inside the
            // SECURITY DEFINER functions, whose owner is the installing superuser.
            s.execute("ALTER ROLE " + CALLER + " SUPERUSER");
        }
    }

    @AfterEach
    void resetServerConfiguration() throws SQLException {
        alterSystem("RESET pg_durable.loopback_host");
    }

    @Test
    void loopback_host_set_in_the_session_the_database_or_the_role_is_ignored() throws SQLException {
        try (Connection admin = CLUSTER.connect(db); Statement s = admin.createStatement()) {
            s.execute("ALTER DATABASE " + db + " SET pg_durable.loopback_host = '" + HOSTILE + "'");
            s.execute("ALTER ROLE " + CALLER + " SET pg_durable.loopback_host = '" + HOSTILE + "'");
        }
        try (Connection c = CLUSTER.connect(db, CALLER)) {
            try (Statement s = c.createStatement()) {
                s.execute("SET pg_durable.loopback_host = '" + HOSTILE + "'");
            }

            Loopback target = Loopback.fromServerConfiguration(c);

            assertThat(target.host()).isEqualTo(Loopback.DEFAULT_HOST);
            assertThat(target.port()).isEqualTo(CLUSTER.port());
            assertThat(target.database()).isEqualTo(db);
            assertThat(target.user()).isEqualTo(CALLER);
            assertThat(target.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.1:" + CLUSTER.port() + "/" + db);
        } finally {
            try (Connection admin = CLUSTER.connect(db); Statement s = admin.createStatement()) {
                s.execute("ALTER DATABASE " + db + " RESET pg_durable.loopback_host");
                s.execute("ALTER ROLE " + CALLER + " RESET pg_durable.loopback_host");
            }
        }
    }

    @Test
    void loopback_host_comes_from_the_server_configuration_file() throws SQLException {
        alterSystem("SET pg_durable.loopback_host = 'localhost'");
        try (Connection c = CLUSTER.connect(db, CALLER)) {
            assertThat(Loopback.fromServerConfiguration(c).host()).isEqualTo("localhost");
        }
    }

    @Test
    void a_loopback_host_in_the_configuration_that_is_not_a_plain_host_is_refused_naming_it() throws SQLException {
        alterSystem("SET pg_durable.loopback_host = '" + HOSTILE + "'");
        try (Connection c = CLUSTER.connect(db, CALLER)) {
            assertThatThrownBy(() -> Loopback.fromServerConfiguration(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessage("pg_durable.loopback_host must be an IP address or a DNS host name, got '"
                            + HOSTILE + "'")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("22023"));
        }
    }

    @Test
    void only_ip_addresses_and_dns_names_pass_as_a_loopback_host() {
        for (String ok : List.of("127.0.0.1", "10.1.2.3", "::1", "fe80::1", "2001:db8::8a2e:370:7334", "localhost",
                "db.internal", "db-1.example.com")) {
            assertThat(check(ok)).as(ok).isEqualTo(ok);
        }
        for (String bad : List.of("", " 127.0.0.1", "127.0.0.1:5432", "127.0.0.1/db", "host?x=1", "a b", "[::1]",
                "fe80::1%eth0", "999.1.1.1", "1.2.3", "-db.example", "db..example", "db.example.", "db_1",
                "user@host", "host\u0000", "h\u00e9te")) {
            assertThatThrownBy(() -> Loopback.checkHost(bad)).as(bad)
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("got '" + bad + "'");
        }
    }

    private static String check(String host) {
        try {
            return Loopback.checkHost(host);
        } catch (SQLException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }

    /** ALTER SYSTEM accepts an undefined setting only once the session knows its name. */
    private static void alterSystem(String change) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("SET pg_durable.loopback_host = '127.0.0.1'");
            s.execute("ALTER SYSTEM " + change);
        }
    }
}
