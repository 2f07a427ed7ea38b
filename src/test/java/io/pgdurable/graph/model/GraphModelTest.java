package io.pgdurable.graph.model;

import static io.pgdurable.graph.sql.SubstitutionTest.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.graph.model.GraphModel.Node;
import io.pgdurable.graph.model.GraphModel.NodeType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;

class GraphModelTest {

    /** Single quotes stand for double quotes, to keep the JSON readable. */
    private static String q(String s) {
        return s.replace('\'', '"');
    }

    private static final String INPUT = q("""
            {'instance_id': 'ab12cd34', 'label': 'nightly', 'database': null, 'role': 'alice', 'role_oid': 16384,
             'root': 'r0', 'vars': {'a': '1', 'gone': null, 'n': 5},
             'extra': {'kept': true},
             'nodes': {
               'r0': {'type': 'THEN', 'query': null, 'result_name': 'all', 'left': 'j1', 'right': 'l1'},
               'j1': {'type': 'JOIN', 'query': '{\\'extra_nodes\\':[\\'s3\\']}', 'left': 's1', 'right': 'x1'},
               's1': {'type': 'SQL', 'query': 'SELECT 1', 'result_name': 'one', 'left': null, 'right': null},
               'x1': {'type': 'RACE', 'left': 's2', 'right': 'h1'},
               's2': {'type': 'SLEEP', 'query': '60'},
               'h1': {'type': 'HTTP', 'query': '{\\'url\\':\\'https://example.com\\'}'},
               's3': {'type': 'SIGNAL', 'query': '{\\'signal_name\\':\\'go\\',\\'timeout_seconds\\':30}'},
               'l1': {'type': 'LOOP', 'query': '{\\'condition_node\\':\\'c1\\'}', 'left': 'i1', 'result_name': 'lr'},
               'c1': {'type': 'SQL', 'query': 'SELECT false'},
               'i1': {'type': 'IF', 'query': '{\\'condition_node\\':\\'c2\\'}', 'left': 'b1', 'right': 'ir'},
               'c2': {'type': 'SQL', 'query': 'SELECT true'},
               'b1': {'type': 'BREAK', 'query': '{\\'break_value\\':\\'{\\\\\\'status\\\\\\': \\\\\\'done\\\\\\'}\\'}'},
               'ir': {'type': 'IF', 'query': '{\\'condition_type\\':\\'result_has_rows\\',\\'result_name\\':\\'one\\'}',
                      'left': 'ws', 'right': 'sg'},
               'ws': {'type': 'WAIT_SCHEDULE', 'query': '{\\'cron_expr\\':\\'*/5 * * * *\\'}'},
               'sg': {'type': 'SIGNAL', 'query': '{\\'signal_name\\':\\'other\\',\\'timeout_seconds\\':null}'}
             }}
            """);

    private static GraphModel model() {
        return GraphModel.parse(INPUT);
    }

    /** The sample with one node replaced. */
    private static GraphModel withNode(String id, String nodeJson) {
        ObjectNode input = (ObjectNode) json(INPUT);
        ((ObjectNode) input.get("nodes")).set(id, json(q(nodeJson)));
        return GraphModel.parse(input);
    }

    private static String minimal(String nodesJson) {
        return q("{'instance_id': 'x', 'root': 'a', 'nodes': " + nodesJson + "}");
    }

    /** Parsing a graph rooted at 'a' with these nodes fails; the assertion is on the failure. */
    private static AbstractThrowableAssert<?, ? extends Throwable> parsing(String nodesJson) {
        return assertThatThrownBy(() -> GraphModel.parse(minimal(nodesJson))).isInstanceOf(GraphException.class);
    }

    @Test
    void instance_fields_and_variables() {
        GraphModel m = model();
        assertThat(m.instanceId()).isEqualTo("ab12cd34");
        assertThat(m.label()).isEqualTo("nightly");
        assertThat(m.database()).isNull();
        assertThat(m.role()).isEqualTo("alice");
        assertThat(m.roleOid()).isEqualTo(16384L);
        assertThat(m.root()).isEqualTo("r0");
        assertThat(m.rootNode().type()).isEqualTo(NodeType.THEN);
        assertThat(m.vars()).containsExactly(Map.entry("a", "1"), Map.entry("n", "5"));
        assertThat(m.nodes()).hasSize(15);
    }

