package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What monitoring shows for instances a real worker finished: df.instance_nodes' stored and
 * inferred statuses (an untaken IF arm and a RACE loser are skipped) and df.explain of the live
 * instance with its status markers.
 */
class DfNodeStatusTest {
    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_node_status");
        runs = new WorkflowRuns(env);
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    /** One instance_nodes row: what the node is and what is known about it. */
    private record NodeRow(String id, String type, String query, String status, String inferred, String from) {
        @Override
        public String toString() {
            return type + " " + query + " " + status + "/" + inferred + (from == null ? "" : " from " + from);
        }
    }

    private static List<NodeRow> nodeRows(String id) throws SQLException {
        List<NodeRow> rows = new ArrayList<>();
        try (Connection c = env.connectAsApp();
             PreparedStatement ps = c.prepareStatement("""
                     SELECT node_id, node_type, query, status, inferred_status, inferred_status_from_ancestor_id
                       FROM df.instance_nodes(?)
                     """)) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new NodeRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getString(5), rs.getString(6)));
                }
            }
        }
        return rows;
    }

    private static NodeRow byQuery(List<NodeRow> rows, String query) {
        return rows.stream().filter(r -> query.equals(r.query())).findFirst()
                .orElseThrow(() -> new AssertionError("no node " + query + " in " + rows));
    }

    private static NodeRow byType(List<NodeRow> rows, String type) {
        return rows.stream().filter(r -> type.equals(r.type())).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type + " node in " + rows));
    }

    @Test
    void the_untaken_if_arm_of_a_finished_workflow_is_inferred_skipped_by_its_if() throws SQLException {
        String id = runs.start("(" + step("SELECT true") + " ?> " + step("SELECT 'yes'") + " !> " + step("SELECT 'no'") + ")");
        runs.assertCompleted(id);

        List<NodeRow> rows = nodeRows(id);
        NodeRow ifNode = byType(rows, "IF");
        assertThat(rows).hasSize(4);
        assertThat(rows.get(0)).as("rows start at the root").isEqualTo(ifNode);
        assertThat(ifNode.status()).isEqualTo("completed");
        assertThat(ifNode.inferred()).isEqualTo("completed");
        assertThat(byQuery(rows, "SELECT true").inferred()).isEqualTo("completed");
        assertThat(byQuery(rows, "SELECT 'yes'").inferred()).isEqualTo("completed");
        NodeRow untaken = byQuery(rows, "SELECT 'no'");
        assertThat(untaken.status()).isEqualTo("pending");
        assertThat(untaken.inferred()).isEqualTo("skipped");
        assertThat(untaken.from()).isEqualTo(ifNode.id());
    }

    @Test
    void a_race_loser_is_inferred_skipped_and_the_winner_completed() throws SQLException {
        String id = runs.start("df.sleep(30) | (" + step("SELECT 'a'") + " ~> " + step("SELECT 'b'") + ")");
        runs.assertCompleted(id);

        List<NodeRow> rows = nodeRows(id);
        NodeRow race = byType(rows, "RACE");
        assertThat(race.inferred()).isEqualTo("completed");
        assertThat(byType(rows, "THEN").inferred()).isEqualTo("completed");
        assertThat(byQuery(rows, "SELECT 'b'").inferred()).isEqualTo("completed");
        NodeRow loser = byType(rows, "SLEEP");
        assertThat(loser.inferred()).isEqualTo("skipped");
        assertThat(loser.from()).isEqualTo(race.id());
    }

    @Test
    void a_loop_that_loses_a_race_is_recorded_failed_with_the_reason() throws SQLException {
        String id = runs.start("df.\"loop\"(df.sleep(30)) | " + step("SELECT 'fast'"));
        runs.assertCompleted(id);

        String loop = runs.nodeId(id, "LOOP");
        assertThat(env.queryAsApp("SELECT status || ' ' || (result #>> '{}') FROM df.nodes WHERE instance_id = ? AND id = ?",
                id, loop)).isEqualTo("failed Loop branch cancelled after losing RACE");
        assertThat(byType(nodeRows(id), "RACE").status()).isEqualTo("completed");
    }

    @Test
    void a_losing_branch_that_is_not_a_loop_keeps_its_status_and_is_inferred_skipped() throws SQLException {
        String id = runs.start("df.sleep(30) | " + step("SELECT 'fast'"));
        runs.assertCompleted(id);

        NodeRow loser = byType(nodeRows(id), "SLEEP");
        assertThat(loser.status()).isIn("running", "pending");
        assertThat(loser.inferred()).isEqualTo("skipped");
    }

    @Test
    void the_right_side_of_a_failed_then_is_inferred_skipped() throws SQLException {
        String id = runs.start(step("SELECT 1/0") + " ~> " + step("SELECT 'never'"));
        runs.assertFailed(id);

        List<NodeRow> rows = nodeRows(id);
        assertThat(byType(rows, "THEN").inferred()).isEqualTo("failed");
        assertThat(byQuery(rows, "SELECT 1/0").inferred()).isEqualTo("failed");
        assertThat(byQuery(rows, "SELECT 'never'").inferred()).isEqualTo("skipped");
    }

    @Test
    void a_finished_loop_leaves_no_node_inferred_pending_or_running() throws SQLException {
        // Two iterations: the first takes the else arm, the second breaks in the then arm, so
        // each arm last ran in a different generation.
        env.exec("CREATE TABLE IF NOT EXISTS loop_ticks (n serial); GRANT ALL ON loop_ticks, loop_ticks_n_seq TO "
                + env.role());
        String body = step("INSERT INTO loop_ticks DEFAULT VALUES") + " ~> (" + step("SELECT count(*) >= 2 FROM loop_ticks")
                + " ?> df.\"break\"('done') !> " + step("SELECT 'again'") + ")";
        String rootLoop = runs.start("@> (" + body + ")");
        runs.assertCompleted(rootLoop);
        env.exec("TRUNCATE loop_ticks");
        String childLoop = runs.start(step("SELECT 'before'") + " ~> df.\"loop\"(" + body + ") ~> " + step("SELECT 'after'"));
        runs.assertCompleted(childLoop);

        for (String id : List.of(rootLoop, childLoop)) {
            List<NodeRow> rows = nodeRows(id);
            assertThat(rows).as("nodes of %s", id).allSatisfy(r -> assertThat(r.inferred()).isIn("completed", "skipped"));
            assertThat(byType(rows, "LOOP").inferred()).isEqualTo("completed");
            assertThat(byType(rows, "BREAK").inferred()).isEqualTo("completed");
            assertThat(env.queryAsApp("SELECT df.explain(?)", id)).doesNotContain("⏳", "○");
        }
    }

    @Test
    void explain_of_a_finished_instance_shows_its_status_and_a_marker_on_every_node() {
        String id = runs.start("(" + step("SELECT 1 AS one") + " |=> 'one') ~> (" + step("SELECT $one = 1") + " ?> ("
                + step("SELECT 'left'") + " & " + step("SELECT 'right'") + ") !> " + step("SELECT 'else'") + ")"
                + ", 'explained'");
        runs.assertCompleted(id);

        String explain = env.queryAsApp("SELECT df.explain(?)", id);
        List<String> lines = explain.lines().map(String::stripTrailing).toList();
        assertThat(lines.get(0)).isEqualTo("Instance: " + id + " (explained)");
        assertThat(lines.get(1)).isEqualTo("Status:   ✓ Completed");
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("SELECT 'left'").endsWith("✓"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("SELECT 'right'").endsWith("✓"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("SELECT 'else'").endsWith("⊘"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("JOIN").endsWith("✓"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("IF").endsWith("✓"));
        assertThat(lines).noneSatisfy(l -> assertThat(l).endsWith("⏳"));
        assertThat(lines).noneSatisfy(l -> assertThat(l).endsWith("○"));
    }

    @Test
    void explain_of_a_failed_instance_marks_the_failed_step_and_skips_the_rest() {
        String id = runs.start(step("SELECT 'ok'") + " ~> " + step("SELECT 1/0") + " ~> " + step("SELECT 'never'"));
        runs.assertFailed(id);

        String explain = env.queryAsApp("SELECT df.explain(?)", id);
        List<String> lines = explain.lines().map(String::stripTrailing).toList();
        assertThat(lines.get(1)).isEqualTo("Status:   ✗ Failed");
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("SELECT 'ok'").endsWith("✓"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("SELECT 1/0").endsWith("✗"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("SELECT 'never'").endsWith("⊘"));
    }
}
