package io.pgdurable.graph.e2e;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.postgresql.util.PSQLException;

/** Small helpers for end-to-end tests that read the df and engine tables and expect SQL errors. */
final class SqlProbe {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SqlProbe() {
    }

    /** Parses JSON text; null stays null. */
    static JsonNode json(String text) {
        if (text == null) {
            return null;
        }
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }

    /** A count (or any bigint) read as the superuser. */
    static long adminLong(DfTestEnvironment env, String sql, Object... params) {
        String value = env.queryAsAdmin(sql, params);
        return value == null ? 0 : Long.parseLong(value);
    }

    /** Every value of the first column, read as the superuser. */
    static List<String> adminColumn(DfTestEnvironment env, String sql, Object... params) {
        try (Connection c = env.connectAsAdmin(); PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            List<String> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** Runs a statement that returns no rows (DDL, DML) as the application role. */
    static void execAsApp(DfTestEnvironment env, String sql) {
        try (Connection c = env.connectAsApp(); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** The error {@code sql} raises on {@code connection} (which is closed afterwards). */
    static PSQLException failure(Connection connection, String sql, Object... params) {
        try (Connection c = connection; PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            ps.execute();
        } catch (PSQLException e) {
            return e;
        } catch (SQLException e) {
            throw new AssertionError("unexpected kind of failure for " + sql, e);
        }
        throw new AssertionError("expected an error from: " + sql);
    }

    /** The server's primary message, without severity, position or context lines. */
    static String message(PSQLException e) {
        return e.getServerErrorMessage() == null ? e.getMessage() : e.getServerErrorMessage().getMessage();
    }

    /** The id of the node reached from the root by a path of 'l' (left) and 'r' (right) steps. */
    static String nodeId(DfTestEnvironment env, String instanceId, String path) {
        String nodeId = env.queryAsAdmin("SELECT root_node FROM df.instances WHERE id = ?", instanceId);
        for (char step : path.toCharArray()) {
            String column = step == 'l' ? "left_node" : "right_node";
            nodeId = env.queryAsAdmin("SELECT " + column + " FROM df.nodes WHERE instance_id = ? AND id = ?",
                    instanceId, nodeId);
        }
        return nodeId;
    }

    /** The stored result (jsonb text) of the node at {@code path}, see {@link #nodeId}. */
    static String nodeResult(DfTestEnvironment env, String instanceId, String path) {
        return env.queryAsAdmin("SELECT result::text FROM df.nodes WHERE instance_id = ? AND id = ?",
                instanceId, nodeId(env, instanceId, path));
    }

    /** The stored status of the node at {@code path}, see {@link #nodeId}. */
    static String nodeStatus(DfTestEnvironment env, String instanceId, String path) {
        return env.queryAsAdmin("SELECT status FROM df.nodes WHERE instance_id = ? AND id = ?",
                instanceId, nodeId(env, instanceId, path));
    }

    private static void bind(PreparedStatement ps, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            ps.setObject(i + 1, params[i]);
        }
    }
}
