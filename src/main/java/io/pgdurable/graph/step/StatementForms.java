package io.pgdurable.graph.step;

import io.pgdurable.db.TransientErrors;
import io.pgdurable.graph.sql.BindValue;
import io.pgdurable.graph.sql.PreparedSql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which form of a step's statement a worker sends. A statement with literal parameters
 * ({@link BindValue.Type#LITERAL_TEXT}, written by {@code Substitution.parameterized}) has the same
 * text for every instance, so the driver and the server keep it prepared; but the server refuses
 * such a parameter where nothing gives it a type ({@code format('%s', ?)}, {@code ? IS NULL}) or
 * where only a literal may stand ({@code DATE ?}). So before a statement text is first sent with
 * its parameters, the server parses and describes it, without running it, in the step's own
 * database and as the step's own role (whose search path decides which functions the statement
 * calls); if it refuses, that text is sent with its literals written back
 * ({@link PreparedSql#withLiterals()}) from then on. The answers are kept per database, role and
 * text, at most {@value #MAX_ENTRIES} of them, for texts of at most {@value #MAX_TEXT_CHARS}
 * characters; a longer text goes with its literals.
 *
 * <p>A text is asked about only when it comes a second time: the first time it goes with its
 * literals. A text that never recurs (a query built anew for each workflow) would gain nothing
 * from the parameters, since the driver keeps a statement prepared only once it has run the same
 * text five times, and asking would cost each of its steps a round trip. The texts seen once are
 * remembered by their hash, at most {@value #MAX_SEEN} of them.
 */
final class StatementForms {

    /** Most answers kept; half of them are forgotten when full. */
    static final int MAX_ENTRIES = 1_024;

    /**
     * The longest text asked about and kept (so the answers hold at most some 16 MB of text); a
     * longer statement is sent with its literals.
     */
    static final int MAX_TEXT_CHARS = 8_192;

    /**
     * SQLSTATEs of a parse that refused a parameter where a literal was taken: no type could be
     * determined (42P18, 42P08), a parameter after a type name (42601), a call or operator
     * resolved differently (42725, 42883, 42804, 42846), or no parameters at all (42P02).
     */
    private static final Set<String> REFUSALS =
            Set.of("42P18", "42P08", "42601", "42725", "42883", "42804", "42846", "42P02");

    private record Key(String database, long roleOid, String sql, List<BindValue.Type> types) {
    }

    /** Most texts remembered as seen once; all are forgotten when full. */
    static final int MAX_SEEN = 8_192;

    private final Map<Key, Boolean> accepted = new ConcurrentHashMap<>();
    private final Set<Integer> seenOnce = ConcurrentHashMap.newKeySet();

    /**
     * The form of {@code prepared} to send on {@code c}, a connection to {@code database} as the
     * role {@code roleOid} with no transaction open: {@code prepared} itself if it has no literal
     * parameters or the server accepts them there; else (and the first time its text comes) its
     * literals written back.
     *
     * @throws SQLException a transient error (see {@link TransientErrors}) that the server's
     *                      answer met: the connection failed, or the server ended the session
     */
    PreparedSql choose(Connection c, String database, long roleOid, PreparedSql prepared) throws SQLException {
        if (!prepared.hasLiteralParameters()) {
            return prepared;
        }
        if (prepared.sql().length() > MAX_TEXT_CHARS) {
            return prepared.withLiterals();
        }
        Key key = key(database, roleOid, prepared);
        Boolean known = accepted.get(key);
        if (known == null) {
            if (seenOnce.add(key.hashCode())) {
                if (seenOnce.size() > MAX_SEEN) {
                    seenOnce.clear();
                }
                return prepared.withLiterals();
            }
            known = describe(c, prepared);
            if (known != null) {
                remember(key, known);
            }
        }
        return Boolean.TRUE.equals(known) ? prepared : prepared.withLiterals();
    }

    /**
     * Notes that the server refused {@code prepared}'s literal parameters when it ran (a function
     * it calls was replaced since it was described): it is sent with literals from now on.
     */
    void refused(String database, long roleOid, PreparedSql prepared) {
        remember(key(database, roleOid, prepared), false);
    }

    /** Whether {@code e}, thrown by a statement with literal parameters, is the server refusing them. */
    static boolean isRefusal(PreparedSql prepared, SQLException e) {
        return prepared.hasLiteralParameters() && REFUSALS.contains(e.getSQLState());
    }

    /** How many answers are kept. */
    int size() {
        return accepted.size();
    }

    /**
     * Parses and describes the statement with its parameters' types (pgjdbc sends Parse and
     * Describe, and no BEGIN, so nothing runs and no transaction opens). True if the server took
     * it, false if it refused the parameters, null if it failed for another reason (a missing
     * table, say), which the literal form will report in its turn.
     */
    private static Boolean describe(Connection c, PreparedSql prepared) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(prepared.sql())) {
            prepared.bind(ps);
            ps.getParameterMetaData();
            return true;
        } catch (SQLException e) {
            // Connection trouble, the server shutting the session down (57P01 from
            // pg_terminate_backend or a restart), and the like: the step is retried. Taken for
            // "refused for another reason", the step went on with a connection the pool had
            // closed on that error, and failed for good with "Connection is closed".
            if (TransientErrors.isTransient(e)) {
                throw e;
            }
            return REFUSALS.contains(e.getSQLState()) ? Boolean.FALSE : null;
        }
    }

    private void remember(Key key, boolean value) {
        if (accepted.size() >= MAX_ENTRIES) {
            List<Key> keys = new ArrayList<>(accepted.keySet());
            keys.subList(0, keys.size() / 2).forEach(accepted::remove);
        }
        accepted.put(key, value);
    }

    private static Key key(String database, long roleOid, PreparedSql prepared) {
        List<BindValue.Type> types = new ArrayList<>(prepared.params().size());
        prepared.params().forEach(v -> types.add(v.type()));
        return new Key(Objects.requireNonNullElse(database, ""), roleOid, prepared.sql(), types);
    }
}
