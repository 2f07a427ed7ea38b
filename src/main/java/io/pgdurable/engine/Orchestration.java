package io.pgdurable.engine;

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
}
