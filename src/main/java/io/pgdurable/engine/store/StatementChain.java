package io.pgdurable.engine.store;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * Statements sent as one execution. pgjdbc sends a text of several statements, with the
 * parameters of all of them, in one round trip; the server runs them in order in the caller's
 * transaction, and the first that fails fails the execution (and, as any failed statement, the
 * transaction). Each costs what it would cost alone, less the wait for its own round trip.
 *
 * <p>The chain's first statement, and those of its links that ask for it, run with generic plans
 * ({@code SET LOCAL plan_cache_mode}, switched between links as needed): the engine's own
 * statements take arrays whose lengths vary from batch to batch, so PostgreSQL found every custom
 * plan cheaper than the generic one and planned them again on every execution (0.4 ms for a turn's
 * core statement alone), while their generic plans find every row by primary key. Other statements
 * (an orchestration's own writes) run as the connection plans them, and so does whatever follows
 * the chain in the transaction.
 */
final class StatementChain {
    /** Ends the transaction; the plan setting goes with it. */
    static final Link COMMIT = new Link("COMMIT", (ps, first) -> first, false);

    private static final String GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan";
    private static final String DEFAULT_PLANS = "SET LOCAL plan_cache_mode TO DEFAULT";

    private StatementChain() {
    }

    /** Binds a statement's parameters from index {@code first}; returns the next free index. */
    @FunctionalInterface
    interface Binder {
        int bind(PreparedStatement ps, int first) throws SQLException;
    }

    /** One statement of a chain: its text, what binds its parameters, whether it runs with generic plans. */
    record Link(String text, Binder binder, boolean generic) {
    }

    /**
     * The chain's text: the plan setting, {@code head} (generic plans), then {@code links}, each on
     * lines of its own (a statement that ends in a line comment cannot swallow the separator), with
     * the setting switched where a link needs the other one and restored at the end, unless the
     * chain ends with {@link #COMMIT}. Its first result is the setting's; {@code head}'s is second.
     */
    static String text(String head, List<Link> links) {
        return text(List.of(), head, links);
    }

    /**
     * {@link #text(String, List)} with {@code before} ahead of {@code head}, right after the plan
     * setting and with generic plans like {@code head}: the setting's result comes first, then
     * one per statement of {@code before}, then {@code head}'s.
     */
    static String text(List<Link> before, String head, List<Link> links) {
        StringBuilder sb = new StringBuilder(GENERIC_PLANS);
        for (Link link : before) {
            sb.append("\n;\n").append(link.text());
        }
        boolean generic = true;
        sb.append("\n;\n").append(head);
        for (Link link : links) {
            if (link != COMMIT && link.generic() != generic) {
                generic = link.generic();
                sb.append("\n;\n").append(generic ? GENERIC_PLANS : DEFAULT_PLANS);
            }
            sb.append("\n;\n").append(link.text());
        }
        if (generic && (links.isEmpty() || links.get(links.size() - 1) != COMMIT)) {
            sb.append("\n;\n").append(DEFAULT_PLANS);
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
