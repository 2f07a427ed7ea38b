package io.pgdurable.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The flow chart drawn from df's tree of nodes. */
class FlowGraphTest {

    private static FlowGraph.Node step(String id, String query, String status) {
        return new FlowGraph.Node(id, "SQL", query, null, null, null, status);
    }

    private static FlowGraph.Node node(String id, String type, String query, String left, String right) {
        return new FlowGraph.Node(id, type, query, null, left, right, "pending");
    }

    private static List<String> edges(ObjectNode g) {
        List<String> out = new ArrayList<>();
        for (JsonNode e : g.path("edges")) {
            String label = e.path("label").asText();
            out.add(e.path("from").asText() + "->" + e.path("to").asText() + (label.isEmpty() ? "" : " " + label));
        }
        return out;
    }

    private static Map<String, String> kinds(ObjectNode g) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (JsonNode v : g.path("vertices")) {
            out.put(v.path("id").asText(), v.path("kind").asText());
        }
        return out;
    }

    @Test
    void a_sequence_runs_its_steps_in_order_between_start_and_end() {
        ObjectNode g = FlowGraph.of("t1", List.of(
                node("t1", "THEN", null, "a", "t2"),
                node("t2", "THEN", null, "b", "c"),
                step("a", "SELECT 1", "completed"), step("b", "SELECT 2", "running"), step("c", "SELECT 3", "pending")),
                "running", Map.of());
        assertThat(edges(g)).containsExactlyInAnyOrder("start->a", "a->b", "b->c", "c->end");
        assertThat(kinds(g)).doesNotContainKeys("t1", "t2");
        assertThat(g.path("vertices").findValuesAsText("status")).containsExactly(
                "completed", "completed", "running", "pending", "pending");
    }

    @Test
    void an_if_follows_its_condition_and_branches_true_and_false() {
        ObjectNode g = FlowGraph.of("i", List.of(
                node("i", "IF", "{\"condition_node\":\"c\"}", "y", "n"),
                step("c", "SELECT true", "completed"), step("y", "SELECT 'yes'", "pending"),
                step("n", "SELECT 'no'", "skipped")), "running", Map.of());
        assertThat(edges(g)).containsExactlyInAnyOrder("start->c", "c->i", "i->y true", "i->n false", "y->end", "n->end");
        assertThat(kinds(g)).containsEntry("i", "IF");
    }

    @Test
    void if_rows_names_the_result_it_looks_at() {
        ObjectNode g = FlowGraph.of("i", List.of(
                node("i", "IF", "{\"condition_type\":\"result_has_rows\",\"result_name\":\"hits\"}", "y", "n"),
                step("y", "SELECT 1", "pending"), step("n", "SELECT 2", "pending")), "running", Map.of());
        assertThat(edges(g)).contains("start->i", "i->y true", "i->n false");
        assertThat(g.path("vertices").get(1).path("label").asText()).isEqualTo("if rows in hits");
    }

    @Test
    void a_join_forks_into_every_branch_and_merges_them() {
        ObjectNode g = FlowGraph.of("j", List.of(
                node("j", "JOIN", "{\"extra_nodes\":[\"c\"]}", "a", "b"),
                step("a", "SELECT 1", "completed"), step("b", "SELECT 2", "completed"), step("c", "SELECT 3", "running")),
                "running", Map.of());
        assertThat(edges(g)).containsExactlyInAnyOrder("start->j", "j->a branch 1", "j->b branch 2", "j->c branch 3",
                "a->j:end", "b->j:end", "c->j:end", "j:end->end");
        assertThat(kinds(g)).containsEntry("j", "JOIN").containsEntry("j:end", "JOIN_END");
    }

    @Test
    void a_race_has_two_branches_and_a_first_done_merge() {
        ObjectNode g = FlowGraph.of("r", List.of(node("r", "RACE", null, "a", "b"),
                step("a", "SELECT 1", "completed"), step("b", "SELECT 2", "skipped")), "completed", Map.of());
        assertThat(edges(g)).contains("r->a branch 1", "r->b branch 2", "r:end->end");
        assertThat(kinds(g)).containsEntry("r:end", "RACE_END");
        assertThat(g.path("vertices").findValuesAsText("status")).endsWith("completed");
    }

    @Test
    void a_loop_returns_from_its_body_and_shows_its_iteration() {
        ObjectNode g = FlowGraph.of("l", List.of(
                new FlowGraph.Node("l", "LOOP", null, null, "b", null, "running"),
                step("b", "SELECT 1", "running")), "running", Map.of("l", 4));
        assertThat(edges(g)).containsExactlyInAnyOrder("start->l", "l->b", "b->l repeat", "l->end");
        assertThat(g.path("vertices").get(1).path("label").asText()).isEqualTo("loop (iteration 4)");
    }

    @Test
    void step_labels_say_what_the_step_does_and_are_bounded() {
        assertThat(FlowGraph.stepLabel(new FlowGraph.Node("s", "SIGNAL", "{\"signal_name\":\"approve\"}", null, null,
                null, "running"))).isEqualTo("wait for signal approve");
        assertThat(FlowGraph.stepLabel(new FlowGraph.Node("s", "SQL", "SELECT\n  7 AS n", "n", null, null, "pending"))).isEqualTo("n := SELECT 7 AS n");
        assertThat(FlowGraph.stepLabel(new FlowGraph.Node("s", "WAIT_SCHEDULE", "{\"cron_expr\":\"0 * * * *\"}", null,
                null, null, "pending"))).isEqualTo("wait for schedule 0 * * * *");
        assertThat(FlowGraph.stepLabel(step("s", "SELECT '" + "x".repeat(500) + "'", "pending")))
                .hasSize(FlowGraph.MAX_LABEL + 1).endsWith("…");
    }

    @Test
    void a_hand_made_cycle_or_missing_node_is_drawn_without_looping_forever() {
        ObjectNode cyclic = FlowGraph.of("t", List.of(node("t", "THEN", null, "a", "t"), step("a", "SELECT 1", "pending")),
                "running", Map.of());
        assertThat(kinds(cyclic)).containsKey("cut:t");
        ObjectNode missing = FlowGraph.of("t", List.of(node("t", "THEN", null, "a", "gone")), "running", Map.of());
        assertThat(kinds(missing)).containsKeys("missing:a", "missing:gone");
    }

    @Test
    void long_sequences_nested_either_way_are_drawn_whole_in_order() {
        int steps = 10_000;
        List<FlowGraph.Node> right = new ArrayList<>();
        List<FlowGraph.Node> left = new ArrayList<>();
        for (int k = 0; k < steps - 1; k++) {
            // right-nested: THEN(s0, THEN(s1, ...)); left-nested, as a ~> b ~> c parses: THEN(THEN(s0, s1), s2)
            right.add(node("t" + k, "THEN", null, "s" + k, k == steps - 2 ? "s" + (k + 1) : "t" + (k + 1)));
            left.add(node("t" + k, "THEN", null, k == 0 ? "s0" : "t" + (k - 1), "s" + (k + 1)));
        }
        for (int k = 0; k < steps; k++) {
            right.add(step("s" + k, "SELECT " + k, "pending"));
            left.add(step("s" + k, "SELECT " + k, "pending"));
        }
        for (ObjectNode g : List.of(FlowGraph.of("t0", right, "running", Map.of()), FlowGraph.of("t" + (steps - 2), left, "running", Map.of()))) {
            assertThat(g.path("vertices")).hasSize(steps + 2);
            assertThat(edges(g)).contains("start->s0", "s0->s1", "s4999->s5000", "s" + (steps - 1) + "->end");
        }
    }

    @Test
    void deep_nesting_of_other_kinds_is_cut_instead_of_exhausting_the_stack() {
        List<FlowGraph.Node> nodes = new ArrayList<>();
        int depth = FlowGraph.MAX_DEPTH + 50;
        for (int k = 0; k < depth; k++) {
            nodes.add(new FlowGraph.Node("l" + k, "LOOP", null, null, "l" + (k + 1), null, "pending"));
        }
        nodes.add(step("l" + depth, "SELECT 1", "pending"));
        ObjectNode g = FlowGraph.of("l0", nodes, "running", Map.of());
        assertThat(g.path("vertices").findValuesAsText("label")).contains("(nested too deeply to draw)");
    }
}
