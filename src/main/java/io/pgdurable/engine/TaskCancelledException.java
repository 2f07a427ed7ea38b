package io.pgdurable.engine;

/** Thrown by {@link Task#await()} on a task that the orchestration itself cancelled. */
public final class TaskCancelledException extends TaskFailedException {
    public TaskCancelledException() {
        super(new FailureDetails("Cancelled", "the task was cancelled by its orchestration"));
    }
}
