package io.pgdurable.graph.sql;

import io.pgdurable.graph.model.GraphException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.postgresql.PGConnection;

/**
 * A step's SQL after substitution, ready for pgjdbc: {@code sql} has a {@code ?} for each entry of
 * {@code params} and every literal question mark of the user's bare SQL written as {@code ??}
 * (pgjdbc's escape), so it must be run through {@link Connection#prepareStatement(String)} and
 * {@link #bind(PreparedStatement)}, never through a plain {@code Statement}.
 *
 * <p>Values substituted inside quoted literals were escaped assuming
 * {@code standard_conforming_strings = on} (PostgreSQL's default since 9.1); {@link #bind} refuses
 * a pgjdbc connection on which it is off, because there a backslash in a value could end the
 * literal.
 */
public record PreparedSql(String sql, List<BindValue> params) {

    public PreparedSql {
        Objects.requireNonNull(sql, "sql");
        params = List.copyOf(params);
    }

    /** Whether a parameter stands where the statement could hold a literal ({@link BindValue.Type#LITERAL_TEXT}). */
    public boolean hasLiteralParameters() {
        for (BindValue v : params) {
            if (v.type() == BindValue.Type.LITERAL_TEXT) {
                return true;
            }
        }
        return false;
    }

    /**
     * The same statement with each {@link BindValue.Type#LITERAL_TEXT} parameter written back as the
     * literal it stands for, {@code 'text'} with {@code '} doubled (as {@link Substitution#prepare}
     * writes it), the other parameters kept: for a server that would not take the parameter
     * there. This statement itself when it has no such parameter.
     */
    public PreparedSql withLiterals() {
        if (!hasLiteralParameters()) {
            return this;
        }
        SqlText text = SqlText.peek(sql);
        StringBuilder out = new StringBuilder(sql.length() + 32);
        List<BindValue> kept = new ArrayList<>(params.size());
        int next = 0;
        for (SqlText.Region r : text.regions()) {
            if (r.kind() != SqlText.Kind.CODE) {
                out.append(sql, r.start(), r.end());
                continue;
            }
            for (int i = r.start(); i < r.end(); i++) {
                char c = sql.charAt(i);
                if (c != '?') {
                    out.append(c);
                } else if (i + 1 < r.end() && sql.charAt(i + 1) == '?') {
                    out.append("??");
                    i++;
                } else {
                    BindValue v = params.get(next++);
                    if (v.type() != BindValue.Type.LITERAL_TEXT) {
                        out.append('?');
                        kept.add(v);
                        continue;
                    }
                    // Keep the literal from fusing with a neighbouring literal or a U& prefix.
                    char last = out.isEmpty() ? '\0' : out.charAt(out.length() - 1);
                    if (last == '\'' || last == '&') {
                        out.append(' ');
                    }
                    out.append(Substitution.quoteLiteral((String) v.value()));
                    if (i + 1 < sql.length() && sql.charAt(i + 1) == '\'') {
                        out.append(' ');
                    }
                }
            }
        }
        if (next != params.size()) {
            throw new IllegalStateException("statement has " + next + " placeholders for " + params.size()
                    + " parameters");
        }
        return new PreparedSql(out.toString(), kept);
    }

    /** Binds every parameter to {@code ps}, which must have been prepared from {@link #sql()}. */
    public void bind(PreparedStatement ps) throws SQLException {
        requireStandardConformingStrings(ps.getConnection());
        for (int i = 0; i < params.size(); i++) {
            params.get(i).bindTo(ps, i + 1);
        }
    }

    /**
     * Refuses a pgjdbc connection with {@code standard_conforming_strings} off (see above); for a
     * caller that binds the parameters itself ({@link BindValue#bindTo}).
     */
    public static void requireStandardConformingStrings(Connection c) throws SQLException {
        if (c != null && c.isWrapperFor(PGConnection.class)) {
            String scs = c.unwrap(PGConnection.class).getParameterStatus("standard_conforming_strings");
            if (scs != null && !scs.equalsIgnoreCase("on")) {
                throw new GraphException("standard_conforming_strings is '" + scs + "' on this connection;"
                        + " workflow steps need it on so substituted values cannot escape their quotes");
            }
        }
    }
}
