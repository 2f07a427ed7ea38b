package io.pgdurable.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An instance's graph of df nodes as a flow chart for the browser to lay out: vertices (the steps,
 * and a vertex for each decision, fork, merge and loop) and the edges between them in the order
 * they run.
 *
 * <p>df stores a workflow as a tree: THEN(a, b) runs a then b, IF keeps its condition node in its
 * config and its branches left and right, JOIN and RACE fork into left, right and any extra
 * branches, LOOP repeats its body. Structural nodes (THEN) get no vertex of their own; a JOIN or
 * RACE gets a fork vertex and a merge vertex ({@code <id>:end}); a LOOP gets one vertex that its
 * body returns to. A START and an END vertex frame the whole.
 *
 * <p>Graphs come from {@code df.nodes}, written by {@code df.start}, and are trees; a node reached
 * twice (only a hand-edited table could do that) is drawn once, and nesting deeper than
 * {@value #MAX_DEPTH} levels (df.start allows 256) is cut with a vertex saying so, so no stored graph
 * can exhaust the stack. Sequences are flattened, so their length adds no depth.
 */
final class FlowGraph {

    static final int MAX_DEPTH = 300;
    static final int MAX_LABEL = 200;

    /** One df node as {@code df.instance_nodes} reports it. */
    record Node(String id, String type, String query, String resultName, String left, String right,
                String status) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final java.util.regex.Pattern WHITESPACE = java.util.regex.Pattern.compile("\\s+");

    private final Map<String, Node> nodes;
    private final Map<String, Integer> iterations;
    private final ArrayNode vertices = JSON.createArrayNode();
    private final ArrayNode edges = JSON.createArrayNode();
    private final Set<String> drawn = new HashSet<>();

    private FlowGraph(Map<String, Node> nodes, Map<String, Integer> iterations) {
        this.nodes = nodes;
        this.iterations = iterations;
    }

    /**
     * The flow chart of the graph rooted at {@code root}: {@code {"vertices": [...], "edges": [...]}}.
     *
     * @param instanceStatus the instance's status, shown on the START and END vertices
     * @param iterations     each loop's current iteration by node id ({@link Iterations})
     */
    static ObjectNode of(String root, List<Node> nodeList, String instanceStatus, Map<String, Integer> iterations) {
        Map<String, Node> byId = new HashMap<>();
        for (Node n : nodeList) {
            byId.put(n.id(), n);
        }
        FlowGraph g = new FlowGraph(byId, iterations);
        g.vertex("start", "START", "start", "completed", null);
        Ends body = g.flow(root, 0);
        String endStatus = switch (instanceStatus) {
            case "completed", "failed", "cancelled" -> instanceStatus;
            default -> "pending";
        };
        g.vertex("end", "END", "end", endStatus, null);
        g.edge("start", body.entries(), "");
        g.edges(body.exits(), List.of("end"), "");
        ObjectNode out = JSON.createObjectNode();
        out.set("vertices", g.vertices);
        out.set("edges", g.edges);
        return out;
    }

    /** The vertices a part of the graph is entered by and left from. */
    private record Ends(List<String> entries, List<String> exits) {
        static Ends one(String id) {
            return new Ends(List.of(id), List.of(id));
        }
    }

    private Ends flow(String id, int depth) {
        Node n = id == null ? null : nodes.get(id);
        if (n == null) {
            String missing = "missing:" + id;
            vertex(missing, "BREAK", "(node " + id + " is missing)", "pending", null);
            return Ends.one(missing);
        }
        if (depth > MAX_DEPTH || !drawn.add(n.id())) {
            String cut = "cut:" + n.id();
            if (drawn.add(cut)) {
                vertex(cut, "BREAK", depth > MAX_DEPTH ? "(nested too deeply to draw)" : "(drawn above)", "pending", null);
            }
            return Ends.one(cut);
        }
        return switch (n.type()) {
            case "THEN" -> {
                // A sequence of any length nests THENs one per step (to the left or to the right):
                // its steps are flattened in order here, so only real nesting adds depth.
                List<String> entries = null;
                List<String> exits = null;
                for (String part : sequence(n)) {
                    Ends e = flow(part, depth + 1);
                    if (entries == null) {
                        entries = e.entries();
                    } else {
                        edges(exits, e.entries(), "");
                    }
                    exits = e.exits();
                }
                yield new Ends(entries, exits);
            }
            case "IF" -> {
                String condition = configString(n.query(), "condition_node");
                String label = condition != null ? "if"
                        : "if rows in " + configString(n.query(), "result_name");
                vertex(n.id(), "IF", label, n.status(), n);
                List<String> entries = List.of(n.id());
                if (condition != null) {
                    Ends cond = flow(condition, depth + 1);
                    edges(cond.exits(), List.of(n.id()), "");
                    entries = cond.entries();
                }
                Ends yes = flow(n.left(), depth + 1);
                Ends no = flow(n.right(), depth + 1);
                edge(n.id(), yes.entries(), "true");
                edge(n.id(), no.entries(), "false");
                List<String> exits = new ArrayList<>(yes.exits());
                exits.addAll(no.exits());
                yield new Ends(entries, exits);
            }
            case "JOIN", "RACE" -> {
                List<String> branches = new ArrayList<>();
                branches.add(n.left());
                branches.add(n.right());
                if (n.type().equals("JOIN")) {
                    branches.addAll(configStrings(n.query(), "extra_nodes"));
                }
                vertex(n.id(), n.type(), n.type().equals("JOIN") ? "join" : "race", n.status(), n);
                String merge = n.id() + ":end";
                List<String> exits = new ArrayList<>();
                int k = 1;
                for (String branch : branches) {
                    Ends b = flow(branch, depth + 1);
                    edge(n.id(), b.entries(), "branch " + k++);
                    exits.addAll(b.exits());
                }
                vertex(merge, n.type() + "_END", n.type().equals("JOIN") ? "all done" : "first done", n.status(), null);
                edges(exits, List.of(merge), "");
                yield new Ends(List.of(n.id()), List.of(merge));
            }
            case "LOOP" -> {
                Integer iteration = iterations.get(n.id());
                String label = iteration == null ? "loop" : "loop (iteration " + iteration + ")";
                vertex(n.id(), "LOOP", label, n.status(), n);
                String condition = configString(n.query(), "condition_node");
                List<String> bodyFrom = List.of(n.id());
                String bodyLabel = "";
                if (condition != null) {
                    Ends cond = flow(condition, depth + 1);
                    edge(n.id(), cond.entries(), "");
                    bodyFrom = cond.exits();
                    bodyLabel = "true";
                }
                Ends body = flow(n.left(), depth + 1);
                edges(bodyFrom, body.entries(), bodyLabel);
                edges(body.exits(), List.of(n.id()), "repeat");
                yield Ends.one(n.id());
            }
            default -> {
                vertex(n.id(), n.type(), stepLabel(n), n.status(), n);
                yield Ends.one(n.id());
            }
        };
    }

    /** The parts of the sequence rooted at THEN node {@code n}, in order, nested THENs flattened. */
    private List<String> sequence(Node n) {
        List<String> parts = new ArrayList<>();
        java.util.Deque<String> todo = new java.util.ArrayDeque<>();
        todo.push(n.right());
        todo.push(n.left());
        while (!todo.isEmpty()) {
            String id = todo.pop();
            Node next = id == null ? null : nodes.get(id);
            if (next != null && next.type().equals("THEN") && drawn.add(next.id())) {
                todo.push(next.right());
                todo.push(next.left());
            } else {
                parts.add(id);
            }
        }
        return parts;
    }

    /** What a step does, in a line: its SQL, its sleep, the signal it waits for, ... */
    static String stepLabel(Node n) {
        String query = n.query() == null ? "" : n.query();
        String what = switch (n.type()) {
            case "SQL" -> query;
            case "SLEEP" -> "sleep " + query.strip() + " s";
            case "SIGNAL" -> "wait for signal " + orElse(configString(query, "signal_name"), query);
            case "WAIT_SCHEDULE" -> "wait for schedule " + orElse(configString(query, "cron_expr"), query);
            case "HTTP", "HTTP_MULTIPART" -> "HTTP " + orElse(configString(query, "method"), "")
                    + " " + orElse(configString(query, "url"), "");
            case "BREAK" -> "break";
            default -> n.type();
        };
        if (n.resultName() != null) {
            what = n.resultName() + " := " + what;
        }
        what = WHITESPACE.matcher(what).replaceAll(" ").strip();
        return what.length() > MAX_LABEL ? what.substring(0, MAX_LABEL) + "…" : what;
    }

    private static String orElse(String value, String other) {
        return value != null ? value : other;
    }

    /** A string member of a node's JSON config, or null when the config is not JSON or lacks it. */
    static String configString(String config, String member) {
        JsonNode v = parse(config).path(member);
        return v.isTextual() ? v.asText() : v.isNumber() ? v.asText() : null;
    }

    private static List<String> configStrings(String config, String member) {
        List<String> out = new ArrayList<>();
        for (JsonNode v : parse(config).path(member)) {
            if (v.isTextual()) {
                out.add(v.asText());
            }
        }
        return out;
    }

    private static JsonNode parse(String config) {
        if (config == null || !config.stripLeading().startsWith("{")) {
            return JSON.missingNode();
        }
        try {
            return JSON.readTree(config);
        } catch (java.io.IOException e) {
            return JSON.missingNode();
        }
    }

    private void vertex(String id, String kind, String label, String status, Node node) {
        ObjectNode v = vertices.addObject();
        v.put("id", id);
        v.put("kind", kind);
        v.put("label", label);
        v.put("status", status == null ? "pending" : status);
        v.put("nodeId", node == null ? null : node.id());
    }

    private void edge(String from, List<String> to, String label) {
        for (String t : to) {
            ObjectNode e = edges.addObject();
            e.put("from", from);
            e.put("to", t);
            e.put("label", label);
        }
    }

    private void edges(List<String> from, List<String> to, String label) {
        for (String f : from) {
            edge(f, to, label);
        }
    }
}