    @Test
    void compound_nodes_and_their_children_in_execution_order() {
        GraphModel m = model();
        assertThat(m.children("r0")).containsExactly("j1", "l1");
        assertThat(m.node("r0").resultName()).isEqualTo("all");
        Node join = m.node("j1");
        assertThat(join.extras()).containsExactly("s3");
        assertThat(join.children()).containsExactly("s1", "x1", "s3");
        assertThat(m.children("x1")).containsExactly("s2", "h1");
        Node loop = m.node("l1");
        assertThat(loop.left()).isEqualTo("i1");
        assertThat(loop.right()).isNull();
        assertThat(loop.condition()).isEqualTo("c1");
        assertThat(loop.children()).containsExactly("i1", "c1");
        Node iff = m.node("i1");
        assertThat(iff.condition()).isEqualTo("c2");
        assertThat(iff.isIfRows()).isFalse();
        assertThat(iff.children()).containsExactly("c2", "b1", "ir");
        Node ifRows = m.node("ir");
        assertThat(ifRows.isIfRows()).isTrue();
        assertThat(ifRows.ifRowsResultName()).isEqualTo("one");
        assertThat(ifRows.condition()).isNull();
        assertThat(ifRows.children()).containsExactly("ws", "sg");
        assertThat(m.children("s1")).isEmpty();
        assertThat(NodeType.LOOP.isCompound()).isTrue();
        assertThat(NodeType.SQL.isCompound()).isFalse();
    }

    @Test
    void leaf_configs() {
        GraphModel m = model();
        assertThat(m.node("s1").query()).isEqualTo("SELECT 1");
        assertThat(m.node("s1").resultName()).isEqualTo("one");
        assertThat(m.node("s2").sleepSeconds()).isEqualTo(60);
        assertThat(m.node("s3").signalName()).isEqualTo("go");
        assertThat(m.node("s3").signalTimeoutSeconds()).isEqualTo(30L);
        assertThat(m.node("sg").signalTimeoutSeconds()).isNull();
        assertThat(m.node("ws").cronExpression()).isEqualTo("*/5 * * * *");
        assertThat(m.node("b1").breakValue()).isEqualTo("{\"status\": \"done\"}");
        assertThat(m.node("b1").breakResult()).isEqualTo(json("{\"status\":\"done\"}"));
        assertThat(m.node("h1").query()).isEqualTo("{\"url\":\"https://example.com\"}");
    }

    @Test
    void break_values_become_json_or_a_json_string_or_null() {
        assertThat(withNode("b1", "{'type':'BREAK','query':'{\\'break_value\\':\\'done\\'}'}").node("b1").breakResult())
                .isEqualTo(json("\"done\""));
        GraphModel nullBreak = withNode("b1", "{'type':'BREAK','query':'{\\'break_value\\':null}'}");
        assertThat(nullBreak.node("b1").breakResult().isNull()).isTrue();
        assertThat(withNode("b1", "{'type':'BREAK','query':'{\\'break_value\\':\\'42\\'}'}").node("b1").breakResult())
                .isEqualTo(json("42"));
    }

    @Test
    void subtree_ids_and_subgraph_input() {
        GraphModel m = model();
        assertThat(m.subtreeIds("l1")).containsExactly("l1", "i1", "c2", "b1", "ir", "ws", "sg", "c1");
        ObjectNode sub = m.subgraph("l1");
        assertThat(sub.get("root").asText()).isEqualTo("l1");
        assertThat(sub.get("instance_id").asText()).isEqualTo("ab12cd34");
        assertThat(sub.get("extra")).isEqualTo(json("{\"kept\":true}"));
        assertThat(sub.get("vars")).isEqualTo(json(INPUT).get("vars"));
        List<String> ids = new ArrayList<>();
        sub.get("nodes").fieldNames().forEachRemaining(ids::add);
        assertThat(ids).containsExactly("l1", "c1", "i1", "c2", "b1", "ir", "ws", "sg");
        assertThat(sub.get("nodes").get("i1")).isEqualTo(json(INPUT).get("nodes").get("i1"));
        GraphModel child = GraphModel.parse(sub);
        assertThat(child.root()).isEqualTo("l1");
        assertThat(child.nodes()).hasSize(8);
        assertThat(m.subgraph("s1").get("nodes").size()).isEqualTo(1);
    }

