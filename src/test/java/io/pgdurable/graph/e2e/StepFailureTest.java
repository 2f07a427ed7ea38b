package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.adminLong;
import static io.pgdurable.graph.e2e.SqlProbe.execAsApp;
import static io.pgdurable.graph.e2e.SqlProbe.json;
import static io.pgdurable.graph.e2e.SqlProbe.nodeId;
import static io.pgdurable.graph.e2e.SqlProbe.nodeResult;
import static io.pgdurable.graph.e2e.SqlProbe.nodeStatus;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A SQL step that fails fails its instance with the error stored on the node; statements a step
 * may not hold are refused with a clear message; statements that cannot run in a transaction
 * block still run.
 */
class StepFailureTest {
    private static final Duration DONE = Duration.ofSeconds(20);

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("step_fail_e2e");
        execAsApp(env, "CREATE TABLE fail_marks (n integer)");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void failing_step_fails_the_instance_and_every_enclosing_node_with_its_error_and_stops_the_graph() {
        String id = env.start("('SELECT 1' ~> 'SELECT 1 / 0 AS boom') ~> 'INSERT INTO fail_marks VALUES (1)'");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(env.result(id)).isNull();
        assertThat(env.queryAsAdmin("SELECT completed_at IS NULL AND terminal_at IS NOT NULL FROM df.instances WHERE id = ?", id))
                .as("a failed instance has a terminal time but, as in the original, no completed_at").isEqualTo("t");

        JsonNode error = json(nodeResult(env, id, "lr"));
        assertThat(error.isTextual()).as("the error is stored as a JSON string: %s", error).isTrue();
        assertThat(error.asText()).startsWith("SQL execution failed: ").contains("division by zero");
        assertThat(nodeStatus(env, id, "lr")).isEqualTo("failed");
        // The enclosing sequences failed with the same message; the step before completed.
        assertThat(nodeStatus(env, id, "l")).isEqualTo("failed");
        assertThat(nodeStatus(env, id, "")).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "l"))).isEqualTo(error);
        assertThat(json(nodeResult(env, id, ""))).isEqualTo(error);
        assertThat(nodeStatus(env, id, "ll")).isEqualTo("completed");
        // Nothing after the failure ran.
        assertThat(nodeStatus(env, id, "r")).isEqualTo("pending");
        assertThat(adminLong(env, "SELECT count(*) FROM fail_marks WHERE n = 1")).isZero();
        assertThat(env.queryAsAdmin("SELECT status FROM df_engine.instances WHERE id = ?", id)).isEqualTo("Failed");
    }

    /** A step that reads, and one that writes without returning rows (sent with its completion). */
    @ParameterizedTest
    @ValueSource(strings = {"SELECT pg_sleep(2)", "INSERT INTO fail_marks SELECT 50 FROM pg_sleep(2)"})
    void step_cancelled_by_the_roles_statement_timeout_fails_instead_of_retrying_forever(String step) {
        String role = "step_fail_e2e_hasty";
        env.cluster().createLoginRole(role);
        env.exec("SELECT df.grant_usage('" + role + "')");
        env.exec("ALTER ROLE " + role + " SET statement_timeout = '300ms'");
        env.exec("GRANT INSERT ON fail_marks TO " + role);
        String id;
        try (Connection c = env.cluster().connect(env.database(), role);
             PreparedStatement ps = c.prepareStatement("SELECT df.start(?)")) {
            ps.setString(1, step);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                id = rs.getString(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }

        assertThat(env.queryAsAdmin("SELECT df.await_instance(?, 15)", id)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "")).asText())
                .isEqualTo("SQL execution failed: canceling statement due to statement timeout");
        assertThat(adminLong(env, "SELECT count(*) FROM fail_marks WHERE n = 50")).isZero();
    }

    @Test
    void failing_write_that_returns_no_rows_fails_the_instance_the_same_way_and_leaves_nothing() {
        // Such a write goes to the database with its completion in one round trip; its failure
        // reads as any step's.
        String id = env.start("'INSERT INTO fail_marks VALUES (40)' ~> 'INSERT INTO fail_marks VALUES (41), (''x'')'"
                + " ~> 'INSERT INTO fail_marks VALUES (42)'");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "lr")).asText())
                .isEqualTo("SQL execution failed: invalid input syntax for type integer: \"x\"");
        assertThat(nodeStatus(env, id, "ll")).isEqualTo("completed");
        assertThat(nodeStatus(env, id, "lr")).isEqualTo("failed");
        assertThat(nodeStatus(env, id, "r")).isEqualTo("pending");
        assertThat(adminLong(env, "SELECT count(*) FROM fail_marks WHERE n = 40")).isEqualTo(1);
        assertThat(adminLong(env, "SELECT count(*) FROM fail_marks WHERE n IN (41, 42)")).isZero();
    }

    @Test
    void step_with_transaction_control_fails_with_a_clear_message() {
        String id = env.start("'COMMIT'");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "")).asText()).isEqualTo(
                "SQL steps run in a transaction of their own; transaction control (COMMIT) is not allowed in node "
                        + nodeId(env, id, ""));
    }

    @Test
    void step_hiding_transaction_control_after_a_comment_fails_too() {
        String id = env.start("'/* tidy up */ rollback'");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "")).asText())
                .startsWith("SQL steps run in a transaction of their own; transaction control")
                .contains("is not allowed in node " + nodeId(env, id, ""));
    }

    @Test
    void step_with_two_statements_fails_with_a_clear_message_and_runs_neither() {
        String id = env.start("'INSERT INTO fail_marks VALUES (2); INSERT INTO fail_marks VALUES (3)'");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "")).asText()).isEqualTo("a SQL step must be a single statement, but node "
                + nodeId(env, id, "") + " has 2; split it into steps with ~>");
        assertThat(adminLong(env, "SELECT count(*) FROM fail_marks WHERE n IN (2, 3)")).isZero();
    }

    @Test
    void single_statement_with_a_trailing_semicolon_runs() {
        String id = env.start("'SELECT 5 AS five;'");

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"five\": 5}], \"row_count\": 1}");
    }

    @Test
    void vacuum_of_an_owned_table_runs_outside_a_transaction_block() {
        String id = env.start("'VACUUM fail_marks'");

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [], \"row_count\": 0}");
        DfTestEnvironment.awaitTrue(() -> adminLong(env,
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'fail_marks'") > 0,
                DONE, "the vacuum to show in pg_stat_user_tables");
    }

    @Test
    void create_index_concurrently_runs_outside_a_transaction_block() {
        String id = env.start("'CREATE INDEX CONCURRENTLY fail_marks_n_idx ON fail_marks (n)'");

        // Not df.await_instance: its statement holds a snapshot in this database for as long as it
        // waits, and CREATE INDEX CONCURRENTLY waits for every older snapshot to go away.
        DfTestEnvironment.awaitTrue(() -> "t".equals(env.queryAsApp(
                "SELECT df.status(?) IN ('completed', 'failed', 'cancelled')", id)), DONE, "the step to finish");
        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("completed");
        assertThat(env.queryAsAdmin("SELECT indisvalid FROM pg_index WHERE indexrelid = 'fail_marks_n_idx'::regclass"))
                .isEqualTo("t");
    }
}
