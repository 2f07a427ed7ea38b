package io.pgdurable.graph.sql;

import io.pgdurable.graph.model.GraphException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
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
