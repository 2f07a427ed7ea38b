package io.pgdurable.engine;

/**
 * An activity's completion was refused because its lease is no longer current: the work item
 * was taken over, completed already, or its instance was cancelled.
 */
public final class LeaseLostException extends DurableException {
    public LeaseLostException(String message) {
        super(message, "55000", null);
    }
}
