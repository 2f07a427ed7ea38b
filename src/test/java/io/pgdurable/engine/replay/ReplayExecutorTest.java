package io.pgdurable.engine.replay;

import static io.pgdurable.engine.replay.Turns.EXECUTION;
import static io.pgdurable.engine.replay.Turns.INSTANCE;
import static io.pgdurable.engine.replay.Turns.NAME;
import static io.pgdurable.engine.replay.Turns.T0;
import static io.pgdurable.engine.replay.Turns.activityCompleted;
import static io.pgdurable.engine.replay.Turns.activityFailed;
import static io.pgdurable.engine.replay.Turns.activityScheduled;
import static io.pgdurable.engine.replay.Turns.childCancelRequested;
import static io.pgdurable.engine.replay.Turns.childCompleted;
import static io.pgdurable.engine.replay.Turns.childCreated;
import static io.pgdurable.engine.replay.Turns.childFailed;
import static io.pgdurable.engine.replay.Turns.executionStarted;
import static io.pgdurable.engine.replay.Turns.json;
import static io.pgdurable.engine.replay.Turns.minute;
import static io.pgdurable.engine.replay.Turns.raised;
import static io.pgdurable.engine.replay.Turns.started;
import static io.pgdurable.engine.replay.Turns.timerCreated;
import static io.pgdurable.engine.replay.Turns.timerFired;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.pgdurable.engine.EventWaitTimeoutException;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.Orchestration;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.TaskCancelledException;
import io.pgdurable.engine.TaskFailedException;
import io.pgdurable.engine.TurnWrite;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The stateless replay executor: histories are built in memory, each turn is fed in, and the
 * tests assert on the decisions, the history to append and how the execution ended.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReplayExecutorTest {

    private static final TurnWrite AUDIT_ORDER = connection -> { };
    private static final TurnWrite AUDIT_PAYMENT = connection -> { };

    private static TurnResult execute(Orchestration orchestration, List<HistoryEvent> past, List<HistoryEvent> fresh) {
        return Turns.executor().execute(INSTANCE, EXECUTION, NAME, orchestration, past, fresh);
    }

    private static FailureDetails failure(TurnResult result) {
        assertThat(result.completion()).isInstanceOf(TurnResult.Failed.class);
        return ((TurnResult.Failed) result.completion()).failure();
    }

    /** reserve -> wait 30 minutes -> charge -> done: one decision per turn. */
    private static Orchestration orderFlow(List<String> trace) {
        return ctx -> {
            String order = ctx.input(String.class);
            trace.add("start replaying=" + ctx.isReplaying());
            String reservation = ctx.callActivity("reserve", order, String.class).await();
            trace.add("reserved replaying=" + ctx.isReplaying());
            ctx.createTimer(Duration.ofMinutes(30)).await();
            trace.add("waited replaying=" + ctx.isReplaying());
            String payment = ctx.callActivity("charge", reservation, String.class).await();
            trace.add("charged replaying=" + ctx.isReplaying());
            return "shipped " + payment;
        };
    }

    // ---------------------------------------------------------------------------------------
    // Decisions and how they are recorded
    // ---------------------------------------------------------------------------------------

    @Test
    void first_turn_schedules_the_activity_and_records_the_decision_after_the_turn_inputs() {
        TurnResult turn = execute(orderFlow(new ArrayList<>()), List.of(),
                List.of(started(T0), executionStarted("o-1", T0)));

        assertThat(turn.actions()).containsExactly(new Action.ScheduleActivity(0, "reserve", json("o-1")));
        assertThat(turn.history()).containsExactly(
                started(T0),
                executionStarted("o-1", T0),
                activityScheduled(0, "reserve", "o-1", T0));
        assertThat(turn.writes()).isEmpty();
        assertThat(turn.isFinished()).isFalse();
    }

    @Test
    void activity_result_is_returned_to_the_orchestration_on_the_next_turn() {
        Orchestration greet = ctx -> "got " + ctx.callActivity("lookup", 7, String.class).await();
        List<HistoryEvent> turn1 = List.of(started(T0), executionStarted(null, T0),
                activityScheduled(0, "lookup", 7, T0));

        TurnResult turn2 = execute(greet, turn1, List.of(started(minute(1)), activityCompleted(0, "seven", minute(1))));

        assertThat(turn2.actions()).isEmpty();
        assertThat(turn2.completion()).isEqualTo(new TurnResult.Completed(json("got seven")));
        assertThat(turn2.history()).containsExactly(
                started(minute(1)),
                activityCompleted(0, "seven", minute(1)),
                new HistoryEvent(EventType.ExecutionCompleted, null, null, json("got seven"), minute(1)));
    }

    @Test
    void timer_is_decided_with_its_fire_time_and_recorded_as_TimerCreated() {
        Orchestration sleeper = ctx -> {
            ctx.createTimer(Duration.ofMinutes(5)).await();
            return "awake";
        };

        TurnResult turn = execute(sleeper, List.of(), List.of(started(T0), executionStarted(null, T0)));

        assertThat(turn.actions()).containsExactly(new Action.CreateTimer(0, minute(5)));
        assertThat(turn.history()).last().isEqualTo(timerCreated(0, minute(5), T0));
    }

    @Test
    void sub_orchestration_with_an_explicit_id_is_started_under_that_id_and_its_result_returned() {
        Orchestration parent = ctx -> ctx.callSubOrchestration("ship", "ship-o-1", List.of("o-1", 2), String.class)
                .await();
        Turns.Driver store = Turns.stateless(parent);

        TurnResult turn1 = store.turn(started(T0), executionStarted(null, T0));
        TurnResult turn2 = store.turn(started(minute(1)), childCompleted(0, "tracking-9", minute(1)));

        assertThat(turn1.actions()).containsExactly(
                new Action.CreateSubOrchestration(0, "ship", "ship-o-1", json(List.of("o-1", 2))));
        assertThat(turn1.history()).last().isEqualTo(childCreated(0, "ship", "ship-o-1", List.of("o-1", 2), T0));
        assertThat(turn2.actions()).isEmpty();
        assertThat(turn2.completion()).isEqualTo(new TurnResult.Completed(json("tracking-9")));
    }

    @Test
    void sub_orchestration_without_an_id_gets_one_derived_from_instance_execution_and_task() {
        Orchestration parent = ctx -> {
            ctx.callActivity("prepare", null, Void.class).await();
            Task<String> first = ctx.callSubOrchestration("ship", null, "a", String.class);
            Task<String> second = ctx.callSubOrchestration("ship", null, "b", String.class);
            return ctx.allOf(List.of(first, second)).await();
        };
        Turns.Driver store = Turns.stateless(parent);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)), activityCompleted(0, null, minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), childCompleted(2, "B", minute(2)),
                childCompleted(1, "A", minute(2)));

        assertThat(turn2.actions()).containsExactly(
                new Action.CreateSubOrchestration(1, "ship", "order-42::1::1", json("a")),
                new Action.CreateSubOrchestration(2, "ship", "order-42::1::2", json("b")));
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed(json(List.of("A", "B"))));
    }

    @Test
    void sub_orchestration_id_includes_the_execution_so_each_generation_gets_new_children() {
        Orchestration parent = ctx -> ctx.callSubOrchestration("ship", null, null, String.class).await();

        TurnResult turn = Turns.executor().execute(INSTANCE, 3, NAME, parent, List.of(),
                List.of(started(T0), executionStarted(null, T0)));

        assertThat(turn.actions()).containsExactly(
                new Action.CreateSubOrchestration(0, "ship", "order-42::3::0", json(null)));
    }

    @Test
    void failed_sub_orchestration_fails_the_parent_with_the_child_failure() {
        Orchestration parent = ctx -> ctx.callSubOrchestration("ship", "ship-o-1", null, String.class).await();
        List<HistoryEvent> turn1 = List.of(started(T0), executionStarted(null, T0),
                childCreated(0, "ship", "ship-o-1", null, T0));

        TurnResult turn2 = execute(parent, turn1,
                List.of(started(minute(1)), childFailed(0, "OutOfStock", "no stock for o-1", minute(1))));

        assertThat(failure(turn2)).isEqualTo(new FailureDetails("OutOfStock", "no stock for o-1"));
    }

    /** Ships via a child, gives up after an hour: cancels the child and refunds. */
    private static Orchestration shipWithDeadline(List<String> trace) {
        return ctx -> {
            Task<String> shipping = ctx.callSubOrchestration("ship", "ship-o-1", "o-1", String.class);
            Task<Void> deadline = ctx.createTimer(Duration.ofHours(1));
            Task<?> first = ctx.anyOf(List.of(shipping, deadline)).await();
            if (first == shipping) {
                return "shipped " + shipping.await();
            }
            shipping.cancel();
            try {
                shipping.await();
            } catch (TaskCancelledException e) {
                trace.add("shipping cancelled: " + e.details().type());
            }
            return ctx.callActivity("refund", "o-1", String.class).await();
        };
    }

    @Test
    void cancelling_the_losing_sub_orchestration_of_anyOf_decides_CancelSubOrchestration() {
        List<String> trace = new CopyOnWriteArrayList<>();
        Turns.Driver store = Turns.stateless(shipWithDeadline(trace));

        TurnResult turn1 = store.turn(started(T0), executionStarted(null, T0));
        TurnResult turn2 = store.turn(started(minute(60)), timerFired(1, minute(60)));

        assertThat(turn1.actions()).containsExactly(
                new Action.CreateSubOrchestration(0, "ship", "ship-o-1", json("o-1")),
                new Action.CreateTimer(1, minute(60)));
        assertThat(turn2.actions()).containsExactly(
                new Action.CancelSubOrchestration(0, "ship-o-1", "Cancelled by parent orchestration"),
                new Action.ScheduleActivity(2, "refund", json("o-1")));
        assertThat(turn2.history()).contains(childCancelRequested(0, "ship-o-1", minute(60)));
        assertThat(trace).containsExactly("shipping cancelled: Cancelled");
    }

    @Test
    void recorded_cancellation_replays_and_the_cancelled_child_result_is_ignored() {
        Turns.Driver store = Turns.stateless(shipWithDeadline(new CopyOnWriteArrayList<>()));
        store.turn(started(T0), executionStarted(null, T0));
        store.turn(started(minute(60)), timerFired(1, minute(60)));

        TurnResult turn3 = store.turn(started(minute(61)), childCompleted(0, "tracking-9", minute(61)),
                activityCompleted(2, "refunded", minute(61)));

        assertThat(turn3.actions()).isEmpty();
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed(json("refunded")));
    }

    @Test
    void winning_sub_orchestration_needs_no_cancellation_of_the_losing_timer() {
        Turns.Driver store = Turns.stateless(shipWithDeadline(new CopyOnWriteArrayList<>()));
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(5)), childCompleted(0, "tracking-9", minute(5)));

        assertThat(turn2.actions()).isEmpty();
        assertThat(turn2.completion()).isEqualTo(new TurnResult.Completed(json("shipped tracking-9")));
    }

    @Test
    void cancelling_an_activity_task_decides_nothing_and_its_late_result_is_ignored() {
        Orchestration flow = ctx -> {
            Task<String> slow = ctx.callActivity("slow", null, String.class);
            Task<Void> deadline = ctx.createTimer(Duration.ofMinutes(1));
            ctx.anyOf(List.of(slow, deadline)).await();
            slow.cancel();
            return ctx.callActivity("fallback", null, String.class).await();
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)), timerFired(1, minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), activityCompleted(0, "late", minute(2)));
        TurnResult turn4 = store.turn(started(minute(3)), activityCompleted(2, "fallback", minute(3)));

        assertThat(turn2.actions()).containsExactly(new Action.ScheduleActivity(2, "fallback", json(null)));
        assertThat(turn3.actions()).isEmpty();
        assertThat(turn3.isFinished()).isFalse();
        assertThat(turn4.completion()).isEqualTo(new TurnResult.Completed(json("fallback")));
    }

    // ---------------------------------------------------------------------------------------
    // Completion kinds
    // ---------------------------------------------------------------------------------------

    @Test
    void orchestration_that_returns_completes_with_its_result_as_json() {
        record Receipt(String order, int items) {
        }
        Orchestration flow = ctx -> new Receipt(ctx.input(String.class), 3);

        TurnResult turn = execute(flow, List.of(), List.of(started(T0), executionStarted("o-1", T0)));

        assertThat(turn.completion()).isEqualTo(new TurnResult.Completed("{\"order\":\"o-1\",\"items\":3}"));
        assertThat(turn.history()).last().isEqualTo(new HistoryEvent(EventType.ExecutionCompleted, null, null,
                "{\"order\":\"o-1\",\"items\":3}", T0));
    }

    @Test
    void orchestration_that_throws_fails_with_the_exception_message() {
        Orchestration flow = ctx -> {
            ctx.callActivity("load", null, String.class).await();
            throw new IllegalStateException("order o-1 has no lines");
        };
        List<HistoryEvent> turn1 = List.of(started(T0), executionStarted(null, T0),
                activityScheduled(0, "load", null, T0));

        TurnResult turn2 = execute(flow, turn1, List.of(started(minute(1)), activityCompleted(0, "", minute(1))));

        FailureDetails expected = new FailureDetails("IllegalStateException", "order o-1 has no lines");
        assertThat(failure(turn2)).isEqualTo(expected);
        assertThat(turn2.history()).last().isEqualTo(
                new HistoryEvent(EventType.ExecutionFailed, null, null, expected.toJson(), minute(1)));
    }

    @Test
    void orchestration_that_throws_a_checked_exception_fails_with_its_message() {
        Orchestration flow = ctx -> {
            throw new java.io.IOException("inventory feed unreadable");
        };

        TurnResult turn = execute(flow, List.of(), List.of(started(T0), executionStarted(null, T0)));

        assertThat(failure(turn)).isEqualTo(new FailureDetails("IOException", "inventory feed unreadable"));
    }

    @Test
    void continue_as_new_ends_the_generation_with_the_new_input() {
        Orchestration counter = ctx -> {
            int n = ctx.input(Integer.class);
            ctx.createTimer(Duration.ofMinutes(1)).await();
            ctx.continueAsNew(n + 1);
            return null;
        };
        Turns.Driver store = Turns.stateless(counter);
        store.turn(started(T0), executionStarted(41, T0));

        TurnResult turn2 = store.turn(started(minute(1)), timerFired(0, minute(1)));

        assertThat(turn2.completion()).isEqualTo(new TurnResult.ContinuedAsNew("42", List.of()));
        assertThat(turn2.history()).last().isEqualTo(
                new HistoryEvent(EventType.ContinuedAsNew, null, null, "42", minute(1)));
    }

    @Test
    void continue_as_new_carries_unconsumed_events_over_in_arrival_order() {
        Orchestration batcher = ctx -> {
            List<String> batch = new ArrayList<>(List.of(ctx.input(String[].class)));
            batch.add(ctx.waitForExternalEvent("item", String.class).await());
            ctx.continueAsNew(batch);
            return null;
        };
        Turns.Driver store = Turns.stateless(batcher);
        store.turn(started(T0), executionStarted(List.of("a"), T0));
        store.turn(started(minute(1)), raised("note", "from turn 2", minute(1)));

        TurnResult turn3 = store.turn(started(minute(2)), raised("item", "b", minute(2)),
                raised("item", "c", minute(2)), raised("note", "from turn 3", minute(2)));

        assertThat(turn3.completion()).isInstanceOf(TurnResult.ContinuedAsNew.class);
        TurnResult.ContinuedAsNew next = (TurnResult.ContinuedAsNew) turn3.completion();
        assertThat(next.input()).isEqualTo(json(List.of("a", "b")));
        assertThat(next.carriedEvents())
                .extracting(HistoryEvent::type, HistoryEvent::name, HistoryEvent::payload)
                .containsExactly(
                        tuple(EventType.EventRaised, "note", json("from turn 2")),
                        tuple(EventType.EventRaised, "item", json("c")),
                        tuple(EventType.EventRaised, "note", json("from turn 3")));
    }

    @Test
    void event_arriving_after_continue_as_new_is_carried_over_even_when_an_abandoned_wait_listens_for_it() {
        Orchestration monitor = ctx -> {
            Task<String> stop = ctx.waitForExternalEvent("stop", String.class);
            Task<Void> tick = ctx.createTimer(Duration.ofHours(1));
            if (ctx.anyOf(List.of(stop, tick)).await() == stop) {
                return "stopped by " + stop.await();
            }
            ctx.continueAsNew(ctx.input(Integer.class) + 1);
            return null;
        };
        Turns.Driver store = Turns.stateless(monitor);
        store.turn(started(T0), executionStarted(1, T0));

        TurnResult turn2 = store.turn(started(minute(60)), timerFired(0, minute(60)),
                raised("stop", "operator", minute(60)));

        assertThat(turn2.completion()).isInstanceOfSatisfying(TurnResult.ContinuedAsNew.class, next -> {
            assertThat(next.input()).isEqualTo("2");
            assertThat(next.carriedEvents())
                    .extracting(HistoryEvent::name, HistoryEvent::payload)
                    .containsExactly(tuple("stop", json("operator")));
        });
    }

    @Test
    void events_carried_into_a_new_generation_are_consumed_by_its_waits() {
        Orchestration flow = ctx -> ctx.waitForExternalEvent("stop", String.class).await();

        TurnResult turn = execute(flow, List.of(), List.of(started(T0), executionStarted(2, T0),
                raised("stop", "operator", T0)));

        assertThat(turn.completion()).isEqualTo(new TurnResult.Completed(json("operator")));
    }

    @Test
    void event_recorded_before_the_execution_started_is_kept_for_the_first_wait() {
        Orchestration flow = ctx -> ctx.waitForExternalEvent("stop", String.class).await();

        TurnResult turn = execute(flow, List.of(), List.of(started(T0), raised("stop", "early", T0),
                executionStarted(null, T0)));

        assertThat(turn.completion()).isEqualTo(new TurnResult.Completed(json("early")));
    }

    @Test
    void result_that_cannot_be_serialised_fails_the_orchestration() {
        Orchestration flow = ctx -> new Object();

        TurnResult turn = execute(flow, List.of(), List.of(started(T0), executionStarted(null, T0)));

        assertThat(failure(turn).type()).isEqualTo("Serialization");
        assertThat(failure(turn).message()).contains("java.lang.Object");
    }

    // ---------------------------------------------------------------------------------------
    // Turn by turn, and replay of what was recorded
    // ---------------------------------------------------------------------------------------

    @Test
    void each_turn_makes_the_next_decision_from_the_results_recorded_so_far() {
        Turns.Driver store = Turns.stateless(orderFlow(new CopyOnWriteArrayList<>()));

        TurnResult turn1 = store.turn(started(T0), executionStarted("o-1", T0));
        TurnResult turn2 = store.turn(started(minute(1)), activityCompleted(0, "r-1", minute(1)));
        TurnResult turn3 = store.turn(started(minute(31)), timerFired(1, minute(31)));
        TurnResult turn4 = store.turn(started(minute(32)), activityCompleted(2, "c-1", minute(32)));

        assertThat(turn1.actions()).containsExactly(new Action.ScheduleActivity(0, "reserve", json("o-1")));
        assertThat(turn2.actions()).containsExactly(new Action.CreateTimer(1, minute(31)));
        assertThat(turn3.actions()).containsExactly(new Action.ScheduleActivity(2, "charge", json("r-1")));
        assertThat(turn4.actions()).isEmpty();
        assertThat(List.of(turn1, turn2, turn3)).noneMatch(TurnResult::isFinished);
        assertThat(turn4.completion()).isEqualTo(new TurnResult.Completed(json("shipped c-1")));
        assertThat(store.history()).extracting(HistoryEvent::type).containsExactly(
                EventType.OrchestratorStarted, EventType.ExecutionStarted, EventType.TaskScheduled,
                EventType.OrchestratorStarted, EventType.TaskCompleted, EventType.TimerCreated,
                EventType.OrchestratorStarted, EventType.TimerFired, EventType.TaskScheduled,
                EventType.OrchestratorStarted, EventType.TaskCompleted, EventType.ExecutionCompleted);
    }

    @Test
    void replaying_the_full_history_repeats_no_recorded_decision() {
        Turns.Driver store = Turns.stateless(orderFlow(new CopyOnWriteArrayList<>()));
        store.turn(started(T0), executionStarted("o-1", T0));
        store.turn(started(minute(1)), activityCompleted(0, "r-1", minute(1)));
        store.turn(started(minute(31)), timerFired(1, minute(31)));

        TurnResult nothingNew = execute(orderFlow(new CopyOnWriteArrayList<>()), store.history(),
                List.of(started(minute(40))));

        assertThat(nothingNew.actions()).isEmpty();
        assertThat(nothingNew.history()).containsExactly(started(minute(40)));
        assertThat(nothingNew.isFinished()).isFalse();
    }

    @Test
    void is_replaying_is_true_for_recorded_steps_and_false_once_new_events_drive_the_code() {
        List<String> trace = new CopyOnWriteArrayList<>();
        Turns.Driver store = Turns.stateless(orderFlow(trace));
        store.turn(started(T0), executionStarted("o-1", T0));
        store.turn(started(minute(1)), activityCompleted(0, "r-1", minute(1)));
        trace.clear();

        store.turn(started(minute(31)), timerFired(1, minute(31)));

        assertThat(trace).containsExactly(
                "start replaying=true",
                "reserved replaying=true",
                "waited replaying=false");
    }

    @Test
    void first_turn_runs_nothing_as_replay() {
        List<String> trace = new CopyOnWriteArrayList<>();

        execute(orderFlow(trace), List.of(), List.of(started(T0), executionStarted("o-1", T0)));

        assertThat(trace).containsExactly("start replaying=false");
    }

    @Test
    void decisions_made_in_reaction_to_several_events_of_one_turn_replay_cleanly() {
        Orchestration flow = ctx -> {
            Task<String> a = ctx.callActivity("a", null, String.class);
            Task<String> b = ctx.callActivity("b", null, String.class);
            String first = a.await();
            Task<String> c = ctx.callActivity("c", first, String.class);
            return b.await() + c.await();
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)), activityCompleted(0, "A", minute(1)),
                activityCompleted(1, "B", minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), activityCompleted(2, "C", minute(2)));

        assertThat(turn2.actions()).containsExactly(new Action.ScheduleActivity(2, "c", json("A")));
        assertThat(turn3.actions()).isEmpty();
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed(json("BC")));
    }

    // ---------------------------------------------------------------------------------------
    // Non-determinism
    // ---------------------------------------------------------------------------------------

    @Test
    void activity_renamed_since_it_was_recorded_fails_the_turn_as_non_deterministic() {
        Orchestration changed = ctx -> ctx.callActivity("B", null, String.class).await();
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0), activityScheduled(0, "A", null, T0));
        List<HistoryEvent> fresh = List.of(started(minute(1)), activityCompleted(0, "done", minute(1)));

        TurnResult turn = execute(changed, past, fresh);

        FailureDetails failure = failure(turn);
        assertThat(failure.type()).isEqualTo("NonDeterminism");
        assertThat(failure.message())
                .contains(INSTANCE)
                .contains("activity 'A' as task 0")
                .contains("scheduled activity 'B' as task 0")
                .contains("Likely cause");
        assertThat(turn.actions()).isEmpty();
        assertThat(turn.writes()).isEmpty();
        assertThat(turn.history()).containsExactly(started(minute(1)), activityCompleted(0, "done", minute(1)),
                new HistoryEvent(EventType.ExecutionFailed, null, null, failure.toJson(), minute(1)));
    }

    @Test
    void recorded_activity_the_code_no_longer_schedules_is_non_deterministic() {
        Orchestration shortened = ctx -> ctx.callActivity("A", null, String.class).await();
        List<HistoryEvent> past = List.of(
                started(T0), executionStarted(null, T0), activityScheduled(0, "A", null, T0),
                started(minute(1)), activityCompleted(0, "a", minute(1)), activityScheduled(1, "B", "a", minute(1)));

        TurnResult turn = execute(shortened, past, List.of(started(minute(2)), activityCompleted(1, "b", minute(2))));

        FailureDetails failure = failure(turn);
        assertThat(failure.type()).isEqualTo("NonDeterminism");
        assertThat(failure.message())
                .contains("history records activity 'B' as task 1")
                .contains("made no such decision")
                .contains("Likely cause");
    }

    @Test
    void decision_the_history_lacks_is_non_deterministic() {
        Orchestration extended = ctx -> {
            Task<String> a = ctx.callActivity("A", null, String.class);
            Task<String> audit = ctx.callActivity("audit", null, String.class);
            return a.await() + audit.await();
        };
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0), activityScheduled(0, "A", null, T0));

        TurnResult turn = execute(extended, past, List.of(started(minute(1)), activityCompleted(0, "a", minute(1))));

        FailureDetails failure = failure(turn);
        assertThat(failure.type()).isEqualTo("NonDeterminism");
        assertThat(failure.message())
                .contains("scheduled activity 'audit' as task 1")
                .contains("does not contain")
                .contains("Likely cause");
        assertThat(turn.actions()).isEmpty();
    }

    @Test
    void timer_where_history_records_an_activity_is_non_deterministic() {
        Orchestration changed = ctx -> {
            ctx.createTimer(Duration.ofMinutes(1)).await();
            return null;
        };
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0), activityScheduled(0, "A", null, T0));

        TurnResult turn = execute(changed, past, List.of(started(minute(1)), activityCompleted(0, "a", minute(1))));

        FailureDetails failure = failure(turn);
        assertThat(failure.type()).isEqualTo("NonDeterminism");
        assertThat(failure.message())
                .contains("history records activity 'A' as task 0")
                .contains("created a timer as task 0")
                .contains("Likely cause");
    }

    @Test
    void sub_orchestration_renamed_since_it_was_recorded_is_non_deterministic() {
        Orchestration changed = ctx -> ctx.callSubOrchestration("deliver", "ship-o-1", null, String.class).await();
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0),
                childCreated(0, "ship", "ship-o-1", null, T0));

        TurnResult turn = execute(changed, past, List.of(started(minute(1)), childCompleted(0, "t", minute(1))));

        assertThat(failure(turn).type()).isEqualTo("NonDeterminism");
        assertThat(failure(turn).message())
                .contains("sub-orchestration 'ship' as task 0")
                .contains("started sub-orchestration 'deliver' as task 0");
    }

    @Test
    void recorded_cancellation_the_code_no_longer_makes_is_non_deterministic() {
        Orchestration neverCancels = ctx -> {
            Task<String> shipping = ctx.callSubOrchestration("ship", "ship-o-1", "o-1", String.class);
            Task<Void> deadline = ctx.createTimer(Duration.ofHours(1));
            ctx.anyOf(List.of(shipping, deadline)).await();
            return ctx.callActivity("refund", "o-1", String.class).await();
        };
        List<HistoryEvent> past = List.of(
                started(T0), executionStarted(null, T0),
                childCreated(0, "ship", "ship-o-1", "o-1", T0), timerCreated(1, minute(60), T0),
                started(minute(60)), timerFired(1, minute(60)),
                childCancelRequested(0, "ship-o-1", minute(60)), activityScheduled(2, "refund", "o-1", minute(60)));

        TurnResult turn = execute(neverCancels, past,
                List.of(started(minute(61)), activityCompleted(2, "refunded", minute(61))));

        assertThat(failure(turn).type()).isEqualTo("NonDeterminism");
        assertThat(failure(turn).message()).contains("cancelling the sub-orchestration of task 0");
    }

    // ---------------------------------------------------------------------------------------
    // Timers and deterministic time
    // ---------------------------------------------------------------------------------------

    @Test
    void timer_fires_at_the_turn_start_time_plus_the_delay_not_at_the_wall_clock() {
        Orchestration sleeper = ctx -> {
            ctx.createTimer(Duration.ofMinutes(5)).await();
            return null;
        };
        Instant executionStartedLater = T0.plusSeconds(7);

        TurnResult turn = execute(sleeper, List.of(),
                List.of(started(T0), executionStarted(null, executionStartedLater)));

        assertThat(turn.actions()).containsExactly(new Action.CreateTimer(0, minute(5)));
    }

    @Test
    void timer_fired_resumes_the_orchestration_at_the_new_turn_time() {
        List<Instant> seen = new CopyOnWriteArrayList<>();
        Orchestration flow = ctx -> {
            seen.add(ctx.currentInstant());
            ctx.createTimer(Duration.ofMinutes(5)).await();
            seen.add(ctx.currentInstant());
            ctx.createTimer(Duration.ofMinutes(5)).await();
            return "done";
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(6)), timerFired(0, minute(6)));
        seen.clear();
        TurnResult turn3 = store.turn(started(minute(12)), timerFired(1, minute(12)));

        assertThat(turn2.actions()).containsExactly(new Action.CreateTimer(1, minute(11)));
        // replay sees each step at the time of the turn that first ran it
        assertThat(seen).containsExactly(T0, minute(6));
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed(json("done")));
    }

    @Test
    void timer_at_an_absolute_instant_is_decided_as_given() {
        Instant midnight = Instant.parse("2001-02-04T00:00:00Z");
        Orchestration flow = ctx -> {
            ctx.createTimer(midnight).await();
            return null;
        };

        TurnResult turn = execute(flow, List.of(), List.of(started(T0), executionStarted(null, T0)));

        assertThat(turn.actions()).containsExactly(new Action.CreateTimer(0, midnight));
    }

    // ---------------------------------------------------------------------------------------
    // External events
    // ---------------------------------------------------------------------------------------

    @Test
    void event_raised_before_the_wait_is_buffered_and_consumed_when_the_wait_begins() {
        Orchestration flow = ctx -> {
            String order = ctx.callActivity("reserve", null, String.class).await();
            String approval = ctx.waitForExternalEvent("approval", String.class).await();
            return order + " " + approval;
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)), raised("approval", "approved", minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), activityCompleted(0, "o-1", minute(2)));

        assertThat(turn2.actions()).isEmpty();
        assertThat(turn2.isFinished()).isFalse();
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed(json("o-1 approved")));
    }

    @Test
    void two_events_of_the_same_name_are_consumed_in_arrival_order() {
        Orchestration flow = ctx -> {
            ctx.createTimer(Duration.ofMinutes(1)).await();
            String first = ctx.waitForExternalEvent("line", String.class).await();
            String second = ctx.waitForExternalEvent("line", String.class).await();
            String third = ctx.waitForExternalEvent("line", String.class).await();
            return List.of(first, second, third);
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));
        store.turn(started(minute(0)), raised("line", "one", minute(0)), raised("line", "two", minute(0)));
        store.turn(started(minute(1)), timerFired(0, minute(1)));

        TurnResult turn4 = store.turn(started(minute(2)), raised("line", "three", minute(2)));

        assertThat(turn4.completion()).isEqualTo(new TurnResult.Completed(json(List.of("one", "two", "three"))));
    }

    @Test
    void waits_started_before_their_events_receive_them_in_arrival_order() {
        Orchestration flow = ctx -> {
            Task<String> first = ctx.waitForExternalEvent("line", String.class);
            Task<String> second = ctx.waitForExternalEvent("line", String.class);
            return ctx.allOf(List.of(first, second)).await();
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)), raised("line", "one", minute(1)),
                raised("line", "two", minute(1)));

        assertThat(turn2.completion()).isEqualTo(new TurnResult.Completed(json(List.of("one", "two"))));
    }

    @Test
    void event_wait_with_timeout_times_out_when_its_timer_fires_first() {
        Orchestration flow = ctx -> {
            try {
                return ctx.waitForExternalEvent("approval", Duration.ofHours(1), String.class).await();
            } catch (EventWaitTimeoutException e) {
                return "no " + e.eventName() + ": " + e.details().type();
            }
        };
        Turns.Driver store = Turns.stateless(flow);

        TurnResult turn1 = store.turn(started(T0), executionStarted(null, T0));
        TurnResult turn2 = store.turn(started(minute(60)), timerFired(0, minute(60)));

        assertThat(turn1.actions()).containsExactly(new Action.CreateTimer(0, minute(60)));
        assertThat(turn2.completion()).isEqualTo(new TurnResult.Completed(json("no approval: Timeout")));
    }

    @Test
    void uncaught_event_wait_timeout_fails_the_orchestration() {
        Orchestration flow = ctx -> ctx.waitForExternalEvent("approval", Duration.ofHours(1), String.class).await();
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(60)), timerFired(0, minute(60)));

        assertThat(failure(turn2).type()).isEqualTo("Timeout");
        assertThat(failure(turn2).message()).contains("approval").contains("PT1H");
    }

    @Test
    void event_arriving_before_the_timeout_wins_and_the_later_timer_is_ignored() {
        Orchestration flow = ctx -> {
            String approval = ctx.waitForExternalEvent("approval", Duration.ofHours(1), String.class).await();
            return ctx.callActivity("ship", approval, String.class).await();
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(10)), raised("approval", "yes", minute(10)));
        TurnResult turn3 = store.turn(started(minute(60)), timerFired(0, minute(60)));
        TurnResult turn4 = store.turn(started(minute(61)), activityCompleted(1, "shipped", minute(61)));

        assertThat(turn2.actions()).containsExactly(new Action.ScheduleActivity(1, "ship", json("yes")));
        assertThat(turn3.actions()).isEmpty();
        assertThat(turn3.isFinished()).isFalse();
        assertThat(turn4.completion()).isEqualTo(new TurnResult.Completed(json("shipped")));
    }

    @Test
    void event_arriving_after_a_timed_out_wait_goes_to_the_next_wait() {
        Orchestration flow = ctx -> {
            try {
                ctx.waitForExternalEvent("approval", Duration.ofHours(1), String.class).await();
                return "early";
            } catch (EventWaitTimeoutException e) {
                ctx.callActivity("remind", null, Void.class).await();
                return "late " + ctx.waitForExternalEvent("approval", String.class).await();
            }
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(60)), timerFired(0, minute(60)));
        TurnResult turn3 = store.turn(started(minute(61)), raised("approval", "yes", minute(61)));
        TurnResult turn4 = store.turn(started(minute(62)), activityCompleted(1, null, minute(62)));

        assertThat(turn2.actions()).containsExactly(new Action.ScheduleActivity(1, "remind", json(null)));
        assertThat(turn3.isFinished()).isFalse();
        assertThat(turn4.completion()).isEqualTo(new TurnResult.Completed(json("late yes")));
    }

    @Test
    void event_in_the_same_turn_as_the_timeout_but_after_it_goes_to_the_next_wait() {
        Orchestration flow = ctx -> {
            try {
                ctx.waitForExternalEvent("approval", Duration.ofHours(1), String.class).await();
                return "early";
            } catch (EventWaitTimeoutException e) {
                return "late " + ctx.waitForExternalEvent("approval", String.class).await();
            }
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(60)), timerFired(0, minute(60)),
                raised("approval", "yes", minute(60)));

        assertThat(turn2.completion()).isEqualTo(new TurnResult.Completed(json("late yes")));
    }

    // ---------------------------------------------------------------------------------------
    // Fan-out / fan-in
    // ---------------------------------------------------------------------------------------

    private static Orchestration squares() {
        return ctx -> {
            List<Task<Integer>> parts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                parts.add(ctx.callActivity("square", i, Integer.class));
            }
            return ctx.allOf(parts).await();
        };
    }

    @Test
    void allOf_fans_out_then_completes_with_results_in_task_order_once_every_task_is_done() {
        Turns.Driver store = Turns.stateless(squares());

        TurnResult turn1 = store.turn(started(T0), executionStarted(null, T0));
        TurnResult turn2 = store.turn(started(minute(1)), activityCompleted(2, 4, minute(1)),
                activityCompleted(0, 0, minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), activityCompleted(1, 1, minute(2)));

        assertThat(turn1.actions()).containsExactly(
                new Action.ScheduleActivity(0, "square", "0"),
                new Action.ScheduleActivity(1, "square", "1"),
                new Action.ScheduleActivity(2, "square", "2"));
        assertThat(turn2.actions()).isEmpty();
        assertThat(turn2.isFinished()).isFalse();
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed("[0,1,4]"));
    }

    @Test
    void allOf_fails_as_soon_as_one_task_fails_without_waiting_for_the_rest() {
        Turns.Driver store = Turns.stateless(squares());
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)),
                activityFailed(1, "ArithmeticException", "square of 1 overflowed", minute(1)));

        assertThat(failure(turn2)).isEqualTo(new FailureDetails("ArithmeticException", "square of 1 overflowed"));
    }

    @Test
    void allOf_reports_the_failure_that_happened_first() {
        Orchestration flow = ctx -> {
            Task<String> a = ctx.callActivity("a", null, String.class);
            Task<String> b = ctx.callActivity("b", null, String.class);
            ctx.createTimer(Duration.ofMinutes(1)).await();
            return ctx.allOf(List.of(a, b)).await();
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)),
                activityFailed(1, "Error", "b broke", minute(1)),
                activityFailed(0, "Error", "a broke", minute(1)),
                timerFired(2, minute(1)));

        assertThat(failure(turn2).message()).isEqualTo("b broke");
    }

    @Test
    void anyOf_returns_the_task_whose_completion_event_came_first() {
        Orchestration flow = ctx -> {
            Task<String> quoteA = ctx.callActivity("quote-a", null, String.class);
            Task<String> quoteB = ctx.callActivity("quote-b", null, String.class);
            ctx.createTimer(Duration.ofMinutes(1)).await();
            Task<?> first = ctx.anyOf(List.of(quoteA, quoteB)).await();
            return first == quoteA ? "a:" + quoteA.await() : "b:" + quoteB.await();
        };
        Turns.Driver bFirst = Turns.stateless(flow);
        bFirst.turn(started(T0), executionStarted(null, T0));
        Turns.Driver aFirst = Turns.stateless(flow);
        aFirst.turn(started(T0), executionStarted(null, T0));

        TurnResult whenBFirst = bFirst.turn(started(minute(1)), activityCompleted(1, "20", minute(1)),
                activityCompleted(0, "10", minute(1)), timerFired(2, minute(1)));
        TurnResult whenAFirst = aFirst.turn(started(minute(1)), activityCompleted(0, "10", minute(1)),
                activityCompleted(1, "20", minute(1)), timerFired(2, minute(1)));

        assertThat(whenBFirst.completion()).isEqualTo(new TurnResult.Completed(json("b:20")));
        assertThat(whenAFirst.completion()).isEqualTo(new TurnResult.Completed(json("a:10")));
    }

    // ---------------------------------------------------------------------------------------
    // Activity failures and duplicates
    // ---------------------------------------------------------------------------------------

    @Test
    void uncaught_activity_failure_fails_the_orchestration_with_the_activity_failure() {
        Orchestration flow = ctx -> ctx.callActivity("charge", "o-1", String.class).await();
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0),
                activityScheduled(0, "charge", "o-1", T0));
        HistoryEvent failed = new HistoryEvent(EventType.TaskFailed, 0, null,
                json(new FailureDetails("CardDeclined", "card ending 4242 was declined")), minute(1));

        TurnResult turn = execute(flow, past, List.of(started(minute(1)), failed));

        assertThat(failure(turn)).isEqualTo(new FailureDetails("CardDeclined", "card ending 4242 was declined"));
        assertThat(turn.actions()).isEmpty();
    }

    @Test
    void caught_activity_failure_lets_the_orchestration_continue() {
        Orchestration flow = ctx -> {
            try {
                return ctx.callActivity("charge", "o-1", String.class).await();
            } catch (TaskFailedException e) {
                return ctx.callActivity("notify", e.details().message(), String.class).await();
            }
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)),
                activityFailed(0, "CardDeclined", "card declined", minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), activityCompleted(1, "notified", minute(2)));

        assertThat(turn2.actions()).containsExactly(new Action.ScheduleActivity(1, "notify", json("card declined")));
        assertThat(turn2.isFinished()).isFalse();
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed(json("notified")));
    }

    @Test
    void failure_payload_that_is_not_failure_details_still_fails_with_the_raw_text() {
        Orchestration flow = ctx -> ctx.callActivity("charge", "o-1", String.class).await();
        List<HistoryEvent> past = List.of(started(T0), executionStarted(null, T0),
                activityScheduled(0, "charge", "o-1", T0));
        HistoryEvent failed = new HistoryEvent(EventType.TaskFailed, 0, null, json("gateway said no"), minute(1));

        TurnResult turn = execute(flow, past, List.of(started(minute(1)), failed));

        assertThat(failure(turn).message()).contains("gateway said no");
    }

    @Test
    void duplicate_completion_events_are_ignored() {
        Orchestration flow = ctx -> {
            String a = ctx.callActivity("a", null, String.class).await();
            String b = ctx.callActivity("b", null, String.class).await();
            return a + b;
        };
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)), activityCompleted(0, "x", minute(1)),
                activityCompleted(0, "x", minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), activityCompleted(0, "again", minute(2)));
        TurnResult turn4 = store.turn(started(minute(3)), activityCompleted(1, "y", minute(3)),
                activityCompleted(1, "y", minute(3)));

        assertThat(turn2.actions()).containsExactly(new Action.ScheduleActivity(1, "b", json(null)));
        assertThat(turn3.actions()).isEmpty();
        assertThat(turn3.isFinished()).isFalse();
        assertThat(turn4.completion()).isEqualTo(new TurnResult.Completed(json("xy")));
    }

    @Test
    void completion_for_a_task_that_was_never_scheduled_is_ignored() {
        Orchestration flow = ctx -> ctx.callActivity("a", null, String.class).await();
        Turns.Driver store = Turns.stateless(flow);
        store.turn(started(T0), executionStarted(null, T0));

        TurnResult turn2 = store.turn(started(minute(1)), activityCompleted(9, "stray", minute(1)));

        assertThat(turn2.actions()).isEmpty();
        assertThat(turn2.isFinished()).isFalse();
    }

    // ---------------------------------------------------------------------------------------
    // Turn writes
    // ---------------------------------------------------------------------------------------

    @Test
    void turn_writes_are_returned_only_with_new_decisions_never_on_replay() {
        Orchestration flow = ctx -> {
            ctx.addTurnWrite(AUDIT_ORDER);
            String reservation = ctx.callActivity("reserve", null, String.class).await();
            ctx.addTurnWrite(AUDIT_PAYMENT);
            return ctx.callActivity("charge", reservation, String.class).await();
        };
        Turns.Driver store = Turns.stateless(flow);

        TurnResult turn1 = store.turn(started(T0), executionStarted(null, T0));
        TurnResult turn2 = store.turn(started(minute(1)), activityCompleted(0, "r-1", minute(1)));
        TurnResult turn3 = store.turn(started(minute(2)), activityCompleted(1, "c-1", minute(2)));

        assertThat(turn1.writes()).containsExactly(AUDIT_ORDER);
        assertThat(turn2.writes()).containsExactly(AUDIT_PAYMENT);
        assertThat(turn3.writes()).isEmpty();
        assertThat(turn3.completion()).isEqualTo(new TurnResult.Completed(json("c-1")));
    }

    // ---------------------------------------------------------------------------------------
    // The context
    // ---------------------------------------------------------------------------------------

    @Test
    void context_describes_the_running_instance_and_its_input() {
        List<Object> seen = new CopyOnWriteArrayList<>();
        Orchestration flow = ctx -> {
            seen.addAll(List.of(ctx.instanceId(), ctx.executionId(), ctx.name(), ctx.rawInput(),
                    ctx.input(List.class)));
            return null;
        };

        Turns.executor().execute(INSTANCE, 4, NAME, flow, List.of(),
                List.of(started(T0), executionStarted(List.of("o-1"), T0)));

        assertThat(seen).containsExactly(INSTANCE, 4, NAME, "[\"o-1\"]", List.of("o-1"));
    }

    @Test
    void blank_activity_name_fails_the_orchestration() {
        Orchestration flow = ctx -> ctx.callActivity(" ", null, String.class).await();

        TurnResult turn = execute(flow, List.of(), List.of(started(T0), executionStarted(null, T0)));

        assertThat(failure(turn)).isEqualTo(
                new FailureDetails("IllegalArgumentException", "activity name must not be blank"));
    }
}
