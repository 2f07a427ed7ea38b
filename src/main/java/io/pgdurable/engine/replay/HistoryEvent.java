package io.pgdurable.engine.replay;

import io.pgdurable.engine.FailureDetails;
import java.time.Instant;
import java.util.Objects;

/**
 * One entry of an execution's append-only history.
 *
 * @param type      what happened
 * @param taskId    the task the event belongs to (activities, timers, children), else {@code null}
 * @param name      activity, orchestration or event name where one applies
 * @param payload   JSON text: input, result, failure details or fire time, depending on type
 * @param timestamp when the event was recorded
 */
public record HistoryEvent(EventType type, Integer taskId, String name, String payload, Instant timestamp) {

    public HistoryEvent {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(timestamp, "timestamp");
    }

    public static HistoryEvent orchestratorStarted(Instant now) {
        return new HistoryEvent(EventType.OrchestratorStarted, null, null, null, now);
    }

    public static HistoryEvent executionStarted(String name, String input, Instant now) {
        return new HistoryEvent(EventType.ExecutionStarted, null, name, input, now);
    }

    public static HistoryEvent taskCompleted(int taskId, String result, Instant now) {
        return new HistoryEvent(EventType.TaskCompleted, taskId, null, result, now);
    }

    public static HistoryEvent taskFailed(int taskId, FailureDetails failure, Instant now) {
        return new HistoryEvent(EventType.TaskFailed, taskId, null, failure.toJson(), now);
    }

    public static HistoryEvent timerFired(int taskId, Instant now) {
        return new HistoryEvent(EventType.TimerFired, taskId, null, null, now);
    }

    public static HistoryEvent subOrchestrationCompleted(int taskId, String result, Instant now) {
        return new HistoryEvent(EventType.SubOrchestrationCompleted, taskId, null, result, now);
    }

    public static HistoryEvent subOrchestrationFailed(int taskId, FailureDetails failure, Instant now) {
        return new HistoryEvent(EventType.SubOrchestrationFailed, taskId, null, failure.toJson(), now);
    }

    public static HistoryEvent eventRaised(String name, String data, Instant now) {
        return new HistoryEvent(EventType.EventRaised, null, name, data, now);
    }
}
