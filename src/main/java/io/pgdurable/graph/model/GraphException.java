package io.pgdurable.graph.model;

import io.pgdurable.engine.DurableException;

/**
 * A problem with a workflow graph or one of its steps that the user can act on: a malformed graph,
 * a substitution that cannot be made, an invalid cron expression. The message is the text the
 * failing step reports, so it names the node, placeholder or expression at fault.
 */
public class GraphException extends DurableException {

    /** An error whose message is shown to the user as is. */
    public GraphException(String message) {
        super(message);
    }

    /** An error whose message is shown to the user as is, with the failure that led to it. */
    public GraphException(String message, Throwable cause) {
        super(message, cause);
    }
}
