package io.pgdurable.graph.model;

import static io.pgdurable.graph.model.GraphModel.JSON;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.graph.model.GraphModel.BreakNode;
import io.pgdurable.graph.model.GraphModel.ConditionNode;
import io.pgdurable.graph.model.GraphModel.HttpMultipartNode;
import io.pgdurable.graph.model.GraphModel.HttpNode;
import io.pgdurable.graph.model.GraphModel.IfCondition;
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
import java.util.List;
import java.util.function.Supplier;

/**
 * Turns one node of the graph JSON ({@code {"type": ..., "query": ..., "result_name": ...,
 * "left": ..., "right": ...}}) into the {@link Node} record of its type. Structural problems and
 * unreadable IF/LOOP/JOIN configs throw a {@link GraphException}; a SLEEP, WAIT_SCHEDULE or SIGNAL
 * whose config cannot be used becomes an {@link InvalidNode}, which fails when it runs.
 */
final class NodeParser {
    private final String id;
    private final NodeType type;
    private final String query;
    private final String resultName;
    private final String left;
    private final String right;

    private NodeParser(String id, JsonNode json) {
        this.id = id;
        String typeText = text(id, json, "type");
        if (typeText == null) {
            throw new GraphException("Invalid graph: node " + id + " has no type");
        }
        try {
            this.type = NodeType.valueOf(typeText);
        } catch (IllegalArgumentException e) {
            throw new GraphException("Invalid graph: node " + id + " has unknown type '" + typeText + "'");
        }
        this.query = text(id, json, "query");
        this.resultName = text(id, json, "result_name");
        this.left = text(id, json, "left");
        this.right = text(id, json, "right");
    }

    /** The record for node {@code id}, whose JSON is {@code json}. */
    static Node parse(String id, JsonNode json) {
        if (json == null || !json.isObject()) {
            throw new GraphException("Invalid graph: node " + id + " must be a JSON object");
        }
        return new NodeParser(id, json).node();
    }

    private Node node() {
        return switch (type) {
            case THEN -> {
                children(true, true);
                yield new ThenNode(id, resultName, left, right);
            }
            case RACE -> {
                children(true, true);
                yield new RaceNode(id, resultName, left, right);
            }
            case IF -> {
                children(true, true);
                yield new IfNode(id, resultName, ifCondition(), left, right);
            }
            case JOIN -> {
                children(true, true);
                List<String> branches = new ArrayList<>(List.of(left, right));
                branches.addAll(extraNodes());
                yield new JoinNode(id, resultName, branches);
            }
            case LOOP -> {
                children(true, false);
                yield new LoopNode(id, resultName, left, conditionNode(config(false), false));
            }
            case SQL -> {
                children(false, false);
                requireQuery();
                yield new SqlNode(id, resultName, query);
            }
            case HTTP -> {
                children(false, false);
                requireQuery();
                yield new HttpNode(id, resultName, query);
            }
            case HTTP_MULTIPART -> {
                children(false, false);
                requireQuery();
                yield new HttpMultipartNode(id, resultName, query);
            }
            case BREAK -> {
                children(false, false);
                yield new BreakNode(id, resultName, breakValue());
            }
            case SLEEP -> {
                children(false, false);
                yield leaf(this::sleep);
            }
            case WAIT_SCHEDULE -> {
                children(false, false);
                yield leaf(this::waitSchedule);
            }
            case SIGNAL -> {
                children(false, false);
                yield leaf(this::signal);
            }
        };
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

    private IfCondition ifCondition() {
        ObjectNode config = config(true);
        if (isText(config, "condition_type") && config.get("condition_type").textValue().equals("result_has_rows")) {
            if (!isText(config, "result_name")) {
                throw problem("if_rows config has no result_name");
            }
            return new ResultHasRows(config.get("result_name").textValue());
        }
        return new ConditionNode(conditionNode(config, true));
    }

    private List<String> extraNodes() {
        ObjectNode config = config(false);
        JsonNode extra = config == null ? null : config.get("extra_nodes");
        List<String> extras = new ArrayList<>();
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
        return extras;
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

    /** The break value; an unreadable config breaks with null, as the original. */
    private String breakValue() {
        if (query == null) {
            return null;
        }
        try {
            JsonNode config = JSON.readTree(query);
            JsonNode v = config != null && config.isObject() ? config.get("break_value") : null;
            return v != null && v.isTextual() ? v.textValue() : null;
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    /**
     * Builds a leaf whose config may be unusable: then the node is an {@link InvalidNode} carrying
     * the problem, which fails when the node runs.
     */
    private Node leaf(Supplier<Node> build) {
        try {
            return build.get();
        } catch (UnusableConfig e) {
            return new InvalidNode(id, type, resultName, e.getMessage());
        }
    }

    private SleepNode sleep() {
        if (query == null) {
            throw new UnusableConfig("SLEEP node " + id + " has no duration");
        }
        String t = query.strip();
        if (!t.matches("\\+?[0-9]{1,18}")) {
            throw new UnusableConfig("SLEEP node " + id + ": invalid sleep duration '" + query
                    + "' (expected a whole number of seconds, 0 or more)");
        }
        return new SleepNode(id, resultName, Long.parseLong(t.startsWith("+") ? t.substring(1) : t));
    }

    /** The leaf's config, which must be a JSON object. */
    private ObjectNode leafConfig() {
        if (query == null) {
            throw new UnusableConfig(type + " node " + id + " has no config");
        }
        JsonNode parsed;
        try {
            parsed = JSON.readTree(query);
        } catch (JsonProcessingException e) {
            throw new UnusableConfig(type + " node " + id + ": invalid config: " + e.getOriginalMessage());
        }
        if (parsed == null || !parsed.isObject()) {
            throw new UnusableConfig(type + " node " + id + ": config must be a JSON object, got " + query);
        }
        return (ObjectNode) parsed;
    }

    private WaitScheduleNode waitSchedule() {
        ObjectNode config = leafConfig();
        if (!isText(config, "cron_expr")) {
            throw new UnusableConfig("WAIT_SCHEDULE node " + id + ": config has no cron_expr");
        }
        return new WaitScheduleNode(id, resultName, config.get("cron_expr").textValue());
    }

    private SignalNode signal() {
        ObjectNode config = leafConfig();
        if (!isText(config, "signal_name") || config.get("signal_name").textValue().isEmpty()) {
            throw new UnusableConfig("SIGNAL node " + id + ": config has no signal_name");
        }
        String name = config.get("signal_name").textValue();
        JsonNode timeout = config.get("timeout_seconds");
        if (timeout == null || timeout.isNull()) {
            return new SignalNode(id, resultName, name, null);
        }
        if (!timeout.isIntegralNumber() || !timeout.canConvertToLong() || timeout.longValue() <= 0) {
            throw new UnusableConfig("SIGNAL node " + id + ": timeout_seconds must be a positive whole number, got "
                    + timeout);
        }
        return new SignalNode(id, resultName, name, timeout.longValue());
    }

    private static boolean isText(JsonNode config, String field) {
        JsonNode v = config.get(field);
        return v != null && v.isTextual();
    }

    /** A leaf config the node cannot run with; the message is the node's error. */
    private static final class UnusableConfig extends RuntimeException {
        UnusableConfig(String message) {
            super(message, null, false, false);
        }
    }
}
