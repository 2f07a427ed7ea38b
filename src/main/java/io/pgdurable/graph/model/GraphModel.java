package io.pgdurable.graph.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.JsonLimitException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The orchestration input of a df instance, parsed: the instance's identity, its variables and its
 * graph of nodes by id.
 *
 * <p>The input is built by {@code df._launch} from {@code df.instances} and {@code df.nodes}:
 * <pre>
 * {"instance_id": "ab12cd34", "label": "nightly"|null, "database": "appdb"|null, "role": "alice",
 *  "role_oid": 16384, "root": "&lt;id&gt;", "vars": {"name": "value"},
 *  "nodes": {"&lt;id&gt;": {"type": "SQL", "query": ..., "result_name": ..., "left": ..., "right": ...}}}
 * </pre>
 * IF and LOOP keep their condition node in {@code query} as {@code {"condition_node":"<id>"}},
 * JOIN its extra branches as {@code {"extra_nodes":["<id>", ...]}}, {@code df.if_rows} its config
 * as {@code {"condition_type":"result_has_rows","result_name":"<n>"}}.
 *
 * <p>Each node becomes the {@link Node} record of its type ({@link SqlNode}, {@link IfNode}, ...).
 * {@link #parse} checks the structure and fails with a {@link GraphException} naming the node:
 * unknown type, missing or unexpected children, references to nodes that do not exist, a node
 * reachable along two paths (the graph must be a tree), an unreadable IF/LOOP/JOIN config. The
 * leaf configs (SLEEP seconds, WAIT_SCHEDULE cron, SIGNAL name and timeout) are checked here too,
 * but a bad one does not fail the parse: the node becomes an {@link InvalidNode} carrying the
 * problem, so the node itself fails when it runs, as in the original.
 */
public final class GraphModel {

    /** The node types of the graph JSON. */
    public enum NodeType {
        SQL, THEN, IF, JOIN, RACE, LOOP, BREAK, SLEEP, WAIT_SCHEDULE, SIGNAL, HTTP, HTTP_MULTIPART;

        /** True for the types that run other nodes. */
        public boolean isCompound() {
            return this == THEN || this == IF || this == JOIN || this == RACE || this == LOOP;
        }
    }

    static final ObjectMapper JSON = JsonCodec.mapper();

    private final ObjectNode input;
    private final String instanceId;
    private final String label;
    private final String database;
    private final String role;
    private final Long roleOid;
    private final String root;
    private final Map<String, String> vars;
    private final Map<String, Node> nodes;

    private GraphModel(ObjectNode input) {
        this.input = input;
        this.instanceId = optionalText(input, "instance_id");
        this.label = optionalText(input, "label");
        this.database = optionalText(input, "database");
        this.role = optionalText(input, "role");
        JsonNode oid = input.get("role_oid");
        if (oid != null && !oid.isNull() && !oid.canConvertToLong()) {
            throw new GraphException("Invalid graph input: role_oid must be an integer, got " + oid);
        }
        this.roleOid = oid == null || oid.isNull() ? null : oid.longValue();
        this.root = optionalText(input, "root");
        if (root == null) {
            throw new GraphException("Invalid graph input: no root node id");
        }
        this.vars = parseVars(input.get("vars"));
        JsonNode nodesJson = input.get("nodes");
        if (nodesJson == null || !nodesJson.isObject()) {
            throw new GraphException("Invalid graph input: \"nodes\" must be an object of nodes by id");
        }
        Map<String, Node> parsed = new LinkedHashMap<>();
        nodesJson.fields().forEachRemaining(e -> parsed.put(e.getKey(), NodeParser.parse(e.getKey(), e.getValue())));
        this.nodes = Collections.unmodifiableMap(parsed);
        checkTree();
    }

    /** Parses the orchestration input JSON text. */
    public static GraphModel parse(String json) {
        Objects.requireNonNull(json, "json");
        try {
            return parseUnchanging(JSON.readTree(json));
        } catch (JsonProcessingException e) {
            throw new GraphException("Invalid graph input: not JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Parses the orchestration input; the node is copied, later changes to it do not show. */
    public static GraphModel parse(JsonNode json) {
        return parseUnchanging(json == null ? null : json.deepCopy());
    }

    /**
     * Parses the orchestration input without copying it: for a tree the caller has just read and
     * never changes while the model lives (a whole graph's input is copied once per instance
     * otherwise, which was a visible part of a first turn's cost).
     */
    public static GraphModel parseUnchanging(JsonNode json) {
        if (json == null || !json.isObject()) {
            throw new GraphException("Invalid graph input: expected a JSON object");
        }
        return new GraphModel((ObjectNode) json);
    }

    /** The df instance id, or null if the input has none. */
    public String instanceId() {
        return instanceId;
    }

    /** The instance label, or null. */
    public String label() {
        return label;
    }

    /** The database steps run in, or null for the control database. */
    public String database() {
        return database;
    }

    /** The submitting role's name at start. */
    public String role() {
        return role;
    }

    /** The submitting role's OID at start, or null if the input has none. */
    public Long roleOid() {
        return roleOid;
    }

    /** The root node's id. */
    public String root() {
        return root;
    }

    /** The user variables snapshotted at start (read-only). */
    public Map<String, String> vars() {
        return vars;
    }

    /** Every node by id, in input order (read-only). */
    public Map<String, Node> nodes() {
        return nodes;
    }

    /** The node with this id. */
    public Node node(String id) {
        Node n = nodes.get(id);
        if (n == null) {
            throw new GraphException("Unknown node id '" + id + "'");
        }
        return n;
    }

    /** The root node. */
    public Node rootNode() {
        return node(root);
    }

    /** The ids of the nodes {@code id} runs, in execution order (see {@link Node#children()}). */
    public List<String> children(String id) {
        return node(id).children();
    }

    /** The ids of the subtree under {@code rootId}, that node first, depth first in execution order. */
    public List<String> subtreeIds(String rootId) {
        node(rootId);
        List<String> out = new ArrayList<>();
        Deque<String> stack = new ArrayDeque<>();
        stack.push(rootId);
        while (!stack.isEmpty()) {
            String id = stack.pop();
            out.add(id);
            List<String> kids = nodes.get(id).children();
            for (int k = kids.size() - 1; k >= 0; k--) {
                stack.push(kids.get(k));
            }
        }
        return out;
    }

    /**
     * The input for a child orchestration that runs the subtree under {@code rootId}: this input
     * with {@code root} set to {@code rootId} and {@code nodes} holding only that subtree's nodes
     * (in their input order); every other field is kept.
     */
    public ObjectNode subgraph(String rootId) {
        Set<String> keep = new HashSet<>(subtreeIds(rootId));
        ObjectNode out = input.deepCopy();
        out.put("root", rootId);
        ObjectNode kept = out.putObject("nodes");
        input.get("nodes").fields().forEachRemaining(e -> {
            if (keep.contains(e.getKey())) {
                kept.set(e.getKey(), e.getValue().deepCopy());
            }
        });
        return out;
    }

    /** A copy of the input this model was parsed from. */
    public ObjectNode toJson() {
        return input.deepCopy();
    }

    private void checkTree() {
        if (!nodes.containsKey(root)) {
            throw new GraphException("Invalid graph input: root node '" + root + "' is not among the nodes");
        }
        Map<String, String> parentOf = new LinkedHashMap<>();
        parentOf.put(root, null);
        Deque<String> stack = new ArrayDeque<>();
        stack.push(root);
        while (!stack.isEmpty()) {
            String id = stack.pop();
            for (String child : nodes.get(id).children()) {
                if (!nodes.containsKey(child)) {
                    throw new GraphException("Invalid graph: node " + id + " refers to node '" + child
                            + "', which does not exist");
                }
                if (parentOf.containsKey(child)) {
                    throw new GraphException("Invalid graph: node " + child + " is reached both from "
                            + (parentOf.get(child) == null ? "the root" : "node " + parentOf.get(child))
                            + " and from node " + id + "; the graph must be a tree");
                }
                parentOf.put(child, id);
                stack.push(child);
            }
        }
    }

    private static String optionalText(JsonNode obj, String field) {
        JsonNode v = obj.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new GraphException("Invalid graph input: " + field + " must be a string, got " + v);
        }
        return v.textValue();
    }

    private static Map<String, String> parseVars(JsonNode json) {
        if (json == null || json.isNull()) {
            return Map.of();
        }
        if (!json.isObject()) {
            throw new GraphException("Invalid graph input: \"vars\" must be an object of names to text values");
        }
        Map<String, String> out = new LinkedHashMap<>();
        json.fields().forEachRemaining(e -> {
            JsonNode v = e.getValue();
            if (v.isNull()) {
                return;
            }
            if (v.isContainerNode()) {
                throw new GraphException("Invalid graph input: variable '" + e.getKey() + "' must be text, got " + v);
            }
            out.put(e.getKey(), v.asText());
        });
        return Collections.unmodifiableMap(out);
    }

    /**
     * One node of the graph: a record per node type, built by {@link #parse}. Code that runs nodes
     * tells them apart by pattern matching ({@code node instanceof SleepNode sleep}) and reads only
     * the fields its type has. A leaf whose config is malformed (SLEEP, WAIT_SCHEDULE, SIGNAL) is
     * an {@link InvalidNode}: the graph loads, and the node fails when it runs.
     */
    public sealed interface Node permits SqlNode, ThenNode, IfNode, JoinNode, RaceNode, LoopNode, BreakNode,
            SleepNode, WaitScheduleNode, SignalNode, HttpNode, HttpMultipartNode, InvalidNode {

        /** The node id (8 hex digits when built by df.start). */
        String id();

        /** The name its result is stored under ({@code |=>}), or null. */
        String resultName();

        /** The node's type as stored in the graph JSON. */
        NodeType type();

        /**
         * The nodes this one runs, in execution order: THEN first, second; IF condition node
         * (unless if_rows), then-branch, else-branch; JOIN its branches; RACE left, right; LOOP
         * body, condition. Empty for leaves.
         */
        List<String> children();
    }

    /** SQL: one statement, run as a step. */
    public record SqlNode(String id, String resultName, String query) implements Node {
        public SqlNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(query, "query");
        }

        @Override
        public NodeType type() {
            return NodeType.SQL;
        }

        @Override
        public List<String> children() {
            return List.of();
        }
    }

    /** THEN ({@code ~>}): runs {@code first}, then {@code second}; its result is the second's. */
    public record ThenNode(String id, String resultName, String first, String second) implements Node {
        public ThenNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(first, "first");
            Objects.requireNonNull(second, "second");
        }

        @Override
        public NodeType type() {
            return NodeType.THEN;
        }

        @Override
        public List<String> children() {
            return List.of(first, second);
        }
    }

    /** What an IF decides on: a condition node, or the rows of a named result ({@code df.if_rows}). */
    public sealed interface IfCondition permits ConditionNode, ResultHasRows {
    }

    /** IF: runs this node and branches on whether its result is truthy. */
    public record ConditionNode(String nodeId) implements IfCondition {
        public ConditionNode {
            Objects.requireNonNull(nodeId, "nodeId");
        }
    }

    /** {@code df.if_rows}: branches on whether the named SQL result has rows. */
    public record ResultHasRows(String resultName) implements IfCondition {
        public ResultHasRows {
            Objects.requireNonNull(resultName, "resultName");
        }
    }

    /** IF: runs {@code thenBranch} or {@code elseBranch} as the condition decides. */
    public record IfNode(String id, String resultName, IfCondition condition, String thenBranch, String elseBranch)
            implements Node {
        public IfNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(condition, "condition");
            Objects.requireNonNull(thenBranch, "thenBranch");
            Objects.requireNonNull(elseBranch, "elseBranch");
        }

        @Override
        public NodeType type() {
            return NodeType.IF;
        }

        @Override
        public List<String> children() {
            return condition instanceof ConditionNode c
                    ? List.of(c.nodeId(), thenBranch, elseBranch)
                    : List.of(thenBranch, elseBranch);
        }
    }

    /** JOIN: runs its branches (two or more: left, right, then the extra nodes) in parallel. */
    public record JoinNode(String id, String resultName, List<String> branches) implements Node {
        public JoinNode {
            Objects.requireNonNull(id, "id");
            branches = List.copyOf(branches);
            if (branches.size() < 2) {
                throw new IllegalArgumentException("a JOIN has at least two branches, got " + branches);
            }
        }

        @Override
        public NodeType type() {
            return NodeType.JOIN;
        }

        @Override
        public List<String> children() {
            return branches;
        }
    }

    /** RACE: runs {@code left} and {@code right} in parallel; the first to finish wins. */
    public record RaceNode(String id, String resultName, String left, String right) implements Node {
        public RaceNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(left, "left");
            Objects.requireNonNull(right, "right");
        }

        @Override
        public NodeType type() {
            return NodeType.RACE;
        }

        @Override
        public List<String> children() {
            return List.of(left, right);
        }
    }

    /**
     * LOOP: runs {@code body} again and again, until a {@code df.break} or, when it has a
     * {@code condition} node (null for none), until that condition is not truthy after the body.
     */
    public record LoopNode(String id, String resultName, String body, String condition) implements Node {
        public LoopNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(body, "body");
        }

        @Override
        public NodeType type() {
            return NodeType.LOOP;
        }

        @Override
        public List<String> children() {
            return condition == null ? List.of(body) : List.of(body, condition);
        }
    }

    /** BREAK: leaves the innermost loop; {@code value} is the text given to {@code df.break}, or null. */
    public record BreakNode(String id, String resultName, String value) implements Node {
        public BreakNode {
            Objects.requireNonNull(id, "id");
        }

        @Override
        public NodeType type() {
            return NodeType.BREAK;
        }

        @Override
        public List<String> children() {
            return List.of();
        }

        /**
         * The loop result the break produces: the value parsed as JSON when it is JSON, else a
         * JSON string, and JSON null without a value.
         */
        public JsonNode result() {
            if (value == null) {
                return NullNode.getInstance();
            }
            try {
                return JSON.readTree(value);
            } catch (StreamConstraintsException e) {
                throw new JsonLimitException("the df.break value of node " + id + " cannot be read: "
                        + e.getOriginalMessage(), e);
            } catch (JsonProcessingException e) {
                return TextNode.valueOf(value);
            }
        }
    }

    /** SLEEP: waits {@code seconds} (0 or more). */
    public record SleepNode(String id, String resultName, long seconds) implements Node {
        public SleepNode {
            Objects.requireNonNull(id, "id");
            if (seconds < 0) {
                throw new IllegalArgumentException("sleep seconds must be 0 or more, got " + seconds);
            }
        }

        @Override
        public NodeType type() {
            return NodeType.SLEEP;
        }

        @Override
        public List<String> children() {
            return List.of();
        }
    }

    /**
     * WAIT_SCHEDULE: waits for the next time the cron expression matches. The expression is not
     * validated here (see {@code graph.cron.CronSchedule.parse}): a bad one fails when the node runs.
     */
    public record WaitScheduleNode(String id, String resultName, String cronExpression) implements Node {
        public WaitScheduleNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(cronExpression, "cronExpression");
        }

        @Override
        public NodeType type() {
            return NodeType.WAIT_SCHEDULE;
        }

        @Override
        public List<String> children() {
            return List.of();
        }
    }

    /** SIGNAL: waits for the named signal, at most {@code timeoutSeconds} (positive; null to wait forever). */
    public record SignalNode(String id, String resultName, String signalName, Long timeoutSeconds) implements Node {
        public SignalNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(signalName, "signalName");
            if (signalName.isEmpty() || (timeoutSeconds != null && timeoutSeconds <= 0)) {
                throw new IllegalArgumentException("a signal needs a name and a positive timeout or none, got '"
                        + signalName + "', " + timeoutSeconds);
            }
        }

        @Override
        public NodeType type() {
            return NodeType.SIGNAL;
        }

        @Override
        public List<String> children() {
            return List.of();
        }
    }

    /** HTTP: a request described by its JSON {@code config} (run by {@code graph.http}). */
    public record HttpNode(String id, String resultName, String config) implements Node {
        public HttpNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(config, "config");
        }

        @Override
        public NodeType type() {
            return NodeType.HTTP;
        }

        @Override
        public List<String> children() {
            return List.of();
        }
    }

    /** HTTP_MULTIPART: a multipart request described by its JSON {@code config} (run by {@code graph.http}). */
    public record HttpMultipartNode(String id, String resultName, String config) implements Node {
        public HttpMultipartNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(config, "config");
        }

        @Override
        public NodeType type() {
            return NodeType.HTTP_MULTIPART;
        }

        @Override
        public List<String> children() {
            return List.of();
        }
    }

    /**
     * A leaf of type {@code type} (SLEEP, WAIT_SCHEDULE or SIGNAL) whose config cannot be used.
     * The graph loads; the node fails when it runs, with {@code problem} as its error, which names
     * the node and what is wrong (e.g. {@code SLEEP node ab12cd34 has no duration}).
     */
    public record InvalidNode(String id, NodeType type, String resultName, String problem) implements Node {
        public InvalidNode {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(problem, "problem");
        }

        @Override
        public List<String> children() {
            return List.of();
        }
    }
}
