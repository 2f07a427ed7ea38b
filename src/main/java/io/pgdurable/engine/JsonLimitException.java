package io.pgdurable.engine;

/**
 * A result or a JSON document is over one of the engine's {@link Limits}, or beyond what
 * pg_durable's JSON readers accept. The message names the limit, the value reached and the
 * setting that raises it. Never transient: the same work would reach the same limit again.
 */
public final class JsonLimitException extends DurableException {
    /** program_limit_exceeded. */
    public static final String SQLSTATE = "54000";

    public JsonLimitException(String message) {
        super(message, SQLSTATE, null);
    }

    public JsonLimitException(String message, Throwable cause) {
        super(message, SQLSTATE, cause);
    }

    @Override
    public String failureType() {
        return "LimitExceeded";
    }
}
