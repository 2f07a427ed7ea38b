package io.pgdurable.engine;

/**
 * Root of pg_durable's exception hierarchy. Errors that reach SQL callers carry a SQLSTATE so a
 * client can react to the kind of failure without parsing the message.
 */
public class DurableException extends RuntimeException {
    private final String sqlState;

    public DurableException(String message) {
        this(message, null, null);
    }

    public DurableException(String message, Throwable cause) {
        this(message, null, cause);
    }

    public DurableException(String message, String sqlState, Throwable cause) {
        super(message, cause);
        this.sqlState = sqlState;
    }

    /** The failure type recorded when this error fails a task or an orchestration. */
    public String failureType() {
        return getClass().getSimpleName();
    }

    /** The SQLSTATE to report for this error, or {@code null} when none is natural. */
    public String sqlState() {
        return sqlState;
    }
}
