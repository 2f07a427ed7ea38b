package io.pgdurable.upgrade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.testing.Poll;
import io.pgdurable.testing.ProcessResult;
import io.pgdurable.testing.Processes;
import io.pgdurable.testing.TestCluster;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Workflows caught mid-flight by an upgrade, shared by the upgrade tests whatever installs and
 * upgrades the schema.
 *
 * <p>{@link #startBeforeUpgrade()} runs, under the previous release's schema and worker, three
 * workflows to their end (completed, failed, cancelled) and starts four that are left waiting:
 * <ul>
 *   <li><b>sleeper</b>: {@code df.sleep(10) ~> step}, its sleep begun;</li>
 *   <li><b>waiter</b>: {@code step ~> df.wait_for_signal('go')}, waiting for its signal;</li>
 *   <li><b>looper</b>: a root loop whose every iteration ticks a table, waits for {@code next} and
 *       breaks at the third tick; one signal has moved it into its second iteration;</li>
 *   <li><b>joiner</b>: a join of three branches, two waiting for signals and one sleeping; one
 *       signal has completed one branch.</li>
 * </ul>
 * Each is awaited into that state, a positive condition on its nodes or signal waits, and the
 * finished ones are recorded row by row. {@link #finishAfterUpgrade()}, under the new schema and
 * worker, sends the remaining signals (the looper's one iteration at a time) and checks each
 * in-flight workflow's result; {@link #assertFinishedUntouched()} checks that the upgrade changed
 * nothing about the finished ones (new columns aside).
 */
final class UpgradeScenario {
    /** The previous release's syntax only: these are started before the upgrade. */
    static final int SLEEP_SECONDS = 10;

    private static final Duration STATE = Duration.ofSeconds(30);
    private static final Duration DONE = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The tables of an instance's rows that existed in 0.1.0, and how their rows name the instance. */
    private static final Map<String, String> INSTANCE_ROWS = Map.of(
            "df.instances", "id = ?",
            "df.nodes", "instance_id = ?",
            "df_engine.instances", "id = ? OR id LIKE ? || '::%'",
            "df_engine.executions", "instance_id = ? OR instance_id LIKE ? || '::%'",
            "df_engine.history", "instance_id = ? OR instance_id LIKE ? || '::%'");

    private final TestCluster cluster;
    private final String db;
    private final String role;

    private String completed;
    private String failed;
    private String cancelled;
    private String sleeper;
    private String waiter;
    private String looper;
    private String joiner;
    private final Map<String, String> finishedRows = new LinkedHashMap<>();
    private final Map<String, String> finishedApi = new LinkedHashMap<>();

    /**
     * @param db   a database with the previous release's schema installed
     * @param role a login role; gets df usage here and rights on schema public
     */
    UpgradeScenario(TestCluster cluster, String db, String role) {
        this.cluster = cluster;
        this.db = db;
        this.role = role;
    }

    /** Gives the role df usage and a table to tick; run once the previous release is installed. */
    void prepare() {
        execAsAdmin("SELECT df.grant_usage('" + role + "')");
        execAsAdmin("GRANT ALL ON SCHEMA public TO " + role);
        execAsAdmin("CREATE TABLE upgrade_ticks (n bigserial PRIMARY KEY, src text NOT NULL)");
        execAsAdmin("GRANT ALL ON upgrade_ticks TO " + role + "; GRANT ALL ON SEQUENCE upgrade_ticks_n_seq TO " + role);
    }

    /** Under the previous release's worker: finishes three workflows and leaves four in flight. */
    void startBeforeUpgrade() {
        completed = start("('SELECT 41 + 1 AS answer' |=> 'a') ~> 'SELECT $a * 2 AS doubled'");
        failed = start("'SELECT 1 / 0'");
        cancelled = start("df.wait_for_signal('never')");
        awaitTrue(() -> openWaits(cancelled, "never") == 1, STATE, "the workflow to cancel to wait for its signal");
        assertThat(queryAsApp("SELECT df.cancel(?, 'cancelled before the upgrade')", cancelled)).isNotBlank();

        sleeper = start("df.sleep(" + SLEEP_SECONDS + ") ~> 'SELECT ''woke'' AS what'");
        waiter = start("'SELECT 1 AS one' ~> df.wait_for_signal('go')");
        looper = start("@> ('INSERT INTO upgrade_ticks (src) VALUES (''loop'')' ~> df.wait_for_signal('next')"
                + " ~> ('SELECT count(*) >= 3 FROM upgrade_ticks WHERE src = ''loop''' ?> df.\"break\"('looped')"
                + " !> 'SELECT 0'))");
        joiner = start("df.join3(df.wait_for_signal('left'), df.wait_for_signal('right'),"
                + " df.sleep(" + SLEEP_SECONDS + ") ~> 'SELECT ''slept'' AS side')");

        assertThat(awaitTerminal(completed)).isEqualTo("completed");
        assertThat(awaitTerminal(failed)).isEqualTo("failed");
        assertThat(awaitTerminal(cancelled)).isEqualTo("cancelled");

        awaitTrue(() -> nodeStatus(sleeper, "SLEEP").equals("running"), STATE, "the sleeper to begin its sleep");
        awaitTrue(() -> openWaits(waiter, "go") == 1, STATE, "the waiter to wait for 'go'");
        awaitTrue(() -> openWaits(looper, "next") == 1 && ticks() == 1, STATE, "the loop's first iteration to wait");
        signal(looper, "next", "{\"iteration\": 1}");
        awaitTrue(() -> openWaits(looper, "next") == 1 && ticks() == 2, STATE, "the loop's second iteration to wait");
        awaitTrue(() -> openWaits(joiner, "left") == 1 && openWaits(joiner, "right") == 1
                && nodeStatus(joiner, "SLEEP").equals("running"), STATE, "the join's three branches to wait");
        signal(joiner, "right", "{\"side\": \"right\"}");
        awaitTrue(() -> openWaits(joiner, "right") == 0 && completedSignalNodes(joiner) == 1, STATE,
                "the join's 'right' branch to complete");

        for (String id : List.of(completed, failed, cancelled)) {
            finishedRows.put(id, rowsOf(id));
            finishedApi.put(id, queryAsApp("SELECT df.status(?) || ' ' || coalesce(df.result(?), '<null>')", id, id));
        }
    }

    /** Between the two workers: every in-flight workflow is still in flight, its sleeps not yet over. */
    void assertStillInFlight() {
        for (String id : List.of(sleeper, waiter, looper, joiner)) {
            assertThat(queryAsAdmin("SELECT status FROM df.instances WHERE id = ?", id)).as("status of %s", id)
                    .isEqualTo("running");
        }
        assertThat(nodeStatus(sleeper, "SLEEP")).isEqualTo("running");
    }

    /** Under the new schema and worker: sends the remaining signals and checks every result. */
    void finishAfterUpgrade() throws IOException {
        signal(waiter, "go", "{\"sent\": \"after the upgrade\"}");
        signal(joiner, "left", "{\"side\": \"left\"}");
        signal(looper, "next", "{\"iteration\": 2}");
        awaitTrue(() -> openWaits(looper, "next") == 1 && ticks() == 3, STATE, "the loop's third iteration to wait");
        signal(looper, "next", "{\"iteration\": 3}");

        assertThat(awaitTerminal(waiter)).isEqualTo("completed");
        assertThat(JSON.readTree(result(waiter))).isEqualTo(JSON.readTree(
                "{\"signal_name\": \"go\", \"timed_out\": false, \"data\": {\"sent\": \"after the upgrade\"}}"));

        assertThat(awaitTerminal(looper)).isEqualTo("completed");
        assertThat(result(looper)).isEqualTo("\"looped\"");
        assertThat(ticks()).isEqualTo(3);
        assertThat(queryAsAdmin("SELECT count(*) FROM df_engine.executions WHERE instance_id = ?", looper))
                .as("one generation per iteration").isEqualTo("3");

        assertThat(awaitTerminal(joiner)).isEqualTo("completed");
        assertThat(JSON.readTree(result(joiner))).isEqualTo(JSON.readTree("""
                [{"signal_name": "left", "timed_out": false, "data": {"side": "left"}},
                 {"signal_name": "right", "timed_out": false, "data": {"side": "right"}},
                 {"rows": [{"side": "slept"}], "row_count": 1}]"""));

        assertThat(awaitTerminal(sleeper)).isEqualTo("completed");
        assertThat(JSON.readTree(result(sleeper))).isEqualTo(JSON.readTree("{\"rows\": [{\"what\": \"woke\"}], \"row_count\": 1}"));
        for (String id : List.of(sleeper, joiner)) {
            assertThat(queryAsAdmin("SELECT completed_at >= created_at + make_interval(secs => ?) FROM df.instances"
                    + " WHERE id = ?", SLEEP_SECONDS, id)).as("%s slept its full %d s", id, SLEEP_SECONDS).isEqualTo("t");
        }
        for (String id : List.of(sleeper, waiter, looper, joiner)) {
            assertThat(queryAsAdmin("SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", id))
                    .as("open signal waits of %s", id).isEqualTo("0");
            assertThat(queryAsAdmin("SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", id))
                    .as("undelivered signals of %s", id).isEqualTo("0");
        }
    }

    /** The finished workflows read as before the upgrade, row by row and through the API. */
    void assertFinishedUntouched() {
        finishedRows.forEach((id, before) -> assertThat(projected(rowsOf(id), before))
                .as("the rows of finished instance %s, in the columns it had before the upgrade", id)
                .isEqualTo(projected(before, before)));
        finishedApi.forEach((id, before) -> assertThat(
                queryAsApp("SELECT df.status(?) || ' ' || coalesce(df.result(?), '<null>')", id, id))
                .as("df.status and df.result of %s", id).isEqualTo(before));
    }

    /** The in-flight workflows' state, for failure messages. */
    String describe() {
        StringBuilder sb = new StringBuilder();
        Map<String, String> ids = new LinkedHashMap<>();
        ids.put("sleeper", sleeper);
        ids.put("waiter", waiter);
        ids.put("looper", looper);
        ids.put("joiner", joiner);
        ids.forEach((name, id) -> {
            if (id != null) {
                sb.append(name).append(' ').append(id).append(": ").append(safely(() -> queryAsAdmin(
                        "SELECT i.status || ' nodes=' || coalesce((SELECT string_agg(n.node_type || ':' || n.status, ','"
                                + " ORDER BY n.node_type, n.status) FROM df.nodes n WHERE n.instance_id = i.id), '-')"
                                + " || ' waits=' || (SELECT count(*) FROM df.signal_waits w WHERE w.instance_id = i.id)"
                                + " || ' engine=' || coalesce((SELECT string_agg(e.id || '=' || e.status, ',')"
                                + " FROM df_engine.instances e WHERE e.id = i.id OR e.id LIKE i.id || '::%'), '-')"
                                + " FROM df.instances i WHERE i.id = ?", id))).append('\n');
            }
        });
        return sb.toString();
    }

    // --- running the CLI -------------------------------------------------------------------

    /** Runs {@code java -jar jar args...}; fails with its output unless it exits with 0. Returns the output. */
    static String runJar(Path jar, String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar",
                jar.toString()));
        command.addAll(List.of(args));
        ProcessResult r = Processes.run(Duration.ofMinutes(3), command);
        if (!r.succeeded()) {
            throw new AssertionError("exit code " + r.exitCode() + " from " + String.join(" ", command) + ":\n"
                    + r.output());
        }
        return r.output();
    }

    /** The current build's deployable jar, made in the process-classes phase. */
    static Path currentJar() {
        Path jar = Path.of(System.getProperty("pgdurable.test.buildDir", "target")).toAbsolutePath()
                .resolve("pg-durable.jar");
        assertThat(jar).as("the deployable jar, built in the process-classes phase").isRegularFile();
        return jar;
    }

    // --- SQL -------------------------------------------------------------------------------

    /** {@code SELECT df.start(graph)} as the role, unprepared: the graph operator {@code ?>} is no parameter. */
    private String start(String graph) {
        String sql = "SELECT df.start(" + graph + ")";
        try (Connection c = cluster.connect(db, role); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    private void signal(String id, String name, String data) {
        queryAsApp("SELECT df.signal(?, ?, ?)", id, name, data);
    }

    private String awaitTerminal(String id) {
        awaitTrue(() -> List.of("completed", "failed", "cancelled").contains(
                queryAsAdmin("SELECT status FROM df.instances WHERE id = ?", id)), DONE,
                "instance " + id + " to finish");
        return queryAsAdmin("SELECT status FROM df.instances WHERE id = ?", id);
    }

    private String result(String id) {
        return queryAsApp("SELECT df.result(?)", id);
    }

    private long openWaits(String id, String signal) {
        return Long.parseLong(queryAsAdmin(
                "SELECT count(*) FROM df.signal_waits WHERE instance_id = ? AND signal_name = ?", id, signal));
    }

    private String nodeStatus(String id, String type) {
        return String.valueOf(queryAsAdmin(
                "SELECT string_agg(status, ',') FROM df.nodes WHERE instance_id = ? AND node_type = ?", id, type));
    }

    private long completedSignalNodes(String id) {
        return Long.parseLong(queryAsAdmin("SELECT count(*) FROM df.nodes WHERE instance_id = ? AND node_type = 'SIGNAL'"
                + " AND status = 'completed'", id));
    }

    private long ticks() {
        return Long.parseLong(queryAsAdmin("SELECT count(*) FROM upgrade_ticks WHERE src = 'loop'"));
    }

    /** Every row of the instance (and its sub-instances) in each table, as JSON arrays keyed by table. */
    private String rowsOf(String id) {
        ObjectNode all = JSON.createObjectNode();
        INSTANCE_ROWS.keySet().stream().sorted().forEach(table -> {
            String where = INSTANCE_ROWS.get(table);
            Object[] params = where.contains("LIKE") ? new Object[] {id, id} : new Object[] {id};
            String rows = queryAsAdmin("SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]')::text"
                    + " FROM " + table + " t WHERE " + where, params);
            try {
                all.set(table, JSON.readTree(rows));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        return all.toString();
    }

    /**
     * {@code rows} (as {@link #rowsOf}) cut down to the columns that {@code columnsFrom}'s rows have,
     * each table's rows sorted, so that columns an upgrade adds do not count.
     */
    private static String projected(String rows, String columnsFrom) {
        try {
            JsonNode all = JSON.readTree(rows);
            JsonNode reference = JSON.readTree(columnsFrom);
            ObjectNode out = JSON.createObjectNode();
            reference.fieldNames().forEachRemaining(table -> {
                List<String> columns = new ArrayList<>();
                if (reference.get(table).size() > 0) {
                    reference.get(table).get(0).fieldNames().forEachRemaining(columns::add);
                }
                List<String> kept = new ArrayList<>();
                for (JsonNode row : all.path(table)) {
                    ObjectNode k = JSON.createObjectNode();
                    columns.forEach(c -> k.set(c, row.get(c)));
                    kept.add(k.toString());
                }
                kept.sort(null);
                out.set(table, JSON.valueToTree(kept));
            });
            return out.toPrettyString();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    void execAsAdmin(String sql) {
        try (Connection c = cluster.connect(db); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    String queryAsAdmin(String sql, Object... params) {
        try (Connection c = cluster.connect(db)) {
            return first(c, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    private String queryAsApp(String sql, Object... params) {
        try (Connection c = cluster.connect(db, role)) {
            return first(c, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    private static String first(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private static String safely(java.util.function.Supplier<String> s) {
        try {
            return s.get();
        } catch (RuntimeException e) {
            return "(" + e.getMessage() + ")";
        }
    }

    /** Polls {@code condition} until it holds; fails after {@code timeout}, showing the workflows. */
    private void awaitTrue(BooleanSupplier condition, Duration timeout, String what) {
        try {
            Poll.until(timeout, what, condition::getAsBoolean);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + describe(), e);
        }
    }
}
