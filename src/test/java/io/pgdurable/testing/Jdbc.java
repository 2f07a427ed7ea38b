package io.pgdurable.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** One-line JDBC for tests: a statement run for its effect, or a query's single value. */
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
}
