package io.pgdurable.chaos;

import io.pgdurable.db.TransientErrors;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The chaos test's own connection, which outlives the faults it injects: a query that fails with
 * a connection error (the server restarting, the backend terminated) reconnects and runs again,
 * for up to a minute. Only read-only queries and idempotent statements go through it.
 */
final class ResilientConnection implements AutoCloseable {
    /** How the test's own sessions show in pg_stat_activity, so that faults can spare them. */
    static final String APPLICATION_NAME = "pg_durable chaos driver";
    private static final Duration RETRY_FOR = Duration.ofMinutes(1);

    private final String url;
    private final String user;
    private Connection connection;

    ResilientConnection(String url, String user) {
        this.url = url;
        this.user = user;
    }

    /** The first column of every row of {@code sql}, as text. */
    List<String> column(String sql, Object... params) {
        return run(sql, params, 1).get(0);
    }

    /** The first row of {@code sql}, every column as a long (null as 0). */
    long[] longs(String sql, Object... params) {
        List<List<String>> columns = run(sql, params, -1);
        long[] out = new long[columns.size()];
        for (int i = 0; i < out.length; i++) {
            String v = columns.get(i).isEmpty() ? null : columns.get(i).get(0);
            out[i] = v == null ? 0 : Long.parseLong(v);
        }
        return out;
    }

    /** The first column of the first row of {@code sql} as a long (null or no row as 0). */
    long longValue(String sql, Object... params) {
        return longs(sql, params)[0];
    }

    /** Runs {@code sql}; columns {@code [0, width)} (all if width is -1) as lists of text. */
    private List<List<String>> run(String sql, Object[] params, int width) {
        long deadline = System.nanoTime() + RETRY_FOR.toNanos();
        while (true) {
            try {
                return attempt(sql, params, width);
            } catch (SQLException e) {
                closeQuietly();
                if (!TransientErrors.isTransient(e) || System.nanoTime() > deadline) {
                    throw new IllegalStateException(sql + ": " + e.getMessage(), e);
                }
                pause();
            }
        }
    }

    private List<List<String>> attempt(String sql, Object[] params, int width) throws SQLException {
        if (connection == null) {
            Properties props = new Properties();
            props.setProperty("user", user);
            props.setProperty("ApplicationName", APPLICATION_NAME);
            connection = DriverManager.getConnection(url, props);
        }
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            if (!ps.execute()) {
                return List.of(List.of());
            }
            try (ResultSet rs = ps.getResultSet()) {
                int n = width < 0 ? rs.getMetaData().getColumnCount() : width;
                List<List<String>> columns = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    columns.add(new ArrayList<>());
                }
                while (rs.next()) {
                    for (int i = 0; i < n; i++) {
                        columns.get(i).add(rs.getString(i + 1));
                    }
                }
                return columns;
            }
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);  // paces retries against a server the chaos faults keep breaking
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private void closeQuietly() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // the connection is being replaced anyway
            }
            connection = null;
        }
    }

    @Override
    public void close() {
        closeQuietly();
    }
}
