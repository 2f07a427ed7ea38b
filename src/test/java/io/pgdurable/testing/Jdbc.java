package io.pgdurable.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** One-line JDBC for tests: a statement run for its effect, a query's single value, a call's failure. */
public final class Jdbc {
    private Jdbc() {
    }

    /** Runs {@code sql} on {@code c}. */
    public static void execute(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /** The first column of the first row {@code sql} returns, as text; fails the test if there is no row. */
    public static String single(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertThat(rs.next()).as("a row from %s", sql).isTrue();
            return rs.getString(1);
        }
    }

    /** The SQLException {@code call} fails with; fails the test if it does not fail with one. */
    public static SQLException sqlFailure(ThrowingCallable call) {
        SQLException e = catchThrowableOfType(SQLException.class, call);
        assertThat((Throwable) e).as("expected the call to fail with an SQLException").isNotNull();
        return e;
    }

    /**
     * The SQLException {@code call} fails with, having checked its SQLSTATE and that its message
     * contains {@code messagePart}.
     */
    public static SQLException sqlFailure(ThrowingCallable call, String sqlState, String messagePart) {
        SQLException e = sqlFailure(call);
        assertThat(e.getSQLState()).as("SQLSTATE of: %s", e.getMessage()).isEqualTo(sqlState);
        assertThat(e.getMessage()).contains(messagePart);
        return e;
    }
}