    @Test
    void the_model_does_not_see_later_changes_to_its_input() {
        ObjectNode input = (ObjectNode) json(INPUT);
        GraphModel m = GraphModel.parse(input);
        ((ObjectNode) input.get("nodes").get("s1")).put("query", "DROP TABLE x");
        input.put("root", "s1");
        assertThat(m.node("s1").query()).isEqualTo("SELECT 1");
        assertThat(m.subgraph("s1").get("nodes").get("s1").get("query").asText()).isEqualTo("SELECT 1");
        assertThat(m.toJson().get("root").asText()).isEqualTo("r0");
    }

    @Test
    void structural_problems_fail_at_parse_naming_the_node() {
        assertThatThrownBy(() -> GraphModel.parse("not json")).isInstanceOf(GraphException.class)
                .hasMessageStartingWith("Invalid graph input: not JSON");
        assertThatThrownBy(() -> GraphModel.parse("[]")).hasMessage("Invalid graph input: expected a JSON object");
        assertThatThrownBy(() -> GraphModel.parse(q("{'nodes': {}}")))
                .hasMessage("Invalid graph input: no root node id");
        assertThatThrownBy(() -> GraphModel.parse(q("{'root': 'a'}")))
                .hasMessage("Invalid graph input: \"nodes\" must be an object of nodes by id");
        parsing("{}").hasMessage("Invalid graph input: root node 'a' is not among the nodes");
        parsing("{'a': {'type': 'FOO', 'query': 'x'}}").hasMessage("Invalid graph: node a has unknown type 'FOO'");
        parsing("{'a': {'query': 'x'}}").hasMessage("Invalid graph: node a has no type");
        parsing("{'a': 5}").hasMessage("Invalid graph: node a must be a JSON object");
        parsing("{'a': {'type': 'THEN', 'left': 'b'}, 'b': {'type':'SQL','query':'x'}}")
                .hasMessage("Invalid graph: THEN node a: has no right child");
        parsing("{'a': {'type': 'THEN', 'left': 'b', 'right': 'zz'}, 'b': {'type':'SQL','query':'x'}}")
                .hasMessage("Invalid graph: node a refers to node 'zz', which does not exist");
        parsing("{'a': {'type': 'SQL', 'query': 'x', 'left': 'b'}}")
                .hasMessage("Invalid graph: SQL node a: must not have a left child");
        parsing("{'a': {'type': 'SQL'}}").hasMessage("Invalid graph: SQL node a: has no query");
        parsing("{'a': {'type': 'LOOP', 'left': 'b', 'right': 'b'}, 'b': {'type':'SQL','query':'x'}}")
                .hasMessage("Invalid graph: LOOP node a: must not have a right child");
        parsing("{'a': {'type': 'SQL', 'query': 1}}")
                .hasMessage("Invalid graph: node a: query must be a string, got 1");
    }

