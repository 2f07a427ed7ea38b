package io.pgdurable.engine.store;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * Statements sent as one execution. pgjdbc sends a text of several statements, with the
 * parameters of all of them, in one round trip; the server runs them in order in the caller's
 * transaction, and the first that fails fails the execution (and, as any failed statement, the
 * transaction). Each costs what it would cost alone, less the wait for its own round trip.
 */
final class StatementChain {
    private StatementChain() {
    }

    /** Binds a statement's parameters from index {@code first}; returns the next free index. */
    @FunctionalInterface
    interface Binder {
        int bind(PreparedStatement ps, int first) throws SQLException;
    }

    /** One statement of a chain: its text and what binds its parameters. */
    record Link(String text, Binder binder) {
    }

    /**
     * The texts of {@code links} after {@code head}, each on lines of its own: a statement that
     * ends in a line comment cannot swallow the separator.
     */
    static String text(String head, List<Link> links) {
        StringBuilder sb = new StringBuilder(head);
        for (Link link : links) {
            sb.append("\n;\n").append(link.text());
        }
        return sb.toString();
    }

    /** Binds {@code links} in order from parameter {@code first}; returns the next free index. */
    static int bind(PreparedStatement ps, int first, List<Link> links) throws SQLException {
        int p = first;
        for (Link link : links) {
            p = link.binder().bind(ps, p);
        }
        return p;
    }

    /** Reads past the results of the chain's statements after the current one. */
    static void drain(PreparedStatement ps) throws SQLException {
        while (ps.getMoreResults() || ps.getUpdateCount() != -1) {
            // each call moves to the next statement's result
        }
    }
}
