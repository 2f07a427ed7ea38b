package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.execAsApp;
import static io.pgdurable.graph.e2e.SqlProbe.failure;
import static io.pgdurable.graph.e2e.SqlProbe.json;
import static io.pgdurable.graph.e2e.SqlProbe.message;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pgdurable.graph.http.AllowList;
import io.pgdurable.testing.Poll;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * The SQL examples of the original pg_durable's user guide and API reference, run as those
 * documents write them: the same functions, operators, argument names and placeholders. Only
 * three things are substituted: the tables are ones this class creates (the guide's
 * {@code playground} schema and a few tables it leaves to the reader), instance ids are the
 * ones df.start returned, and the host of every HTTP URL is a server this class starts on
 * 127.0.0.1 (the only address the worker's allow-list admits). Where this implementation
 * differs on purpose (chapter 9 of the SQL guide), the test asserts that the error tells the
 * user what to write instead.
 */
class OriginalDocumentedExamplesTest {
    private static final Duration DONE = Duration.ofSeconds(40);

    private static DfTestEnvironment env;
    private static WorkflowRuns runs;
    private static HttpServer server;
    private static String base;
    /** Last request per path: method, headers of interest and body. */
    private static final Map<String, String> received = new ConcurrentHashMap<>();

    @BeforeAll
    static void setUp() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", OriginalDocumentedExamplesTest::handle);
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();

        env = new DfTestEnvironment("orig_docs");
        runs = new WorkflowRuns(env);
        env.exec("SELECT df.grant_usage('" + env.role() + "', include_http => true)");
        env.exec("CREATE EXTENSION dblink");
        env.exec("CREATE SCHEMA playground AUTHORIZATION " + env.role());
        execAsApp(env, PLAYGROUND);
        execAsApp(env, READER_TABLES);
        env.startWorkerAllowingHttp(AllowList.parse("127.0.0.1", AllowList.OPTION));
    }

    @AfterAll
    static void tearDown() {
        env.close();
        server.stop(0);
    }

    /** The guide's appendix data set, written out for this test (its own wording, same tables and rows). */
    private static final String PLAYGROUND = """
            CREATE TABLE playground.users (id serial PRIMARY KEY, name varchar(100) NOT NULL,
                email varchar(255) UNIQUE NOT NULL, active boolean DEFAULT true, notified boolean DEFAULT false,
                created_at timestamp DEFAULT now());
            CREATE TABLE playground.orders (id serial PRIMARY KEY, user_id int REFERENCES playground.users(id),
                amount numeric(10,2) NOT NULL, status varchar(50) DEFAULT 'pending', created_at timestamp DEFAULT now(),
                processed_at timestamp);
            CREATE TABLE playground.task_queue (id serial PRIMARY KEY, payload jsonb NOT NULL,
                status varchar(50) DEFAULT 'pending', priority int DEFAULT 0, created_at timestamp DEFAULT now(),
                started_at timestamp, completed_at timestamp);
            CREATE TABLE playground.logs (id serial PRIMARY KEY, msg text NOT NULL, level varchar(20) DEFAULT 'info',
                created_at timestamp DEFAULT now());
            CREATE TABLE playground.heartbeats (id serial PRIMARY KEY, ts timestamp NOT NULL,
                source varchar(100) DEFAULT 'pg_durable');
            CREATE TABLE playground.staging (id serial PRIMARY KEY, data jsonb, source_id int, processed_at timestamp);
            CREATE TABLE playground.target (id serial PRIMARY KEY, data jsonb, source_id int, processed_at timestamp,
                loaded_at timestamp DEFAULT now());
            INSERT INTO playground.users (name, email, active) VALUES ('Alice Johnson', 'alice@example.com', true),
                ('Bob Smith', 'bob@example.com', true), ('Carol White', 'carol@example.com', true),
                ('David Brown', 'david@example.com', false), ('Eve Davis', 'eve@example.com', true);
            INSERT INTO playground.orders (user_id, amount, status) VALUES (1, 99.99, 'pending'),
                (1, 149.50, 'completed'), (2, 75.00, 'pending'), (3, 200.00, 'processing'), (3, 50.00, 'pending'),
                (5, 125.00, 'completed');
            INSERT INTO playground.task_queue (payload, status, priority) VALUES ('{"type": "email"}', 'pending', 1),
                ('{"type": "email", "n": 2}', 'pending', 2), ('{"type": "report"}', 'pending', 0),
                ('{"type": "cleanup"}', 'completed', 0), ('{"type": "sync"}', 'pending', 3);
            INSERT INTO playground.staging (data, source_id) VALUES ('{"product": "Widget A"}', 1001),
                ('{"product": "Widget B"}', 1002), ('{"product": "Gadget X"}', 1003);
            CREATE FUNCTION playground.generate_report(report_type text) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO playground.logs (msg, level) VALUES ('Generated report: ' || report_type, 'info');
                RETURN 'Report generated: ' || report_type;
            END $$;
            """;

    /** Tables and functions the guide's examples name without defining. */
    private static final String READER_TABLES = """
            CREATE TABLE orders (id int PRIMARY KEY, order_id int, status text, total numeric);
            INSERT INTO orders VALUES (1, 501, 'new', 99.50);
            CREATE TABLE documents (id serial PRIMARY KEY, status text, body bytea);
            INSERT INTO documents (status) VALUES ('draft');
            CREATE TABLE invoices (id int PRIMARY KEY, doc bytea, uploaded boolean);
            INSERT INTO invoices VALUES (1, convert_to('%PDF invoice', 'UTF8'), NULL);
            CREATE TABLE archive_log (ok boolean);
            CREATE TABLE users_cache (data jsonb);
            CREATE TABLE audit_log (instance_id text, label text, action text, ts timestamptz, message text);
            CREATE TABLE employees (id int, name text);
            CREATE TABLE raw_orders (id int, amount int);
            INSERT INTO raw_orders SELECT g, g * 10 FROM generate_series(1, 150) g;
            CREATE TABLE processed_orders (id int, amount int);
            CREATE TABLE completed_jobs (job jsonb, result jsonb);
            CREATE TABLE failed_jobs (job jsonb, reason text);
            CREATE TABLE github_commits (id serial PRIMARY KEY, sha text UNIQUE, author text, message text,
                committed_at timestamptz, fetched_at timestamptz DEFAULT now());
            CREATE TABLE queue (id serial, done boolean DEFAULT false);
            INSERT INTO queue (done) VALUES (false), (false);
            CREATE FUNCTION process_item() RETURNS int LANGUAGE sql AS
                'UPDATE queue SET done = true WHERE id = (SELECT min(id) FROM queue WHERE NOT done) RETURNING id';
            CREATE TABLE task_queue (id serial, status text DEFAULT 'pending');
            INSERT INTO task_queue (status) VALUES ('pending'), ('pending');
            CREATE FUNCTION process_next_item() RETURNS int LANGUAGE sql AS
                'UPDATE task_queue SET status = ''done'' WHERE id = (SELECT min(id) FROM task_queue
                  WHERE status = ''pending'') RETURNING id';
            CREATE FUNCTION quick_result() RETURNS text LANGUAGE sql AS 'SELECT ''quick''';
            CREATE FUNCTION process_data() RETURNS text LANGUAGE sql AS 'SELECT ''processed''';
            CREATE TABLE report (summary text);
            INSERT INTO report VALUES ('all good');
            CREATE TABLE users (id int, active boolean);
            INSERT INTO users VALUES (7, true);
            CREATE TABLE heartbeats (ts timestamptz);
            CREATE TABLE empty_table (id int);
            """;

    // ---------------------------------------------------------------------------------------
    // The loopback server standing in for api.example.com, partner.example.com, hooks.example.com
    // and api.github.com.

    private static void handle(HttpExchange x) throws IOException {
        try (x) {
            String path = x.getRequestURI().getPath();
            String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String auth = x.getRequestHeaders().getFirst("Authorization");
            String secret = x.getRequestHeaders().getFirst("X-Webhook-Secret");
            received.put(path, x.getRequestMethod() + " auth=" + auth + " secret=" + secret + " " + body);
            String method = x.getRequestMethod();
            switch (path) {
                case "/users/123" -> reply(x, 200, "application/json", "{\"id\": 123, \"name\": \"Ann\"}");
                case "/users" -> reply(x, "POST".equals(method) ? 201 : 200, "application/json",
                        "POST".equals(method) ? "{\"id\": 1000}" : "[{\"id\": 123}]");
                case "/products" -> reply(x, 200, "application/json", "[]");
                case "/orders" -> reply(x, 201, "application/json", "{\"order\": 1}");
                case "/secure/data" -> {
                    if ("Bearer token123".equals(auth)) {
                        reply(x, 200, "application/json", "{\"secret\": \"s3\"}");
                    } else {
                        reply(x, 401, "text/plain", "no");
                    }
                }
                case "/notifications", "/webhook/order-update", "/notify", "/thing" ->
                        reply(x, 200, "application/json", "{\"received\": true}");
                case "/status" -> reply(x, 200, "application/json", "{\"healthy\": false}");
                case "/start" -> reply(x, 202, "application/json", "{\"job\": \"j1\"}");
                case "/report.pdf", "/render.pdf" -> reply(x, 200, "application/pdf", PDF);
                case "/upload", "/archive" -> reply(x, 201, "text/plain", "stored");
                case "/repos/microsoft/duroxide/commits" -> reply(x, 200, "application/json", """
                        [{"sha": "c1", "commit": {"author": {"name": "Ann", "date": "2026-01-02T03:04:05Z"},
                          "message": "first"}},
                         {"sha": "c2", "commit": {"author": {"name": "Ben", "date": "2026-01-03T03:04:05Z"},
                          "message": "second"}}]""");
                default -> reply(x, 404, "text/plain", "not found");
            }
        }
    }

    /** A PDF's first bytes: its binary comment line is not UTF-8, so the envelope carries base64. */
    private static final byte[] PDF = {'%', 'P', 'D', 'F', '-', '1', '.', '4', '\n', '%', (byte) 0xE2, (byte) 0xE3,
        (byte) 0xCF, (byte) 0xD3, '\n'};

    private static void reply(HttpExchange x, int status, String type, String body) throws IOException {
        reply(x, status, type, body.getBytes(StandardCharsets.UTF_8));
    }

    private static void reply(HttpExchange x, int status, String type, byte[] bytes) throws IOException {
        x.getResponseHeaders().add("Content-Type", type);
        x.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** The example's SQL with only the host of its URLs replaced by the loopback server. */
    private static String loopback(String sql) {
        return sql.replace("https://api.example.com", base)
                .replace("https://partner.example.com", base)
                .replace("https://hooks.example.com", base)
                .replace("https://api.github.com", base);
    }

    // ---------------------------------------------------------------------------------------
    // Helpers: statements as the application role, rows as maps.

    /** Runs one statement (not prepared, so ?> needs no escaping) and returns its rows. */
    private static List<Map<String, String>> rows(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            ResultSetMetaData md = rs.getMetaData();
            List<Map<String, String>> out = new ArrayList<>();
            while (rs.next()) {
                Map<String, String> row = new LinkedHashMap<>();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    row.put(md.getColumnLabel(i), rs.getString(i));
                }
                out.add(row);
            }
            return out;
        }
    }

    private static List<Map<String, String>> appRows(String sql) {
        try (Connection c = env.connectAsApp()) {
            return rows(c, sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    private static String appValue(String sql) {
        List<Map<String, String>> r = appRows(sql);
        return r.isEmpty() ? null : r.get(0).values().iterator().next();
    }

    /** The error a statement raises as the application role. */
    private static PSQLException appFailure(String sql) throws SQLException {
        return failure(env.connectAsApp(), sql);
    }

    /** Runs {@code SELECT df.start(...)} as written in the guide; returns the instance id. */
    private static String start(String startCall) {
        String id = appValue(startCall);
        assertThat(id).as(startCall).matches("[0-9a-f]{8}");
        return id;
    }

    private static void completed(String id) {
        runs.assertCompleted(id);
    }

    private static JsonNode result(String id) {
        return json(env.result(id));
    }

    /** The terminal status of an instance of any role, read as the superuser. */
    private static String terminalStatus(String id) {
        Poll.until(DONE, id + " to finish", () -> List.of("completed", "failed", "cancelled").contains(
                env.queryAsAdmin("SELECT status FROM df.instances WHERE id = ?", id)));
        return env.queryAsAdmin("SELECT status FROM df.instances WHERE id = ?", id);
    }

    private static void awaitRunning(String id, String nodeType) {
        Poll.until(DONE, id + " to wait in a " + nodeType + " node", () -> !appRows(
                "SELECT 1 FROM df.instance_nodes('" + id + "') WHERE node_type = '" + nodeType
                        + "' AND inferred_status = 'running'").isEmpty());
    }

    // ---------------------------------------------------------------------------------------
    // Getting started, core concepts, the DSL reference and the API reference's node functions.

    @Test
    void the_first_function_runs_and_its_result_is_listed_and_read_back() {
        String id = start("SELECT df.start('SELECT ''Hello, durable world!''')");
        completed(id);

        assertThat(appRows("SELECT * FROM df.list_instances()")).anySatisfy(r -> assertThat(r.get("instance_id")).isEqualTo(id));
        assertThat(result(id).path("rows").get(0).path("?column?").asText()).isEqualTo("Hello, durable world!");
        assertThat(appValue("SELECT df.status('" + id + "')")).isEqualTo("completed");
    }

    @Test
    void building_a_graph_returns_the_documented_json_and_the_builder_and_operator_forms_are_equal() {
        assertThat(json(appValue("SELECT 'SELECT 1' ~> 'SELECT 2'"))).isEqualTo(json(
                "{\"node_type\":\"THEN\",\"left_node\":{\"node_type\":\"SQL\",\"query\":\"SELECT 1\"},"
                        + "\"right_node\":{\"node_type\":\"SQL\",\"query\":\"SELECT 2\"}}"));
        String[][] equivalent = {
            {"df.seq('SELECT 1', 'SELECT 2')", "df.seq(df.sql('SELECT 1'), df.sql('SELECT 2'))"},
            {"'SELECT 1' ~> 'SELECT 2'", "df.sql('SELECT 1') ~> df.sql('SELECT 2')"},
            {"df.as('SELECT id FROM users LIMIT 1', 'user_id')", "'SELECT id FROM users LIMIT 1' |=> 'user_id'"},
            {"df.join('SELECT 1', 'SELECT 2')", "'SELECT 1' & 'SELECT 2'"},
            {"df.race(df.sleep(10), df.wait_for_signal('cancel'))", "df.sleep(10) | df.wait_for_signal('cancel')"},
            {"df.if('SELECT true', 'SELECT ''yes''', 'SELECT ''no''')", "'SELECT true' ?> 'SELECT ''yes''' !> 'SELECT ''no'''"},
            {"df.loop('SELECT process_item()' ~> df.sleep(1))", "@> ('SELECT process_item()' ~> df.sleep(1))"},
        };
        for (String[] pair : equivalent) {
            assertThat(json(appValue("SELECT " + pair[0]))).as(pair[0]).isEqualTo(json(appValue("SELECT " + pair[1])));
        }
        // Node builders the reference shows on their own.
        for (String node : List.of("df.sql('SELECT * FROM users WHERE id = 1')", "df.sql('SELECT 1') ~> df.sleep(5)",
                "df.join3('SELECT 1', 'SELECT 2', 'SELECT 3')",
                "df.if('SELECT count(*) > 0 FROM q', 'SELECT ''yes''', 'SELECT ''no''')",
                "df.if_rows('data', 'SELECT $data.id', 'SELECT ''no data''')",
                "df.loop('SELECT process_item()', 'SELECT count(*) > 0 FROM queue')", "df.break()",
                "df.break('{\"status\": \"done\"}')", "df.sleep(60)", "df.wait_for_schedule('*/5 * * * *')",
                "df.wait_for_schedule('0 9 * * 1-5')", "df.wait_for_schedule('0 * * * *')",
                "df.wait_for_signal('approval')", "df.wait_for_signal('approval', 3600)",
                "df.http('https://api.example.com/users', 'GET')",
                "df.http('https://api.example.com', 'POST', '{\"key\": \"$value\"}')",
                "df.http('https://api.example.com', 'POST', '{\"key\": \"value\"}')")) {
            assertThat(json(appValue("SELECT " + node)).path("node_type").asText()).as(node).isNotEmpty();
        }
    }

    @Test
    void the_operator_examples_join_race_branch_and_loop() {
        String join = start("SELECT df.start('SELECT 1' & 'SELECT 2')");
        String race = start("SELECT df.start(\n    'SELECT quick_result()' | df.sleep(30)  -- timeout after 30s\n)");
        String branch = start("""
                SELECT df.start(
                    'SELECT count(*) > 10 FROM orders'
                        ?> 'SELECT ''high volume'''
                        !> 'SELECT ''low volume'''
                )""");
        completed(join);
        completed(race);
        completed(branch);
        assertThat(result(join)).hasSize(2);
        assertThat(result(race).path("rows").get(0).path("quick_result").asText()).isEqualTo("quick");
        assertThat(result(branch).path("rows").get(0).path("?column?").asText()).isEqualTo("low volume");

        String loop = start("""
                SELECT df.start(
                    @> ('INSERT INTO heartbeats (ts) VALUES (now())' ~> df.sleep(60)),
                    'heartbeat-job'
                )""");
        awaitRunning(loop, "SLEEP");
        assertThat(appValue("SELECT count(*) FROM heartbeats")).isEqualTo("1");
        appValue("SELECT df.cancel('" + loop + "', 'Manual stop')");
        assertThat(env.await(loop, DONE)).isEqualTo("cancelled");
    }

    @Test
    void named_results_substitute_as_scalar_column_null_safe_and_row_set() {
        String scalar = start("""
                SELECT df.start(
                    'SELECT 100 as amount' |=> 'total'        -- save result as $total
                    ~> 'SELECT $total * 2 as doubled'         -- use $total in next step
                )""");
        String column = start("""
                SELECT df.start(
                    $$SELECT 42 AS id, 'Alice' AS name$$ |=> 'user'
                    ~> $$SELECT $user.id AS id, $user.name AS name$$  -- access specific columns
                )""");
        String nullSafe = start("""
                SELECT df.start(
                    $$SELECT NULL::text AS val$$ |=> 'x'
                    ~> $$SELECT COALESCE($x.val?, 'fallback')$$   -- NULL → 'fallback'
                )""");
        String rowSet = start("""
                SELECT df.start(
                    $$SELECT id, name FROM playground.users WHERE active$$ |=> 'batch'
                    ~> $$SELECT count(*) FROM $batch.*$$                   -- FROM expansion
                )""");
        completed(scalar);
        completed(column);
        completed(nullSafe);
        completed(rowSet);
        assertThat(result(scalar).path("rows").get(0).path("doubled").asInt()).isEqualTo(200);
        assertThat(result(column).path("rows").get(0).path("name").asText()).isEqualTo("Alice");
        assertThat(result(column).path("rows").get(0).path("id").asInt()).isEqualTo(42);
        assertThat(result(nullSafe).path("rows").get(0).path("coalesce").asText()).isEqualTo("fallback");
        assertThat(result(rowSet).path("rows").get(0).path("count").asInt()).isEqualTo(4);
    }

    @Test
    void results_have_the_documented_format_and_json_operators_extract_values() {
        String answer = start("SELECT df.start('SELECT 42 AS answer')");
        String none = start("SELECT df.start('SELECT 1 WHERE false')");
        String slept = start("SELECT df.start(df.sleep(1))");
        completed(answer);
        completed(none);
        completed(slept);

        assertThat(json(env.result(answer))).isEqualTo(json("{\"rows\":[{\"answer\":42}],\"row_count\":1}"));
        assertThat(appValue("SELECT df.result('" + answer + "')::jsonb->'rows'->0->>'answer'")).isEqualTo("42");
        assertThat(result(none)).isEqualTo(json("{\"rows\": [], \"row_count\": 0}"));
        assertThat(result(slept).path("slept").asBoolean()).isTrue();
        assertThat(result(slept).path("seconds").asInt()).isEqualTo(1);
    }

    @Test
    void conditions_follow_the_documented_truthiness_table() {
        Map<String, Boolean> conditions = new LinkedHashMap<>();
        conditions.put("SELECT true", true);
        conditions.put("SELECT false", false);
        conditions.put("SELECT count(*) > 0 FROM users", true);
        conditions.put("SELECT EXISTS(SELECT 1 FROM orders)", true);
        conditions.put("SELECT 1", true);
        conditions.put("SELECT 0", false);
        conditions.put("SELECT count(*) FROM empty_table", false);
        conditions.put("SELECT 'yes'", true);
        conditions.put("SELECT 'no'", false);
        conditions.put("SELECT status FROM orders WHERE id = 1", true);
        conditions.put("SELECT NULL", false);
        conditions.put("SELECT active FROM users WHERE id = 999", false);
        Map<String, String> ids = new LinkedHashMap<>();
        for (String condition : conditions.keySet()) {
            ids.put(condition, start("SELECT df.start(df.if(" + WorkflowRuns.literal(condition)
                    + ", 'SELECT ''then'' AS arm', 'SELECT ''else'' AS arm'))"));
        }
        for (Map.Entry<String, Boolean> c : conditions.entrySet()) {
            String id = ids.get(c.getKey());
            completed(id);
            assertThat(result(id).path("rows").get(0).path("arm").asText()).as(c.getKey())
                    .isEqualTo(c.getValue() ? "then" : "else");
        }
    }

    // ---------------------------------------------------------------------------------------
    // Function examples 1 to 7, against the playground data (in order: they change it).

    @Test
    void the_function_examples_run_against_the_playground_data() {
        String count = start("""
                SELECT df.start(
                    'SELECT COUNT(*) FROM playground.users WHERE active = true',
                    'count-active-users'
                )""");
        completed(count);
        assertThat(result(count).path("rows").get(0).path("count").asInt()).isEqualTo(4);

        String steps = start("""
                SELECT df.start(
                    'INSERT INTO playground.logs (msg) VALUES (''Step 1: Starting'')'
                    ~> 'INSERT INTO playground.logs (msg) VALUES (''Step 2: Processing'')'
                    ~> 'INSERT INTO playground.logs (msg) VALUES (''Step 3: Complete'')',
                    'three-step-function'
                )""");
        completed(steps);
        assertThat(appValue("SELECT string_agg(msg, '|' ORDER BY id) FROM playground.logs WHERE msg LIKE 'Step %'"))
                .isEqualTo("Step 1: Starting|Step 2: Processing|Step 3: Complete");

        String etl = start("""
                SELECT df.start(
                    'DELETE FROM playground.target
                     WHERE loaded_at < now() - interval ''1 day'''                    -- cleanup
                    ~> 'UPDATE playground.staging
                        SET processed_at = now() WHERE processed_at IS NULL'          -- mark
                    ~> 'INSERT INTO playground.target (data, source_id, processed_at)
                        SELECT data, source_id, processed_at FROM playground.staging
                        WHERE processed_at IS NOT NULL',                              -- load
                    'daily-etl'
                )""");
        completed(etl);
        assertThat(appValue("SELECT count(*) FROM playground.target")).isEqualTo("3");

        String order = start("""
                SELECT df.start(
                    'SELECT id FROM playground.orders
                     WHERE status = ''pending'' LIMIT 1' |=> 'order_id'               -- get order
                    ~> 'UPDATE playground.orders
                        SET status = ''processing'' WHERE id = $order_id'             -- mark processing
                    ~> df.sleep(2)                                               -- simulate work
                    ~> 'UPDATE playground.orders
                        SET status = ''completed'', processed_at = now()
                        WHERE id = $order_id',                                        -- complete
                    'process-order'
                )""");
        completed(order);
        String orderId = json(appRows("SELECT result::text AS r FROM df.nodes WHERE instance_id = '" + order
                + "' AND result_name = 'order_id'").get(0).get("r")).path("rows").get(0).path("id").asText();
        assertThat(appValue("SELECT status || (processed_at IS NOT NULL) FROM playground.orders WHERE id = " + orderId))
                .isEqualTo("completedtrue");

        String parallel = start("""
                SELECT df.start(
                    'SELECT COUNT(*) as user_count FROM playground.users'             -- branch 1
                    & 'SELECT COUNT(*) as order_count FROM playground.orders'         -- branch 2
                    ~> 'INSERT INTO playground.logs (msg)
                        VALUES (''Parallel counts complete'')',
                    'parallel-counts'
                )""");
        String parallelFunc = start("""
                SELECT df.start(
                    df.join(
                        'SELECT COUNT(*) as user_count FROM playground.users',
                        'SELECT COUNT(*) as order_count FROM playground.orders'
                    )
                    ~> 'INSERT INTO playground.logs (msg) VALUES (''Done'')',
                    'parallel-counts-func'
                )""");
        completed(parallel);
        completed(parallelFunc);
        assertThat(appValue("SELECT count(*) FROM playground.logs WHERE msg IN ('Parallel counts complete', 'Done')"))
                .isEqualTo("2");

        String load = start("""
                SELECT df.start(
                    'SELECT COUNT(*) > 3 FROM playground.task_queue WHERE status = ''pending'''
                        ?> 'INSERT INTO playground.logs (msg, level) VALUES (''High load!'', ''warning'')'
                        !> 'INSERT INTO playground.logs (msg) VALUES (''Queue normal'')',
                    'check-task-load'
                )""");
        String loadFunc = start("""
                SELECT df.start(
                    df.if(
                        'SELECT COUNT(*) > 3 FROM playground.task_queue WHERE status = ''pending''',
                        'INSERT INTO playground.logs (msg, level) VALUES (''High load!'', ''warning'')',
                        'INSERT INTO playground.logs (msg) VALUES (''Queue normal'')'
                    ),
                    'check-task-load-func'
                )""");
        completed(load);
        completed(loadFunc);
        assertThat(appValue("SELECT count(*) FROM playground.logs WHERE msg = 'High load!' AND level = 'warning'"))
                .isEqualTo("2");

        String pending = start("""
                SELECT df.start(
                    $$SELECT id FROM playground.orders WHERE status = 'pending'$$ |=> 'pending'
                    ~> df.if_rows(
                        'pending',                                               -- result name
                        $$UPDATE playground.orders SET status = 'processing' WHERE id = $pending.id$$,  -- then
                        $$INSERT INTO playground.logs (msg) VALUES ('No pending orders')$$               -- else
                    ),
                    'check-pending'
                )""");
        completed(pending);
        assertThat(appValue("SELECT count(*) FROM playground.orders WHERE status = 'pending'")).isEqualTo("1");

        String task = start("""
                SELECT df.start(
                    'UPDATE playground.task_queue
                     SET status = ''processing'', started_at = now()
                     WHERE id = (
                         SELECT id FROM playground.task_queue
                         WHERE status = ''pending''
                         ORDER BY priority DESC, created_at
                         LIMIT 1
                         FOR UPDATE SKIP LOCKED
                     )
                     RETURNING id, payload' |=> 'task'                                -- claim task
                    ~> df.sleep(1)                                               -- process
                    ~> 'UPDATE playground.task_queue
                        SET status = ''completed'', completed_at = now()
                        WHERE status = ''processing''',                               -- complete
                    'process-next-task'
                )""");
        completed(task);
        assertThat(appValue("SELECT status FROM playground.task_queue WHERE payload->>'type' = 'sync'"))
                .isEqualTo("completed");
    }

    // ---------------------------------------------------------------------------------------
    // HTTP requests.

    @Test
    void the_http_examples_fetch_post_send_headers_run_in_parallel_and_substitute_results() {
        String fetch = start(loopback("""
                SELECT df.start(
                    df.http('https://api.example.com/users/123', 'GET') |=> 'user'
                    ~> 'INSERT INTO users_cache (data) VALUES (($user.body)::jsonb)',
                    'fetch-user'
                )"""));
        String post = start(loopback("""
                SELECT df.start(
                    df.http(
                        'https://api.example.com/orders',
                        'POST',
                        '{"product_id": 42, "quantity": 2}'
                    ) |=> 'response'
                    ~> df.if(
                        'SELECT $response.ok',
                        'INSERT INTO playground.logs (msg) VALUES (''Order created'')',
                        'INSERT INTO playground.logs (msg, level) VALUES (''Order failed'', ''error'')'
                    ),
                    'create-order'
                )"""));
        String headers = start(loopback("""
                SELECT df.start(
                    df.http(
                        'https://api.example.com/secure/data',
                        'GET',
                        NULL,
                        '{"Authorization": "Bearer token123", "X-Custom-Header": "value"}'::jsonb
                    ) |=> 'response'
                    ~> 'SELECT ($response::jsonb->>''body'')::jsonb',
                    'authenticated-request'
                )"""));
        String parallel = start(loopback("""
                SELECT df.start(
                    df.join(
                        df.http('https://api.example.com/users', 'GET'),
                        df.http('https://api.example.com/products', 'GET')
                    ) |=> 'results'
                    ~> 'INSERT INTO playground.logs (msg) VALUES (''Fetched users and products'')',
                    'parallel-fetch'
                )"""));
        String notify = start(loopback("""
                SELECT df.start(
                    'SELECT id, email FROM playground.users WHERE id = 1' |=> 'user'
                    ~> df.http(
                        'https://api.example.com/notifications',
                        'POST',
                        '{"user_id": "$user.id", "message": "Welcome!"}'
                    ) |=> 'notification'
                    ~> 'UPDATE playground.users SET notified = true WHERE id = $user.id',
                    'send-notification'
                )"""));
        for (String id : List.of(fetch, post, headers, parallel, notify)) {
            completed(id);
        }
        assertThat(appValue("SELECT data->>'name' FROM users_cache")).isEqualTo("Ann");
        assertThat(appValue("SELECT count(*) FROM playground.logs WHERE msg = 'Order created'")).isEqualTo("1");
        assertThat(received.get("/orders")).endsWith(" {\"product_id\": 42, \"quantity\": 2}");
        assertThat(result(headers).path("rows").get(0).path("jsonb").path("secret").asText()).isEqualTo("s3");
        assertThat(appValue("SELECT count(*) FROM playground.logs WHERE msg = 'Fetched users and products'")).isEqualTo("1");
        assertThat(received.get("/notifications")).endsWith(" {\"user_id\": \"1\", \"message\": \"Welcome!\"}");
        assertThat(appValue("SELECT notified FROM playground.users WHERE id = 1")).isEqualTo("t");
    }

    @Test
    void the_http_examples_handle_a_404_send_a_webhook_and_read_fields_from_the_reference() {
        String missing = start(loopback("""
                SELECT df.start(
                    df.http('https://api.example.com/users/999', 'GET') |=> 'response'
                    ~> df.if(
                        'SELECT $response.status = 404',
                        'INSERT INTO playground.logs (msg) VALUES (''User not found - creating new'')'
                            ~> df.http('https://api.example.com/users', 'POST', '{"name": "New User"}'),
                        'SELECT ($response.body)::jsonb'
                    ),
                    'fetch-or-create-user'
                )"""));
        String webhook = start(loopback("""
                SELECT df.start(
                    'SELECT order_id, status, total FROM orders WHERE id = 1' |=> 'order'
                    ~> df.http(
                        'https://partner.example.com/webhook/order-update',
                        'POST',
                        '{"order_id": "$order.order_id", "status": "$order.status", "total": "$order.total"}',
                        '{"X-Webhook-Secret": "shared-secret-123"}'::jsonb
                    ) |=> 'webhook_response'
                    ~> 'INSERT INTO playground.logs (msg) VALUES (''Webhook sent: '' || $webhook_response.status)',
                    'send-order-webhook'
                )"""));
        String reference = start(loopback("""
                SELECT df.start(
                df.http('https://api.example.com/thing', 'GET') |=> 'resp'
                ~> df.if('SELECT $resp.ok', 'SELECT ''hooray''', 'SELECT ''oh no''')
                )"""));
        String timeout = start(loopback("SELECT df.start(df.http('https://api.example.com/secure/data', 'GET', NULL,"
                + " '{\"Auth\": \"Bearer token\"}'::jsonb, 60))"));
        for (String id : List.of(missing, webhook, reference, timeout)) {
            completed(id);
        }
        assertThat(appValue("SELECT count(*) FROM playground.logs WHERE msg = 'User not found - creating new'")).isEqualTo("1");
        assertThat(result(missing).path("status").asInt()).isEqualTo(201);
        assertThat(received.get("/webhook/order-update")).isEqualTo("POST auth=null secret=shared-secret-123"
                + " {\"order_id\": \"501\", \"status\": \"" + appValue("SELECT status FROM orders WHERE id = 1")
                + "\", \"total\": \"99.50\"}");
        assertThat(appValue("SELECT count(*) FROM playground.logs WHERE msg = 'Webhook sent: 200'")).isEqualTo("1");
        assertThat(result(reference).path("rows").get(0).path("?column?").asText()).isEqualTo("hooray");
        assertThat(result(timeout).path("status").asInt()).isEqualTo(401);
    }

    @Test
    void binary_bodies_and_multipart_uploads_work_as_documented() throws SQLException {
        String pdf = start(loopback("""
                SELECT df.start(
                df.http('https://api.example.com/report.pdf', 'GET') |=> 'pdf'
                ~> 'INSERT INTO documents (body) VALUES (decode($pdf.body, ''base64''))'
                )"""));
        String upload = start(loopback("""
                SELECT df.start(
                    'SELECT id, doc FROM invoices WHERE id = 1' |=> 'inv'
                    ~> df.http_multipart(
                        'https://api.example.com/upload', 'POST',
                        jsonb_build_array(
                            jsonb_build_object(
                                'name', 'file',
                                'filename', 'invoice.pdf',
                                'content_type', 'application/pdf',
                                'data_b64', (SELECT encode(doc, 'base64') FROM invoices WHERE id = 1))),
                        '{"Authorization": "Bearer token"}'::jsonb
                    ) |=> 'upload'
                    ~> 'UPDATE invoices SET uploaded = $upload.ok WHERE id = $inv.id',
                    'upload-invoice'
                )"""));
        String archive = start(loopback("""
                SELECT df.start(
                    df.http('https://api.example.com/render.pdf', 'GET') |=> 'pdf'
                    ~> df.http_multipart(
                        'https://api.example.com/archive', 'POST',
                        jsonb_build_array(
                            jsonb_build_object(
                                'name', 'file', 'filename', 'render.pdf',
                                'content_type', 'application/pdf',
                                'data_b64', '$pdf.body'))
                    ) |=> 'archived'
                    ~> 'INSERT INTO archive_log (ok) VALUES ($archived.ok)',
                    'fetch-and-archive'
                )"""));
        for (String id : List.of(pdf, upload, archive)) {
            completed(id);
        }
        assertThat(appValue("SELECT encode(body, 'hex') FROM documents WHERE body IS NOT NULL"))
                .isEqualTo("255044462d312e340a25e2e3cfd30a");
        assertThat(appValue("SELECT uploaded FROM invoices WHERE id = 1")).isEqualTo("t");
        assertThat(received.get("/upload")).startsWith("POST auth=Bearer token").contains("%PDF invoice");
        assertThat(received.get("/archive")).contains("filename=\"render.pdf\"").contains("%PDF-1.4");
        assertThat(appValue("SELECT ok FROM archive_log")).isEqualTo("t");

        appValue("SELECT df.setvar('my_payload', encode(convert_to('from a variable', 'UTF8'), 'base64'))");
        String whole = start(loopback("SELECT df.start(df.http_multipart('https://api.example.com/upload', 'POST',"
                + " jsonb_build_array(jsonb_build_object('name', 'file', 'data_b64', '{my_payload}'))))"));
        completed(whole);
        assertThat(received.get("/upload")).contains("from a variable");
        // The original fails the node when it runs; here the builder refuses it at once, saying what is allowed.
        PSQLException spliced = appFailure(loopback("SELECT df.start(df.http('https://api.example.com/report.pdf', 'GET')"
                + " |=> 'pdf' ~> df.http_multipart('https://api.example.com/upload', 'POST',"
                + " jsonb_build_array(jsonb_build_object('name', 'file', 'data_b64', 'prefix$pdf.body'))))"));
        assertThat(message(spliced)).isEqualTo("parts[0] (\"file\"): data_b64 may hold base64 or one placeholder standing"
                + " for the whole value ($name, $name.col or {name}), not a placeholder mixed with other text");
    }

    @Test
    void scheduled_api_polling_and_the_github_sync_run_their_first_iteration_then_wait_for_the_schedule()
            throws SQLException {
        String poll = start(loopback("""
                SELECT df.start(
                    @> (
                        df.wait_for_schedule('*/5 * * * *')  -- Every 5 minutes
                        ~> df.http('https://api.example.com/status', 'GET') |=> 'status'
                        ~> df.if(
                            'SELECT (($status::jsonb->>''body'')::jsonb->>''healthy'')::boolean = false',
                            'INSERT INTO playground.logs (msg, level) VALUES (''Service unhealthy!'', ''error'')',
                            'SELECT ''healthy'''
                        )
                    ),
                    'api-health-monitor'
                )"""));
        awaitRunning(poll, "WAIT_SCHEDULE");
        // The guide's query for instances waiting on a schedule.
        List<Map<String, String>> waiting = appRows("""
                SELECT n.node_id,
                       n.query::jsonb->>'cron_expr' AS cron_schedule,
                       n.inferred_status
                FROM df.instance_nodes('%s') AS n
                WHERE n.node_type = 'WAIT_SCHEDULE'
                  AND n.inferred_status = 'running'""".formatted(poll));
        assertThat(waiting).singleElement().satisfies(r -> assertThat(r.get("cron_schedule")).isEqualTo("*/5 * * * *"));
        appValue("SELECT df.cancel('" + poll + "', 'Manual stop')");

        appValue(loopback("SELECT df.setvar('github_url', 'https://api.github.com/repos/microsoft/duroxide/commits?per_page=5')"));
        String sync = start("""
                SELECT df.start(
                    @> (
                        (df.http(
                            '{github_url}',
                            'GET',
                            NULL,
                            '{"Accept": "application/vnd.github.v3+json", "User-Agent": "pg_durable"}'::jsonb
                        ) |=> 'response')
                        ~> 'INSERT INTO github_commits (sha, author, message, committed_at)
                            SELECT
                                c->>''sha'',
                                c->''commit''->''author''->>''name'',
                                c->''commit''->>''message'',
                                (c->''commit''->''author''->>''date'')::timestamptz
                            FROM jsonb_array_elements(($response::jsonb->>''body'')::jsonb) AS c
                            ON CONFLICT (sha) DO UPDATE SET
                                fetched_at = now()
                            RETURNING sha'
                        ~> df.wait_for_schedule('*/30 * * * *')  -- Every 30 minutes
                    ),
                    'github-commit-sync'
                )""");
        awaitRunning(sync, "WAIT_SCHEDULE");
        assertThat(appRows("SELECT sha, author, committed_at, LEFT(message, 50) AS message FROM github_commits ORDER BY sha"))
                .extracting(r -> r.get("sha") + "/" + r.get("author") + "/" + r.get("message"))
                .containsExactly("c1/Ann/first", "c2/Ben/second");
        appValue("SELECT df.cancel('" + sync + "', 'Stopping commit sync')");
        assertThat(env.await(sync, DONE)).isEqualTo("cancelled");
        assertThat(env.await(poll, DONE)).isEqualTo("cancelled");
    }

    // ---------------------------------------------------------------------------------------
    // Variables.

    @Test
    void variables_are_set_read_removed_and_substituted_into_http_steps_and_sql() {
        appValue("SELECT df.setvar('api_url', 'https://api.example.com')");
        assertThat(appValue("SELECT df.getvar('api_url')")).isEqualTo("https://api.example.com");
        appValue("SELECT df.unsetvar('api_url')");
        assertThat(appValue("SELECT df.getvar('api_url')")).isNull();

        appValue(loopback("SELECT df.setvar('api_base', 'https://api.example.com')"));
        appValue("SELECT df.setvar('api_key', 'secret123')");
        String users = start("""
                SELECT df.start(
                    df.http('{api_base}/users', 'GET', NULL, '{"Authorization": "Bearer {api_key}"}'::jsonb)
                    ~> 'INSERT INTO playground.logs (msg) VALUES (''Fetched users'')',
                    'fetch-users'
                )""");
        completed(users);
        assertThat(received.get("/users")).startsWith("GET auth=Bearer secret123 ");

        appValue("SELECT df.setvar('source_table', 'raw_orders')");
        appValue("SELECT df.setvar('target_table', 'processed_orders')");
        appValue("SELECT df.setvar('batch_size', '100')");
        String etl = start("""
                SELECT df.start(
                    'SELECT * FROM {source_table} LIMIT {batch_size}::int' |=> 'batch'
                    ~> 'INSERT INTO {target_table} SELECT * FROM $batch.*',
                    'etl-pipeline'
                )""");
        completed(etl);
        assertThat(appValue("SELECT count(*) FROM processed_orders")).isEqualTo("100");

        String audit = start("""
                SELECT df.start(
                    'INSERT INTO audit_log (instance_id, label, action, ts)
                     VALUES (''{sys_instance_id}'', ''{sys_label}'', ''started'', now())'
                    ~> 'SELECT process_data()'
                    ~> 'INSERT INTO audit_log (instance_id, label, action, ts)
                        VALUES (''{sys_instance_id}'', ''{sys_label}'', ''completed'', now())',
                    'audit-example'
                )""");
        completed(audit);
        assertThat(appRows("SELECT instance_id, label, action FROM audit_log WHERE label = 'audit-example' ORDER BY ts"))
                .extracting(r -> r.get("instance_id") + "/" + r.get("action"))
                .containsExactly(audit + "/started", audit + "/completed");

        appValue(loopback("SELECT df.setvar('webhook_url', 'https://hooks.example.com/notify')"));
        String hook = start("""
                SELECT df.start(
                    'SELECT id, status FROM orders WHERE id = 1' |=> 'order'
                    ~> df.http('{webhook_url}', 'POST', '{"order_id": "$order"}'),
                    'order-webhook'
                )""");
        completed(hook);
        assertThat(received.get("/notify")).endsWith(" {\"order_id\": \"1\"}");

        String quickRef = start(loopback("SELECT df.start(df.http('{api_base}/users', 'GET'))"));
        completed(quickRef);
        // Variables are immutable while a workflow runs: a step may not set one.
        String setInside = start("SELECT df.start('SELECT df.setvar(''x'', ''y'')')");
        runs.assertFailed(setInside);
        assertThat(runs.rootError(setInside)).contains("df.setvar() cannot be called inside a workflow");
        appValue("SELECT df.clearvars()");
        assertThat(appValue("SELECT count(*) FROM df.vars")).isEqualTo("0");
    }

    // ---------------------------------------------------------------------------------------
    // Loops.

    @Test
    void a_heartbeat_loop_runs_until_it_is_found_by_label_and_cancelled() {
        String loop = start("""
                SELECT df.start(
                    df.loop(
                        'INSERT INTO playground.heartbeats (ts) VALUES (now())' ~> df.sleep(30)
                    ),
                    'heartbeat-30s-func'
                )""");
        awaitRunning(loop, "SLEEP");
        List<Map<String, String>> sleeping = appRows("""
                SELECT n.node_id,
                       n.query::text AS duration_seconds,
                       n.inferred_status
                FROM df.instance_nodes('%s') AS n
                WHERE n.node_type = 'SLEEP'
                  AND n.inferred_status = 'running'""".formatted(loop));
        assertThat(sleeping).singleElement().satisfies(r -> assertThat(r.get("duration_seconds")).isEqualTo("30"));

        String found = appValue("SELECT instance_id FROM df.list_instances() WHERE label = 'heartbeat-30s-func'");
        assertThat(found).isEqualTo(loop);
        appValue("SELECT df.cancel('" + found + "', 'Stopping cron job')");
        assertThat(env.await(loop, DONE)).isEqualTo("cancelled");
        assertThat(appValue("SELECT count(*) FROM playground.heartbeats")).isEqualTo("1");
    }

    @Test
    void while_loops_run_until_their_condition_is_false_and_a_break_value_is_a_literal() {
        String api = start("SELECT df.start(df.loop('SELECT process_item()', 'SELECT count(*) > 0 FROM queue WHERE NOT done'))");
        String guide = start("""
                SELECT df.start(
                    df.loop(
                        'SELECT process_next_item()' ~> df.sleep(1),
                        'SELECT count(*) > 0 FROM task_queue WHERE status = ''pending'''
                    ),
                    'queue-processor'
                )""");
        // The guide's note: df.break's argument is returned verbatim, never substituted
        // (the original's engine does the same, whatever the note's example suggests).
        String literal = start("""
                SELECT df.start(
                df.loop(
                    'SELECT summary FROM report' |=> 'r'
                    ~> df.break('$r.summary')
                ))""");
        String done = start("SELECT df.start(df.loop('SELECT 1' ~> df.break('{\"status\": \"done\"}')))");
        completed(api);
        completed(guide);
        completed(literal);
        completed(done);
        assertThat(appValue("SELECT count(*) FROM queue WHERE NOT done")).isEqualTo("0");
        assertThat(appValue("SELECT count(*) FROM task_queue WHERE status = 'pending'")).isEqualTo("0");
        assertThat(result(literal).asText()).isEqualTo("$r.summary");
        assertThat(result(done)).isEqualTo(json("{\"status\": \"done\"}"));
    }

    @Test
    void cron_loops_wait_for_their_schedule_and_explain_shows_their_structure() {
        String tick = start("""
                SELECT df.start(
                    @> (
                        df.wait_for_schedule('* * * * *')
                        ~> 'INSERT INTO playground.logs (msg) VALUES (''Minute tick: '' || now()::text)'
                    ),
                    'every-minute-tick'
                )""");
        String report = start("""
                SELECT df.start(
                    @> (
                        df.wait_for_schedule('0 9 * * 1-5')
                        ~> 'SELECT playground.generate_report(''daily_summary'')'
                    ),
                    'weekday-morning-report'
                )""");
        awaitRunning(tick, "WAIT_SCHEDULE");
        awaitRunning(report, "WAIT_SCHEDULE");
        appValue("SELECT df.cancel('" + tick + "', 'Manual stop')");
        appValue("SELECT df.cancel('" + report + "')");
        assertThat(env.await(tick, DONE)).isEqualTo("cancelled");
        assertThat(env.await(report, DONE)).isEqualTo("cancelled");

        String plan = appValue("""
                SELECT df.explain(
                    df.loop(
                        df.wait_for_schedule('0 * * * *')
                        ~> 'DELETE FROM logs WHERE created_at < now() - interval ''7 days''' |=> 'deleted'
                        ~> df.if(
                            'SELECT $deleted > 0',
                            'INSERT INTO audit (action, count) VALUES (''cleanup'', $deleted)',
                            'SELECT ''nothing to clean'''
                        )
                    )
                )""");
        // The same tree as the original's; the layout differs (SQL guide chapter 9, item 10).
        assertThat(plan).contains("LOOP", "↻ body:", "WAIT '0 * * * *'", "SQL: DELETE FROM logs WHERE created_at",
                "→ IF", "✓ then:", "SQL: INSERT INTO audit (action, count)", "✗ else:", "SQL: SELECT 'nothing to clean'");
    }

    // ---------------------------------------------------------------------------------------
    // Signals.

    @Test
    void an_order_is_approved_by_a_signal_and_several_approvals_are_joined() {
        String approval = start("""
                SELECT df.start(
                    'SELECT id, total FROM orders WHERE id = 1' |=> 'order'
                    ~> df.wait_for_signal('approval', 86400) |=> 'sig'  -- 24h timeout
                    ~> df.if(
                        'SELECT NOT ($sig::jsonb->>''timed_out'')::boolean
                            AND ($sig::jsonb->''data''->>''approved'')::boolean',
                        'UPDATE orders SET status = ''approved'' WHERE id = $order.id',
                        'UPDATE orders SET status = ''rejected'' WHERE id = $order.id'
                    ),
                    'order-approval'
                )""");
        awaitRunning(approval, "SIGNAL");
        List<Map<String, String>> waitingOn = appRows("""
                SELECT n.node_id,
                       n.query::jsonb->>'signal_name' AS signal_name,
                       n.inferred_status
                FROM df.instance_nodes('%s') AS n
                WHERE n.node_type = 'SIGNAL'
                  AND n.inferred_status = 'running'""".formatted(approval));
        assertThat(waitingOn).singleElement().satisfies(r -> assertThat(r.get("signal_name")).isEqualTo("approval"));
        appValue("SELECT df.signal('" + approval + "', 'approval', '{\"approved\": true, \"approver\": \"jane@acme.com\"}')");
        completed(approval);
        assertThat(appValue("SELECT status FROM orders WHERE id = 1")).isEqualTo("approved");
        String sig = appValue("SELECT result::text FROM df.nodes WHERE instance_id = '" + approval + "' AND result_name = 'sig'");
        assertThat(json(sig)).isEqualTo(json("{\"signal_name\": \"approval\", \"timed_out\": false,"
                + " \"data\": {\"approved\": true, \"approver\": \"jane@acme.com\"}}"));

        String multi = start("""
                SELECT df.start(
                    'SELECT id FROM documents WHERE id = 1' |=> 'doc'
                    ~> df.join3(
                        df.wait_for_signal('legal_approval'),
                        df.wait_for_signal('tech_approval'),
                        df.wait_for_signal('mgmt_approval')
                    ) |=> 'approvals'
                    ~> 'UPDATE documents SET status = ''approved'' WHERE id = $doc.id',
                    'multi-approval'
                )""");
        appValue("SELECT df.signal('" + multi + "', 'legal_approval', '{\"approved\": true}')");
        appValue("SELECT df.signal('" + multi + "', 'tech_approval', '{\"approved\": true}')");
        appValue("SELECT df.signal('" + multi + "', 'mgmt_approval', '{\"approved\": true}')");
        completed(multi);
        assertThat(appValue("SELECT status FROM documents WHERE id = 1")).isEqualTo("approved");
    }

    @Test
    void a_webhook_callback_is_awaited_and_a_timed_out_signal_has_the_documented_shape() {
        appValue("SELECT df.setvar('job_api', '" + base + "')");
        String job = start("""
                SELECT df.start(
                    df.http('{job_api}/start', 'POST', '{"type": "render"}') |=> 'job'
                    ~> df.wait_for_signal('job_complete', 3600) |=> 'result'
                    ~> df.if(
                        'SELECT NOT ($result::jsonb->>''timed_out'')::boolean',
                        'INSERT INTO completed_jobs VALUES ($job, $result)',
                        'INSERT INTO failed_jobs VALUES ($job, ''timeout'')'
                    ),
                    'webhook-job'
                )""");
        awaitRunning(job, "SIGNAL");
        appValue("SELECT df.signal('" + job + "', 'job_complete', 'rendered')");
        completed(job);
        assertThat(appValue("SELECT (job->>'status') || ' ' || (result->>'data') FROM completed_jobs")).isEqualTo("202 rendered");

        String timedOut = start("SELECT df.start(df.wait_for_signal('approval', 1))");
        completed(timedOut);
        assertThat(result(timedOut)).isEqualTo(json("{\"signal_name\": \"approval\", \"timed_out\": true, \"data\": null}"));
    }

    // ---------------------------------------------------------------------------------------
    // Other databases and transaction_mode.

    @Test
    void steps_run_in_the_database_named_positionally_or_by_name() throws SQLException {
        String analytics = env.cluster().createEmptyDatabase("orig_docs_analytics");
        try (Connection c = env.cluster().connect(analytics); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE events (id int); INSERT INTO events VALUES (1), (2);"
                    + " CREATE TABLE reports (date timestamptz, total bigint);"
                    + " CREATE PROCEDURE refresh_materialized_views() LANGUAGE sql AS 'INSERT INTO events VALUES (3)';"
                    + " GRANT ALL ON events, reports TO " + env.role() + ";"
                    + " GRANT EXECUTE ON PROCEDURE refresh_materialized_views() TO " + env.role());
        }
        String report = start("""
                SELECT df.start(
                    'INSERT INTO reports (date, total) SELECT now(), count(*) FROM events',
                    'daily-report',
                    '%s'
                )""".formatted(analytics));
        String named = start("""
                SELECT df.start(
                    'SELECT current_database() AS db',
                    database => '%s'
                )""".formatted(analytics));
        String tenant = start("""
                SELECT df.start(
                    'CALL refresh_materialized_views()',
                    'tenant-alpha-refresh',
                    '%s'
                )""".formatted(analytics));
        completed(report);
        completed(named);
        completed(tenant);
        assertThat(result(named).path("rows").get(0).path("db").asText()).isEqualTo(analytics);
        try (Connection c = env.cluster().connect(analytics)) {
            assertThat(rows(c, "SELECT total FROM reports")).singleElement().satisfies(r -> assertThat(r.get("total")).isEqualTo("2"));
            assertThat(rows(c, "SELECT id FROM events WHERE id = 3")).hasSize(1);
        }
        PSQLException missing = appFailure("SELECT df.start('SELECT 1', database => 'no_such_database')");
        assertThat(message(missing)).isEqualTo("database \"no_such_database\" does not exist");
    }

    @Test
    void a_start_in_a_new_transaction_survives_the_callers_rollback() throws SQLException {
        String id;
        try (Connection c = env.connectAsApp(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO employees (id, name) VALUES (999, 'Test User')");
            id = rows(c, """
                    SELECT df.start(
                        'INSERT INTO audit_log (message) VALUES (''Inserted employee 999'')',
                        'audit',
                        transaction_mode => 'new'
                    )""").get(0).values().iterator().next();
            c.rollback();
        }
        completed(id);
        assertThat(appValue("SELECT count(*) FROM employees WHERE id = 999")).isEqualTo("0");
        assertThat(appValue("SELECT count(*) FROM audit_log WHERE message = 'Inserted employee 999'")).isEqualTo("1");

        PSQLException typo = appFailure("SELECT df.start('SELECT 1', transaction_mode => 'neww')");
        assertThat(message(typo)).isEqualTo("invalid transaction_mode \"neww\" for df.start(): expected 'caller' or 'new'");
    }

    // ---------------------------------------------------------------------------------------
    // Visualizing and monitoring.

    @Test
    void explain_previews_a_graph_and_shows_a_live_instance() {
        String preview = appValue("""
                SELECT df.explain(
                    'SELECT 1' |=> 'a'
                    ~> 'SELECT 2' |=> 'b'
                    ~> df.if(
                        'SELECT $a > 0',
                        'SELECT ''yes''',
                        'SELECT ''no'''
                    )
                )""");
        assertThat(preview).contains("SQL: SELECT 1 |=> 'a'", "→ SQL: SELECT 2", "→ IF", "✓ then:", "SQL: SELECT 'yes'",
                "✗ else:", "SQL: SELECT 'no'");
        String etl = appValue("""
                SELECT df.explain(
                    'SELECT * FROM staging WHERE status = ''pending'' LIMIT 1' |=> 'record'
                    ~> df.if(
                        'SELECT $record IS NOT NULL',
                        'UPDATE staging SET status = ''validating'' WHERE id = $record.id'
                            ~> df.join(
                                'SELECT validate_schema($record.data)' |=> 'schema_ok',
                                'SELECT validate_rules($record.data)' |=> 'rules_ok'
                            )
                            ~> df.if(
                                'SELECT $schema_ok AND $rules_ok',
                                'INSERT INTO target SELECT * FROM staging WHERE id = $record.id'
                                    ~> 'UPDATE staging SET status = ''loaded'' WHERE id = $record.id',
                                'UPDATE staging SET status = ''failed'' WHERE id = $record.id'
                            ),
                        'SELECT ''no pending records'''
                    )
                )""");
        assertThat(etl).contains("JOIN", "SQL: SELECT validate_schema($record.data) |=> 'schema_ok'",
                "SQL: SELECT 'no pending records'");

        String id = start("SELECT df.start('SELECT 1' |=> 'step1' ~> 'SELECT 2' |=> 'step2', 'my-job')");
        completed(id);
        assertThat(appValue("SELECT df.explain('" + id + "')")).contains(id, "my-job", "SQL: SELECT 1 |=> 'step1'");
        assertThat(appValue("SELECT df.explain('a' ~> 'b')")).isNotEmpty();
    }

    @Test
    void the_monitoring_functions_answer_the_documented_queries() throws SQLException {
        String first = start("SELECT df.start('SELECT 1', 'nightly-report')");
        String second = start("SELECT df.start('SELECT 2', 'nightly-report')");
        String failing = start("SELECT df.start('SELECT 1/0', 'my-job')");
        completed(first);
        completed(second);
        runs.assertFailed(failing);

        assertThat(appRows("SELECT * FROM df.list_instances()").get(0).keySet())
                .containsExactly("instance_id", "label", "function_name", "status", "execution_count", "output");
        assertThat(appRows("SELECT * FROM df.list_instances('completed')")).allSatisfy(r -> assertThat(r.get("status")).isEqualTo("completed"));
        assertThat(appRows("SELECT * FROM df.list_instances('failed')")).extracting(r -> r.get("instance_id")).contains(failing);
        assertThat(appRows("SELECT * FROM df.list_instances('running')")).allSatisfy(r -> assertThat(r.get("status")).isEqualTo("running"));
        assertThat(appRows("SELECT * FROM df.list_instances(NULL, 10)")).hasSizeLessThanOrEqualTo(10);
        assertThat(appRows("SELECT instance_id, status FROM df.list_instances('completed', 50)")).isNotEmpty();

        List<Map<String, String>> labelled = appRows("SELECT * FROM df.list_instances(NULL, 100, 'nightly-report')");
        assertThat(labelled).extracting(r -> r.get("instance_id")).containsExactlyInAnyOrder(first, second);
        assertThat(labelled.get(0).keySet()).containsExactly("instance_id", "label", "function_name", "status",
                "execution_count", "output", "created_at", "completed_at", "next_cursor");
        List<Map<String, String>> page1 = appRows("SELECT instance_id, status, next_cursor FROM df.list_instances(NULL, 1, NULL)");
        String cursor = page1.get(0).get("next_cursor");
        List<Map<String, String>> page2 = appRows("SELECT instance_id, status, next_cursor FROM df.list_instances(NULL, 1, NULL, '"
                + cursor + "')");
        assertThat(page2.get(0).get("instance_id")).isNotEqualTo(page1.get(0).get("instance_id"));
        assertThat(appRows("SELECT * FROM df.list_instances(NULL, 50, NULL, NULL)")).isNotEmpty();
        PSQLException tooMany = appFailure("SELECT * FROM df.list_instances(NULL, 5000)");
        assertThat(message(tooMany)).startsWith("df.list_instances: limit_count (5000) exceeds pg_durable.list_instances_max_limit (1000)");

        assertThat(appRows("SELECT * FROM df.instance_info('" + first + "')")).singleElement().satisfies(r ->
                assertThat(r.keySet()).containsExactly("instance_id", "label", "function_name", "function_version",
                        "current_execution_id", "status", "output"));
        assertThat(appRows("SELECT * FROM df.instance_executions('" + first + "')").get(0).keySet())
                .containsExactly("execution_id", "status", "event_count", "duration_ms", "output");
        assertThat(appRows("SELECT * FROM df.instance_executions('" + first + "', 20)")).isNotEmpty();
        assertThat(appRows("SELECT * FROM df.instance_nodes('" + first + "')").get(0).keySet()).containsExactly("node_id",
                "node_type", "query", "result_name", "left_node", "right_node", "status", "result", "status_details",
                "inferred_status", "inferred_status_from_ancestor_id", "updated_at");
        assertThat(appRows("""
                SELECT node_id, node_type, status AS physical, inferred_status,
                  status_details::jsonb->>'execution_id' AS execution_id
                FROM df.instance_nodes('%s')
                ORDER BY node_id""".formatted(first))).singleElement()
                .satisfies(r -> assertThat(r.get("execution_id")).startsWith(first + "::"));
        assertThat(appRows("""
                SELECT node_id, node_type, result_name, status, inferred_status,
                       left(query, 80) AS query,
                       left(result, 120) AS result
                FROM df.instance_nodes('%s')""".formatted(failing))).singleElement()
                .satisfies(r -> assertThat(r.get("status")).isEqualTo("failed"));

        // A label is not an id: df.status of a label is NULL; resolve it through df.list_instances.
        assertThat(appValue("SELECT df.status('my-job')")).isNull();
        assertThat(appValue("SELECT df.status(instance_id)\nFROM df.list_instances()\nWHERE label = 'my-job'")).isEqualTo("failed");
        assertThat(appValue("SELECT df.await_instance('" + first + "')")).isEqualTo("completed");
        assertThat(appValue("SELECT df.await_instance('" + first + "', 60)")).isEqualTo("completed");

        try (Connection admin = env.connectAsAdmin()) {
            assertThat(rows(admin, "SELECT * FROM df.metrics()").get(0).keySet()).containsExactly("total_instances",
                    "running_instances", "completed_instances", "failed_instances", "total_executions", "total_events");
        }
    }

    @Test
    void the_debugging_steps_trace_named_results() {
        String id = start("SELECT df.start('SELECT id FROM users LIMIT 1' |=> 'user_id')");
        String done = start("""
                SELECT df.start(
                  'INSERT INTO playground.logs (msg) VALUES (''done'')' ~>
                  'SELECT ''success'' as status'
                )""");
        completed(id);
        completed(done);
        assertThat(appRows("""
                SELECT result_name, status, result
                FROM df.instance_nodes('%s')
                WHERE result_name IS NOT NULL
                ORDER BY node_id""".formatted(id))).singleElement()
                .satisfies(r -> assertThat(json(r.get("result"))).isEqualTo(json("{\"rows\": [{\"id\": 7}], \"row_count\": 1}")));
        assertThat(result(done).path("rows").get(0).path("status").asText()).isEqualTo("success");
    }

    // ---------------------------------------------------------------------------------------
    // Privileges.

    @Test
    void grant_and_revoke_usage_take_the_documented_arguments() throws SQLException {
        for (String role : List.of("orig_docs_app_role", "orig_docs_admin_role", "orig_docs_backend")) {
            env.cluster().createLoginRole(role);
        }
        env.exec("SELECT df.grant_usage('orig_docs_app_role')");
        env.exec("SELECT df.grant_usage('orig_docs_app_role', include_http => true)");
        env.exec("SELECT df.grant_usage('orig_docs_admin_role', include_http => true, with_grant => true)");
        assertThat(env.queryAsAdmin("SELECT has_function_privilege('orig_docs_app_role',"
                + " 'df.http(text, text, text, jsonb, integer)', 'EXECUTE')")).isEqualTo("t");

        // A delegated administrator grants and revokes for others.
        try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement()) {
            s.execute("SET ROLE orig_docs_admin_role");
            s.execute("SELECT df.grant_usage('orig_docs_backend')");
            assertThat(rows(c, "SELECT has_schema_privilege('orig_docs_backend', 'df', 'USAGE') AS u").get(0).get("u")).isEqualTo("t");
            s.execute("SELECT df.revoke_usage('orig_docs_backend')");
        }
        env.exec("SELECT df.revoke_usage('orig_docs_app_role')");
        assertThat(env.queryAsAdmin("SELECT has_function_privilege('orig_docs_app_role',"
                + " 'df.http(text, text, text, jsonb, integer)', 'EXECUTE')")).isEqualTo("f");

        // The group-role pattern: usage granted to a NOLOGIN role, members start as themselves.
        env.exec("CREATE ROLE orig_docs_pg_durable_user NOLOGIN");
        env.exec("SELECT df.grant_usage('orig_docs_pg_durable_user')");
        env.cluster().createLoginRole("orig_docs_etl_service");
        env.exec("GRANT orig_docs_pg_durable_user TO orig_docs_etl_service");
        try (Connection c = env.cluster().connect(env.database(), "orig_docs_etl_service")) {
            String id = rows(c, "SELECT df.start('SELECT 1') AS id").get(0).get("id");
            assertThat(terminalStatus(id)).isEqualTo("completed");
        }
    }

    @Test
    void granting_or_revoking_for_public_is_refused_with_what_to_do_instead() throws SQLException {
        // Deliberate difference (SQL guide chapter 9, item 8): df never grants to PUBLIC.
        PSQLException grant = failure(env.connectAsAdmin(), "SELECT df.grant_usage('public')");
        assertThat(grant.getSQLState()).isEqualTo("22023");
        assertThat(message(grant)).contains("grant df usage to a group role instead");
        // The original's hardening step for installs upgraded from 0.1.1, written as it documents it.
        PSQLException revoke = failure(env.connectAsAdmin(), "SELECT df.revoke_usage('PUBLIC')");
        assertThat(revoke.getSQLState()).isEqualTo("22023");
        assertThat(message(revoke)).contains("df never grants to PUBLIC").contains("revoke usage from the roles");
    }

    @Test
    void steps_run_as_the_submitter_and_roles_that_cannot_log_in_or_superusers_are_told_what_to_do()
            throws SQLException {
        env.cluster().createLoginRole("orig_docs_alice");
        env.exec("SELECT df.grant_usage('orig_docs_alice')");
        env.exec("CREATE TABLE public.alice_data (secret text); ALTER TABLE public.alice_data OWNER TO orig_docs_alice;"
                + " CREATE TABLE public.bob_data (secret text)");
        String own;
        String other;
        try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement()) {
            s.execute("SET SESSION AUTHORIZATION orig_docs_alice");
            own = rows(c, "SELECT df.start('SELECT * FROM alice_data') AS id").get(0).get("id");
            other = rows(c, "SELECT df.start('SELECT * FROM bob_data') AS id").get(0).get("id");
        }
        assertThat(terminalStatus(own)).isEqualTo("completed");
        assertThat(terminalStatus(other)).isEqualTo("failed");

        env.exec("CREATE ROLE orig_docs_analysts NOLOGIN; GRANT orig_docs_analysts TO orig_docs_alice");
        env.exec("SELECT df.grant_usage('orig_docs_analysts')");
        PSQLException nologin;
        try (Connection c = env.cluster().connect(env.database(), "orig_docs_alice"); Statement s = c.createStatement()) {
            s.execute("SET ROLE orig_docs_analysts");
            nologin = failure(c, "SELECT df.start('SELECT 1')");
        }
        assertThat(message(nologin)).isEqualTo("current_user \"orig_docs_analysts\" does not have LOGIN privilege."
                + " The background worker must connect as this role to execute SQL. Grant LOGIN to this role or call"
                + " df.start() as a role with LOGIN.");

        PSQLException superuser = failure(env.connectAsAdmin(), "SELECT df.start('SELECT 1')");
        assertThat(message(superuser)).contains("superuser instances are disabled")
                .contains("Set pg_durable.enable_superuser_instances = on to allow this.");
    }

    @Test
    void a_security_definer_wrapper_starts_its_workflow_as_the_functions_owner() throws SQLException {
        env.cluster().createLoginRole("orig_docs_caller");
        execAsApp(env, """
                CREATE FUNCTION run_report(q TEXT) RETURNS TEXT
                LANGUAGE SQL SECURITY DEFINER AS $$
                    SELECT df.start(df.sql(q), 'report');
                $$""");
        execAsApp(env, "CREATE TABLE admin_only_table (v int); INSERT INTO admin_only_table VALUES (5);"
                + " GRANT EXECUTE ON FUNCTION run_report(text) TO orig_docs_caller");
        String id;
        try (Connection c = env.cluster().connect(env.database(), "orig_docs_caller")) {
            id = rows(c, "SELECT run_report('SELECT * FROM admin_only_table') AS id").get(0).get("id");
        }
        assertThat(terminalStatus(id)).isEqualTo("completed");
        assertThat(env.queryAsAdmin("SELECT submitted_by::text FROM df.instances WHERE id = ?", id)).isEqualTo(env.role());
        assertThat(json(env.queryAsAdmin("SELECT df.result(?)", id)).path("rows").get(0).path("v").asInt()).isEqualTo(5);
    }

    @Test
    void the_worker_liveness_query_reads_the_heartbeat_of_the_running_worker() throws SQLException {
        try (Connection admin = env.connectAsAdmin()) {
            List<Map<String, String>> epoch = rows(admin, """
                    SELECT started_at, last_seen_at,
                           now() - last_seen_at AS time_since_last_heartbeat
                      FROM df._worker_epoch""");
            assertThat(epoch).hasSize(1);
            assertThat(epoch.get(0).get("last_seen_at")).isNotNull();
        }
        PSQLException app = appFailure("SELECT started_at FROM df._worker_epoch");
        assertThat(app.getSQLState()).isEqualTo("42501");
    }

    @Test
    void server_settings_the_original_changes_with_alter_system_need_their_name_known_first() throws SQLException {
        // Deliberate difference (SQL guide chapter 9, item 11): no loaded module defines pg_durable.*
        // settings, so PostgreSQL refuses ALTER SYSTEM of one in a session that has not set it.
        PSQLException fresh = failure(env.connectAsAdmin(),
                "ALTER SYSTEM SET pg_durable.list_instances_max_limit = 5000");
        assertThat(message(fresh)).isEqualTo("unrecognized configuration parameter \"pg_durable.list_instances_max_limit\"");
        try (Connection admin = env.connectAsAdmin(); Statement s = admin.createStatement()) {
            s.execute("SET pg_durable.list_instances_max_limit = 1000");
            s.execute("ALTER SYSTEM SET pg_durable.list_instances_max_limit = 5000");
            s.execute("ALTER SYSTEM RESET pg_durable.list_instances_max_limit");
            assertThat(rows(admin, "SHOW pg_durable.list_instances_max_limit").get(0).values()).containsExactly("1000");
        }
    }

    @Test
    void the_quick_reference_card_runs() {
        List<String> ids = new ArrayList<>();
        for (String call : List.of("SELECT df.start('SELECT 1', 'optional-label')",
                "SELECT df.start('SELECT 1' ~> 'SELECT 2' ~> 'SELECT 3')",
                "SELECT df.start('SELECT 1' |=> 'myvar' ~> 'SELECT $myvar * 2')",
                "SELECT df.start('SELECT 1' & 'SELECT 2')",
                "SELECT df.start(df.join('SELECT 1', 'SELECT 2'))",
                "SELECT df.start('SELECT true' ?> 'SELECT ''yes''' !> 'SELECT ''no''')",
                "SELECT df.start(df.if('SELECT true', 'SELECT ''yes''', 'SELECT ''no'''))",
                "SELECT df.start(df.seq('SELECT 1', 'SELECT 2'))",
                "SELECT df.start(df.sleep(1) ~> 'SELECT 2')")) {
            ids.add(start(call));
        }
        for (String id : ids) {
            completed(id);
        }
        assertThat(result(ids.get(2)).path("rows").get(0).path("?column?").asInt()).isEqualTo(2);

        String waiting = start("SELECT df.start(df.wait_for_signal('approval'))");
        appValue("SELECT df.signal('" + waiting + "', 'approval', '{}')");
        completed(waiting);
        String cancelled = start("SELECT df.start(df.sleep(60))");
        appValue("SELECT df.cancel('" + cancelled + "', 'reason')");
        assertThat(env.await(cancelled, DONE)).isEqualTo("cancelled");
    }
}
