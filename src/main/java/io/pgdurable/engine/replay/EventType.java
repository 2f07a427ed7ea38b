package io.pgdurable.engine.replay;

/** Kinds of history events. The names are stored in {@code df_engine.history.event_type}. */
public enum EventType {
    /** A turn began; carries the deterministic time of the turn. */
    OrchestratorStarted,
    ExecutionStarted,
    TaskScheduled,
    TaskCompleted,
    TaskFailed,
    TimerCreated,
    TimerFired,
    SubOrchestrationCreated,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SubOrchestrationCancelRequested,
    EventRaised,
    ExecutionCompleted,
    ExecutionFailed,
    ContinuedAsNew
}
