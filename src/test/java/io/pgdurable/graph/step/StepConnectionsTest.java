package io.pgdurable.graph.step;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The sessions SQL steps run in: the submitting role's own, reset between steps, named. */
class StepConnectionsTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final String ROLE = "step_connections_role";
    private static String db;
    private static long oid;
    private static StepConnections connections;

    @BeforeAll
    static void setUp() throws SQLException {
        db = CLUSTER.createEmptyDatabase("step_connections");
        CLUSTER.createLoginRole(ROLE);
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA step_connections_own");
            s.execute("ALTER ROLE " + ROLE + " IN DATABASE " + db + " SET search_path = step_connections_own, public");
        }
        oid = CLUSTER.roleOid(ROLE);
        connections = new StepConnections(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER), 2, 2, Duration.ofSeconds(10));
    }

    @AfterAll
    static void tearDown() {
        connections.close();
    }

    @Test
    void application_name_survives_the_reset_of_a_pooled_connection_between_steps() throws SQLException {
        long firstBackend;
        try (StepConnections.Lease lease = connections.acquire(null, oid, ROLE)) {
            firstBackend = Long.parseLong(query(lease.connection(), "SELECT pg_backend_pid()"));
            assertThat(query(lease.connection(), "SHOW application_name")).isEqualTo(StepConnections.APPLICATION_NAME);
        }
        try (StepConnections.Lease lease = connections.acquire(null, oid, ROLE)) {
            assertThat(Long.parseLong(query(lease.connection(), "SELECT pg_backend_pid()")))
                    .as("the same pooled connection").isEqualTo(firstBackend);
            assertThat(query(lease.connection(), "SHOW application_name")).isEqualTo(StepConnections.APPLICATION_NAME);
        }
    }

    @Test
    void a_step_session_has_the_roles_own_search_path_and_the_in_workflow_flag_even_after_a_reset()
            throws SQLException {
        for (int lease = 0; lease < 2; lease++) {
            try (StepConnections.Lease l = connections.acquire(null, oid, ROLE)) {
                assertThat(query(l.connection(), "SHOW search_path")).isEqualTo("step_connections_own, public");
                assertThat(query(l.connection(), "SELECT current_setting('df.in_workflow')")).isEqualTo("true");
                assertThat(query(l.connection(), "SELECT session_user")).isEqualTo(ROLE);
                try (Statement s = l.connection().createStatement()) {
                    s.execute("SET search_path = pg_catalog");
                    s.execute("SET application_name = 'changed by a step'");
                }
            }
        }
    }

    private static String query(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test
    void nothing_a_step_leaves_in_its_session_reaches_the_next_step_on_the_same_connection() throws SQLException {
        long backend;
        try (StepConnections.Lease l = connections.acquire(null, oid, ROLE)) {
            Connection c = l.connection();
            backend = Long.parseLong(query(c, "SELECT pg_backend_pid()"));
            try (Statement s = c.createStatement()) {
                s.execute("SET work_mem = '7MB'");
                s.execute("PREPARE leftover AS SELECT 42");
                s.execute("CREATE TEMP TABLE leftover_temp (x int)");
                s.execute("LISTEN leftover_channel");
                s.execute("SELECT pg_advisory_lock(4242)");
                s.execute("BEGIN");
                s.execute("DECLARE leftover_cursor CURSOR WITH HOLD FOR SELECT 1");
                s.execute("COMMIT");
            }
        }
        try (StepConnections.Lease l = connections.acquire(null, oid, ROLE)) {
            Connection c = l.connection();
            assertThat(Long.parseLong(query(c, "SELECT pg_backend_pid()"))).as("the same pooled connection")
                    .isEqualTo(backend);
            assertThat(query(c, "SHOW work_mem")).isNotEqualTo("7MB");
            assertThat(query(c, "SELECT count(*) FROM pg_prepared_statements WHERE from_sql")).isEqualTo("0");
            assertThat(query(c, "SELECT to_regclass('pg_temp.leftover_temp') IS NULL")).isEqualTo("t");
            assertThat(query(c, "SELECT count(*) FROM pg_listening_channels()")).isEqualTo("0");
            assertThat(query(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"))
                    .isEqualTo("0");
            assertThat(query(c, "SELECT count(*) FROM pg_cursors WHERE name = 'leftover_cursor'")).isEqualTo("0");
            // The driver's own statements still work after the reset (its prepared statements stay).
            for (int i = 0; i < 10; i++) {
                assertThat(query(c, "SELECT session_user")).isEqualTo(ROLE);
            }
        }
    }

    /**
     * A connection whose session reset fails (here its backend was terminated while leased, with
     * autocommit changed as a step changes it) is evicted when the lease closes: closing it
     * raises nothing, and the next lease gets a working connection.
     */
    @Test
    void a_connection_whose_reset_fails_is_evicted_quietly_and_replaced() throws SQLException {
        try (StepConnections one = new StepConnections(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER), 1, 1,
                Duration.ofSeconds(10))) {
            long dead;
            StepConnections.Lease lease = one.acquire(null, oid, ROLE);
            dead = Long.parseLong(query(lease.connection(), "SELECT pg_backend_pid()"));
            lease.connection().setAutoCommit(false);
            try (Connection admin = CLUSTER.connect(db); Statement s = admin.createStatement()) {
                s.execute("SELECT pg_terminate_backend(" + dead + ", 10000)");
            }
            lease.close();

            try (StepConnections.Lease next = one.acquire(null, oid, ROLE)) {
                assertThat(Long.parseLong(query(next.connection(), "SELECT pg_backend_pid()"))).isNotEqualTo(dead);
                assertThat(query(next.connection(), "SELECT session_user")).isEqualTo(ROLE);
            }
        }
    }
}
