package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.literal;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * Alice submits graphs built to hurt the worker: too deep, too large, of unknown node types,
 * missing children, with result names that are not identifiers; through df.start and around it,
 * by writing the graph's rows by hand and launching them in the same transaction. Each is refused
 * with its documented error (USER_GUIDE 10.1, 10.2) before anything is stored or started; every
 * graph's SQL step would have emptied the canary; and the worker goes on running good workflows.
 * (The df.start checks themselves are covered one by one in test/pgtap/014_start_validation.sql.)
 */
class MalformedGraphAttackTest {
    private static final String STEP = "{\"node_type\":\"SQL\",\"query\":\"DELETE FROM canary\"}";
    private static final String DEPTH_ERROR =
            "Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.";
    private static final String SIZE_ERROR =
            "Workflow exceeds maximum node count of 10000. Simplify the workflow or break it into multiple instances.";

    private static SecurityFixture fx;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_graphs").startWorker();
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    /** Nothing of any refused graph exists, and the worker still runs a good workflow. */
    @AfterEach
    void nothingStoredAndTheWorkerRunsOn() {
        assertThat(fx.count("SELECT count(*) FROM df.instances WHERE submitted_by = ?::regrole"
                + " AND id NOT IN (SELECT instance_id FROM df.nodes WHERE query = 'SELECT ''still running''')", ALICE))
                .as("instances of alice's other than the health checks").isZero();
        assertThat(fx.resultOf(ALICE, "'SELECT ''still running'''"))
                .isEqualTo("{\"rows\": [{\"?column?\": \"still running\"}], \"row_count\": 1}");
        fx.assertCanaryUntouched();
    }

    private static String then(String left, String right) {
        return "{\"node_type\":\"THEN\",\"left_node\":" + left + ",\"right_node\":" + right + "}";
    }

    @Test
    void a_graph_deeper_than_256_levels_is_refused() {
        String graph = STEP;
        for (int i = 1; i <= 257; i++) {
            graph = then(graph, "{\"node_type\":\"SQL\",\"query\":\"SELECT " + i + "\"}");
        }

        fx.refusalAs(ALICE, "SELECT df.start(?)", graph)
                .is("22023", "Invalid durable function graph: root" + ".left".repeat(257) + ": " + DEPTH_ERROR);
    }

    @Test
    void json_nested_far_too_deep_to_parse_is_refused_without_exhausting_the_stack() {
        String graph = "{\"node_type\":\"LOOP\",\"left_node\":".repeat(100_000) + STEP + "}".repeat(100_000);

        fx.refusalAs(ALICE, "SELECT df.start(?)", graph).is("22023", "Invalid durable function graph: root: " + DEPTH_ERROR);
        fx.refusalAs(ALICE, "SELECT df.start(" + "df.loop(".repeat(300) + literal("DELETE FROM canary") + ")".repeat(300) + ")")
                .is("22023", DEPTH_ERROR);
    }

    @Test
    void a_graph_of_more_than_10000_nodes_is_refused() {
        StringBuilder graph = new StringBuilder("{\"node_type\":\"JOIN\",\"left_node\":" + STEP + ",\"right_node\":" + STEP
                + ",\"extra_nodes\":[");
        for (int i = 0; i < 9998; i++) {
            graph.append(i == 0 ? "" : ",").append(STEP);
        }
        graph.append("]}");

        fx.refusalAs(ALICE, "SELECT df.start(?)", graph.toString())
                .is("22023", "Invalid durable function graph: root.extra_nodes[9997]: " + SIZE_ERROR);
    }

    @Test
    void an_unknown_node_type_is_refused_at_the_root_and_below() {
        fx.refusalAs(ALICE, "SELECT df.start(?)", "{\"node_type\":\"EXEC\",\"query\":\"DELETE FROM canary\"}")
                .is("22023", "Invalid durable function: Unknown node_type 'EXEC'. Valid types: SQL, THEN, IF, JOIN, LOOP,"
                        + " BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL");
        fx.refusalAs(ALICE, "SELECT df.start(?)", then(STEP, "{\"node_type\":\"sql\",\"query\":\"DELETE FROM canary\"}"))
                .is("22023", "Invalid durable function graph: root.right: Unknown node_type 'sql'.");
    }

