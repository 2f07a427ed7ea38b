package io.pgdurable.engine.replay;

import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.Orchestration;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;

/**
 * In-memory histories for replay tests: factories for the events a store would record, and a
 * driver that plays the store's part across turns.
 */
final class Turns {
    static final String INSTANCE = "order-42";
    static final String NAME = "process-order";
    static final int EXECUTION = 1;
    /** Far from the wall clock, so a test notices if the engine reads the real time. */
    static final Instant T0 = Instant.parse("2001-02-03T04:05:06Z");
    /** Generous bound for one turn; a hung orchestration fails the test instead of stalling it. */
    static final Duration YIELD_TIMEOUT = Duration.ofSeconds(10);

    private Turns() {
    }

    static Instant minute(int minutes) {
        return T0.plus(Duration.ofMinutes(minutes));
    }

    static String json(Object value) {
        return JsonCodec.toJson(value);
    }

    static HistoryEvent started(Instant at) {
        return HistoryEvent.orchestratorStarted(at);
    }

    static HistoryEvent executionStarted(Object input, Instant at) {
        return HistoryEvent.executionStarted(NAME, json(input), at);
    }

    static HistoryEvent activityScheduled(int taskId, String activity, Object input, Instant at) {
        return new HistoryEvent(EventType.TaskScheduled, taskId, activity, json(input), at);
    }

    static HistoryEvent timerCreated(int taskId, Instant fireAt, Instant at) {
        return new HistoryEvent(EventType.TimerCreated, taskId, null, json(fireAt.toString()), at);
    }

    static HistoryEvent childCreated(int taskId, String orchestration, String childId, Object input, Instant at) {
        return new HistoryEvent(EventType.SubOrchestrationCreated, taskId, orchestration,
                json(new Action.ChildRef(childId, json(input))), at);
    }

    static HistoryEvent childCancelRequested(int taskId, String childId, Instant at) {
        return new HistoryEvent(EventType.SubOrchestrationCancelRequested, taskId, null,
                json(new Action.ChildRef(childId, null)), at);
    }

    static HistoryEvent activityCompleted(int taskId, Object result, Instant at) {
        return HistoryEvent.taskCompleted(taskId, json(result), at);
    }

    static HistoryEvent activityFailed(int taskId, String type, String message, Instant at) {
        return HistoryEvent.taskFailed(taskId, new FailureDetails(type, message), at);
    }

    static HistoryEvent timerFired(int taskId, Instant at) {
        return HistoryEvent.timerFired(taskId, at);
    }

    static HistoryEvent childCompleted(int taskId, Object result, Instant at) {
        return HistoryEvent.subOrchestrationCompleted(taskId, json(result), at);
    }

    static HistoryEvent childFailed(int taskId, String type, String message, Instant at) {
        return HistoryEvent.subOrchestrationFailed(taskId, new FailureDetails(type, message), at);
    }

    static HistoryEvent raised(String event, Object data, Instant at) {
        return HistoryEvent.eventRaised(event, json(data), at);
    }

    static ReplayExecutor executor() {
        return new ReplayExecutor(YIELD_TIMEOUT);
    }

    /** Drives every turn through a fresh, stateless executor that replays the whole history. */
    static Driver stateless(Orchestration orchestration) {
        return new Driver(orchestration, null, null);
    }

    /** Drives every turn through one session kept alive between turns, as a worker's cache does. */
    static Driver cached(Orchestration orchestration) {
        return new Driver(orchestration,
                new ReplaySession(INSTANCE, EXECUTION, NAME, orchestration, YIELD_TIMEOUT), null);
    }

    /**
     * As {@link #cached}, each turn driven by a new task of {@code threads}: whichever of its
     * threads takes the task drives the session, as worker threads take turns in turn. The yield
     * timeout is far longer than any test's, so a hand-off that woke the wrong thread hangs the
     * test instead of ending the turn when the wait runs out.
     */
    static Driver cachedOn(Orchestration orchestration, ExecutorService threads) {
        return new Driver(orchestration,
                new ReplaySession(INSTANCE, EXECUTION, NAME, orchestration, Duration.ofHours(1)), threads);
    }

    /** Plays the store: appends each turn's history and feeds it back as the next turn's past. */
    static final class Driver implements AutoCloseable {
        private final Orchestration orchestration;
        private final ReplaySession session;
        private final ExecutorService threads;
        private final List<HistoryEvent> history = new ArrayList<>();

        private Driver(Orchestration orchestration, ReplaySession session, ExecutorService threads) {
            this.orchestration = orchestration;
            this.session = session;
            this.threads = threads;
        }

        TurnResult turn(HistoryEvent... fresh) {
            TurnResult result;
            if (session == null) {
                result = executor().execute(INSTANCE, EXECUTION, NAME, orchestration, List.copyOf(history),
                        List.of(fresh));
            } else if (threads == null) {
                result = runAndCommit(fresh);
            } else {
                try {
                    result = threads.submit(() -> runAndCommit(fresh)).get();
                } catch (ExecutionException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    throw new IllegalStateException("turn did not come back", e);
                }
            }
            history.addAll(result.history());
            return result;
        }

        private TurnResult runAndCommit(HistoryEvent... fresh) {
            TurnResult result = session.run(List.of(fresh));
            session.committed(result);
            return result;
        }

        /** Everything recorded so far, in order. */
        List<HistoryEvent> history() {
            return List.copyOf(history);
        }

        @Override
        public void close() {
            if (session != null) {
                session.close();
            }
        }
    }
}
