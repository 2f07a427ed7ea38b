package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.failure;
import static io.pgdurable.graph.e2e.SqlProbe.json;
import static io.pgdurable.graph.e2e.SqlProbe.message;
import static io.pgdurable.graph.e2e.SqlProbe.nodeResult;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pgdurable.graph.http.AllowList;
import io.pgdurable.graph.http.LoopbackOnly;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * HTTP steps end to end: df.start, a worker, and a server the test starts on 127.0.0.1, which the
 * worker may reach because its allow-list (as --http-allowed-hosts would) names 127.0.0.1.
 */
class HttpStepTest {
    private static final Duration DONE = Duration.ofSeconds(30);

    private static DfTestEnvironment env;
    private static HttpServer server;
    private static String base;
    private static final Map<String, String> received = new ConcurrentHashMap<>();
    private static final List<String> idempotencyKeys = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void setUp() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", HttpStepTest::handle);
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();

        env = new DfTestEnvironment("http_e2e");
        env.exec("SELECT df.grant_usage('" + env.role() + "', include_http => true)");
        env.startWorkerAllowingHttp(AllowList.parse("127.0.0.1", AllowList.OPTION));
    }

    @AfterAll
    static void tearDown() {
        env.close();
        server.stop(0);
        // The worker's HTTP steps run on LoopbackOnly.NETWORK (DfTestEnvironment): the private
        // address a test names was refused by the policy, and no socket was asked to reach it.
        assertThat(LoopbackOnly.refusedDials()).as("addresses off this machine a socket was asked to reach").isEmpty();
    }

    /**
     * After every test, not only at the end: the worker's sockets (LoopbackOnly.NETWORK) were
     * never asked to reach an address off this machine, whatever private address a test named.
     */
    @AfterEach
    void no_socket_was_asked_to_leave_this_machine() {
        assertThat(LoopbackOnly.refusedDials()).as("addresses off this machine a socket was asked to reach").isEmpty();
    }

    private static void handle(HttpExchange x) throws IOException {
        try (x) {
            String path = x.getRequestURI().getPath();
            String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            received.put(path, x.getRequestMethod() + " " + x.getRequestURI().getRawQuery() + " " + body);
            String key = x.getRequestHeaders().getFirst("Idempotency-Key");
            if (key != null) {
                idempotencyKeys.add(key);
            }
            switch (path) {
                case "/status" -> reply(x, 200, "application/json", "{\"healthy\": true, \"name\": \"it's\"}");
                case "/upload" -> reply(x, 201, "text/plain", "stored " + body.length() + " bytes");
                case "/broken" -> reply(x, 502, "text/plain", "bad gateway");
                default -> reply(x, 404, "text/plain", "no such page");
            }
        }
    }

    private static void reply(HttpExchange x, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().add("Content-Type", type);
        x.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    private JsonNode run(String graph) {
        String id = env.start(graph);
        assertThat(env.await(id, DONE)).as(env.engineState(id)).isEqualTo("completed");
        return json(env.result(id));
    }

    @Test
    void a_workflow_reads_the_status_ok_and_body_of_an_http_step_in_a_later_sql_step() {
        JsonNode result = run("df.http(" + quote(base + "/status") + ", 'GET') |=> 'resp'"
                + " ~> 'SELECT $resp.status AS status, $resp.ok AS ok, ($resp.body)::jsonb ->> ''name'' AS name'");

        assertThat(result.path("rows").get(0).path("status").asInt()).isEqualTo(200);
        assertThat(result.path("rows").get(0).path("ok").asBoolean()).isTrue();
        assertThat(result.path("rows").get(0).path("name").asText()).isEqualTo("it's");
        assertThat(received.get("/status")).isEqualTo("GET null ");
    }

    @Test
    void the_envelope_is_the_step_result_and_a_404_is_not_a_failure() {
        JsonNode envelope = run("df.http(" + quote(base + "/nowhere") + ", 'GET')");

        assertThat(envelope.path("status").asInt()).isEqualTo(404);
        assertThat(envelope.path("ok").asBoolean()).isFalse();
        assertThat(envelope.path("body").asText()).isEqualTo("no such page");
        assertThat(envelope.path("encoding").asText()).isEqualTo("text");
        assertThat(envelope.path("headers").path("content-type").asText()).isEqualTo("text/plain");
        assertThat(envelope.has("duration_ms")).isTrue();
    }

    @Test
    void placeholders_fill_the_url_body_and_headers_and_the_idempotency_key_is_sent() {
        env.queryAsApp("SELECT df.setvar('api', ?)", base);
        run("'SELECT 42 AS n, ''a b'' AS label' |=> 'row'"
                + " ~> df.http('{api}/echo?n=$row.n', 'POST', '{\"label\": \"$row.label\", \"id\": \"{sys_instance_id}\"}',"
                + " '{\"Idempotency-Key\": \"{sys_idempotency_key}\"}')");

        assertThat(received.get("/echo")).startsWith("POST n=42 {\"label\": \"a b\", \"id\": \"");
        assertThat(idempotencyKeys).hasSize(1);
        assertThat(idempotencyKeys.get(0)).matches("pgd-[0-9a-f]{32}");
    }

    @Test
    void a_multipart_step_uploads_data_from_a_sql_result() {
        JsonNode envelope = run("'SELECT encode(convert_to(''hello file'', ''UTF8''), ''base64'') AS b64' |=> 'data'"
                + " ~> df.http_multipart(" + quote(base + "/upload") + ", 'POST',"
                + " '[{\"name\": \"file\", \"filename\": \"a.txt\", \"content_type\": \"text/plain\", \"data_b64\": \"$data.b64\"}]')");

        assertThat(envelope.path("status").asInt()).isEqualTo(201);
        assertThat(received.get("/upload")).contains("Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"")
                .contains("\r\n\r\nhello file\r\n");
    }

    @Test
    void a_5xx_fails_the_step_quoting_the_response() {
        String id = env.start("df.http(" + quote(base + "/broken") + ", 'GET')");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "")).asText()).isEqualTo("HTTP GET " + base + "/broken returned 502: bad gateway");
    }

    @Test
    void a_step_to_a_private_address_fails_without_dialling() {
        String id = env.start("df.http('http://10.255.255.1:9/x', 'GET')");

        assertThat(env.await(id, DONE)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "")).asText()).startsWith("Blocked: refused to connect to '10.255.255.1'"
                + " for http://10.255.255.1:9/x: it is a private address (10.0.0.0/8);");
        // And had the policy let it through, the test network would not have dialled it either.
        assertThat(LoopbackOnly.refusedDials()).as("addresses off this machine a socket was asked to reach").isEmpty();
    }

    @Test
    void a_role_without_the_http_grant_cannot_start_an_http_step_even_written_by_hand() throws SQLException {
        String role = "http_e2e_plain";
        env.cluster().createLoginRole(role);
        env.exec("SELECT df.grant_usage('" + role + "')");
        // failure() closes the connection it is given.
        PSQLException builder = failure(env.cluster().connect(env.database(), role), "SELECT df.http(?, 'GET')",
                base + "/status");
        PSQLException byHand = failure(env.cluster().connect(env.database(), role), "SELECT df.start(?)",
                "{\"node_type\":\"HTTP\",\"query\":\"{\\\"url\\\":\\\"" + base
                        + "/status\\\",\\\"method\\\":\\\"GET\\\"}\"}");

        assertThat(builder.getSQLState()).isEqualTo("42501");
        assertThat(message(builder)).isEqualTo("permission denied for function http");
        assertThat(byHand.getSQLState()).isEqualTo("42501");
        assertThat(message(byHand)).isEqualTo("permission denied: role \"" + role + "\" may not run HTTP steps:"
                + " it lacks EXECUTE on df.http(text,text,text,jsonb,integer)");
        assertThat(env.queryAsAdmin("SELECT count(*) FROM df.instances WHERE submitted_by = ?::regrole", role))
                .isEqualTo("0");
    }

    @Test
    void a_grant_revoked_after_the_start_stops_the_queued_http_step() {
        String role = "http_e2e_revoked";
        env.cluster().createLoginRole(role);
        env.exec("SELECT df.grant_usage('" + role + "', include_http => true)");
        String id;
        try (Connection c = env.cluster().connect(env.database(), role);
             java.sql.PreparedStatement ps = c.prepareStatement("SELECT df.start(df.sleep(2) ~> df.http(?, 'GET'))")) {
            ps.setString(1, base + "/revoked");
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                rs.next();
                id = rs.getString(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        env.exec("REVOKE EXECUTE ON FUNCTION df.http(text, text, text, jsonb, integer) FROM " + role);

        assertThat(env.queryAsAdmin("SELECT df.await_instance(?, 30)", id)).isEqualTo("failed");
        assertThat(json(nodeResult(env, id, "r")).asText()).isEqualTo("Blocked: role '" + role + "' does not have"
                + " EXECUTE privilege on df.http(text,text,text,jsonb,integer), so HTTP node "
                + SqlProbe.nodeId(env, id, "r") + " cannot run. Grant it with SELECT df.grant_usage('" + role
                + "', include_http => true).");
        assertThat(received).doesNotContainKey("/revoked");
    }

    @Test
    void cancelling_the_instance_stops_its_request_in_flight() throws Exception {
        // A server that reads the request and never answers: the connection ends only when the
        // client closes it, long before the step's 600-second timeout if the cancel reaches it.
        try (java.net.ServerSocket hang = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            java.util.concurrent.CountDownLatch accepted = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch closedByClient = new java.util.concurrent.CountDownLatch(1);
            Thread t = new Thread(() -> {
                try (java.net.Socket s = hang.accept()) {
                    accepted.countDown();
                    InputStream in = s.getInputStream();
                    while (in.read() >= 0) {
                        // the request, then nothing until the client goes away
                    }
                    closedByClient.countDown();
                } catch (IOException e) {
                    closedByClient.countDown();
                }
            }, "hanging-server");
            t.setDaemon(true);
            t.start();
            String id = env.start("df.http('http://127.0.0.1:" + hang.getLocalPort() + "/hang', 'GET', NULL, NULL, 600)");
            assertThat(accepted.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

            env.queryAsApp("SELECT df.cancel(?)", id);

            assertThat(closedByClient.await(30, java.util.concurrent.TimeUnit.SECONDS))
                    .as("the worker closed the connection after the cancel").isTrue();
            assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("cancelled");
        }
    }
}
