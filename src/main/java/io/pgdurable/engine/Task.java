package io.pgdurable.engine;

/**
 * A durable unit of work an orchestration waits on: an activity, a timer, an external event, a
 * sub-orchestration, or a combination of those ({@code allOf}, {@code anyOf}).
 *
 * @param <T> the result type
 */
public interface Task<T> {

    /**
     * Suspends the orchestration until the task is done and returns its result.
     *
     * @throws TaskFailedException when the task failed, timed out or was cancelled
     */
    T await();

    /** Whether the task has finished, successfully or not. */
    boolean isDone();

    /** Whether the task finished with a failure. */
    boolean isFailed();

    /**
     * Stops waiting for this task. A sub-orchestration is cancelled in the store, with its own
     * children; other tasks simply have their eventual results ignored. No-op once done.
     */
    void cancel();
}
