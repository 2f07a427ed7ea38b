package io.pgdurable.engine.replay;

import io.pgdurable.engine.Orchestration;
import java.time.Duration;
import java.util.List;

/**
 * The pure replay executor: history in, decisions out, no database. A turn replays the recorded
 * history of an execution, checking that the orchestration makes the same decisions, and then
 * lets it react to the new events.
 *
 * <p>The worker keeps {@link ReplaySession}s alive between turns so that a long workflow is not
 * replayed from the start at every step; this class is the stateless form of the same thing.
 */
public final class ReplayExecutor {
    private final Duration yieldTimeout;

    public ReplayExecutor() {
        this(ReplaySession.DEFAULT_YIELD_TIMEOUT);
    }

    public ReplayExecutor(Duration yieldTimeout) {
        this.yieldTimeout = yieldTimeout;
    }

    /**
     * Runs one turn from scratch.
     *
     * @param past  the execution's recorded history
     * @param fresh the turn's new events, starting with an {@link EventType#OrchestratorStarted}
     */
    public TurnResult execute(String instanceId, int executionId, String name, Orchestration orchestration,
                              List<HistoryEvent> past, List<HistoryEvent> fresh) {
        try (ReplaySession session = new ReplaySession(instanceId, executionId, name, orchestration, yieldTimeout)) {
            return session.replayAndRun(past, fresh);
        }
    }
}
