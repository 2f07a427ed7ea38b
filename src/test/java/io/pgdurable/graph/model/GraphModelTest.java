package io.pgdurable.graph.model;

import static io.pgdurable.graph.sql.SubstitutionTest.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.graph.model.GraphModel.BreakNode;
import io.pgdurable.graph.model.GraphModel.ConditionNode;
import io.pgdurable.graph.model.GraphModel.HttpMultipartNode;
import io.pgdurable.graph.model.GraphModel.HttpNode;
import io.pgdurable.graph.model.GraphModel.IfNode;
import io.pgdurable.graph.model.GraphModel.InvalidNode;
import io.pgdurable.graph.model.GraphModel.JoinNode;
import io.pgdurable.graph.model.GraphModel.LoopNode;
import io.pgdurable.graph.model.GraphModel.Node;
import io.pgdurable.graph.model.GraphModel.NodeType;
import io.pgdurable.graph.model.GraphModel.RaceNode;
import io.pgdurable.graph.model.GraphModel.ResultHasRows;
import io.pgdurable.graph.model.GraphModel.SignalNode;
import io.pgdurable.graph.model.GraphModel.SleepNode;
import io.pgdurable.graph.model.GraphModel.SqlNode;
import io.pgdurable.graph.model.GraphModel.ThenNode;
import io.pgdurable.graph.model.GraphModel.WaitScheduleNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    /** Node {@code id} of the model, which must be a {@code type} record. */
    private static <T extends Node> T node(GraphModel m, String id, Class<T> type) {
        Node n = m.node(id);
        assertThat(n).isInstanceOf(type);
        return type.cast(n);
    }

    /** The problem of node {@code id} of the model, which must be an {@link InvalidNode}. */
    private static String problemOf(GraphModel m, String id) {
        return node(m, id, InvalidNode.class).problem();
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
        assertThat(m.rootNode()).isInstanceOf(ThenNode.class);
        assertThat(m.rootNode().type()).isEqualTo(NodeType.THEN);
        assertThat(m.vars()).containsExactly(Map.entry("a", "1"), Map.entry("n", "5"));
        assertThat(m.nodes()).hasSize(15);
    }

    @Test
    void compound_nodes_and_their_children_in_execution_order() {
        GraphModel m = model();
        assertThat(m.children("r0")).containsExactly("j1", "l1");
        assertThat(m.node("r0")).isEqualTo(new ThenNode("r0", "all", "j1", "l1"));
        JoinNode join = node(m, "j1", JoinNode.class);
        assertThat(join.branches()).containsExactly("s1", "x1", "s3");
        assertThat(join.children()).containsExactly("s1", "x1", "s3");
        assertThat(m.node("x1")).isEqualTo(new RaceNode("x1", null, "s2", "h1"));
        assertThat(m.children("x1")).containsExactly("s2", "h1");
        LoopNode loop = node(m, "l1", LoopNode.class);
        assertThat(loop).isEqualTo(new LoopNode("l1", "lr", "i1", "c1"));
        assertThat(loop.children()).containsExactly("i1", "c1");
        IfNode iff = node(m, "i1", IfNode.class);
        assertThat(iff).isEqualTo(new IfNode("i1", null, new ConditionNode("c2"), "b1", "ir"));
        assertThat(iff.children()).containsExactly("c2", "b1", "ir");
        IfNode ifRows = node(m, "ir", IfNode.class);
        assertThat(ifRows).isEqualTo(new IfNode("ir", null, new ResultHasRows("one"), "ws", "sg"));
        assertThat(ifRows.children()).containsExactly("ws", "sg");
        assertThat(m.children("s1")).isEmpty();
        assertThat(NodeType.LOOP.isCompound()).isTrue();
        assertThat(NodeType.SQL.isCompound()).isFalse();
    }

    @Test
    void leaf_configs() {
        GraphModel m = model();
        assertThat(m.node("s1")).isEqualTo(new SqlNode("s1", "one", "SELECT 1"));
        assertThat(m.node("s2")).isEqualTo(new SleepNode("s2", null, 60));
        assertThat(m.node("s3")).isEqualTo(new SignalNode("s3", null, "go", 30L));
        assertThat(m.node("sg")).isEqualTo(new SignalNode("sg", null, "other", null));
        assertThat(m.node("ws")).isEqualTo(new WaitScheduleNode("ws", null, "*/5 * * * *"));
        BreakNode brk = node(m, "b1", BreakNode.class);
        assertThat(brk.value()).isEqualTo("{\"status\": \"done\"}");
        assertThat(brk.result()).isEqualTo(json("{\"status\":\"done\"}"));
        assertThat(m.node("h1")).isEqualTo(new HttpNode("h1", null, "{\"url\":\"https://example.com\"}"));
    }

    @Test
    void break_values_become_json_or_a_json_string_or_null() {
        assertThat(breakResult("{'type':'BREAK','query':'{\\'break_value\\':\\'done\\'}'}"))
                .isEqualTo(json("\"done\""));
        assertThat(breakResult("{'type':'BREAK','query':'{\\'break_value\\':null}'}").isNull()).isTrue();
        assertThat(breakResult("{'type':'BREAK'}").isNull()).isTrue();
        assertThat(breakResult("{'type':'BREAK','query':'not json'}").isNull()).isTrue();
        assertThat(breakResult("{'type':'BREAK','query':'{\\'break_value\\':\\'42\\'}'}"))
                .isEqualTo(json("42"));
    }

    private static JsonNode breakResult(String nodeJson) {
        return node(withNode("b1", nodeJson), "b1", BreakNode.class).result();
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
        assertThat(node(m, "s1", SqlNode.class).query()).isEqualTo("SELECT 1");
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
    void bad_leaf_configs_load_as_invalid_nodes_that_carry_the_problem() {
        GraphModel m = withNode("s2", "{'type':'SLEEP','query':'abc','result_name':'zz'}");
        assertThat(m.node("s2")).isEqualTo(new InvalidNode("s2", NodeType.SLEEP, "zz", "SLEEP node s2:"
                + " invalid sleep duration 'abc' (expected a whole number of seconds, 0 or more)"));
        assertThat(m.node("s2").children()).isEmpty();
        assertThat(problemOf(withNode("s2", "{'type':'SLEEP'}"), "s2")).isEqualTo("SLEEP node s2 has no duration");
        assertThat(problemOf(withNode("s2", "{'type':'SLEEP','query':'-5'}"), "s2"))
                .startsWith("SLEEP node s2: invalid sleep duration '-5'");
        assertThat(problemOf(withNode("s2", "{'type':'SLEEP','query':'1234567890123456789'}"), "s2"))
                .startsWith("SLEEP node s2: invalid sleep duration");
        assertThat(withNode("s2", "{'type':'SLEEP','query':' +7 '}").node("s2")).isEqualTo(new SleepNode("s2", null, 7));
        assertThat(problemOf(withNode("ws", "{'type':'WAIT_SCHEDULE','query':'{}'}"), "ws"))
                .isEqualTo("WAIT_SCHEDULE node ws: config has no cron_expr");
        assertThat(problemOf(withNode("ws", "{'type':'WAIT_SCHEDULE','query':'x'}"), "ws"))
                .startsWith("WAIT_SCHEDULE node ws: invalid config: ");
        assertThat(problemOf(withNode("ws", "{'type':'WAIT_SCHEDULE','query':'[1]'}"), "ws"))
                .isEqualTo("WAIT_SCHEDULE node ws: config must be a JSON object, got [1]");
        assertThat(problemOf(withNode("ws", "{'type':'WAIT_SCHEDULE'}"), "ws"))
                .isEqualTo("WAIT_SCHEDULE node ws has no config");
        assertThat(node(withNode("sg", "{'type':'SIGNAL','query':'{\\'signal_name\\':\\'\\'}'}"), "sg",
                InvalidNode.class)).isEqualTo(new InvalidNode("sg", NodeType.SIGNAL, null,
                "SIGNAL node sg: config has no signal_name"));
        assertThat(problemOf(withNode("sg",
                "{'type':'SIGNAL','query':'{\\'signal_name\\':\\'s\\',\\'timeout_seconds\\':0}'}"), "sg"))
                .isEqualTo("SIGNAL node sg: timeout_seconds must be a positive whole number, got 0");
        assertThat(problemOf(withNode("sg",
                "{'type':'SIGNAL','query':'{\\'signal_name\\':\\'s\\',\\'timeout_seconds\\':1.5}'}"), "sg"))
                .isEqualTo("SIGNAL node sg: timeout_seconds must be a positive whole number, got 1.5");
        assertThat(problemOf(withNode("sg", "{'type':'SIGNAL'}"), "sg")).isEqualTo("SIGNAL node sg has no config");
    }

    @Test
    void every_node_type_parses_to_its_own_record() {
        String nodes = q("""
                {'a': {'type': 'THEN', 'left': 'b', 'right': 'c'},
                 'b': {'type': 'SQL', 'query': 'SELECT 1', 'result_name': 'r'},
                 'c': {'type': 'JOIN', 'left': 'd', 'right': 'e'},
                 'd': {'type': 'HTTP_MULTIPART', 'query': '{}'},
                 'e': {'type': 'SLEEP', 'query': 'soon'}}
                """);
        GraphModel m = GraphModel.parse(minimal(nodes));
        assertThat(m.node("c")).isEqualTo(new JoinNode("c", null, List.of("d", "e")));
        assertThat(m.node("d")).isEqualTo(new HttpMultipartNode("d", null, "{}"));
        assertThat(m.node("e")).isInstanceOf(InvalidNode.class);

        Map<NodeType, Class<?>> recordOf = new EnumMap<>(NodeType.class);
        for (GraphModel g : List.of(model(), m)) {
            for (Node n : g.nodes().values()) {
                if (!(n instanceof InvalidNode)) {
                    assertThat(recordOf.putIfAbsent(n.type(), n.getClass())).as(n.type().name())
                            .isIn(null, n.getClass());
                }
            }
        }
        assertThat(recordOf.keySet()).as("every type is parsed in these graphs").containsExactlyInAnyOrder(NodeType.values());
        Set<Class<?>> records = new HashSet<>(recordOf.values());
        records.add(InvalidNode.class);
        assertThat(records).as("every record is built by the parser, one per type")
                .hasSize(NodeType.values().length + 1)
                .containsExactlyInAnyOrderElementsOf(Arrays.asList(Node.class.getPermittedSubclasses()));
    }

    @Test
    void asking_for_a_node_that_does_not_exist_fails() {
        assertThatThrownBy(() -> model().node("nope")).isInstanceOf(GraphException.class)
                .hasMessage("Unknown node id 'nope'");
    }
}
