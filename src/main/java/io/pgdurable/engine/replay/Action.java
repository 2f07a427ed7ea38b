package io.pgdurable.engine.replay;

import io.pgdurable.engine.JsonCodec;
import java.time.Instant;

/** A decision an orchestration made in a turn; the store carries it out when the turn commits. */
public sealed interface Action {

    /** The task the decision belongs to. */
    int taskId();

    /** The history event that records this decision. */
    HistoryEvent toEvent(Instant now);

    /**
     * @param partitionKey the fairness key the activity item is claimed under, or {@code null}
     *                     for the instance's own key
     */
    record ScheduleActivity(int taskId, String name, String input, String partitionKey) implements Action {
        public ScheduleActivity(int taskId, String name, String input) {
            this(taskId, name, input, null);
        }

        @Override
        public HistoryEvent toEvent(Instant now) {
            return new HistoryEvent(EventType.TaskScheduled, taskId, name, input, now);
        }
    }

    record CreateTimer(int taskId, Instant fireAt) implements Action {
        @Override
        public HistoryEvent toEvent(Instant now) {
            return new HistoryEvent(EventType.TimerCreated, taskId, null, JsonCodec.toJson(fireAt.toString()), now);
        }
    }

    record CreateSubOrchestration(int taskId, String name, String instanceId, String input) implements Action {
        @Override
        public HistoryEvent toEvent(Instant now) {
            return new HistoryEvent(EventType.SubOrchestrationCreated, taskId, name,
                    JsonCodec.toJson(new ChildRef(instanceId, input)), now);
        }
    }

    record CancelSubOrchestration(int taskId, String instanceId, String reason) implements Action {
        @Override
        public HistoryEvent toEvent(Instant now) {
            return new HistoryEvent(EventType.SubOrchestrationCancelRequested, taskId, null,
                    JsonCodec.toJson(new ChildRef(instanceId, null)), now);
        }
    }

    /** Payload of child-related history events. */
    record ChildRef(String instanceId, String input) {
    }
}
