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
 * <p>{@link #parse} checks the structure and fails with a {@link GraphException} naming the node:
 * unknown type, missing or unexpected children, references to nodes that do not exist, a node
 * reachable along two paths (the graph must be a tree), an unreadable IF/LOOP/JOIN config. The
 * leaf configs (SLEEP seconds, WAIT_SCHEDULE cron, SIGNAL name and timeout) are checked here too,
 * but a bad one only fails when its accessor is called, so the node itself fails when it runs, as
 * in the original.
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

    private static final ObjectMapper JSON = JsonCodec.mapper();

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
        nodesJson.fields().forEachRemaining(e -> parsed.put(e.getKey(), Node.parse(e.getKey(), e.getValue())));
        this.nodes = Collections.unmodifiableMap(parsed);
        checkTree();
    }

    /** Parses the orchestration input JSON text. */
    public static GraphModel parse(String json) {
        Objects.requireNonNull(json, "json");
        try {
            return parse(JSON.readTree(json));
        } catch (JsonProcessingException e) {
            throw new GraphException("Invalid graph input: not JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Parses the orchestration input; the node is copied, later changes to it do not show. */
    public static GraphModel parse(JsonNode json) {
        if (json == null || !json.isObject()) {
            throw new GraphException("Invalid graph input: expected a JSON object");
        }
        return new GraphModel(((ObjectNode) json).deepCopy());
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
     * One node. The accessors for leaf configs ({@link #sleepSeconds()}, {@link #cronExpression()},
     * {@link #signalName()}, {@link #signalTimeoutSeconds()}) throw a {@link GraphException} with
     * the node's config error when the config is malformed, and an {@link IllegalStateException}
     * when called on a node of another type.
     */
    public static final class Node {
        private final String id;
        private final NodeType type;
        private final String query;
        private final String resultName;
        private final String left;
        private final String right;
        private final String condition;
        private final List<String> extras;
        private final String ifRowsResultName;
        private final String breakValue;
        private final Long sleepSeconds;
        private final String cronExpression;
        private final String signalName;
        private final Long signalTimeoutSeconds;
        private final String configError;
        private final List<String> children;

        private Node(Builder b) {
            this.id = b.id;
            this.type = b.type;
            this.query = b.query;
            this.resultName = b.resultName;
            this.left = b.left;
            this.right = b.right;
            this.condition = b.condition;
            this.extras = List.copyOf(b.extras);
            this.ifRowsResultName = b.ifRowsResultName;
            this.breakValue = b.breakValue;
            this.sleepSeconds = b.sleepSeconds;
            this.cronExpression = b.cronExpression;
            this.signalName = b.signalName;
            this.signalTimeoutSeconds = b.signalTimeoutSeconds;
            this.configError = b.configError;
            List<String> kids = new ArrayList<>();
            switch (type) {
                case THEN, RACE -> {
                    kids.add(left);
                    kids.add(right);
                }
                case IF -> {
                    if (condition != null) {
                        kids.add(condition);
                    }
                    kids.add(left);
                    kids.add(right);
                }
                case JOIN -> {
                    kids.add(left);
                    kids.add(right);
                    kids.addAll(extras);
                }
                case LOOP -> {
                    kids.add(left);
                    if (condition != null) {
                        kids.add(condition);
                    }
                }
                default -> { }
            }
            this.children = List.copyOf(kids);
        }

        /** The node id (8 hex digits when built by df.start). */
        public String id() {
            return id;
        }

        /** The node type. */
        public NodeType type() {
            return type;
        }

        /** The stored query: SQL text for SQL nodes, the JSON config or seconds text for others; may be null. */
        public String query() {
            return query;
        }

        /** The name its result is stored under ({@code |=>}), or null. */
        public String resultName() {
            return resultName;
        }

        /** THEN: first; IF: then-branch; JOIN/RACE: first branch; LOOP: body. Null for leaves. */
        public String left() {
            return left;
        }

        /** THEN: second; IF: else-branch; JOIN/RACE: second branch. Null for LOOP and leaves. */
        public String right() {
            return right;
        }

        /** IF: the condition node (null for if_rows); LOOP: the while-condition node or null. */
        public String condition() {
            return condition;
        }

        /** JOIN: branches after left and right, in order; empty otherwise. */
        public List<String> extras() {
            return extras;
        }

        /** True for an IF built by {@code df.if_rows}. */
        public boolean isIfRows() {
            return ifRowsResultName != null;
        }

        /** IF built by {@code df.if_rows}: the result name whose row count decides; else null. */
        public String ifRowsResultName() {
            return ifRowsResultName;
        }

        /**
         * The nodes this one runs, in execution order: THEN left, right; IF condition (unless
         * if_rows), left, right; JOIN left, right, extras; RACE left, right; LOOP body, condition.
         */
        public List<String> children() {
            return children;
        }

        /** BREAK: the break value as given to {@code df.break} (text), or null. */
        public String breakValue() {
            requireType(NodeType.BREAK);
            return breakValue;
        }

        /**
         * BREAK: the loop result the break produces: the value parsed as JSON when it is JSON,
         * else a JSON string, and JSON null without a value.
         */
        public JsonNode breakResult() {
            requireType(NodeType.BREAK);
            if (breakValue == null) {
                return NullNode.getInstance();
            }
            try {
                return JSON.readTree(breakValue);
            } catch (StreamConstraintsException e) {
                throw new JsonLimitException("the df.break value of node " + id + " cannot be read: "
                        + e.getOriginalMessage(), e);
            } catch (JsonProcessingException e) {
                return TextNode.valueOf(breakValue);
            }
        }

        /** SLEEP: seconds to wait. */
        public long sleepSeconds() {
            requireType(NodeType.SLEEP);
            return sleepSeconds;
        }

        /** WAIT_SCHEDULE: the cron expression (not yet validated; see {@code graph.cron.CronSchedule.parse}). */
        public String cronExpression() {
            requireType(NodeType.WAIT_SCHEDULE);
            return cronExpression;
        }

        /** SIGNAL: the signal name. */
        public String signalName() {
            requireType(NodeType.SIGNAL);
            return signalName;
        }

        /** SIGNAL: the timeout in seconds, or null to wait forever. */
        public Long signalTimeoutSeconds() {
            requireType(NodeType.SIGNAL);
            return signalTimeoutSeconds;
        }

        private void requireType(NodeType expected) {
            if (type != expected) {
                throw new IllegalStateException("node " + id + " is a " + type + " node, not " + expected);
            }
            if (configError != null) {
                throw new GraphException(configError);
            }
        }

        @Override
        public String toString() {
            return type + " node " + id;
        }

        static Node parse(String id, JsonNode json) {
            if (json == null || !json.isObject()) {
                throw new GraphException("Invalid graph: node " + id + " must be a JSON object");
            }
            Builder b = new Builder();
            b.id = id;
            String typeText = text(id, json, "type");
            if (typeText == null) {
                throw new GraphException("Invalid graph: node " + id + " has no type");
            }
            try {
                b.type = NodeType.valueOf(typeText);
            } catch (IllegalArgumentException e) {
                throw new GraphException("Invalid graph: node " + id + " has unknown type '" + typeText + "'");
            }
            b.query = text(id, json, "query");
            b.resultName = text(id, json, "result_name");
            b.left = text(id, json, "left");
            b.right = text(id, json, "right");
            b.shape();
            return new Node(b);
        }

        private static String text(String id, JsonNode json, String field) {
            JsonNode v = json.get(field);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isTextual()) {
                throw new GraphException("Invalid graph: node " + id + ": " + field + " must be a string, got " + v);
            }
            return v.textValue();
        }

        /** Mutable parse state; one per node. */
        private static final class Builder {
            String id;
            NodeType type;
            String query;
            String resultName;
            String left;
            String right;
            String condition;
            final List<String> extras = new ArrayList<>();
            String ifRowsResultName;
            String breakValue;
            Long sleepSeconds;
            String cronExpression;
            String signalName;
            Long signalTimeoutSeconds;
            String configError;

            void shape() {
                switch (type) {
                    case THEN, RACE -> children(true, true);
                    case IF -> {
                        children(true, true);
                        ObjectNode config = config(true);
                        if (isText(config, "condition_type")
                                && config.get("condition_type").textValue().equals("result_has_rows")) {
                            if (!isText(config, "result_name")) {
                                throw problem("if_rows config has no result_name");
                            }
                            ifRowsResultName = config.get("result_name").textValue();
                        } else {
                            condition = conditionNode(config, true);
                        }
                    }
                    case JOIN -> {
                        children(true, true);
                        ObjectNode config = config(false);
                        JsonNode extra = config == null ? null : config.get("extra_nodes");
                        if (extra != null && !extra.isNull()) {
                            if (!extra.isArray()) {
                                throw problem("extra_nodes must be an array of node ids");
                            }
                            for (JsonNode e : extra) {
                                if (!e.isTextual()) {
                                    throw problem("extra_nodes must be an array of node ids, got " + extra);
                                }
                                extras.add(e.textValue());
                            }
                        }
                    }
                    case LOOP -> {
                        children(true, false);
                        condition = conditionNode(config(false), false);
                    }
                    case SQL, HTTP, HTTP_MULTIPART -> {
                        children(false, false);
                        requireQuery();
                    }
                    case BREAK -> {
                        children(false, false);
                        breakConfig();
                    }
                    case SLEEP -> {
                        children(false, false);
                        sleepConfig();
                    }
                    case WAIT_SCHEDULE -> {
                        children(false, false);
                        scheduleConfig();
                    }
                    case SIGNAL -> {
                        children(false, false);
                        signalConfig();
                    }
                    default -> throw new IllegalStateException(type.name());
                }
            }

            private GraphException problem(String what) {
                return new GraphException("Invalid graph: " + type + " node " + id + ": " + what);
            }

            private void children(boolean wantLeft, boolean wantRight) {
                if (wantLeft && left == null) {
                    throw problem(type == NodeType.LOOP ? "has no body (left)" : "has no left child");
                }
                if (wantRight && right == null) {
                    throw problem("has no right child");
                }
                if (!wantLeft && left != null) {
                    throw problem("must not have a left child");
                }
                if (!wantRight && right != null) {
                    throw problem("must not have a right child");
                }
            }

            private void requireQuery() {
                if (query == null) {
                    throw problem("has no query");
                }
            }

            /** The query parsed as a JSON object; null when absent and not required. */
            private ObjectNode config(boolean required) {
                if (query == null) {
                    if (required) {
                        throw problem("has no config");
                    }
                    return null;
                }
                JsonNode parsed;
                try {
                    parsed = JSON.readTree(query);
                } catch (JsonProcessingException e) {
                    throw problem("config is not valid JSON: " + e.getOriginalMessage());
                }
                if (parsed == null || !parsed.isObject()) {
                    throw problem("config must be a JSON object, got " + query);
                }
                return (ObjectNode) parsed;
            }

            private String conditionNode(ObjectNode config, boolean required) {
                JsonNode c = config == null ? null : config.get("condition_node");
                if (c == null || c.isNull()) {
                    if (required) {
                        throw problem("config has no condition_node");
                    }
                    return null;
                }
                if (!c.isTextual()) {
                    throw problem("condition_node must be a node id, got " + c);
                }
                return c.textValue();
            }

            private void breakConfig() {
                if (query == null) {
                    return;
                }
                try {
                    JsonNode config = JSON.readTree(query);
                    JsonNode v = config != null && config.isObject() ? config.get("break_value") : null;
                    breakValue = v != null && v.isTextual() ? v.textValue() : null;
                } catch (JsonProcessingException e) {
                    breakValue = null; // as the original: an unreadable config breaks with null
                }
            }

            private void sleepConfig() {
                if (query == null) {
                    configError = "SLEEP node " + id + " has no duration";
                    return;
                }
                String t = query.strip();
                if (!t.matches("\\+?[0-9]{1,18}")) {
                    configError = "SLEEP node " + id + ": invalid sleep duration '" + query
                            + "' (expected a whole number of seconds, 0 or more)";
                    return;
                }
                sleepSeconds = Long.parseLong(t.startsWith("+") ? t.substring(1) : t);
            }

            private ObjectNode leafConfig(String kind) {
                if (query == null) {
                    configError = kind + " node " + id + " has no config";
                    return null;
                }
                try {
                    JsonNode parsed = JSON.readTree(query);
                    if (parsed != null && parsed.isObject()) {
                        return (ObjectNode) parsed;
                    }
                    configError = kind + " node " + id + ": config must be a JSON object, got " + query;
                } catch (JsonProcessingException e) {
                    configError = kind + " node " + id + ": invalid config: " + e.getOriginalMessage();
                }
                return null;
            }

            private void scheduleConfig() {
                ObjectNode config = leafConfig("WAIT_SCHEDULE");
                if (config == null) {
                    return;
                }
                if (!isText(config, "cron_expr")) {
                    configError = "WAIT_SCHEDULE node " + id + ": config has no cron_expr";
                    return;
                }
                cronExpression = config.get("cron_expr").textValue();
            }

            private void signalConfig() {
                ObjectNode config = leafConfig("SIGNAL");
                if (config == null) {
                    return;
                }
                if (!isText(config, "signal_name") || config.get("signal_name").textValue().isEmpty()) {
                    configError = "SIGNAL node " + id + ": config has no signal_name";
                    return;
                }
                signalName = config.get("signal_name").textValue();
                JsonNode timeout = config.get("timeout_seconds");
                if (timeout == null || timeout.isNull()) {
                    return;
                }
                if (!timeout.isIntegralNumber() || !timeout.canConvertToLong() || timeout.longValue() <= 0) {
                    configError = "SIGNAL node " + id + ": timeout_seconds must be a positive whole number, got "
                            + timeout;
                    return;
                }
                signalTimeoutSeconds = timeout.longValue();
            }

            private static boolean isText(JsonNode config, String field) {
                JsonNode v = config.get(field);
                return v != null && v.isTextual();
            }
        }
    }
}
