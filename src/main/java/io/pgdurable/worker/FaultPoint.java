package io.pgdurable.worker;

/** Named places where tests inject crashes to prove recovery, or hold the worker still. */
public enum FaultPoint {
    /** A claimed activity item is about to start; its lease is not re-checked yet. */
    BEFORE_ACTIVITY_START,
    /** An activity's work and its completion are written, not yet committed. */
    BEFORE_ACTIVITY_COMMIT,
    /**
     * The short path has taken its instance's replay state and decided the next turn; the
     * activity's work is written, its completion and the turn are not yet sent.
     */
    SHORT_PATH_DECIDED,
    /** An activity's work and completion are committed; the worker has not moved on. */
    AFTER_ACTIVITY_COMMIT,
    /**
     * A batch of orchestration turns is decided, not yet written or committed (both usually go
     * in one round trip).
     */
    BEFORE_TURN_COMMIT,
    /** A batch of orchestration turns has committed; the dispatch loop has not yet looked for what is due next. */
    AFTER_TURN_COMMIT,
    /**
     * A turn failed for good and its instance is about to be failed; the turn's claim on the
     * instance is still held.
     */
    FAILING_INSTANCE
}
