package io.pgdurable.engine.store;

import io.pgdurable.engine.ActivityContext;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * A statement of an activity's own that goes ahead of its completion, in the completion's round
 * trip and transaction ({@link io.pgdurable.engine.ActivityContext#writeCompleteAndCommit}): one
 * statement, its {@code ?} parameters bound in order from {@code parameters}.
 */
public record ActivityWrite(String sql, List<Object> parameters) {

    public ActivityWrite {
        Objects.requireNonNull(sql, "sql");
        if (sql.isBlank()) {
            throw new IllegalArgumentException("the activity's statement must not be empty");
        }
        // Nulls are values here (SQL NULL), which List.copyOf refuses.
        parameters = parameters == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(parameters));
    }

    /** The write of {@code sql} with {@code parameters} of any element type, copied once. */
    @SuppressWarnings("unchecked") // read only, and copied into a list of its own
    public static ActivityWrite of(String sql, List<?> parameters) {
        return new ActivityWrite(sql, (List<Object>) parameters);
    }

    /**
     * {@code completion} (a completion's statements and its COMMIT) with this statement ahead of
     * it. The line break before the semicolon ends a line comment the statement may end with,
     * which would otherwise swallow the semicolon and join the completion to the statement.
     */
    String ahead(String completion) {
        return sql + "\n;\n" + completion;
    }

    /**
     * Binds the parameters from the first (an {@link ActivityContext.UntypedText} without a type);
     * returns the index of the completion's first parameter.
     */
    public int bind(PreparedStatement ps) throws SQLException {
        for (int i = 0; i < parameters.size(); i++) {
            Object value = parameters.get(i);
            if (value instanceof ActivityContext.UntypedText untyped) {
                ps.setObject(i + 1, untyped.text(), Types.OTHER);
            } else {
                ps.setObject(i + 1, value);
            }
        }
        return parameters.size() + 1;
    }

    /**
     * Whether {@code failure}, of a round trip that sent an activity's statement ahead of its
     * completion, came from the completion's function ({@code df_engine.complete_and_advance} or
     * {@code df_engine.complete_activity_or_fail}, named in the error's context) rather than from
     * the activity's statement, whose errors are the activity's own. An error without the
     * server's context (the connection failed) counts as the completion's.
     */
    public static boolean raisedByCompletion(SQLException failure) {
        ServerErrorMessage server = failure instanceof PSQLException p ? p.getServerErrorMessage() : null;
        if (server == null) {
            return true;
        }
        String where = server.getWhere();
        return where != null && (where.contains("df_engine.complete_and_advance(")
                || where.contains("df_engine.complete_activity_or_fail("));
    }
}
