package io.pgdurable.engine.replay;

import static io.pgdurable.engine.replay.Turns.EXECUTION;
import static io.pgdurable.engine.replay.Turns.INSTANCE;
import static io.pgdurable.engine.replay.Turns.NAME;
import static io.pgdurable.engine.replay.Turns.T0;
import static io.pgdurable.engine.replay.Turns.YIELD_TIMEOUT;
import static io.pgdurable.engine.replay.Turns.activityCompleted;
import static io.pgdurable.engine.replay.Turns.activityScheduled;
import static io.pgdurable.engine.replay.Turns.executionStarted;
import static io.pgdurable.engine.replay.Turns.json;
import static io.pgdurable.engine.replay.Turns.minute;
import static io.pgdurable.engine.replay.Turns.raised;
import static io.pgdurable.engine.replay.Turns.started;
import static io.pgdurable.engine.replay.Turns.timerFired;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.engine.DurableException;
import io.pgdurable.engine.EventWaitTimeoutException;
import io.pgdurable.engine.NonDeterminismException;
import io.pgdurable.engine.Orchestration;
import io.pgdurable.engine.OrchestrationContext;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.testing.Poll;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A session kept alive between turns: it must decide exactly what the stateless executor
 * decides, while running each step of the orchestration only once, and it must not leak the
 * orchestration's thread.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReplaySessionTest {

    private static final TurnWrite AUDIT = connection -> { };

    /** A flow that touches every kind of task, so both drivers are compared on all of them. */
    private static Orchestration everyKindOfTask(AtomicInteger runs) {
        return ctx -> {
            runs.incrementAndGet();
            ctx.addTurnWrite(AUDIT);
            String reservation = ctx.callActivity("reserve", ctx.input(String.class), String.class).await();
            ctx.createTimer(Duration.ofMinutes(30)).await();
            String approval;
            try {
                approval = ctx.waitForExternalEvent("approval", Duration.ofHours(1), String.class).await();
            } catch (EventWaitTimeoutException e) {
                approval = "auto";
            }
            Task<String> shipping = ctx.callSubOrchestration("ship", null, reservation, String.class);
            Task<Void> deadline = ctx.createTimer(Duration.ofDays(1));
            if (ctx.anyOf(List.of(shipping, deadline)).await() == deadline) {
                shipping.cancel();
            }
            List<Integer> parts = ctx.allOf(List.of(
                    ctx.callActivity("pack", 1, Integer.class),
                    ctx.callActivity("pack", 2, Integer.class))).await();
            ctx.addTurnWrite(AUDIT);
            return approval + " " + parts;
        };
    }

    private static List<TurnResult> drive(Turns.Driver driver) {
        List<TurnResult> turns = new ArrayList<>();
        turns.add(driver.turn(started(T0), executionStarted("o-1", T0)));
        turns.add(driver.turn(started(minute(1)), activityCompleted(0, "r-1", minute(1))));
        turns.add(driver.turn(started(minute(31)), raised("unrelated", 1, minute(31)), timerFired(1, minute(31))));
        turns.add(driver.turn(started(minute(91)), timerFired(2, minute(91))));
        turns.add(driver.turn(started(minute(2000)), timerFired(4, minute(2000))));
        turns.add(driver.turn(started(minute(2001)), activityCompleted(6, 2, minute(2001)),
                activityCompleted(6, 2, minute(2001))));
        turns.add(driver.turn(started(minute(2002)), activityCompleted(5, 1, minute(2002))));
        return turns;
    }

    @Test
    void one_session_driven_across_turns_decides_exactly_like_the_stateless_executor() {
        List<TurnResult> stateless;
        List<TurnResult> cached;
        try (Turns.Driver executor = Turns.stateless(everyKindOfTask(new AtomicInteger()));
             Turns.Driver session = Turns.cached(everyKindOfTask(new AtomicInteger()))) {
            stateless = drive(executor);
            cached = drive(session);
        }

        assertThat(cached).isEqualTo(stateless);
        // the flow really went through every step and ended
        assertThat(stateless.get(6).completion()).isEqualTo(new TurnResult.Completed(json("auto [1, 2]")));
        assertThat(stateless.get(4).actions()).hasAtLeastOneElementOfType(Action.CancelSubOrchestration.class);
    }

    @Test
    void cached_session_runs_the_orchestration_from_the_start_only_once() {
        AtomicInteger statelessRuns = new AtomicInteger();
        AtomicInteger cachedRuns = new AtomicInteger();
        try (Turns.Driver executor = Turns.stateless(everyKindOfTask(statelessRuns));
             Turns.Driver session = Turns.cached(everyKindOfTask(cachedRuns))) {
            drive(executor);
            drive(session);
        }

        assertThat(cachedRuns).hasValue(1);
        assertThat(statelessRuns).hasValue(7);
    }

    @Test
    void session_rebuilt_from_history_continues_like_the_session_that_made_it() {
        AtomicInteger runs = new AtomicInteger();
        List<TurnResult> original;
        try (Turns.Driver session = Turns.cached(everyKindOfTask(runs))) {
            original = drive(session);
        }
        List<HistoryEvent> firstThreeTurns = new ArrayList<>();
        original.subList(0, 3).forEach(t -> firstThreeTurns.addAll(t.history()));

        TurnResult turn4;
        try (ReplaySession rebuilt = new ReplaySession(INSTANCE, EXECUTION, NAME, everyKindOfTask(runs),
                YIELD_TIMEOUT)) {
            rebuilt.replay(firstThreeTurns);
            turn4 = rebuilt.run(List.of(started(minute(91)), timerFired(2, minute(91))));
        }

        assertThat(turn4).isEqualTo(original.get(3));
    }

    @Test
    void replay_and_run_on_a_cached_session_takes_history_it_missed_then_the_new_events() {
        Orchestration flow = ctx -> {
            String a = ctx.callActivity("a", null, String.class).await();
            String b = ctx.callActivity("b", a, String.class).await();
            return ctx.callActivity("c", b, String.class).await();
        };
        try (Turns.Driver other = Turns.stateless(flow);
             ReplaySession session = new ReplaySession(INSTANCE, EXECUTION, NAME, flow, YIELD_TIMEOUT)) {
            session.committed(session.replayAndRun(List.of(), List.of(started(T0), executionStarted(null, T0))));
            other.turn(started(T0), executionStarted(null, T0));
            // another worker took turn 2, so this session has not seen it
            other.turn(started(minute(1)), activityCompleted(0, "A", minute(1)));
            List<HistoryEvent> missed = other.history().subList(session.eventsApplied(), other.history().size());

            TurnResult turn3 = session.replayAndRun(missed,
                    List.of(started(minute(2)), activityCompleted(1, "B", minute(2))));

            assertThat(turn3.actions()).containsExactly(new Action.ScheduleActivity(2, "c", json("B")));
            assertThat(session.isReusable()).isTrue();
        }
    }

    @Test
    void events_applied_counts_replayed_history_and_committed_turns() {
        Orchestration flow = ctx -> {
            ctx.callActivity("a", null, String.class).await();
            return ctx.callActivity("b", null, String.class).await();
        };
        List<HistoryEvent> turn1 = List.of(started(T0), executionStarted(null, T0),
                activityScheduled(0, "a", null, T0));
        try (ReplaySession session = new ReplaySession(INSTANCE, EXECUTION, NAME, flow, YIELD_TIMEOUT)) {
            session.replay(turn1);
            assertThat(session.eventsApplied()).isEqualTo(3);

            TurnResult turn2 = session.run(List.of(started(minute(1)), activityCompleted(0, "A", minute(1))));
            assertThat(session.eventsApplied()).as("a turn counts only once committed").isEqualTo(3);

            session.committed(turn2);
            assertThat(turn2.history()).hasSize(3);
            assertThat(session.eventsApplied()).isEqualTo(6);
        }
    }

    @Test
    void session_is_reusable_while_suspended_and_not_once_the_orchestration_finished() {
        Orchestration flow = ctx -> ctx.callActivity("a", null, String.class).await();
        try (ReplaySession session = new ReplaySession(INSTANCE, EXECUTION, NAME, flow, YIELD_TIMEOUT)) {
            session.committed(session.run(List.of(started(T0), executionStarted(null, T0))));
            assertThat(session.isReusable()).isTrue();

            TurnResult turn2 = session.run(List.of(started(minute(1)), activityCompleted(0, "A", minute(1))));

            assertThat(turn2.completion()).isEqualTo(new TurnResult.Completed(json("A")));
            assertThat(session.isReusable()).isFalse();
        }
    }

    @Test
    void expects_a_turn_soon_while_an_activity_or_a_near_timer_is_open() {
        Orchestration flow = ctx -> {
            ctx.callActivity("a", null, String.class).await();
            ctx.createTimer(Duration.ofSeconds(30)).await();
            ctx.createTimer(Duration.ofHours(2)).await();
            ctx.waitForExternalEvent("approve", String.class).await();
            return ctx.callSubOrchestration("child", "kid", null, String.class).await();
        };
        Duration horizon = Duration.ofMinutes(1);
        try (ReplaySession session = new ReplaySession(INSTANCE, EXECUTION, NAME, flow, YIELD_TIMEOUT)) {
            session.committed(session.run(List.of(started(T0), executionStarted(null, T0))));
            assertThat(session.expectsTurnWithin(horizon)).as("waiting for an activity").isTrue();

            session.committed(session.run(List.of(started(minute(1)), activityCompleted(0, "A", minute(1)))));
            assertThat(session.expectsTurnWithin(horizon)).as("waiting for a timer due in 30 s").isTrue();

            session.committed(session.run(List.of(started(minute(2)), timerFired(1, minute(2)))));
            assertThat(session.expectsTurnWithin(horizon)).as("waiting for a timer due in 2 hours").isFalse();
            assertThat(session.expectsTurnWithin(Duration.ofHours(2))).as("the same timer, a longer horizon").isTrue();

            session.committed(session.run(List.of(started(minute(200)), timerFired(2, minute(200)))));
            assertThat(session.expectsTurnWithin(horizon)).as("waiting for a signal").isFalse();

            session.committed(session.run(List.of(started(minute(201)), raised("approve", "yes", minute(201)))));
            assertThat(session.expectsTurnWithin(horizon)).as("waiting for a child orchestration").isFalse();
            assertThat(session.isReusable()).isTrue();
        }
    }

    @Test
    void replay_that_diverges_throws_and_leaves_the_session_unusable() {
        Orchestration changed = ctx -> ctx.callActivity("B", null, String.class).await();
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0), activityScheduled(0, "A", null, T0));
        try (ReplaySession session = new ReplaySession(INSTANCE, EXECUTION, NAME, changed, YIELD_TIMEOUT)) {
            assertThatThrownBy(() -> session.replay(past))
                    .isInstanceOf(NonDeterminismException.class)
                    .hasMessageContaining("activity 'A' as task 0")
                    .hasMessageContaining("scheduled activity 'B' as task 0")
                    .hasMessageContaining("Likely cause");
            assertThat(session.isReusable()).isFalse();
        }
    }

    @Test
    void replay_and_run_turns_a_divergence_into_a_failed_turn_and_an_unusable_session() {
        Orchestration changed = ctx -> ctx.callActivity("B", null, String.class).await();
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0), activityScheduled(0, "A", null, T0));
        try (ReplaySession session = new ReplaySession(INSTANCE, EXECUTION, NAME, changed, YIELD_TIMEOUT)) {
            TurnResult turn = session.replayAndRun(past, List.of(started(minute(1)),
                    activityCompleted(0, "x", minute(1))));

            assertThat(turn.completion()).isInstanceOfSatisfying(TurnResult.Failed.class,
                    f -> assertThat(f.failure().type()).isEqualTo("NonDeterminism"));
            assertThat(session.isReusable()).isFalse();
        }
    }

    // ---------------------------------------------------------------------------------------
    // The orchestration thread
    // ---------------------------------------------------------------------------------------

    private static long orchestrationThreads(String instanceId) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().equals("orchestration " + instanceId))
                .count();
    }

    /** Polls until no thread of the instance is alive; fails after five seconds. */
    private static long orchestrationThreadsAfterUnwinding(String instanceId) {
        return Poll.until(Duration.ofSeconds(5), "no orchestration thread of " + instanceId + " alive",
                () -> orchestrationThreads(instanceId), alive -> alive == 0);
    }

    @Test
    void closing_a_session_while_its_orchestration_is_suspended_ends_the_orchestration_thread()
            throws InterruptedException {
        String instanceId = "suspended-then-closed";
        List<String> reached = new CopyOnWriteArrayList<>();
        Orchestration flow = ctx -> {
            try {
                return ctx.callActivity("a", null, String.class).await();
            } finally {
                reached.add("unwound");
            }
        };
        ReplaySession session = new ReplaySession(instanceId, EXECUTION, NAME, flow, YIELD_TIMEOUT);
        session.run(List.of(started(T0), executionStarted(null, T0)));
        assertThat(orchestrationThreads(instanceId)).as("suspended orchestration keeps its thread").isEqualTo(1);

        session.close();

        assertThat(orchestrationThreadsAfterUnwinding(instanceId)).isZero();
        assertThat(reached).containsExactly("unwound");
        assertThat(session.isReusable()).isFalse();
    }

    @Test
    void stateless_executor_leaves_no_orchestration_thread_behind() throws InterruptedException {
        String instanceId = "stateless-no-leak";
        Orchestration flow = ctx -> ctx.callActivity("a", null, String.class).await();

        TurnResult turn = Turns.executor().execute(instanceId, EXECUTION, NAME, flow, List.of(),
                List.of(started(T0), executionStarted(null, T0)));
        Turns.executor().execute(instanceId, EXECUTION, NAME, ctx -> ctx.callActivity("b", null, String.class).await(),
                turn.history(), List.of(started(minute(1))));

        assertThat(orchestrationThreadsAfterUnwinding(instanceId)).isZero();
    }

    @Test
    void orchestration_that_blocks_without_awaiting_is_abandoned_after_the_yield_timeout()
            throws InterruptedException {
        String instanceId = "blocks-without-awaiting";
        CountDownLatch release = new CountDownLatch(1);
        Orchestration blocking = ctx -> {
            release.await();
            return ctx.callActivity("a", null, String.class).await();
        };
        ReplaySession session = new ReplaySession(instanceId, EXECUTION, NAME, blocking, Duration.ofMillis(100));

        assertThatThrownBy(() -> session.run(List.of(started(T0), executionStarted(null, T0))))
                .isInstanceOf(DurableException.class)
                .hasMessageContaining(NAME)
                .hasMessageContaining(instanceId)
                .hasMessageContaining("without awaiting a task");
        assertThat(session.isReusable()).isFalse();

        release.countDown();
        assertThat(orchestrationThreadsAfterUnwinding(instanceId)).isZero();
        session.close();
    }

    @Test
    void driver_interrupted_while_the_orchestration_runs_gets_an_error_and_keeps_its_interrupt()
            throws InterruptedException {
        String instanceId = "driver-interrupted";
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Orchestration slow = ctx -> {
            running.countDown();
            release.await();
            return ctx.callActivity("a", null, String.class).await();
        };
        ReplaySession session = new ReplaySession(instanceId, EXECUTION, NAME, slow, YIELD_TIMEOUT);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
        Thread driver = new Thread(() -> {
            try {
                session.run(List.of(started(T0), executionStarted(null, T0)));
            } catch (Throwable t) {
                thrown.set(t);
            }
            stillInterrupted.set(Thread.currentThread().isInterrupted());
        });
        driver.start();
        running.await();

        driver.interrupt();
        driver.join(TimeUnit.SECONDS.toMillis(10));

        assertThat(driver.isAlive()).as("the driver returned").isFalse();
        assertThat(thrown.get()).isInstanceOf(DurableException.class)
                .hasMessageContaining("interrupted while running orchestration " + instanceId);
        assertThat(stillInterrupted.get()).as("interrupt left set for the driver's caller").isTrue();
        assertThat(session.isReusable()).isFalse();
        release.countDown();
        assertThat(orchestrationThreadsAfterUnwinding(instanceId)).isZero();
    }

    @Test
    void session_driven_from_another_thread_at_each_turn_decides_like_one_driven_by_one_thread() {
        AtomicInteger runs = new AtomicInteger();
        ExecutorService threads = Executors.newFixedThreadPool(3);
        List<TurnResult> byOne;
        List<TurnResult> byMany;
        try (Turns.Driver one = Turns.cached(everyKindOfTask(new AtomicInteger()));
             Turns.Driver many = Turns.cachedOn(everyKindOfTask(runs), threads)) {
            byOne = drive(one);
            byMany = drive(many);
        } finally {
            threads.shutdownNow();
        }

        assertThat(byMany).isEqualTo(byOne);
        assertThat(byMany.get(6).completion()).isEqualTo(new TurnResult.Completed(json("auto [1, 2]")));
        assertThat(runs).as("the orchestration ran from its start once").hasValue(1);
    }

    @Test
    void context_used_outside_the_orchestration_thread_is_refused() {
        AtomicReference<OrchestrationContext> leaked = new AtomicReference<>();
        Orchestration flow = ctx -> {
            leaked.set(ctx);
            return ctx.callActivity("a", null, String.class).await();
        };
        try (ReplaySession session = new ReplaySession("leaky", EXECUTION, NAME, flow, YIELD_TIMEOUT)) {
            session.run(List.of(started(T0), executionStarted(null, T0)));

            assertThatThrownBy(() -> leaked.get().callActivity("b", null, String.class))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("outside its orchestration's thread");
        }
    }
}