    @Test
    void config_problems_of_compound_nodes_fail_at_parse() {
        String kids = ", 'b': {'type':'SQL','query':'x'}, 'c': {'type':'SQL','query':'y'}}";
        String ifNode = "{'a': {'type': 'IF', 'left': 'b', 'right': 'c', 'query': ";
        parsing("{'a': {'type': 'IF', 'left': 'b', 'right': 'c'}" + kids)
                .hasMessage("Invalid graph: IF node a: has no config");
        parsing(ifNode + "'nope'}" + kids).hasMessageStartingWith("Invalid graph: IF node a: config is not valid JSON");
        parsing(ifNode + "'[]'}" + kids).hasMessage("Invalid graph: IF node a: config must be a JSON object, got []");
        parsing(ifNode + "'{}'}" + kids).hasMessage("Invalid graph: IF node a: config has no condition_node");
        parsing(ifNode + "'{\\'condition_type\\':\\'result_has_rows\\'}'}" + kids)
                .hasMessage("Invalid graph: IF node a: if_rows config has no result_name");
        parsing("{'a': {'type': 'JOIN', 'query': '{\\'extra_nodes\\':\\'c\\'}', 'left': 'b', 'right': 'c'}" + kids)
                .hasMessage("Invalid graph: JOIN node a: extra_nodes must be an array of node ids");
        parsing("{'a': {'type': 'LOOP', 'query': '{\\'condition_node\\':7}', 'left': 'b'}" + kids)
                .hasMessage("Invalid graph: LOOP node a: condition_node must be a node id, got 7");
    }

    @Test
    void a_node_reached_twice_is_refused() {
        String leaf = "'b': {'type':'SQL','query':'x'}}";
        parsing("{'a': {'type': 'THEN', 'left': 'b', 'right': 'b'}, " + leaf).hasMessage(
                "Invalid graph: node b is reached both from node a and from node a; the graph must be a tree");
        parsing("{'a': {'type': 'THEN', 'left': 'b', 'right': 'a'}, " + leaf).hasMessage(
                "Invalid graph: node a is reached both from the root and from node a; the graph must be a tree");
        parsing("{'a': {'type': 'IF', 'query': '{\\'condition_node\\':\\'b\\'}', 'left': 'b', 'right': 'c'},"
                + " 'c': {'type':'SQL','query':'y'}, " + leaf)
                .hasMessageContaining("node b is reached both from node a and from node a");
    }

    @Test
    void bad_leaf_configs_fail_when_the_node_is_used() {
        GraphModel m = withNode("s2", "{'type':'SLEEP','query':'abc'}");
        assertThatThrownBy(() -> m.node("s2").sleepSeconds()).isInstanceOf(GraphException.class)
                .hasMessage("SLEEP node s2: invalid sleep duration 'abc'"
                        + " (expected a whole number of seconds, 0 or more)");
        assertThatThrownBy(() -> withNode("s2", "{'type':'SLEEP','query':'-5'}").node("s2").sleepSeconds())
                .isInstanceOf(GraphException.class);
        assertThat(withNode("s2", "{'type':'SLEEP','query':'+7'}").node("s2").sleepSeconds()).isEqualTo(7);
        assertThatThrownBy(() -> withNode("ws", "{'type':'WAIT_SCHEDULE','query':'{}'}").node("ws").cronExpression())
                .hasMessage("WAIT_SCHEDULE node ws: config has no cron_expr");
        assertThatThrownBy(() -> withNode("ws", "{'type':'WAIT_SCHEDULE','query':'x'}").node("ws").cronExpression())
                .hasMessageStartingWith("WAIT_SCHEDULE node ws: invalid config");
        GraphModel noName = withNode("sg", "{'type':'SIGNAL','query':'{\\'signal_name\\':\\'\\'}'}");
        assertThatThrownBy(() -> noName.node("sg").signalName())
                .hasMessage("SIGNAL node sg: config has no signal_name");
        GraphModel zero = withNode("sg",
                "{'type':'SIGNAL','query':'{\\'signal_name\\':\\'s\\',\\'timeout_seconds\\':0}'}");
        assertThatThrownBy(() -> zero.node("sg").signalTimeoutSeconds())
                .hasMessage("SIGNAL node sg: timeout_seconds must be a positive whole number, got 0");
    }

    @Test
    void asking_a_node_for_another_types_config_is_a_programming_error() {
        assertThatThrownBy(() -> model().node("s1").sleepSeconds()).isInstanceOf(IllegalStateException.class)
                .hasMessage("node s1 is a SQL node, not SLEEP");
        assertThatThrownBy(() -> model().node("nope")).isInstanceOf(GraphException.class)
                .hasMessage("Unknown node id 'nope'");
    }
}