    @Test
    void a_node_missing_its_children_is_refused() {
        fx.refusalAs(ALICE, "SELECT df.start(?)", "{\"node_type\":\"THEN\",\"left_node\":" + STEP + "}")
                .is("22023", "Invalid durable function graph: root: THEN node requires left_node and right_node");
        fx.refusalAs(ALICE, "SELECT df.start(?)", then(STEP, "{\"node_type\":\"IF\",\"left_node\":" + STEP
                        + ",\"right_node\":" + STEP + "}"))
                .is("22023", "Invalid durable function graph: root.right: IF node requires condition_node");
        fx.refusalAs(ALICE, "SELECT df.start(?)", then(STEP, "{\"node_type\":\"THEN\",\"left_node\":" + STEP
                        + ",\"right_node\":\"DELETE FROM canary\"}"))
                .is("22023", "Durofut children must be JSON objects");
    }

    @Test
    void a_result_name_that_is_not_an_identifier_is_refused() {
        fx.refusalAs(ALICE, "SELECT df.start('SELECT 1' |=> 'x; DROP TABLE canary')")
                .is("22023", "df.as: result name 'x; DROP TABLE canary' is not a valid identifier"
                        + " — must match [a-zA-Z_][a-zA-Z0-9_]*");
        fx.refusalAs(ALICE, "SELECT df.start(?)", "{\"node_type\":\"SQL\",\"query\":\"SELECT 1\",\"result_name\":\"r\\\" OR 1=1\"}")
                .is("22023", "Invalid durable function graph: root: result name 'r\" OR 1=1' is not a valid identifier"
                        + " — must match [a-zA-Z_][a-zA-Z0-9_]*");
        fx.refusalAs(ALICE, "SELECT df.start(?)", then(STEP, "{\"node_type\":\"SQL\",\"query\":\"SELECT 1\",\"result_name\":\"h\u00e9\"}"))
                .is("22023", "Invalid durable function graph: root.right: result name 'hé' is not a valid identifier");
    }

    // -------------------------------------------------------------------------------------------
    // The same graphs written as rows by hand and launched in the same transaction
    // -------------------------------------------------------------------------------------------

    /** Node id n of the hand-written graphs: 5ec1 and four hex digits. */
    private static String node(int n) {
        return String.format("5ec1%04x", n);
    }

    /** A chain of {@code levels} THEN nodes below the root, each with a SQL leaf on its right. */
    private static List<String> chainRows(String instance, int levels) {
        return List.of(
                "INSERT INTO df.instances (id, root_node) VALUES ('" + instance + "', '" + node(0) + "')",
                "INSERT INTO df.nodes (id, instance_id, node_type, left_node, right_node)"
                        + " SELECT format('5ec1%s', lpad(to_hex(i), 4, '0')), '" + instance + "', 'THEN',"
                        + " format('5ec1%s', lpad(to_hex(i + 1), 4, '0')), format('5ec2%s', lpad(to_hex(i), 4, '0'))"
                        + " FROM generate_series(0, " + (levels - 1) + ") i",
                "INSERT INTO df.nodes (id, instance_id, node_type, query)"
                        + " SELECT format('5ec2%s', lpad(to_hex(i), 4, '0')), '" + instance + "', 'SQL', 'SELECT 1'"
                        + " FROM generate_series(0, " + (levels - 1) + ") i",
                "INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('" + node(levels) + "', '"
                        + instance + "', 'SQL', 'DELETE FROM canary')");
    }

