package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.graph.step.StepConnections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A role's name can pass to another role: rename the first, create a second with the old name.
 * The worker's pooled step connections of the first role must never serve the second.
 */
class StepPoolRoleAttackTest {
    private static final Duration DONE = Duration.ofSeconds(20);

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("pool_attack");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void a_new_role_with_a_renamed_roles_old_name_never_gets_its_pooled_connection() throws SQLException {
        String name = "pool_attack_owner";
        createRole(name);
        env.exec("GRANT USAGE, CREATE ON SCHEMA public TO " + name);
        // The owner's step leaves an idle pooled connection logged in as the owner.
        String first = startAs(name, "'CREATE TABLE public.pool_attack_secret AS SELECT 42 AS secret'");
        assertThat(awaitAsAdmin(first)).isEqualTo("completed");

        env.exec("ALTER ROLE " + name + " RENAME TO pool_attack_owner_renamed");
        createRole(name);
        String second = startAs(name, "'SELECT secret FROM public.pool_attack_secret'");

        assertThat(awaitAsAdmin(second)).isEqualTo("failed");
        assertThat(env.queryAsAdmin("SELECT result #>> '{}' FROM df.nodes WHERE instance_id = ?", second))
                .isEqualTo("SQL execution failed: permission denied for table pool_attack_secret");
    }

    @Test
    void a_lease_whose_connection_logged_in_as_another_role_is_refused_and_the_connection_discarded()
            throws SQLException {
        String name = "pool_attack_probe";
        createRole(name);
        long oid = oid(name);
        try (StepConnections connections = new StepConnections(
                env.cluster().jdbcUrl(env.database()), 4, 4, Duration.ofSeconds(10))) {
            // Held, so that the next lease opens a new connection under the name the pool knows.
            try (StepConnections.Lease held = connections.acquire(null, oid, name)) {
                assertThat(sessionUser(held.connection())).isEqualTo(name);

                env.exec("ALTER ROLE " + name + " RENAME TO pool_attack_probe_renamed");
                createRole(name);

                assertThatThrownBy(() -> connections.acquire(null, oid, name))
                        .isInstanceOf(StepConnections.WrongRoleException.class)
                        .hasMessageContaining("belongs to role \"" + name + "\"")
                        .hasMessageContaining("not to the submitting role (OID " + oid + ")")
                        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08006"));

                // Under its current name the role gets its own connections again.
                try (StepConnections.Lease renamed = connections.acquire(null, oid, "pool_attack_probe_renamed")) {
                    assertThat(sessionUser(renamed.connection())).isEqualTo("pool_attack_probe_renamed");
                }
                assertThat(sessionUser(held.connection())).isEqualTo("pool_attack_probe_renamed");
            }
        }
    }

    private static void createRole(String name) {
        env.cluster().createLoginRole(name);
        env.exec("SELECT df.grant_usage('" + name + "')");
    }

    private static long oid(String role) {
        return Long.parseLong(env.queryAsAdmin("SELECT oid FROM pg_roles WHERE rolname = ?", role));
    }

    private static String sessionUser(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT session_user"); ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static String startAs(String role, String graph) throws SQLException {
        try (Connection c = env.cluster().connect(env.database(), role);
             PreparedStatement ps = c.prepareStatement("SELECT df.start(" + graph + ")");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static String awaitAsAdmin(String id) {
        return env.queryAsAdmin("SELECT df.await_instance(?, ?)", id, (int) DONE.toSeconds());
    }
}
