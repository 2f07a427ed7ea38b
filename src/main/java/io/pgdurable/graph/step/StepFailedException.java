package io.pgdurable.graph.step;

import io.pgdurable.engine.DurableException;

/**
 * A step failed for a reason retrying cannot cure: the statement errored, a placeholder could
 * not be substituted, the submitting role is gone. The message is what the user sees in the
 * node's result and the instance's output.
 */
public final class StepFailedException extends DurableException {
    public StepFailedException(String message) {
        super(message);
    }

    public StepFailedException(String message, String sqlState, Throwable cause) {
        super(message, sqlState, cause);
    }

    @Override
    public String failureType() {
        return "StepFailed";
    }
}