    /**
     * Runs the statements as alice in one transaction, then launches the instance; returns the
     * refusal of whichever statement failed, or null if the table privileges stopped the rows
     * being written at all (which blocks the attack earlier still). Everything is rolled back.
     */
    private static SecurityFixture.Refusal handWritten(String instance, List<String> rows) throws SQLException {
        try (Connection c = fx.connect(ALICE)) {
            c.setAutoCommit(false);
            try {
                for (String row : rows) {
                    try (Statement s = c.createStatement()) {
                        s.execute(row);
                    } catch (SQLException e) {
                        if ("42501".equals(e.getSQLState()) && e.getMessage().contains("permission denied for table")) {
                            return null;
                        }
                        return new SecurityFixture.Refusal(ALICE, row, e.getSQLState(),
                                e instanceof PSQLException p && p.getServerErrorMessage() != null
                                        ? p.getServerErrorMessage().getMessage() : e.getMessage());
                    }
                }
                return SecurityFixture.refusal(c, ALICE, "SELECT df._launch('" + instance + "', '{}')");
            } finally {
                c.rollback();
            }
        }
    }

    @Test
    void hand_written_rows_deeper_than_256_levels_are_not_launched() throws SQLException {
        SecurityFixture.Refusal refusal = handWritten("5ec0d001", chainRows("5ec0d001", 300));

        if (refusal != null) {
            refusal.is("22023", "Invalid durable function graph: " + DEPTH_ERROR);
        }
    }

    @Test
    void hand_written_rows_of_more_than_10000_nodes_are_not_launched() throws SQLException {
        SecurityFixture.Refusal refusal = handWritten("5ec0d002", chainRows("5ec0d002", 5001));

        if (refusal != null) {
            refusal.is("22023", "Invalid durable function graph: " + SIZE_ERROR);
        }
    }

    @Test
    void hand_written_rows_of_an_unknown_node_type_are_not_stored() throws SQLException {
        SecurityFixture.Refusal refusal = handWritten("5ec0d003", List.of(
                "INSERT INTO df.instances (id, root_node) VALUES ('5ec0d003', '" + node(0) + "')",
                "INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('" + node(0)
                        + "', '5ec0d003', 'EXEC', 'DELETE FROM canary')"));

        if (refusal != null) {
            refusal.is("23514", "new row for relation \"nodes\" violates check constraint \"nodes_node_type_chk\"");
        }
    }

    @Test
    void hand_written_rows_missing_a_child_are_not_launched() throws SQLException {
        SecurityFixture.Refusal missingColumn = handWritten("5ec0d004", List.of(
                "INSERT INTO df.instances (id, root_node) VALUES ('5ec0d004', '" + node(0) + "')",
                "INSERT INTO df.nodes (id, instance_id, node_type, left_node) VALUES ('" + node(0)
                        + "', '5ec0d004', 'THEN', '" + node(1) + "')"));
        SecurityFixture.Refusal missingRow = handWritten("5ec0d005", List.of(
                "INSERT INTO df.instances (id, root_node) VALUES ('5ec0d005', '" + node(0) + "')",
                "INSERT INTO df.nodes (id, instance_id, node_type, left_node, right_node) VALUES ('" + node(0)
                        + "', '5ec0d005', 'THEN', '" + node(1) + "', '" + node(2) + "')",
                "INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('" + node(1)
                        + "', '5ec0d005', 'SQL', 'DELETE FROM canary')"));

        if (missingColumn != null) {
            missingColumn.is("23514", "new row for relation \"nodes\" violates check constraint \"nodes_structure_chk\"");
        }
        if (missingRow != null) {
            missingRow.is("22023", "Invalid durable function graph: node " + node(0)
                    + ": right_node refers to a node that does not exist: " + node(2));
        }
    }

    @Test
    void hand_written_rows_with_an_invalid_result_name_are_not_stored() throws SQLException {
        SecurityFixture.Refusal refusal = handWritten("5ec0d006", List.of(
                "INSERT INTO df.instances (id, root_node) VALUES ('5ec0d006', '" + node(0) + "')",
                "INSERT INTO df.nodes (id, instance_id, node_type, query, result_name) VALUES ('" + node(0)
                        + "', '5ec0d006', 'SQL', 'DELETE FROM canary', 'x; DROP TABLE canary')"));

        if (refusal != null) {
            refusal.is("23514", "new row for relation \"nodes\" violates check constraint \"nodes_result_name_chk\"");
        }
    }
}
