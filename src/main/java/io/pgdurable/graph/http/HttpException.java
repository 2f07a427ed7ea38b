package io.pgdurable.graph.http;

/**
 * An HTTP request could not be made or answered: refused by the address policy, over a limit, out
 * of time, a network or protocol error. The message names the request and what went wrong; an
 * HTTP step fails with it.
 */
public final class HttpException extends Exception {
    /** Why it failed, for callers that treat kinds differently (tests, logs). */
    public enum Kind { REFUSED, LIMIT, TIMEOUT, NETWORK, PROTOCOL, ABORTED }

    private final Kind kind;

    public HttpException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public HttpException(Kind kind, String message, Throwable cause) {
        super(message, cause, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
