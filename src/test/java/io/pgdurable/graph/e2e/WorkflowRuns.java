package io.pgdurable.graph.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs workflows through {@link DfTestEnvironment} and reads back what they left in df: the
 * status, the root result, node rows. Assertion failures carry the instance's node table so a
 * broken run explains itself.
 */
final class WorkflowRuns {
    /** Upper bound for any single workflow in these tests; a healthy run takes a fraction of it. */
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    /** Fractions read as doubles, so values compare equal whatever their textual form (1e300). */
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DfTestEnvironment env;

    WorkflowRuns(DfTestEnvironment env) {
        this.env = env;
    }

    /**
     * {@code SELECT df.start(<expression>)} as the application role. Unlike
     * {@link DfTestEnvironment#start}, the text is not a prepared statement, so operators
     * containing {@code ?} ({@code ?>}) need no escaping.
     */
    String start(String expression) {
        try (Connection c = env.connectAsApp(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT df.start(" + expression + ")")) {
            rs.next();
            return rs.getString(1);
        } catch (SQLException e) {
            throw new IllegalStateException("df.start(" + expression + "): " + e.getMessage(), e);
        }
    }

    /** Starts {@code expression}, waits for it to complete and returns df.result. */
    String resultOf(String expression) {
        String id = start(expression);
        assertCompleted(id);
        return env.result(id);
    }

    void assertCompleted(String id) {
        assertThat(env.await(id, TIMEOUT)).as("status of %s; nodes:%n%s", id, nodes(id)).isEqualTo("completed");
    }

    void assertFailed(String id) {
        assertThat(env.await(id, TIMEOUT)).as("status of %s; nodes:%n%s", id, nodes(id)).isEqualTo("failed");
    }

    /** The error message stored on the instance's root node (a JSON string in df.nodes.result). */
    String rootError(String id) {
        return env.queryAsApp("""
                SELECT n.result #>> '{}' FROM df.nodes n JOIN df.instances i ON i.id = n.instance_id
                 WHERE i.id = ? AND n.id = i.root_node AND n.status = 'failed'
                """, id);
    }

    /** df.nodes.result of the only node of {@code nodeType} in the instance. */
    String nodeResult(String id, String nodeType) {
        return env.queryAsApp("SELECT result::text FROM df.nodes WHERE instance_id = ? AND node_type = ?", id, nodeType);
    }

    /** df.nodes.result of the node whose SQL text is exactly {@code query}. */
    String sqlNodeResult(String id, String query) {
        return env.queryAsApp("SELECT result::text FROM df.nodes WHERE instance_id = ? AND query = ?", id, query);
    }

    /** The id of the only node of {@code nodeType} in the instance. */
    String nodeId(String id, String nodeType) {
        return env.queryAsApp("SELECT id FROM df.nodes WHERE instance_id = ? AND node_type = ?", id, nodeType);
    }

    /** The engine status of an orchestration (the instance itself or a child), or null. */
    String engineStatus(String orchestrationId) {
        return env.queryAsAdmin("SELECT status FROM df_engine.instances WHERE id = ?", orchestrationId);
    }

    long count(String sql, Object... params) {
        return Long.parseLong(env.queryAsAdmin(sql, params));
    }

    /** df.instance_nodes as readable lines, for assertion messages. */
    String nodes(String id) {
        List<String> lines = new ArrayList<>();
        try (Connection c = env.connectAsApp();
             PreparedStatement ps = c.prepareStatement("""
                     SELECT node_id, node_type, coalesce(result_name, ''), status, inferred_status,
                            left(coalesce(query, ''), 80), left(coalesce(result, ''), 300)
                       FROM df.instance_nodes(?)
                     """)) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    lines.add(String.join(" | ", rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getString(5), rs.getString(6), rs.getString(7)));
                }
            }
        } catch (SQLException e) {
            lines.add("(nodes unavailable: " + e.getMessage() + ")");
        }
        return String.join(System.lineSeparator(), lines);
    }

    static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }

    /** A SQL step's text as the SQL string literal a df expression needs. */
    static String step(String sql) {
        return literal(sql);
    }

    /** {@code s} as a SQL string literal. */
    static String literal(String s) {
        return "'" + s.replace("'", "''") + "'";
    }
}
