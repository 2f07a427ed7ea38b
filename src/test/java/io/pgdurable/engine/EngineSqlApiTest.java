package io.pgdurable.engine;

import static io.pgdurable.testing.Jdbc.sqlFailure;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The engine's SQL functions as a caller meets them: results, SQLSTATEs and messages. */
class EngineSqlApiTest {
    private static final String OUTSIDER = "df_engine_api_outsider";

    private static EngineTestSupport env;
    private static EngineClient client;

    @BeforeAll
    static void createDatabase() {
        env = new EngineTestSupport("engine_sql_api");
        client = env.client();
    }

    private static List<Object> call(String sql, Object... params) throws SQLException {
        return call(TestCluster.SUPERUSER, sql, params);
    }

    private static List<Object> call(String user, String sql, Object... params) throws SQLException {
        try (Connection c = TestCluster.get().connect(env.db(), user);
             PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            List<Object> firstColumn = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    firstColumn.add(rs.getObject(1));
                }
            }
            return firstColumn;
        }
    }

    // ---------------------------------------------------------------------------------------
    // start_orchestration
    // ---------------------------------------------------------------------------------------

    @Test
    void start_returns_the_id_and_records_a_pending_instance_with_its_start_message() throws SQLException {
        assertThat(call("SELECT df_engine.start_orchestration('api-start', 'greet', '\"Ada\"')"))
                .containsExactly("api-start");

        InstanceInfo info = client.get("api-start").orElseThrow();
        assertThat(info.status()).isEqualTo("Pending");
        assertThat(info.name()).isEqualTo("greet");
        assertThat(info.input()).isEqualTo("\"Ada\"");
        assertThat(info.executionId()).isEqualTo(1);
        assertThat(info.completedAt()).isNull();
        assertThat(env.text("SELECT kind FROM df_engine.orchestrator_queue WHERE instance_id = 'api-start'"))
                .isEqualTo("ExecutionStarted");
    }

    @Test
    void start_with_an_id_in_use_fails_with_23505_and_leaves_the_existing_instance_alone() throws SQLException {
        call("SELECT df_engine.start_orchestration('api-dup', 'first', '1')");

        SQLException e = sqlFailure(() -> call("SELECT df_engine.start_orchestration('api-dup', 'second', '2')"));

        assertThat(e.getSQLState()).isEqualTo("23505");
        assertThat(e.getMessage()).contains("orchestration instance \"api-dup\" already exists");
        InstanceInfo info = client.get("api-dup").orElseThrow();
        assertThat(info.name()).isEqualTo("first");
        assertThat(info.input()).isEqualTo("1");
        assertThat(env.count("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = 'api-dup'"))
                .isEqualTo(1);
    }

    @Test
    void start_without_an_id_or_a_name_fails_with_22023() {
        SQLException noId = sqlFailure(() -> call("SELECT df_engine.start_orchestration('', 'greet')"));
        SQLException noName = sqlFailure(() -> call("SELECT df_engine.start_orchestration('api-nameless', NULL)"));

        assertThat(noId.getSQLState()).isEqualTo("22023");
        assertThat(noId.getMessage()).contains("instance id must not be empty");
        assertThat(noName.getSQLState()).isEqualTo("22023");
        assertThat(noName.getMessage()).contains("orchestration name must not be empty");
        assertThat(client.get("api-nameless")).isEmpty();
    }

    /**
     * create_instance, which start_orchestration calls and a worker's own start calls with
     * Running, creates no other status, and no role but the owner may call it.
     */
    @Test
    void create_instance_makes_a_pending_or_running_instance_only_and_is_the_owners_alone() throws SQLException {
        call("SELECT df_engine.create_instance('api-running', 'greet', '1', 'Running')");
        SQLException done = sqlFailure(() -> call("SELECT df_engine.create_instance('api-done', 'greet', '1', 'Completed')"));
        SQLException none = sqlFailure(() -> call("SELECT df_engine.create_instance('api-none', 'greet', '1', NULL)"));
        TestCluster.get().createLoginRole(OUTSIDER);
        SQLException outsider = sqlFailure(() -> call(OUTSIDER,
                "SELECT df_engine.create_instance('api-outsider', 'greet', '1', 'Running')"));

        assertThat(client.get("api-running")).hasValueSatisfying(i -> assertThat(i.status()).isEqualTo("Running"));
        assertThat(done.getSQLState()).isEqualTo("22023");
        assertThat(done.getMessage()).contains("a new orchestration instance is Pending or Running, not Completed");
        assertThat(none.getSQLState()).isEqualTo("22023");
        assertThat(none.getMessage()).contains("Pending or Running, not NULL");
        assertThat(outsider.getSQLState()).isEqualTo("42501");
        assertThat(client.get("api-done")).isEmpty();
        assertThat(client.get("api-none")).isEmpty();
        assertThat(client.get("api-outsider")).isEmpty();
        assertThat(call("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = 'api-running'"))
                .containsExactly(0L);
    }

    @Test
    void the_java_client_reports_the_sqlstate_of_a_refused_call() {
        client.start("greet", "api-client-dup", null);

        DurableException e = catchThrowableOfType(DurableException.class,
                () -> client.start("greet", "api-client-dup", null));

        assertThat(e).isNotNull();
        assertThat(e.sqlState()).isEqualTo("23505");
        assertThat(e.getMessage()).contains("\"api-client-dup\" already exists");
    }

    // ---------------------------------------------------------------------------------------
    // raise_event
    // ---------------------------------------------------------------------------------------

    @Test
    void raise_event_on_an_unknown_instance_fails_with_P0002() {
        SQLException e = sqlFailure(() -> call("SELECT df_engine.raise_event('api-nobody', 'ping', '1')"));

        assertThat(e.getSQLState()).isEqualTo("P0002");
        assertThat(e.getMessage()).contains("orchestration instance \"api-nobody\" does not exist");
        assertThat(env.count("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = 'api-nobody'"))
                .isZero();
    }

    @Test
    void raise_event_on_a_finished_instance_fails_with_55000() throws SQLException {
        client.start("greet", "api-ended", null);
        client.cancel("api-ended", null);

        SQLException e = sqlFailure(() -> call("SELECT df_engine.raise_event('api-ended', 'ping', '1')"));

        assertThat(e.getSQLState()).isEqualTo("55000");
        assertThat(e.getMessage()).contains("orchestration instance \"api-ended\" is Cancelled and takes no more events");
        assertThat(env.queuedWork("api-ended")).isZero();
    }

    @Test
    void raise_event_queues_the_event_for_whichever_generation_is_current() throws SQLException {
        client.start("greet", "api-event", null);

        call("SELECT df_engine.raise_event('api-event', 'ping', '{\"n\":1}')");

        assertThat(env.count("""
                SELECT count(*) FROM df_engine.orchestrator_queue
                 WHERE instance_id = 'api-event' AND kind = 'EventRaised' AND name = 'ping'
                   AND payload = '{"n":1}' AND execution_id IS NULL
                """)).isEqualTo(1);
    }

    @Test
    void raise_event_without_a_name_fails_with_22023() {
        client.start("greet", "api-unnamed-event", null);

        SQLException e = sqlFailure(() -> call("SELECT df_engine.raise_event('api-unnamed-event', '', '1')"));

        assertThat(e.getSQLState()).isEqualTo("22023");
        assertThat(e.getMessage()).contains("event name must not be empty");
    }

    // ---------------------------------------------------------------------------------------
    // cancel, get_instance, list_instances, delete_instances
    // ---------------------------------------------------------------------------------------

    @Test
    void cancel_returns_how_many_instances_it_cancelled_and_0_once_terminal() throws SQLException {
        client.start("greet", "api-cancel", null);

        assertThat(call("SELECT df_engine.cancel('api-cancel', 'no longer needed')")).containsExactly(1);
        assertThat(call("SELECT df_engine.cancel('api-cancel')")).containsExactly(0);

        InstanceInfo info = client.get("api-cancel").orElseThrow();
        assertThat(info.status()).isEqualTo("Cancelled");
        assertThat(info.output()).isEqualTo("\"no longer needed\"");
        assertThat(info.completedAt()).isNotNull();
        assertThat(env.queuedWork("api-cancel")).isZero();
    }

    @Test
    void cancel_also_cancels_a_child_that_a_turn_in_flight_creates_while_the_cancel_waits_for_its_lock()
            throws Exception {
        client.start("race-parent", "api-race-root", null);
        try (Connection admin = TestCluster.get().connect(env.db(), TestCluster.SUPERUSER);
             Statement s = admin.createStatement()) {
            s.execute("INSERT INTO df_engine.instances (id, name, input, parent_id, parent_execution_id, parent_task_id)"
                    + " VALUES ('api-race-child', 'race-child', 'null', 'api-race-root', 1, 0)");
        }
        // A worker's turn of the child, in flight: it holds the child's row lock (as a claim does)
        // and creates a grandchild with its start message and schedules a step of its own.
        try (Connection turn = TestCluster.get().connect(env.db(), TestCluster.SUPERUSER);
             Statement t = turn.createStatement()) {
            turn.setAutoCommit(false);
            t.execute("SELECT 1 FROM df_engine.instances WHERE id = 'api-race-child' FOR UPDATE");
            t.execute("INSERT INTO df_engine.instances (id, name, input, parent_id, parent_execution_id, parent_task_id)"
                    + " VALUES ('api-race-grandchild', 'race-grandchild', 'null', 'api-race-child', 1, 0)");
            t.execute("INSERT INTO df_engine.executions (instance_id, execution_id, input)"
                    + " VALUES ('api-race-grandchild', 1, 'null')");
            t.execute("INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name, payload)"
                    + " VALUES ('api-race-grandchild', 1, 'ExecutionStarted', 'race-grandchild', 'null')");
            t.execute("INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name, input)"
                    + " VALUES ('api-race-child', 1, 1, 'step', 'null')");

            CompletableFuture<List<Object>> cancel = CompletableFuture.supplyAsync(() -> {
                try {
                    return call("SELECT df_engine.cancel('api-race-root', 'race')");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            awaitLockWait("SELECT df_engine.cancel('api-race-root'");
            turn.commit();

            assertThat(cancel.get(30, TimeUnit.SECONDS)).containsExactly(3);
        }
        assertThat(client.get("api-race-grandchild").orElseThrow().status()).isEqualTo("Cancelled");
        assertThat(client.get("api-race-child").orElseThrow().status()).isEqualTo("Cancelled");
        assertThat(env.queuedWork("api-race-grandchild")).isZero();
        assertThat(env.queuedWork("api-race-child")).isZero();
    }

    /** Waits until a backend running a statement that starts with {@code prefix} waits for a lock. */
    private static void awaitLockWait(String prefix) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (call(TestCluster.SUPERUSER, "SELECT count(*)::int FROM pg_catalog.pg_stat_activity"
                + " WHERE wait_event_type = 'Lock'"
                + " AND starts_with(query, ?)", prefix).get(0).equals(0)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no statement starting with " + prefix + " came to wait for a lock");
            }
            Thread.onSpinWait();
        }
    }

    @Test
    void cancel_of_an_unknown_instance_fails_with_P0002() {
        SQLException e = sqlFailure(() -> call("SELECT df_engine.cancel('api-ghost')"));

        assertThat(e.getSQLState()).isEqualTo("P0002");
        assertThat(e.getMessage()).contains("\"api-ghost\" does not exist");
    }

    @Test
    void get_instance_of_an_unknown_id_returns_no_row() throws SQLException {
        assertThat(call("SELECT id FROM df_engine.get_instance('api-missing')")).isEmpty();
        assertThat(client.get("api-missing")).isEmpty();
    }

    @Test
    void list_instances_filters_by_status_newest_first_up_to_the_limit() throws SQLException {
        String prefix = "api-list-" + UUID.randomUUID().toString().substring(0, 8);
        for (int i = 1; i <= 3; i++) {
            client.start("lister", prefix + "-" + i, null);
            client.cancel(prefix + "-" + i, null);
        }
        String pending = client.start("lister", prefix + "-pending", null);

        List<Object> newestTwo = call("SELECT id FROM df_engine.list_instances('Cancelled', 2)");

        assertThat(newestTwo).containsExactly(prefix + "-3", prefix + "-2");
        assertThat(client.list("Cancelled", 1000)).extracting(InstanceInfo::status).containsOnly("Cancelled");
        assertThat(client.list("Pending", 1000)).extracting(InstanceInfo::id).contains(pending);
        assertThat(client.list(null, 1)).extracting(InstanceInfo::id).containsExactly(pending);
    }

    @Test
    void list_instances_rejects_an_unknown_status_or_a_non_positive_limit_with_22023() {
        SQLException badStatus = sqlFailure(() -> call("SELECT * FROM df_engine.list_instances('Done')"));
        SQLException badLimit = sqlFailure(() -> call("SELECT * FROM df_engine.list_instances(NULL, 0)"));

        assertThat(badStatus.getSQLState()).isEqualTo("22023");
        assertThat(badStatus.getMessage()).contains("unknown instance status \"Done\"")
                .contains("Pending, Running, Completed, Failed or Cancelled");
        assertThat(badLimit.getSQLState()).isEqualTo("22023");
        assertThat(badLimit.getMessage()).contains("limit must be a positive integer, got 0");
    }

    @Test
    void delete_instances_rejects_a_negative_limit_with_22023() {
        SQLException e = sqlFailure(() -> call("SELECT * FROM df_engine.delete_instances(ARRAY['x'], NULL, -1)"));

        assertThat(e.getSQLState()).isEqualTo("22023");
        assertThat(e.getMessage()).contains("limit must not be negative, got -1");
    }

    // ---------------------------------------------------------------------------------------
    // Privileges
    // ---------------------------------------------------------------------------------------

    @Test
    void an_ordinary_role_may_not_drive_instances_but_may_offer_an_activity_result() throws SQLException {
        TestCluster.get().createLoginRole(OUTSIDER);

        SQLException start = sqlFailure(() -> call(OUTSIDER, "SELECT df_engine.start_orchestration('api-x', 'x')"));
        SQLException read = sqlFailure(() -> call(OUTSIDER, "SELECT count(*) FROM df_engine.instances"));

        assertThat(start.getSQLState()).isEqualTo("42501");
        assertThat(read.getSQLState()).isEqualTo("42501");
        // complete_activity is open to every role; the lease token is what guards it.
        assertThat(call(OUTSIDER, "SELECT df_engine.complete_activity(1, ?, 'null')", UUID.randomUUID()))
                .containsExactly(false);
        assertThat(client.get("api-x")).isEmpty();
    }
}
