package io.pgdurable.engine;

import static io.pgdurable.engine.EngineTestSupport.PATIENCE;
import static io.pgdurable.engine.EngineTestSupport.await;
import static io.pgdurable.engine.EngineTestSupport.hold;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.worker.Worker;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Long-running loops through continue-as-new: bounded history, and no external event lost. */
class ContinueAsNewTest {
    private static EngineTestSupport env;

    @BeforeAll
    static void createDatabase() {
        env = new EngineTestSupport("engine_continue_as_new");
    }

    @Test
    void a_fifty_generation_loop_completes_keeping_only_the_last_generations_history() {
        int loops = 50;
        AtomicInteger activityRuns = new AtomicInteger();
        Registry registry = new Registry()
                .activity("increment", ctx -> {
                    activityRuns.incrementAndGet();
                    return ctx.input(Integer.class) + 1;
                })
                .orchestration("counter", ctx -> {
                    int n = ctx.input(Integer.class);
                    int next = ctx.callActivity("increment", n, Integer.class).await();
                    if (n < loops) {
                        ctx.continueAsNew(next);
                        return null;
                    }
                    return next;
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("counter", "counter-1", 0);

            InstanceInfo info = client.awaitTerminal(id, PATIENCE);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.output()).isEqualTo(String.valueOf(loops + 1));
            assertThat(info.executionId()).isEqualTo(loops + 1);
            assertThat(info.input()).isEqualTo(String.valueOf(loops));
            assertThat(activityRuns).hasValue(loops + 1);

            assertThat(env.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ?"
                    + " AND execution_id <> ?", id, loops + 1)).as("history rows of earlier generations").isZero();
            assertThat(env.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ?", id))
                    .as("history rows in all").isBetween(1L, 10L);
            assertThat(env.count("SELECT count(*) FROM df_engine.executions WHERE instance_id = ?"
                    + " AND status = 'ContinuedAsNew'", id)).isEqualTo(loops);
            assertThat(env.text("SELECT status FROM df_engine.executions WHERE instance_id = ? AND execution_id = ?",
                    id, loops + 1)).isEqualTo("Completed");
            assertThat(env.queuedWork(id)).isZero();
        }
    }

    @Test
    void an_event_raised_during_one_generation_is_carried_to_the_generation_that_waits_for_it() {
        CountDownLatch generationTwoWorking = new CountDownLatch(1);
        CountDownLatch releaseGenerationTwo = new CountDownLatch(1);
        Registry registry = new Registry()
                .activity("step", ctx -> {
                    if (ctx.executionId() == 2) {
                        generationTwoWorking.countDown();
                        hold(releaseGenerationTwo);
                    }
                    return null;
                })
                .orchestration("batcher", ctx -> {
                    ctx.callActivity("step", null, Void.class).await();
                    if (ctx.executionId() < 5) {
                        ctx.continueAsNew(null);
                        return null;
                    }
                    return ctx.waitForExternalEvent("flush", String.class).await() + " in generation "
                            + ctx.executionId();
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("batcher", "batcher-1", null);
            try {
                await("generation 2 runs its activity", generationTwoWorking);
                client.raiseEvent(id, "flush", "now");
                await("generation 2 recorded the event", () -> env.exists("SELECT 1 FROM df_engine.history"
                        + " WHERE instance_id = ? AND execution_id = 2 AND event_type = 'EventRaised'", id));
            } finally {
                releaseGenerationTwo.countDown();
            }

            InstanceInfo info = client.awaitTerminal(id, PATIENCE);

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(JsonCodec.fromJson(info.output(), String.class)).isEqualTo("now in generation 5");
        }
    }

    @Test
    void events_keep_their_arrival_order_when_one_arrives_while_a_generation_continues_as_new() {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        String id = "ordered-1";
        EngineClient outsider = env.client();
        Registry registry = new Registry()
                .activity("hold", ctx -> {
                    holding.countDown();
                    hold(release);
                    return null;
                })
                .orchestration("orderedInbox", ctx -> {
                    if (ctx.executionId() == 1) {
                        ctx.callActivity("hold", null, Void.class).await();
                        if (!ctx.isReplaying()) {
                            // A client raises the second event while this turn is being computed:
                            // after the turn took its messages, before it commits.
                            outsider.raiseEvent(ctx.instanceId(), "item", "second");
                        }
                        ctx.continueAsNew(null);
                        return null;
                    }
                    String first = ctx.waitForExternalEvent("item", String.class).await();
                    String second = ctx.waitForExternalEvent("item", String.class).await();
                    return List.of(first, second);
                });
        try (Worker worker = env.startWorker(registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            client.start("orderedInbox", id, null);
            try {
                await("generation 1 runs its activity", holding);
                client.raiseEvent(id, "item", "first");
                await("generation 1 recorded the first event", () -> env.historyHas(id, EventType.EventRaised));
            } finally {
                release.countDown();
            }

            InstanceInfo info;
            try {
                info = client.awaitTerminal(id, PATIENCE);
            } catch (DurableException e) {
                // Rarely seen in full-suite runs, never reproduced alone: say where it stood.
                throw new AssertionError(e.getMessage() + "\n" + env.describe(id), e);
            }

            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.executionId()).isEqualTo(2);
            assertThat(info.output()).isEqualTo("[\"first\",\"second\"]");
        }
    }
}
