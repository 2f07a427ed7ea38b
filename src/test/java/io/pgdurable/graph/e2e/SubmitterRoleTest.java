package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.failure;
import static io.pgdurable.graph.e2e.SqlProbe.json;
import static io.pgdurable.graph.e2e.SqlProbe.message;
import static io.pgdurable.graph.e2e.SqlProbe.nodeResult;
import static io.pgdurable.graph.e2e.SqlProbe.nodeStatus;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * Steps run as the role that submitted the workflow: a role dropped (or stripped of LOGIN) while
 * its workflow waits fails the workflow with a message saying so; superusers may submit only
 * when pg_durable.enable_superuser_instances is on.
 */
class SubmitterRoleTest {
    private static final Duration DONE = Duration.ofSeconds(20);

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("submitter_e2e");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void role_dropped_during_a_sleep_fails_the_instance_saying_the_role_no_longer_exists() throws SQLException {
        String role = "submitter_e2e_dropped";
        String id = startAsNewRole(role, "df.sleep(2) ~> 'SELECT 1'");
        awaitSleeping(id);

        env.exec("SELECT df.revoke_usage('" + role + "')");
        env.exec("DROP OWNED BY " + role);
        env.exec("DROP ROLE " + role);

        assertThat(adminAwait(id)).isEqualTo("failed");
        String error = json(nodeResult(env, id, "r")).asText();
        assertThat(error).isEqualTo("the role \"" + role + "\" that submitted instance " + id
                + " no longer exists, so its SQL steps cannot run");
        assertThat(nodeStatus(env, id, "r")).isEqualTo("failed");
        assertThat(nodeStatus(env, id, "l")).isEqualTo("completed");
        assertThat(json(nodeResult(env, id, "")).asText()).isEqualTo(error);
        assertThat(env.queryAsAdmin("SELECT df.result(?)", id)).isNull();
    }

    @Test
    void role_losing_login_during_a_sleep_fails_the_instance_saying_so() throws SQLException {
        String role = "submitter_e2e_nologin";
        // The first step leaves a pooled connection logged in as the role; NOLOGIN does not end it.
        String id = startAsNewRole(role, "'SELECT 1' ~> df.sleep(2) ~> 'SELECT 2'");
        awaitSleeping(id);

        env.exec("ALTER ROLE " + role + " NOLOGIN");

        assertThat(adminAwait(id)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "r")).asText()).isEqualTo("the role \"" + role
                + "\" that submitted instance " + id + " can no longer log in (NOLOGIN), so its SQL steps cannot run");
    }

    @Test
    void role_renamed_during_a_sleep_still_runs_its_steps_under_the_new_name() throws SQLException {
        String role = "submitter_e2e_before";
        String id = startAsNewRole(role, "df.sleep(2) ~> 'SELECT current_user AS who'");
        awaitSleeping(id);

        env.exec("ALTER ROLE " + role + " RENAME TO submitter_e2e_after");

        assertThat(adminAwait(id)).isEqualTo("completed");
        assertThat(env.queryAsAdmin("SELECT df.result(?)", id))
                .isEqualTo("{\"rows\": [{\"who\": \"submitter_e2e_after\"}], \"row_count\": 1}");
    }

    @Test
    void superuser_cannot_submit_unless_superuser_instances_are_enabled() throws SQLException {
        String before = env.queryAsAdmin("SELECT count(*) FROM df.instances");

        PSQLException e = failure(env.connectAsAdmin(), "SELECT df.start('SELECT 1')");
        assertThat(e.getSQLState()).isEqualTo("42501");
        assertThat(message(e)).isEqualTo("pg_durable: superuser instances are disabled. current_user \"postgres\""
                + " is a superuser, but pg_durable.enable_superuser_instances is off."
                + " Set pg_durable.enable_superuser_instances = on to allow this.");
        assertThat(env.queryAsAdmin("SELECT count(*) FROM df.instances")).isEqualTo(before);
    }

    @Test
    void superuser_instance_runs_as_the_superuser_when_enabled() throws SQLException {
        // Enabled where both df.start and the worker's running sessions read it (the worker checks
        // before each step): the server configuration, reloaded.
        alterSystem("SET pg_durable.enable_superuser_instances = on");
        DfTestEnvironment.awaitTrue(() -> "on".equals(env.queryAsAdmin(
                "SELECT current_setting('pg_durable.enable_superuser_instances', true)")),
                java.time.Duration.ofSeconds(10), "the reloaded setting");
        try {
            String id;
            try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT df.start('SELECT current_user AS who')")) {
                rs.next();
                id = rs.getString(1);
            }

            assertThat(adminAwait(id)).isEqualTo("completed");
            assertThat(env.queryAsAdmin("SELECT df.result(?)", id))
                    .isEqualTo("{\"rows\": [{\"who\": \"postgres\"}], \"row_count\": 1}");
        } finally {
            alterSystem("RESET pg_durable.enable_superuser_instances");
        }
    }

    @Test
    void superuser_instance_enabled_only_in_the_submitting_session_is_blocked_before_its_first_step()
            throws SQLException {
        String id;
        try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement()) {
            s.execute("SET pg_durable.enable_superuser_instances = on");
            try (ResultSet rs = s.executeQuery("SELECT df.start('SELECT current_user AS who')")) {
                rs.next();
                id = rs.getString(1);
            }
        }

        assertThat(adminAwait(id)).isEqualTo("failed");
        assertThat(env.queryAsAdmin("SELECT result #>> '{}' FROM df.nodes WHERE instance_id = ?", id))
                .contains("is a superuser, but pg_durable.enable_superuser_instances is off");
    }

    /**
     * ALTER SYSTEM accepts a setting no loaded module defines only once the session knows its
     * name, hence the SET first; then the configuration is reloaded.
     */
    private static void alterSystem(String change) throws SQLException {
        try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement()) {
            s.execute("SET pg_durable.enable_superuser_instances = off");
            s.execute("ALTER SYSTEM " + change);
            s.execute("SELECT pg_reload_conf()");
        }
    }

    /** Creates a LOGIN role with df usage and starts {@code workflow} as it. */
    private static String startAsNewRole(String role, String workflow) throws SQLException {
        env.cluster().createLoginRole(role);
        env.exec("SELECT df.grant_usage('" + role + "')");
        try (Connection c = env.cluster().connect(env.database(), role);
             PreparedStatement ps = c.prepareStatement("SELECT df.start(" + workflow + ")");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static void awaitSleeping(String id) {
        DfTestEnvironment.awaitTrue(() -> "running".equals(
                env.queryAsAdmin("SELECT status FROM df.nodes WHERE instance_id = ? AND node_type = 'SLEEP'", id)),
                DONE, "the sleep to start");
    }

    /** df.await_instance as the superuser, who sees every role's instances. */
    private static String adminAwait(String id) {
        return env.queryAsAdmin("SELECT df.await_instance(?, ?)", id, (int) DONE.toSeconds());
    }
}
