package io.pgdurable.engine;

import static io.pgdurable.engine.EngineTestSupport.PATIENCE;
import static io.pgdurable.engine.EngineTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.worker.Worker;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code df_engine.delete_instances}: what it removes, what it must leave alone, in what order. */
class DeleteInstancesTest {
    private static EngineTestSupport env;
    private static EngineClient client;

    @BeforeAll
    static void createDatabase() {
        env = new EngineTestSupport("engine_delete_instances");
        client = env.client();
    }

    /** Starts an instance no worker will run, and cancels it: terminal now, with a completion time. */
    private static String finished(String id) {
        client.start("idle", id, null);
        assertThat(client.cancel(id, "done with it")).isEqualTo(1);
        return id;
    }

    private static boolean present(String id) {
        return client.get(id).isPresent();
    }

    private static long rowsAnywhere(String id) {
        return env.count("""
                SELECT (SELECT count(*) FROM df_engine.instances WHERE id = ?)
                     + (SELECT count(*) FROM df_engine.executions WHERE instance_id = ?)
                     + (SELECT count(*) FROM df_engine.history WHERE instance_id = ?)
                     + (SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?)
                     + (SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?)
                """, id, id, id, id, id);
    }

    @Test
    void deleting_a_finished_parent_removes_its_children_with_their_history_executions_and_queued_work()
            throws SQLException {
        Registry registry = new Registry()
                .activity("pack", ctx -> "packed " + ctx.input(String.class))
                .orchestration("packItem", ctx -> ctx.callActivity("pack", ctx.input(String.class), String.class)
                        .await())
                .orchestration("packOrder", ctx -> ctx.allOf(List.of(
                        ctx.callSubOrchestration("packItem", ctx.instanceId() + "-a", "a", String.class),
                        ctx.callSubOrchestration("packItem", ctx.instanceId() + "-b", "b", String.class))).await());
        String parent = "pack-order-1";
        List<String> family = List.of(parent, parent + "-a", parent + "-b");
        try (Worker worker = env.startWorker(registry)) {
            new EngineClient(worker.dataSource()).start("packOrder", parent, null);
            assertThat(client.awaitTerminal(parent, PATIENCE).status()).isEqualTo("Completed");
        }
        String bystander = finished("pack-bystander");
        // Messages that arrive after the end (a late event, a stray work item) are part of the record too.
        try (Connection c = env.connect();
             PreparedStatement late = c.prepareStatement("INSERT INTO df_engine.orchestrator_queue"
                     + " (instance_id, kind, name, payload) VALUES (?, 'EventRaised', 'late', 'null')");
             PreparedStatement stray = c.prepareStatement("INSERT INTO df_engine.activity_queue"
                     + " (instance_id, execution_id, task_id, name) VALUES (?, 1, 99, 'stray')")) {
            late.setString(1, parent + "-a");
            late.execute();
            stray.setString(1, parent + "-b");
            stray.execute();
        }
        for (String id : family) {
            assertThat(env.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ?", id))
                    .as("history of " + id).isPositive();
        }

        List<String> deleted = client.delete(List.of(parent), null, null);

        assertThat(deleted).containsExactly(parent);
        for (String id : family) {
            assertThat(rowsAnywhere(id)).as("rows left for " + id).isZero();
        }
        assertThat(present(bystander)).isTrue();
    }

    @Test
    void instances_still_pending_or_running_are_skipped() {
        String pending = "skip-pending";
        client.start("idle", pending, null);
        String done = finished("skip-done");

        List<String> deleted = client.delete(List.of(pending, done, "skip-unknown"), null, null);

        assertThat(deleted).containsExactly(done);
        assertThat(client.get(pending).orElseThrow().status()).isEqualTo("Pending");
        assertThat(env.queuedWork(pending)).as("its start message is still queued").isEqualTo(1);
        assertThat(present(done)).isFalse();
        client.cancel(pending, "test over");
    }

    @Test
    void a_finished_parent_whose_child_still_runs_is_kept_until_the_child_ends() {
        Registry registry = new Registry()
                .orchestration("listener", ctx -> ctx.waitForExternalEvent("stop", String.class).await())
                .orchestration("launcher", ctx -> {
                    // Starts the child and finishes without waiting for it.
                    ctx.callSubOrchestration("listener", ctx.instanceId() + "-child", null, String.class);
                    return "launched";
                });
        String parent = "launcher-1";
        String child = parent + "-child";
        try (Worker worker = env.startWorker(registry)) {
            EngineClient workerClient = new EngineClient(worker.dataSource());
            workerClient.start("launcher", parent, null);
            assertThat(workerClient.awaitTerminal(parent, PATIENCE).status()).isEqualTo("Completed");
            await("the child runs", () -> "Running".equals(env.status(child)));

            assertThat(client.delete(List.of(parent), null, null)).isEmpty();
            assertThat(present(parent)).isTrue();
            assertThat(env.status(child)).isEqualTo("Running");

            workerClient.raiseEvent(child, "stop", "bye");
            assertThat(workerClient.awaitTerminal(child, PATIENCE).status()).isEqualTo("Completed");
            await("the child's result for the finished parent is dropped", () -> env.queuedWork(parent) == 0);
        }

        assertThat(client.delete(List.of(parent), null, null)).containsExactly(parent);
        assertThat(rowsAnywhere(parent)).isZero();
        assertThat(rowsAnywhere(child)).isZero();
    }

    @Test
    void only_instances_that_ended_before_the_cutoff_are_deleted() {
        String older = finished("cutoff-older");
        Instant cutoff = env.instant("SELECT clock_timestamp()");
        String newer = finished("cutoff-newer");

        List<String> deleted = client.delete(List.of(older, newer), cutoff, null);

        assertThat(deleted).containsExactly(older);
        assertThat(present(older)).isFalse();
        assertThat(present(newer)).isTrue();
        assertThat(client.delete(List.of(newer), cutoff, null)).isEmpty();
    }

    @Test
    void a_limit_deletes_the_oldest_first_whatever_order_the_ids_are_given_in() {
        String first = finished("limit-1");
        String second = finished("limit-2");
        String third = finished("limit-3");

        List<String> deleted = client.delete(List.of(third, second, first), null, 2);

        assertThat(deleted).containsExactlyInAnyOrder(first, second);
        assertThat(present(third)).isTrue();
        assertThat(client.delete(List.of(third), null, 0)).isEmpty();
        assertThat(present(third)).isTrue();
    }

    @Test
    void instances_that_ended_at_the_same_moment_are_taken_in_id_order() throws SQLException {
        String b = finished("tie-b");
        String a = finished("tie-a");
        try (Connection c = env.connect();
             PreparedStatement ps = c.prepareStatement(
                     "UPDATE df_engine.instances SET completed_at = '2024-01-01T00:00:00Z' WHERE id IN (?, ?)")) {
            ps.setString(1, a);
            ps.setString(2, b);
            assertThat(ps.executeUpdate()).isEqualTo(2);
        }

        assertThat(client.delete(List.of(b, a), null, 1)).containsExactly(a);
        assertThat(present(b)).isTrue();
    }
}
