package io.pgdurable.engine;

/**
 * A side effect scheduled by an orchestration. Activities run at least once: a worker that
 * dies mid-activity leaves the work item to another worker once its lease expires. An activity
 * that writes to the engine's database can make itself exactly-once with
 * {@link ActivityContext#completeAndCommit(java.sql.Connection, Object)}.
 */
@FunctionalInterface
public interface Activity {

    /** Runs the activity; the return value, serialised as JSON, is its result. */
    Object run(ActivityContext ctx) throws Exception;

    /**
     * Whether {@link #run} checks its lease itself ({@link ActivityContext#checkLease}) right
     * before its side effect. When false (the default) the worker checks it just before calling
     * {@link #run}, so an activity of a cancelled instance never starts; an activity that waits
     * for a resource first (a connection, a slot) does better to check after that wait.
     */
    default boolean checksLeaseItself() {
        return false;
    }
}
