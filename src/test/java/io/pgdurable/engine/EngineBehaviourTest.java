package io.pgdurable.engine;

import static io.pgdurable.engine.EngineTestSupport.PATIENCE;
import static io.pgdurable.engine.EngineTestSupport.await;
import static io.pgdurable.engine.EngineTestSupport.hold;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.worker.Worker;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Orchestrations run end to end by a real worker against a real database. */
class EngineBehaviourTest {
    private static EngineTestSupport env;

    @BeforeAll
    static void createDatabase() {
        env = new EngineTestSupport("engine_behaviour");
    }

    private static InstanceInfo awaitTerminal(EngineClient client, String id) {
        return client.awaitTerminal(id, PATIENCE);
    }

    // ---------------------------------------------------------------------------------------
    // Activities
    // ---------------------------------------------------------------------------------------

    @Test
    void activities_run_in_sequence_each_receiving_the_previous_result() {
        List<String> calls = Collections.synchronizedList(new ArrayList<>());
        Registry registry = new Registry()
                .activity("append", ctx -> {
                    String in = ctx.input(String.class);
                    calls.add(in);
                    return in + "+" + ctx.taskId();
                })
                .orchestration("pipeline", ctx -> {
                    String value = ctx.input(String.class);
                    for (int i = 0; i < 4; i++) {
                        value = ctx.callActivity("append", value, String.class).await();
                    }
                    return value;
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("pipeline", "seq-1", "x");

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("x+0+1+2+3");
            assertThat(calls).containsExactly("x", "x+0", "x+0+1", "x+0+1+2");
        }
    }

    @Test
    void fan_out_results_are_gathered_in_task_order_whatever_order_they_finish_in() {
        int width = 6;
        List<CountDownLatch> finished = new ArrayList<>();
        for (int i = 0; i < width; i++) {
            finished.add(new CountDownLatch(1));
        }
        List<Integer> completionOrder = Collections.synchronizedList(new ArrayList<>());
        Registry registry = new Registry()
                .activity("square", ctx -> {
                    int n = ctx.input(Integer.class);
                    // Each branch waits for the next one, so they finish in reverse task order.
                    if (n + 1 < width) {
                        hold(finished.get(n + 1));
                    }
                    completionOrder.add(n);
                    finished.get(n).countDown();
                    return n * n;
                })
                .orchestration("fanOut", ctx -> {
                    List<Task<Integer>> branches = new ArrayList<>();
                    for (int i = 0; i < width; i++) {
                        branches.add(ctx.callActivity("square", i, Integer.class));
                    }
                    return ctx.allOf(branches).await();
                });
        // All branches must run at once, so one partition key's share must hold them all.
        try (Worker worker = env.startWorker(registry, b -> b.maxActivitiesPerRole(width))) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("fanOut", "fan-1", null);

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.output()).isEqualTo("[0,1,4,9,16,25]");
            assertThat(completionOrder).containsExactly(5, 4, 3, 2, 1, 0);
            assertThat(env.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ? AND event_type = ?",
                    id, EventType.TaskScheduled.name())).isEqualTo(width);
        }
    }

    @Test
    void a_failing_activity_fails_the_orchestration_with_its_message() {
        AtomicInteger attempts = new AtomicInteger();
        Registry registry = new Registry()
                .activity("chargeCard", ctx -> {
                    attempts.incrementAndGet();
                    throw new IllegalStateException("card " + ctx.input(String.class) + " was declined");
                })
                .orchestration("checkout", ctx -> ctx.callActivity("chargeCard", "4242", String.class).await());
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("checkout", "checkout-1", null);

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Failed");
            assertThat(info.completedAt()).isNotNull();
            JsonNode output = JsonCodec.tree(info.output());
            assertThat(output.path("type").asText()).isEqualTo("IllegalStateException");
            assertThat(output.path("message").asText()).isEqualTo("card 4242 was declined");
            assertThat(env.text("SELECT status FROM df_engine.executions WHERE instance_id = ?", id))
                    .isEqualTo("Failed");
            assertThat(attempts).as("a non-transient failure is not retried").hasValue(1);
            assertThat(env.queuedWork(id)).isZero();
        }
    }

    @Test
    void an_orchestration_that_catches_an_activity_failure_completes() {
        Registry registry = new Registry()
                .activity("flaky", ctx -> {
                    throw new IllegalArgumentException("upstream said no");
                })
                .orchestration("resilient", ctx -> {
                    try {
                        return ctx.callActivity("flaky", null, String.class).await();
                    } catch (TaskFailedException e) {
                        return "fallback after " + e.details().type() + ": " + e.details().message();
                    }
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("resilient", "resilient-1", null);

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class))
                    .isEqualTo("fallback after IllegalArgumentException: upstream said no");
        }
    }

    // ---------------------------------------------------------------------------------------
    // Timers
    // ---------------------------------------------------------------------------------------

    @Test
    void a_timer_holds_the_orchestration_until_its_fire_time_and_the_earlier_timer_wins_a_race() {
        Registry registry = new Registry()
                .orchestration("twoTimers", ctx -> {
                    Task<Void> late = ctx.createTimer(Duration.ofMillis(900));
                    Task<Void> early = ctx.createTimer(Duration.ofMillis(300));
                    Task<?> first = ctx.anyOf(List.of(late, early)).await();
                    String winner = first == early ? "early" : "late";
                    late.await();
                    return winner;
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("twoTimers", "timers-1", null);

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("early");
            Instant lateFireAt = Instant.parse(env.text("""
                    SELECT max(payload::json #>> '{}') FROM df_engine.history
                     WHERE instance_id = ? AND event_type = 'TimerCreated'
                    """, id));
            assertThat(info.completedAt()).isAfterOrEqualTo(lateFireAt.truncatedTo(ChronoUnit.MICROS));
            assertThat(Duration.between(info.createdAt(), info.completedAt())).isGreaterThanOrEqualTo(
                    Duration.ofMillis(900));
        }
    }

    @Test
    void a_timer_fires_after_the_worker_that_created_it_was_restarted() {
        Registry registry = new Registry()
                .orchestration("sleeper", ctx -> {
                    Instant fireAt = ctx.currentInstant().plusSeconds(2);
                    ctx.createTimer(fireAt).await();
                    return fireAt.toString();
                });
        String id = "sleeper-1";
        Instant fireAt;
        try (Worker first = env.startWorker(registry)) {
            new EngineClient(first.dataSource()).start("sleeper", id, null);
            await("the timer is queued", () -> env.exists(
                    "SELECT 1 FROM df_engine.orchestrator_queue WHERE instance_id = ? AND kind = 'TimerFired'", id));
            fireAt = env.instant(
                    "SELECT visible_at FROM df_engine.orchestrator_queue WHERE instance_id = ? AND kind = 'TimerFired'",
                    id);
        }
        assertThat(Instant.now()).as("the first worker stopped before the timer was due").isBefore(fireAt);
        assertThat(env.status(id)).isEqualTo("Running");

        try (Worker second = env.startWorker(registry)) {
            InstanceInfo info = awaitTerminal(new EngineClient(second.dataSource()), id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.completedAt()).isAfterOrEqualTo(fireAt);
            Instant reported = Instant.parse(JsonCodec.fromJson(info.output(), String.class));
            assertThat(info.completedAt()).isAfterOrEqualTo(reported.truncatedTo(ChronoUnit.MICROS));
            assertThat(Duration.between(reported, fireAt).abs()).isLessThanOrEqualTo(Duration.ofMillis(1));
        }
    }

    // ---------------------------------------------------------------------------------------
    // External events
    // ---------------------------------------------------------------------------------------

    @Test
    void events_raised_before_any_worker_runs_are_buffered_and_consumed_in_arrival_order() {
        Registry registry = new Registry()
                .activity("warmUp", ctx -> "warm")
                .orchestration("inbox", ctx -> {
                    ctx.callActivity("warmUp", null, String.class).await();
                    String first = ctx.waitForExternalEvent("item", String.class).await();
                    String second = ctx.waitForExternalEvent("item", String.class).await();
                    return List.of(first, second);
                });
        String id = "inbox-1";
        EngineClient client = env.client();
        client.start("inbox", id, null);
        client.raiseEvent(id, "item", "apple");
        client.raiseEvent(id, "item", "banana");

        try (Worker worker = env.startWorker(registry)) {
            InstanceInfo info = awaitTerminal(new EngineClient(worker.dataSource()), id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.output()).isEqualTo("[\"apple\",\"banana\"]");
            // Both events were recorded before the activity's result, i.e. before any wait existed.
            long lastEvent = env.count("SELECT max(seq) FROM df_engine.history WHERE instance_id = ?"
                    + " AND event_type = 'EventRaised'", id);
            long activityDone = env.count("SELECT min(seq) FROM df_engine.history WHERE instance_id = ?"
                    + " AND event_type = 'TaskCompleted'", id);
            assertThat(lastEvent).isLessThan(activityDone);
        }
    }

    @Test
    void an_event_raised_while_the_orchestration_awaits_an_activity_is_kept_for_a_later_wait() {
        CountDownLatch gateEntered = new CountDownLatch(1);
        CountDownLatch gateOpen = new CountDownLatch(1);
        Registry registry = new Registry()
                .activity("gate", ctx -> {
                    gateEntered.countDown();
                    hold(gateOpen);
                    return null;
                })
                .orchestration("gateThenWait", ctx -> {
                    ctx.callActivity("gate", null, Void.class).await();
                    return ctx.waitForExternalEvent("approval", String.class).await();
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("gateThenWait", "gate-1", null);
            try {
                await("the activity is running", gateEntered);
                client.raiseEvent(id, "approval", "granted");
                await("the event is recorded in history", () -> env.historyHas(id, EventType.EventRaised));
            } finally {
                gateOpen.countDown();
            }

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("granted");
        }
    }

    @Test
    void an_event_wait_times_out_when_no_event_arrives_in_time() {
        try (Worker worker = env.startWorker(approvalRegistry())) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("approval", "approval-timeout", 300);

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("timed out waiting for approve");
            assertThat(Duration.between(info.createdAt(), info.completedAt()))
                    .isGreaterThanOrEqualTo(Duration.ofMillis(300));
        }
    }

    @Test
    void an_event_arriving_before_the_timeout_is_received_and_its_timeout_timer_discarded() {
        try (Worker worker = env.startWorker(approvalRegistry())) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("approval", "approval-in-time", 60_000);
            await("the wait and its timeout timer are in place", () -> env.historyHas(id, EventType.TimerCreated));

            client.raiseEvent(id, "approve", "alice");
            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("approved by alice");
            assertThat(env.queuedWork(id)).as("the pending timeout timer is removed").isZero();
        }
    }

    private static Registry approvalRegistry() {
        return new Registry().orchestration("approval", ctx -> {
            long timeoutMillis = ctx.input(Long.class);
            try {
                return "approved by " + ctx.waitForExternalEvent("approve", Duration.ofMillis(timeoutMillis),
                        String.class).await();
            } catch (EventWaitTimeoutException e) {
                return "timed out waiting for " + e.eventName();
            }
        });
    }

    // ---------------------------------------------------------------------------------------
    // Sub-orchestrations
    // ---------------------------------------------------------------------------------------

    @Test
    void a_sub_orchestration_runs_under_the_id_its_parent_chose_and_returns_its_result() {
        Registry registry = new Registry()
                .activity("printLabel", ctx -> "label-" + ctx.input(String.class))
                .orchestration("ship", ctx -> "shipped with " + ctx.callActivity("printLabel",
                        ctx.input(String.class), String.class).await())
                .orchestration("order", ctx -> {
                    String order = ctx.input(String.class);
                    String shipment = ctx.callSubOrchestration("ship", "shipment-" + order, order, String.class)
                            .await();
                    return "order " + order + " " + shipment;
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("order", "order-42", "42");

            InstanceInfo parent = awaitTerminal(client, id);

            assertThat(parent.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(parent.output(), String.class)).isEqualTo("order 42 shipped with label-42");
            InstanceInfo child = client.get("shipment-42").orElseThrow();
            assertThat(child.status()).isEqualTo("Completed");
            assertThat(child.name()).isEqualTo("ship");
            assertThat(child.parentId()).isEqualTo(id);
            assertThat(child.input()).isEqualTo("\"42\"");
            assertThat(JsonCodec.fromJson(child.output(), String.class)).isEqualTo("shipped with label-42");
        }
    }

    @Test
    void a_sub_orchestration_whose_id_is_taken_fails_only_the_parents_task() {
        Registry registry = new Registry()
                .orchestration("noop", ctx -> "noop")
                .orchestration("adopter", ctx -> {
                    try {
                        return ctx.callSubOrchestration("noop", "taken-child", null, String.class).await();
                    } catch (TaskFailedException e) {
                        return e.details().type() + ": " + e.details().message();
                    }
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            client.start("noop", "taken-child", null);
            awaitTerminal(client, "taken-child");
            String id = client.start("adopter", "adopter-1", null);

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class))
                    .startsWith("DuplicateInstance: ")
                    .contains("taken-child");
            assertThat(client.get("taken-child").orElseThrow().parentId()).isNull();
        }
    }

    @Test
    void any_of_completes_with_the_winner_and_cancels_the_losing_sub_orchestration() {
        CountDownLatch childWaiting = new CountDownLatch(1);
        Registry registry = new Registry()
                .orchestration("awaitApproval", ctx -> ctx.waitForExternalEvent("approved", Duration.ofHours(1),
                        String.class).await())
                .activity("autoApprove", ctx -> {
                    hold(childWaiting);
                    return "auto-approved";
                })
                .orchestration("race", ctx -> {
                    Task<String> manual = ctx.callSubOrchestration("awaitApproval", ctx.instanceId() + "-manual",
                            null, String.class);
                    Task<String> automatic = ctx.callActivity("autoApprove", null, String.class);
                    List<Task<String>> contenders = List.of(manual, automatic);
                    Task<?> winner = ctx.anyOf(contenders).await();
                    for (Task<String> t : contenders) {
                        if (t != winner) {
                            t.cancel();
                        }
                    }
                    return winner.await();
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("race", "race-1", null);
            String child = id + "-manual";
            try {
                await("the child waits for its event, with a timeout timer queued",
                        () -> "Running".equals(env.status(child)) && env.exists("SELECT 1 FROM"
                                + " df_engine.orchestrator_queue WHERE instance_id = ? AND kind = 'TimerFired'",
                                child));
            } finally {
                childWaiting.countDown();
            }

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("auto-approved");
            assertThat(env.status(child)).isEqualTo("Cancelled");
            assertThat(env.text("SELECT status FROM df_engine.executions WHERE instance_id = ?", child))
                    .isEqualTo("Cancelled");
            assertThat(env.queuedWork(child)).as("the child's timer is gone").isZero();
            assertThat(env.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ?"
                    + " AND event_type = 'SubOrchestrationCancelRequested'", id)).isEqualTo(1);
            await("nothing is left queued for the parent", () -> env.queuedWork(id) == 0);
            assertThat(env.status(id)).isEqualTo("Completed");
        }
    }

    @Test
    void cancelling_a_parent_cancels_its_waiting_child_and_removes_their_queued_work() {
        CountDownLatch workStarted = new CountDownLatch(1);
        CountDownLatch releaseWork = new CountDownLatch(1);
        CountDownLatch workReturned = new CountDownLatch(1);
        Registry registry = new Registry()
                .activity("longWork", ctx -> {
                    workStarted.countDown();
                    try {
                        hold(releaseWork);
                        return "done";
                    } finally {
                        workReturned.countDown();
                    }
                })
                .orchestration("worker", ctx -> {
                    Task<String> work = ctx.callActivity("longWork", null, String.class);
                    Task<String> go = ctx.waitForExternalEvent("go", String.class);
                    ctx.anyOf(List.of(work, go)).await();
                    return "child finished";
                })
                .orchestration("supervisor", ctx -> {
                    Task<String> child = ctx.callSubOrchestration("worker", ctx.instanceId() + "-child", null,
                            String.class);
                    Task<Void> deadline = ctx.createTimer(Duration.ofHours(1));
                    ctx.anyOf(List.of(child, deadline)).await();
                    return "supervisor finished";
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String parent = client.start("supervisor", "supervisor-1", null);
            String child = parent + "-child";
            try {
                await("the child's activity runs", workStarted);
                await("the child is running and the parent's deadline timer is queued",
                        () -> "Running".equals(env.status(child)) && env.queuedWork(parent) == 1);

                int cancelled = client.cancel(parent, "operator stopped it");

                assertThat(cancelled).isEqualTo(2);
            } finally {
                releaseWork.countDown();
            }
            for (String id : List.of(parent, child)) {
                InstanceInfo info = client.get(id).orElseThrow();
                assertThat(info.status()).as(id).isEqualTo("Cancelled");
                assertThat(info.completedAt()).as(id).isNotNull();
                assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("operator stopped it");
                assertThat(env.queuedWork(id)).as("queued work of " + id).isZero();
                assertThat(env.text("SELECT status FROM df_engine.executions WHERE instance_id = ?", id))
                        .isEqualTo("Cancelled");
            }

            // The activity that was in flight cannot record a result any more.
            await("the in-flight activity returns", workReturned);
            await("the worker has handled the activity's end", () -> worker.stats().activities() >= 1);
            assertThat(env.queuedWork(parent) + env.queuedWork(child)).isZero();
            assertThat(env.status(child)).isEqualTo("Cancelled");
            assertThat(env.historyHas(child, EventType.TaskCompleted)).isFalse();
            assertThatThrownBy(() -> client.raiseEvent(child, "go", "late"))
                    .isInstanceOf(DurableException.class)
                    .hasMessageContaining("is Cancelled and takes no more events");
            assertThat(client.cancel(parent, "again")).isZero();
        }
    }

    // ---------------------------------------------------------------------------------------
    // Replay
    // ---------------------------------------------------------------------------------------

    @Test
    void an_orchestration_whose_code_changed_mid_flight_fails_with_a_nondeterminism_error() {
        AtomicReference<String> firstStep = new AtomicReference<>("reserve");
        CountDownLatch reserving = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        Registry registry = new Registry()
                .activity("reserve", ctx -> {
                    reserving.countDown();
                    hold(proceed);
                    return "reserved";
                })
                .activity("reserveV2", ctx -> "reserved v2")
                .activity("confirm", ctx -> "confirmed")
                .orchestration("booking", ctx -> {
                    // Reading mutable global state is exactly what orchestration code must not do.
                    ctx.callActivity(firstStep.get(), null, String.class).await();
                    return ctx.callActivity("confirm", null, String.class).await();
                });
        // Without a session cache every turn replays the whole history.
        try (Worker worker = env.startWorker(registry, b -> b.sessionCacheSize(0))) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("booking", "booking-1", null);
            try {
                await("the first activity runs", reserving);
                firstStep.set("reserveV2");
            } finally {
                proceed.countDown();
            }

            InstanceInfo info = awaitTerminal(client, id);

            assertThat(info.status()).isEqualTo("Failed");
            JsonNode output = JsonCodec.tree(info.output());
            assertThat(output.path("type").asText()).isEqualTo("NonDeterminism");
            assertThat(output.path("message").asText()).contains("reserve").contains("reserveV2");
        }
    }
}
