package io.pgdurable.engine.replay;

import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.TurnWrite;
import java.util.List;

/**
 * What one orchestration turn decided: the events to append to history (in order), the actions
 * to carry out, the writes attached to the turn, and how the execution ended, if it did.
 *
 * @param history    events to append: the turn's inputs, then one per decision, then the end
 * @param actions    new decisions, in the order they were made
 * @param writes     turn-scoped writes, in the order they were attached
 * @param completion how this generation ended, or {@code null} while it keeps running
 */
public record TurnResult(List<HistoryEvent> history, List<Action> actions, List<TurnWrite> writes,
                         Completion completion) {

    public TurnResult {
        history = List.copyOf(history);
        actions = List.copyOf(actions);
        writes = List.copyOf(writes);
    }

    public boolean isFinished() {
        return completion != null;
    }

    /** Whether the execution completed or failed here (and did not continue as new). */
    public boolean isTerminal() {
        return completion instanceof Completed || completion instanceof Failed;
    }

    /** How an execution ended. */
    public sealed interface Completion {
    }

    /** The orchestration returned; {@code output} is its JSON result. */
    public record Completed(String output) implements Completion {
    }

    /** The orchestration threw, replay diverged, or it could not run at all. */
    public record Failed(FailureDetails failure) implements Completion {
    }

    /** A new generation starts with {@code input}, receiving the events not yet consumed. */
    public record ContinuedAsNew(String input, List<HistoryEvent> carriedEvents) implements Completion {
        public ContinuedAsNew {
            carriedEvents = List.copyOf(carriedEvents);
        }
    }
}
