package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.json;
import static io.pgdurable.graph.e2e.SqlProbe.nodeResult;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.Poll;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Steps in another database (df.start(..., database => ...)) whose connection can never be made
 * fail at once with PostgreSQL's own error, instead of after the worker's connection-acquire
 * timeout (10 s in these tests, 30 s by default): the database was dropped, or the submitter lost
 * CONNECT on it, while the workflow waited.
 */
class OtherDatabaseStepTest {
    /** Well under the acquire timeout of the test worker (10 s), which the old behaviour waited out. */
    private static final Duration QUICKLY = Duration.ofSeconds(5);

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("other_db_steps");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void a_step_in_a_database_dropped_while_the_workflow_waited_fails_at_once_saying_it_does_not_exist() {
        String other = env.cluster().createEmptyDatabase("other_db_dropped");
        String id = startWaitingIn(other);

        env.exec("DROP DATABASE " + other + " WITH (FORCE)");
        env.queryAsApp("SELECT df.signal(?, 'go')", id);

        awaitFailedQuickly(id);
        assertThat(json(nodeResult(env, id, "r")).asText())
                .startsWith("Failed to connect to database '" + other + "'")
                .contains("database \"" + other + "\" does not exist");
    }

    @Test
    void a_step_in_a_database_the_submitter_lost_connect_on_fails_at_once_with_the_permission_error() {
        String other = env.cluster().createEmptyDatabase("other_db_no_connect");
        String id = startWaitingIn(other);

        env.exec("REVOKE CONNECT ON DATABASE " + other + " FROM PUBLIC");
        env.queryAsApp("SELECT df.signal(?, 'go')", id);

        awaitFailedQuickly(id);
        assertThat(json(nodeResult(env, id, "r")).asText())
                .startsWith("Failed to connect to database '" + other + "'")
                .contains("permission denied for database \"" + other + "\"");
    }

    @Test
    void a_step_in_another_database_the_submitter_may_connect_to_runs_there() {
        String other = env.cluster().createEmptyDatabase("other_db_fine");
        String id = startWaitingIn(other);

        env.queryAsApp("SELECT df.signal(?, 'go')", id);

        assertThat(env.await(id, Duration.ofSeconds(20))).isEqualTo("completed");
        assertThat(json(nodeResult(env, id, "r")).path("rows").path(0).path("db").asText()).isEqualTo(other);
    }

    /** Starts, as the application role, a workflow that waits for a signal, then runs a step in {@code database}. */
    private static String startWaitingIn(String database) {
        return env.queryAsApp("SELECT df.start(df.wait_for_signal('go') ~> 'SELECT current_database() AS db',"
                + " database => ?)", database);
    }

    private static void awaitFailedQuickly(String id) {
        Poll.until(QUICKLY, "instance " + id + " to fail", () -> "failed".equals(env.queryAsAdmin(
                "SELECT status FROM df.instances WHERE id = ?", id)));
    }
}
