package io.pgdurable.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the dashboard reads and does, as SQL run on the signed-in role's own connection: nothing here
 * chooses what a role may see; {@code df.instances}' and {@code df.nodes}' row-level security and the
 * role's privileges do. Every statement names its schema (the connection's search path is pinned
 * to {@code pg_catalog, pg_temp}) and binds every value.
 *
 * <p>Limits: a page lists at most {@value #MAX_PAGE} instances, a timeline the newest
 * {@value #HISTORY_EVENTS} events, and each text shown (SQL, results, errors, labels, event
 * payloads) at most {@value #MAX_TEXT} characters, with a note of its whole length.
 */
final class DashboardData {

    static final int MAX_PAGE = 200;
    static final int DEFAULT_PAGE = 50;
    static final int MAX_TEXT = 20_000;
    static final int HISTORY_EVENTS = 300;
    static final int MAX_LABEL_FILTER = 500;
    static final int MAX_MINUTES = 1_440;
    static final int MAX_REASON = 1_000;
    static final int MAX_SIGNAL_NAME = 500;
    static final int RECENT_FAILURES = 10;
    static final int RECONCILE_RUNS = 50;

    static final Set<String> STATUSES = Set.of("pending", "running", "completed", "failed", "cancelled");
    private static final Pattern INSTANCE_ID = Pattern.compile("[0-9a-f]{8}");
    private static final String STEP_TYPES = "('SQL', 'HTTP', 'HTTP_MULTIPART', 'SLEEP', 'SIGNAL', 'WAIT_SCHEDULE')";

    private static final ObjectMapper JSON = new ObjectMapper();

    private DashboardData() {
    }

    /** The filters of the instance list, checked. */
    record ListFilter(String status, String label, Instant from, Instant to, Cursor after, int limit) {
    }

    /** A position in the list: the last row shown, in (created_at DESC, id) order. */
    record Cursor(Instant createdAt, String id) {

        String encode() {
            long micros = Math.addExact(Math.multiplyExact(createdAt.getEpochSecond(), 1_000_000L), createdAt.getNano() / 1_000);
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((micros + "|" + id).getBytes(StandardCharsets.UTF_8));
        }

        static Cursor decode(String text) {
            String bad = "'after' is not a cursor this dashboard gave out: '" + clip(text, 100) + "'";
            if (text.length() > 100) {
                throw new DashboardException(400, bad);
            }
            try {
                String plain = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
                int bar = plain.indexOf('|');
                long micros = Long.parseLong(plain.substring(0, bar));
                String id = plain.substring(bar + 1);
                if (!INSTANCE_ID.matcher(id).matches()) {
                    throw new DashboardException(400, bad);
                }
                return new Cursor(Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
                        Math.floorMod(micros, 1_000_000L) * 1_000L), id);
            } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
                throw new DashboardException(400, bad);
            }
        }
    }

    /** {@code id} if it is an instance id (8 hex digits), else a 400 naming it. */
    static String instanceId(String id) {
        if (id == null || !INSTANCE_ID.matcher(id).matches()) {
            throw new DashboardException(400, "'" + clip(String.valueOf(id), 100)
                    + "' is not an instance id (8 hexadecimal digits, as df.start returns)");
        }
        return id;
    }

    // -----------------------------------------------------------------------------------------
    // Instances
    // -----------------------------------------------------------------------------------------

    static ObjectNode instances(Connection c, ListFilter f) throws SQLException {
        StringBuilder sql = new StringBuilder("""
                SELECT i.id::text, left(i.label, 500), i.status, i.created_at, i.updated_at, i.terminal_at
                  FROM df.instances i
                 WHERE true""");
        List<Object> args = new ArrayList<>();
        if (f.status() != null) {
            sql.append(" AND i.status = ?");
            args.add(f.status());
        }
        if (f.label() != null) {
            sql.append(" AND i.label = ?");
            args.add(f.label());
        }
        if (f.from() != null) {
            sql.append(" AND i.created_at >= ?");
            args.add(utc(f.from()));
        }
        if (f.to() != null) {
            sql.append(" AND i.created_at < ?");
            args.add(utc(f.to()));
        }
        if (f.after() != null) {
            // The leading bound lets the (created_at DESC, id) index serve the range.
            sql.append(" AND i.created_at <= ? AND (i.created_at < ? OR i.id > ?)");
            args.add(utc(f.after().createdAt()));
            args.add(utc(f.after().createdAt()));
            args.add(f.after().id());
        }
        sql.append(" ORDER BY i.created_at DESC, i.id LIMIT ?");
        args.add(f.limit() + 1);
        ObjectNode out = JSON.createObjectNode();
        ArrayNode items = out.putArray("items");
        Cursor last = null;
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            for (int k = 0; k < args.size(); k++) {
                ps.setObject(k + 1, args.get(k));
            }
            try (ResultSet rs = ps.executeQuery()) {
                int n = 0;
                while (rs.next()) {
                    if (n++ == f.limit()) {
                        out.put("next", last.encode());
                        return out;
                    }
                    ObjectNode row = items.addObject();
                    row.put("id", rs.getString(1));
                    row.put("label", rs.getString(2));
                    row.put("status", rs.getString(3));
                    OffsetDateTime created = rs.getObject(4, OffsetDateTime.class);
                    row.put("createdAt", iso(created));
                    row.put("updatedAt", iso(rs.getObject(5, OffsetDateTime.class)));
                    row.put("endedAt", iso(rs.getObject(6, OffsetDateTime.class)));
                    last = new Cursor(created.toInstant(), rs.getString(1));
                }
            }
        }
        out.putNull("next");
        return out;
    }

    /** One instance, its graph drawn as a flow chart, its nodes, signal waits and history. */
    static ObjectNode instance(Connection c, String id, String role) throws SQLException {
        ObjectNode out = JSON.createObjectNode();
        ObjectNode inst = out.putObject("instance");
        String root;
        String status;
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT i.id::text, left(i.label, 500), i.status, i.created_at, i.updated_at, i.terminal_at,
                       i.root_node::text, f.function_name, left(f.output, ?), length(f.output)
                  FROM df.instances i
                  LEFT JOIN df.instance_info(i.id::text) f ON true
                 WHERE i.id = ?""")) {
            ps.setInt(1, MAX_TEXT);
            ps.setString(2, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new DashboardException(404, "no instance " + id + " is visible to role " + role);
                }
                inst.put("id", rs.getString(1));
                inst.put("label", rs.getString(2));
                status = rs.getString(3);
                inst.put("status", status);
                inst.put("createdAt", iso(rs.getObject(4, OffsetDateTime.class)));
                inst.put("updatedAt", iso(rs.getObject(5, OffsetDateTime.class)));
                inst.put("endedAt", iso(rs.getObject(6, OffsetDateTime.class)));
                root = rs.getString(7);
                inst.put("functionName", rs.getString(8));
                inst.put("output", clipped(rs.getString(9), rs.getObject(10)));
            }
        }
        List<FlowGraph.Node> flowNodes = new ArrayList<>();
        ArrayNode nodes = out.putArray("nodes");
        ArrayNode waits = out.putArray("waits");
        Map<String, String> stamps = new HashMap<>();
        Map<String, String> types = new HashMap<>();
        List<ObjectNode> nodeJson = new ArrayList<>();
        eachRow(c, """
                SELECT s.node_id, s.node_type, left(s.query, ?), length(s.query), s.result_name, s.left_node,
                       s.right_node, s.status, left(s.result, ?), length(s.result), s.inferred_status,
                       s.updated_at, n.created_at, left(n.error, ?), length(n.error),
                       CASE WHEN jsonb_typeof(n.status_details -> 'execution_id') = 'string'
                            THEN n.status_details ->> 'execution_id' END,
                       CASE WHEN s.node_type IN ('IF', 'LOOP', 'JOIN') THEN s.query END
                  FROM df.instance_nodes(?) s
                  LEFT JOIN df.nodes n ON n.instance_id = ? AND n.id = s.node_id""", rs -> {
            String nodeId = rs.getString(1);
            String type = rs.getString(2);
            ObjectNode n = nodes.addObject();
            n.put("id", nodeId);
            n.put("type", type);
            n.put("query", clipped(rs.getString(3), rs.getObject(4)));
            n.put("resultName", rs.getString(5));
            n.put("status", rs.getString(8));
            n.put("result", clipped(rs.getString(9), rs.getObject(10)));
            n.put("inferredStatus", rs.getString(11));
            n.put("updatedAt", iso(rs.getObject(12, OffsetDateTime.class)));
            n.put("createdAt", iso(rs.getObject(13, OffsetDateTime.class)));
            n.put("error", clipped(rs.getString(14), rs.getObject(15)));
            nodeJson.add(n);
            stamps.put(nodeId, rs.getString(16));
            types.put(nodeId, type);
            // The whole config for the structure (conditions, branches): small for these types.
            String config = rs.getString(17) != null ? rs.getString(17) : rs.getString(3);
            flowNodes.add(new FlowGraph.Node(nodeId, type, config, rs.getString(5), rs.getString(6),
                    rs.getString(7), rs.getString(11)));
            if ("SIGNAL".equals(type) && "running".equals(rs.getString(11))) {
                ObjectNode w = waits.addObject();
                w.put("signalName", FlowGraph.configString(rs.getString(3), "signal_name"));
                w.put("nodeId", nodeId);
                w.put("since", iso(rs.getObject(12, OffsetDateTime.class)));
            }
        }, MAX_TEXT, MAX_TEXT, MAX_TEXT, id, id);
        Map<String, Integer> iterations = Iterations.of(stamps, types, root);
        for (ObjectNode n : nodeJson) {
            Integer it = iterations.get(n.get("id").asText());
            if (it == null) {
                n.putNull("iteration");
            } else {
                n.put("iteration", it);
            }
        }
        out.set("graph", FlowGraph.of(root, flowNodes, status, iterations));
        ArrayNode history = out.putArray("history");
        eachRow(c, """
                SELECT h.execution_id, h.seq, h.event_type, h.name, h.event_time, h.payload, h.payload_length,
                       h.orchestration
                  FROM df.instance_history(?, ?) h""", rs -> {
            ObjectNode e = history.addObject();
            e.put("executionId", rs.getLong(1));
            e.put("seq", rs.getLong(2));
            e.put("type", rs.getString(3));
            e.put("name", rs.getString(4));
            e.put("time", iso(rs.getObject(5, OffsetDateTime.class)));
            e.put("detail", clipped(rs.getString(6), rs.getObject(7)));
            e.put("orchestration", rs.getString(8));
        }, id, HISTORY_EVENTS + 1);
        boolean truncated = history.size() > HISTORY_EVENTS;
        if (truncated) {
            history.remove(0);
        }
        out.put("historyTruncated", truncated);
        return out;
    }

    /** Sends a signal with {@code df.signal}, as the role. */
    static String signal(Connection c, String id, String name, String data) throws SQLException {
        if (name == null || name.isBlank()) {
            throw new DashboardException(400, "the signal needs a name");
        }
        if (name.length() > MAX_SIGNAL_NAME) {
            throw new DashboardException(400, "the signal name is " + name.length() + " characters long; the limit is "
                    + MAX_SIGNAL_NAME);
        }
        String payload = data == null || data.isBlank() ? "{}" : data;
        try {
            JSON.readTree(payload);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new DashboardException(400, "the signal data must be JSON (df.signal's signal_data), got '"
                    + clip(payload, 100) + "': " + e.getOriginalMessage());
        }
        visible(c, id);
        try (PreparedStatement ps = c.prepareStatement("SELECT df.signal(?, ?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, name);
            ps.setString(3, payload);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /** Cancels the instance with {@code df.cancel}, as the role. */
    static String cancel(Connection c, String id, String reason) throws SQLException {
        String why = reason == null || reason.isBlank() ? "Cancelled from the dashboard" : reason;
        if (why.length() > MAX_REASON) {
            throw new DashboardException(400, "the reason is " + why.length() + " characters long; the limit is "
                    + MAX_REASON);
        }
        visible(c, id);
        try (PreparedStatement ps = c.prepareStatement("SELECT df.cancel(?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, why);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private static void visible(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM df.instances i WHERE i.id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new DashboardException(404, "no instance " + id + " is visible to this role");
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Overview and workers
    // -----------------------------------------------------------------------------------------

    /**
     * Counts by status (the ended ones within the window), steps and failures per minute over the
     * last {@code minutes}, the newest
     * failures, the engine's queue and reconciliation's runs (the last two for roles that may read
     * them). Only recent instances are read (running ones and those that ended in the window, by
     * their indexes), so the cost follows the recent work, not the history kept.
     */
    static ObjectNode overview(Connection c, int minutes) throws SQLException {
        ObjectNode out = JSON.createObjectNode();
        ObjectNode counts = out.putObject("counts");
        for (String s : List.of("pending", "running", "completed", "failed", "cancelled")) {
            counts.put(s, 0);
        }
        Instant now;
        try (PreparedStatement ps = c.prepareStatement("SELECT date_trunc('minute', now())");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            now = rs.getObject(1, OffsetDateTime.class).toInstant();
        }
        Instant since = now.minusSeconds(60L * (minutes - 1));
        // Pending and running now; the ended ones of the window only, so that a million kept
        // instances are not counted on every refresh (each part is an index range).
        eachRow(c, """
                SELECT i.status, count(*) FROM df.instances i
                 WHERE i.status IN ('pending', 'running') GROUP BY i.status
                UNION ALL
                SELECT i.status, count(*) FROM df.instances i
                 WHERE i.status IN ('completed', 'failed', 'cancelled')
                   AND coalesce(i.terminal_at, i.created_at) >= ?
                 GROUP BY i.status""", rs -> {
            counts.put(rs.getString(1), rs.getLong(2));
        }, utc(since));
        out.put("countsNote", "pending and running: now; completed, failed and cancelled: ended in the last "
                + minutes + (minutes == 1 ? " minute" : " minutes"));
        Map<Long, long[]> perMinute = new HashMap<>();
        String recent = """
                WITH recent AS (
                    SELECT i.id FROM df.instances i WHERE i.status IN ('pending', 'running')
                    UNION ALL
                    SELECT i.id FROM df.instances i
                     WHERE i.status IN ('completed', 'failed', 'cancelled')
                       AND coalesce(i.terminal_at, i.created_at) >= ?)
                """;
        eachRow(c, recent + """
                SELECT extract(epoch FROM date_trunc('minute', n.updated_at))::bigint,
                       count(*) FILTER (WHERE n.status = 'completed'),
                       count(*) FILTER (WHERE n.status = 'failed')
                  FROM recent r JOIN df.nodes n ON n.instance_id = r.id
                 WHERE n.updated_at >= ? AND n.node_type IN """ + STEP_TYPES + """
                 GROUP BY 1""", rs -> {
            long[] v = perMinute.computeIfAbsent(rs.getLong(1), k -> new long[3]);
            v[0] = rs.getLong(2);
            v[1] = rs.getLong(3);
        }, utc(since), utc(since));
        eachRow(c, """
                SELECT extract(epoch FROM date_trunc('minute', coalesce(i.terminal_at, i.created_at)))::bigint, count(*)
                  FROM df.instances i
                 WHERE i.status = 'failed' AND coalesce(i.terminal_at, i.created_at) >= ?
                 GROUP BY 1""", rs -> {
            perMinute.computeIfAbsent(rs.getLong(1), k -> new long[3])[2] = rs.getLong(2);
        }, utc(since));
        ObjectNode series = out.putObject("series");
        ArrayNode mins = series.putArray("minutes");
        ArrayNode done = series.putArray("completedSteps");
        ArrayNode failedSteps = series.putArray("failedSteps");
        ArrayNode failedInstances = series.putArray("failedInstances");
        for (long t = since.getEpochSecond(); t <= now.getEpochSecond(); t += 60) {
            long[] v = perMinute.getOrDefault(t, new long[3]);
            mins.add(t);
            done.add(v[0]);
            failedSteps.add(v[1]);
            failedInstances.add(v[2]);
        }
        ArrayNode failures = out.putArray("recentFailures");
        eachRow(c, """
                SELECT i.id::text, left(i.label, 500), n.id::text, left(coalesce(n.error, n.result::text), ?),
                       n.updated_at
                  FROM df.instances i
                  JOIN df.nodes n ON n.instance_id = i.id AND n.status = 'failed'
                 WHERE i.status = 'failed' AND coalesce(i.terminal_at, i.created_at) >= ?
                 ORDER BY n.updated_at DESC
                 LIMIT ?""", rs -> {
            ObjectNode f = failures.addObject();
            f.put("instanceId", rs.getString(1));
            f.put("label", rs.getString(2));
            f.put("nodeId", rs.getString(3));
            f.put("error", rs.getString(4));
            f.put("at", iso(rs.getObject(5, OffsetDateTime.class)));
        }, 2_000, utc(since), RECENT_FAILURES);
        ObjectNode queue = out.putObject("queue");
        queue.put("now", Instant.now().getEpochSecond());
        if (mayRead(c, "df_engine.activity_queue") && mayRead(c, "df_engine.orchestrator_queue")) {
            queue.put("visible", true);
            queue.put("note", "");
            try (PreparedStatement ps = c.prepareStatement("""
                    SELECT count(*) FILTER (WHERE q.lease_owner IS NULL AND q.visible_at <= now()),
                           count(*) FILTER (WHERE q.lease_owner IS NOT NULL AND q.visible_at > now()),
                           extract(epoch FROM now() - min(q.created_at) FILTER (WHERE q.lease_owner IS NULL
                                                                               AND q.visible_at <= now())),
                           (SELECT count(*) FROM df_engine.orchestrator_queue o WHERE o.visible_at <= now())
                      FROM df_engine.activity_queue q""");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                queue.put("depth", rs.getLong(1));
                queue.put("running", rs.getLong(2));
                double oldest = rs.getDouble(3);
                if (rs.wasNull()) {
                    queue.putNull("oldestWaitingSeconds");
                } else {
                    queue.put("oldestWaitingSeconds", oldest);
                }
                queue.put("orchestratorMessages", rs.getLong(4));
            }
        } else {
            queue.put("visible", false);
            queue.put("note", "The engine's queues (df_engine.activity_queue) are readable by superusers only;"
                    + " this role sees its own instances.");
        }
        ObjectNode reconcile = out.putObject("reconcile");
        ArrayNode runs = reconcile.putArray("runs");
        if (mayRead(c, "df.reconcile_runs")) {
            reconcile.put("visible", true);
            reconcile.put("note", "");
            eachRow(c, """
                    SELECT r.started_at, r.finished_at, r.trigger, r.instances_removed, r.nodes_removed,
                           r.engine_records_retired, r.orphans_reclaimed, left(r.error, 2000)
                      FROM df.reconcile_runs r
                     ORDER BY r.started_at DESC
                     LIMIT ?""", rs -> {
                ObjectNode r = runs.addObject();
                r.put("startedAt", iso(rs.getObject(1, OffsetDateTime.class)));
                r.put("finishedAt", iso(rs.getObject(2, OffsetDateTime.class)));
                r.put("trigger", rs.getString(3));
                r.put("instancesRemoved", rs.getLong(4));
                r.put("nodesRemoved", rs.getLong(5));
                r.put("engineRecordsRetired", rs.getLong(6));
                r.put("orphansReclaimed", rs.getLong(7));
                r.put("error", rs.getString(8));
            }, RECONCILE_RUNS);
        } else {
            reconcile.put("visible", false);
            reconcile.put("note", "Reconciliation runs (df.reconcile_runs) are readable by superusers only.");
        }
        return out;
    }

    /** The live workers and their heartbeats, for roles that may read {@code df.workers}. */
    static ObjectNode workers(Connection c) throws SQLException {
        ObjectNode out = JSON.createObjectNode();
        ArrayNode workers = out.putArray("workers");
        if (!mayRead(c, "df.workers")) {
            out.put("visible", false);
            out.put("note", "Workers (df.workers) are visible to pg_durable administrators: superusers and roles given"
                    + " usage with df.grant_usage(role, with_grant => true).");
            return out;
        }
        out.put("visible", true);
        out.put("note", "");
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT w.id, w.host, w.pid, w.mode, w.started_at, w.last_seen_at,
                       extract(epoch FROM now() - w.last_seen_at)
                  FROM df.workers w
                 ORDER BY w.started_at DESC, w.id
                 LIMIT 1000""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                ObjectNode w = workers.addObject();
                w.put("id", rs.getString(1));
                w.put("host", rs.getString(2));
                w.put("pid", rs.getLong(3));
                w.put("mode", rs.getString(4));
                w.put("startedAt", iso(rs.getObject(5, OffsetDateTime.class)));
                w.put("lastSeenAt", iso(rs.getObject(6, OffsetDateTime.class)));
                w.put("ageSeconds", rs.getDouble(7));
            }
        }
        return out;
    }

    /** Reads one row of a result. */
    @FunctionalInterface
    private interface RowReader {
        void read(ResultSet rs) throws SQLException;
    }

    /** Runs {@code sql} with {@code args} bound in order and hands each row to {@code reader}. */
    private static void eachRow(Connection c, String sql, RowReader reader, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int k = 0; k < args.length; k++) {
                ps.setObject(k + 1, args[k]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    reader.read(rs);
                }
            }
        }
    }

    private static boolean mayRead(Connection c, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT to_regclass(?) IS NOT NULL AND has_table_privilege(to_regclass(?), 'SELECT')")) {
            ps.setString(1, table);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    // -----------------------------------------------------------------------------------------

    static String clip(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max) + "…";
    }

    /** {@code text} (already cut to {@link #MAX_TEXT} by the query), noting the whole length if cut. */
    private static String clipped(String text, Object wholeLength) {
        if (text == null) {
            return null;
        }
        long whole = wholeLength instanceof Number n ? n.longValue() : text.length();
        return whole > text.length() ? text + "\n… (clipped: " + whole + " characters in all)" : text;
    }

    private static OffsetDateTime utc(Instant t) {
        return t.atOffset(ZoneOffset.UTC);
    }

    private static String iso(OffsetDateTime t) {
        return t == null ? null : t.toInstant().toString();
    }
}
