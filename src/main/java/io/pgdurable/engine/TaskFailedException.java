package io.pgdurable.engine;

/**
 * Thrown by {@link Task#await()} when the awaited activity, timer, event wait or
 * sub-orchestration failed. Left uncaught, it fails the orchestration with the same details.
 */
public class TaskFailedException extends DurableException {
    private final FailureDetails details;

    public TaskFailedException(FailureDetails details) {
        super(details.message());
        this.details = details;
    }

    public FailureDetails details() {
        return details;
    }
}
