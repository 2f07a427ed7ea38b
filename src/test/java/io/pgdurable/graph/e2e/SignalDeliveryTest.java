package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.adminLong;
import static io.pgdurable.graph.e2e.SqlProbe.execAsApp;
import static io.pgdurable.graph.e2e.SqlProbe.failure;
import static io.pgdurable.graph.e2e.SqlProbe.json;
import static io.pgdurable.graph.e2e.SqlProbe.message;
import static io.pgdurable.graph.e2e.SqlProbe.nodeResult;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * df.signal against a running worker: signals are buffered until a wait takes them, in order,
 * wherever the wait runs (root, JOIN branch, loop iteration), and are never lost to a timeout.
 */
class SignalDeliveryTest {
    private static final Duration DONE = Duration.ofSeconds(20);
    private static final String OTHER_ROLE = "sig_e2e_other";

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("sig_e2e");
        env.cluster().createLoginRole(OTHER_ROLE);
        env.exec("SELECT df.grant_usage('" + OTHER_ROLE + "')");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void signal_sent_before_the_wait_begins_is_buffered_and_then_consumed() throws SQLException {
        String id;
        try (Connection c = env.connectAsApp()) {
            id = first(c, "SELECT df.start('SELECT pg_sleep(1)' ~> df.wait_for_signal('go'))");
            assertThat(first(c, "SELECT df.signal(?, 'go', '{\"ready\": true}')", id)).isEqualTo("OK");
        }
        // The first step is still sleeping: no wait exists yet, so the signal is held.
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", id)).isEqualTo(1);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(env.result(id))).isEqualTo(json(
                "{\"signal_name\": \"go\", \"timed_out\": false, \"data\": {\"ready\": true}}"));
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", id)).isZero();
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", id)).isZero();
    }

    @Test
    void signal_data_that_is_json_stays_json_and_other_text_becomes_a_json_string() {
        String id = env.start("df.wait_for_signal('doc') ~> df.wait_for_signal('note')"
                + " ~> df.wait_for_signal('num') ~> df.wait_for_signal('nothing') ~> df.wait_for_signal('default')");

        env.queryAsApp("SELECT df.signal(?, 'doc', '{\"items\": [1, 2], \"nested\": {\"ok\": true}}')", id);
        env.queryAsApp("SELECT df.signal(?, 'note', 'hello, {world}')", id);
        env.queryAsApp("SELECT df.signal(?, 'num', '42')", id);
        env.queryAsApp("SELECT df.signal(?, 'nothing', 'null')", id);
        env.queryAsApp("SELECT df.signal(?, 'default')", id);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(signalData(id, "doc")).isEqualTo(json("{\"items\": [1, 2], \"nested\": {\"ok\": true}}"));
        assertThat(signalData(id, "note")).isEqualTo(TextNode.valueOf("hello, {world}"));
        assertThat(signalData(id, "num")).isEqualTo(IntNode.valueOf(42));
        assertThat(signalData(id, "nothing")).isEqualTo(NullNode.getInstance());
        assertThat(json(env.queryAsAdmin("SELECT result::text FROM df.nodes WHERE instance_id = ?"
                + " AND result ->> 'signal_name' = 'nothing'", id)).path("timed_out").asBoolean()).isFalse();
        assertThat(signalData(id, "default")).isEqualTo(json("{}"));
        assertThat(env.queryAsAdmin("""
                SELECT string_agg(jsonb_typeof(result -> 'data'), ',' ORDER BY result ->> 'signal_name')
                  FROM df.nodes WHERE instance_id = ? AND node_type = 'SIGNAL'
                """, id)).isEqualTo("object,object,string,null,number");
    }

    @Test
    void wait_with_a_timeout_and_no_signal_times_out_with_null_data() {
        String id = env.start("df.wait_for_signal('never', 1)");

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(env.result(id))).isEqualTo(json(
                "{\"signal_name\": \"never\", \"timed_out\": true, \"data\": null}"));
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", id)).isZero();
    }

    @Test
    void signal_arriving_within_the_timeout_is_delivered_before_the_timeout() {
        long started = System.nanoTime();
        String id = env.start("df.wait_for_signal('soon', 30)");
        awaitOpenWait(id, "soon");

        env.queryAsApp("SELECT df.signal(?, 'soon', 'in time')", id);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));
        assertThat(json(env.result(id))).isEqualTo(json(
                "{\"signal_name\": \"soon\", \"timed_out\": false, \"data\": \"in time\"}"));
    }

    @Test
    void two_signals_of_one_name_are_consumed_by_two_sequential_waits_in_order() {
        String id = env.start("df.wait_for_signal('step') ~> df.wait_for_signal('step')");

        env.queryAsApp("SELECT df.signal(?, 'step', '{\"n\": 1}')", id);
        env.queryAsApp("SELECT df.signal(?, 'step', '{\"n\": 2}')", id);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(nodeResult(env, id, "l")).path("data")).isEqualTo(json("{\"n\": 1}"));
        assertThat(json(env.result(id)).path("data")).isEqualTo(json("{\"n\": 2}"));
    }

    @Test
    void signal_reaches_a_wait_inside_a_join_branch() {
        String id = env.start("df.\"join\"(df.wait_for_signal('branch_go'), 'SELECT 7 AS seven')");
        awaitOpenWait(id, "branch_go");
        // The wait belongs to the branch's own engine instance, not the root's.
        assertThat(env.queryAsAdmin("SELECT engine_instance FROM df.signal_waits WHERE instance_id = ?", id))
                .startsWith(id + "::");

        env.queryAsApp("SELECT df.signal(?, 'branch_go', '\"from outside\"')", id);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(env.result(id))).isEqualTo(json("""
                [{"signal_name": "branch_go", "timed_out": false, "data": "from outside"},
                 {"rows": [{"seven": 7}], "row_count": 1}]"""));
    }

    @Test
    void two_parallel_waits_of_one_name_each_take_one_of_two_signals() {
        String id = env.start("df.\"join\"(df.wait_for_signal('both'), df.wait_for_signal('both'))");

        env.queryAsApp("SELECT df.signal(?, 'both', '1')", id);
        env.queryAsApp("SELECT df.signal(?, 'both', '2')", id);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        JsonNode result = json(env.result(id));
        assertThat(result).hasSize(2);
        assertThat(List.of(result.get(0).path("data").asInt(), result.get(1).path("data").asInt()))
                .containsExactlyInAnyOrder(1, 2);
    }

    @Test
    void signal_skips_the_wait_of_a_race_branch_that_lost_and_reaches_the_live_wait() {
        String id = env.start("df.race(df.wait_for_signal('x'), df.sleep(1)) ~> df.wait_for_signal('x', 20)");
        DfTestEnvironment.awaitTrue(() -> adminLong(env, """
                SELECT count(*) FROM df.signal_waits WHERE instance_id = ? AND engine_instance = ?
                """, id, id) == 1, DONE, "the wait after the race to open");
        // The losing branch's wait is still registered, but its engine instance has ended.
        assertThat(adminLong(env, """
                SELECT count(*) FROM df.signal_waits w JOIN df_engine.instances e ON e.id = w.engine_instance
                 WHERE w.instance_id = ? AND e.status = 'Cancelled'
                """, id)).isEqualTo(1);

        env.queryAsApp("SELECT df.signal(?, 'x', '\"for the live wait\"')", id);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(env.result(id))).isEqualTo(json(
                "{\"signal_name\": \"x\", \"timed_out\": false, \"data\": \"for the live wait\"}"));
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", id)).isZero();
    }

    @Test
    void each_iteration_of_a_loop_takes_the_signal_sent_to_its_own_wait() {
        execAsApp(env, "CREATE TABLE sig_loop_ticks (n serial PRIMARY KEY)");
        String id = env.start("'SELECT 1' ~> df.loop("
                + "df.wait_for_signal('tick') ~> 'INSERT INTO sig_loop_ticks DEFAULT VALUES RETURNING n',"
                + " 'SELECT count(*) < 3 FROM sig_loop_ticks')");

        for (int i = 1; i <= 3; i++) {
            awaitOpenWait(id, "tick");
            assertThat(adminLong(env, "SELECT count(*) FROM sig_loop_ticks")).isEqualTo(i - 1);
            env.queryAsApp("SELECT df.signal(?, 'tick', ?)", id, "{\"iteration\": " + i + "}");
            int done = i;
            DfTestEnvironment.awaitTrue(() -> adminLong(env, "SELECT count(*) FROM sig_loop_ticks") == done,
                    DONE, "iteration " + i + " to insert its row");
        }

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(env.result(id))).isEqualTo(json("{\"rows\": [{\"n\": 3}], \"row_count\": 1}"));
        assertThat(signalData(id, "tick")).as("the last iteration's signal").isEqualTo(json("{\"iteration\": 3}"));
        // Every iteration ran in the loop's child orchestration; no signal is left over.
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", id)).isZero();
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", id)).isZero();
    }

    @Test
    void step_of_one_workflow_can_signal_another_workflow() {
        String waiting = env.start("df.wait_for_signal('handoff', 30)");
        awaitOpenWait(waiting, "handoff");

        String sender = env.start("'SELECT df.signal(''" + waiting + "'', ''handoff'',"
                + " ''{\"from\": \"{sys_instance_id}\"}'') AS sent'");

        assertThat(env.await(sender, DONE)).isEqualTo("completed");
        assertThat(env.result(sender)).isEqualTo("{\"rows\": [{\"sent\": \"OK\"}], \"row_count\": 1}");
        assertThat(env.await(waiting, DONE)).isEqualTo("completed");
        assertThat(json(env.result(waiting)).path("data")).isEqualTo(json("{\"from\": \"" + sender + "\"}"));
    }

    @Test
    void step_can_signal_a_wait_in_another_branch_of_its_own_instance() {
        String id = env.start("df.\"join\"(df.wait_for_signal('self', 30),"
                + " 'SELECT pg_sleep(0.3), df.signal(''{sys_instance_id}'', ''self'', ''\"from a sibling\"'')"
                + " AS sent')");

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        JsonNode result = json(env.result(id));
        assertThat(result.get(0).path("data").asText()).isEqualTo("from a sibling");
        assertThat(result.get(1).path("rows").get(0).path("sent").asText()).isEqualTo("OK");
    }

    @Test
    void signal_to_an_unknown_instance_is_refused() throws SQLException {
        PSQLException e = failure(env.connectAsApp(), "SELECT df.signal('deadbeef', 'go')");
        assertThat(e.getSQLState()).isEqualTo("42704");
        assertThat(message(e)).isEqualTo("Instance not found or access denied: deadbeef");
    }

    @Test
    void signal_to_another_roles_instance_is_refused_as_if_it_did_not_exist() throws SQLException {
        String theirs;
        try (Connection c = env.cluster().connect(env.database(), OTHER_ROLE)) {
            theirs = first(c, "SELECT df.start(df.wait_for_signal('theirs', 30))");
        }

        PSQLException e = failure(env.connectAsApp(), "SELECT df.signal(?, 'theirs')", theirs);
        assertThat(e.getSQLState()).isEqualTo("42704");
        assertThat(message(e)).isEqualTo("Instance not found or access denied: " + theirs);
        // Nothing was delivered or buffered for it.
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", theirs)).isZero();
        env.exec("SELECT df.cancel('" + theirs + "')");
    }

    @Test
    void signal_to_a_terminal_instance_is_refused_naming_its_status() throws SQLException {
        String completed = env.start("'SELECT 1'");
        assertThat(env.await(completed, DONE)).isEqualTo("completed");
        String cancelled = env.start("df.wait_for_signal('go')");
        env.queryAsApp("SELECT df.cancel(?)", cancelled);

        PSQLException e = failure(env.connectAsApp(), "SELECT df.signal(?, 'go')", completed);
        assertThat(e.getSQLState()).isEqualTo("55000");
        assertThat(message(e)).isEqualTo("Instance " + completed
                + " is completed: signals can only be sent to pending or running instances");
        e = failure(env.connectAsApp(), "SELECT df.signal(?, 'go')", cancelled);
        assertThat(e.getSQLState()).isEqualTo("55000");
        assertThat(message(e)).isEqualTo("Instance " + cancelled
                + " is cancelled: signals can only be sent to pending or running instances");
    }

    @Test
    void signal_with_an_empty_name_is_refused() throws SQLException {
        String id = env.start("df.wait_for_signal('go', 30)");
        PSQLException e = failure(env.connectAsApp(), "SELECT df.signal(?, '  ')", id);
        assertThat(e.getSQLState()).isEqualTo("22023");
        assertThat(message(e)).isEqualTo("Signal name cannot be empty");
        env.queryAsApp("SELECT df.cancel(?)", id);
    }

    @Test
    void signal_sent_after_a_wait_timed_out_is_kept_for_the_next_wait_of_that_name() {
        String id = env.start("df.wait_for_signal('late', 1) ~> df.wait_for_signal('gate')"
                + " ~> df.wait_for_signal('late', 20)");
        awaitOpenWait(id, "gate");
        assertThat(json(nodeResult(env, id, "ll")).path("timed_out").asBoolean()).isTrue();

        env.queryAsApp("SELECT df.signal(?, 'late', '\"after the timeout\"')", id);
        assertThat(adminLong(env, "SELECT count(*) FROM df.signal_buffer"
                + " WHERE instance_id = ? AND signal_name = 'late'", id)).as("buffered").isEqualTo(1);
        env.queryAsApp("SELECT df.signal(?, 'gate')", id);

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(env.result(id))).isEqualTo(json(
                "{\"signal_name\": \"late\", \"timed_out\": false, \"data\": \"after the timeout\"}"));
    }

    @Test
    void signal_racing_a_timeout_that_fired_first_is_not_lost_but_goes_to_the_next_wait() {
        String id = env.start("df.wait_for_signal('race', 1) ~> df.wait_for_signal('race', 20)");
        awaitOpenWait(id, "race");
        // With no worker running, the timeout comes due and the signal is routed to the same wait
        // (by the routing step a worker's signal router runs): the next turn sees both, the timer
        // first.
        env.stopWorkers();
        try {
            DfTestEnvironment.awaitTrue(() -> adminLong(env,
                    "SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ? AND visible_at <= now()",
                    id) > 0, DONE, "the wait's timeout to come due");
            env.queryAsApp("SELECT df.signal(?, 'race', '\"raced\"')", id);
            assertThat(adminLong(env, "SELECT routed FROM df._route_signals(100)")).isEqualTo(1);
            assertThat(adminLong(env,
                    "SELECT count(*) FROM df.signal_waits WHERE instance_id = ? AND routed_seq IS NOT NULL", id))
                    .isEqualTo(1);
        } finally {
            env.startWorker();
        }

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(nodeResult(env, id, "l"))).isEqualTo(json(
                "{\"signal_name\": \"race\", \"timed_out\": true, \"data\": null}"));
        assertThat(json(env.result(id))).isEqualTo(json(
                "{\"signal_name\": \"race\", \"timed_out\": false, \"data\": \"raced\"}"));
    }

    @Test
    void a_signal_sent_while_the_router_matches_keeps_its_mark_for_the_next_run() throws Exception {
        String id = env.start("df.wait_for_signal('mid')");
        awaitOpenWait(id, "mid");
        env.stopWorkers();
        try (Connection holder = env.connectAsAdmin()) {
            env.queryAsApp("SELECT df.signal(?, 'mid', '1')", id);
            // Holding the first signal's row keeps the routing run inside its work on this instance.
            holder.setAutoCommit(false);
            first(holder, "SELECT seq FROM df.signal_buffer WHERE instance_id = ? FOR UPDATE", id);
            CompletableFuture<Long> run = CompletableFuture.supplyAsync(
                    () -> adminLong(env, "SELECT routed FROM df._route_signals(100)"));
            DfTestEnvironment.awaitTrue(() -> adminLong(env, "SELECT count(*) FROM pg_stat_activity"
                    + " WHERE query LIKE '%df._route_signals(100)%' AND wait_event_type = 'Lock'") > 0,
                    DONE, "the routing run to wait for the first signal's row");
            // A second signal commits meanwhile; then the run goes on.
            env.queryAsApp("SELECT df.signal(?, 'mid', '2')", id);
            holder.commit();
            assertThat(run.get(30, TimeUnit.SECONDS)).isEqualTo(1);

            assertThat(adminLong(env, "SELECT count(*) FROM df.signal_waits WHERE instance_id = ? AND routed_seq IS NOT NULL",
                    id)).as("the first signal went to the wait").isEqualTo(1);
            assertThat(adminLong(env, "SELECT count(*) FROM df.signal_buffer WHERE instance_id = ? AND needs_routing",
                    id)).as("the second signal, sent during the run, is still to be routed").isEqualTo(1);
        } finally {
            env.startWorker();
        }
        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(json(env.result(id)).path("data").asInt()).isEqualTo(1);
    }

    private static String first(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private static JsonNode signalData(String id, String name) {
        return json(env.queryAsAdmin("""
                SELECT (result -> 'data')::text FROM df.nodes
                 WHERE instance_id = ? AND node_type = 'SIGNAL' AND result ->> 'signal_name' = ?
                """, id, name));
    }

    /** Waits until a wait for {@code name} is open (registered, nothing routed to it yet). */
    private static void awaitOpenWait(String id, String name) {
        DfTestEnvironment.awaitTrue(() -> adminLong(env, """
                SELECT count(*) FROM df.signal_waits
                 WHERE instance_id = ? AND signal_name = ? AND routed_seq IS NULL
                """, id, name) > 0, DONE, "a wait for signal '" + name + "' on " + id);
    }
}
