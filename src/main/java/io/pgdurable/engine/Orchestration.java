package io.pgdurable.engine;

import java.util.List;

/**
 * Deterministic workflow code. It runs again from the start whenever a worker has to rebuild its
 * state from history, so it must make the same decisions every time: take time from
 * {@link OrchestrationContext#currentInstant()}, do I/O only in activities, and read no mutable
 * global state.
 */
@FunctionalInterface
public interface Orchestration {

    /**
     * Runs the orchestration. The return value, serialised as JSON, becomes its output; an
     * exception fails it.
     */
    Object run(OrchestrationContext ctx) throws Exception;

    /**
     * Writes to make, in the transaction that records the failure, when the engine fails an
     * instance named {@code name} without its code running: a turn that could not be processed
     * or written. State the orchestration keeps outside the engine (a status table, say) learns
     * of the failure only this way. None by default.
     */
    default List<TurnWrite> writesOnEngineFailure(String instanceId, String name, FailureDetails failure) {
        return List.of();
    }
}
