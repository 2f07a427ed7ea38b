package io.pgdurable.graph.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocketFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real requests, to a server the test starts on 127.0.0.1 (never anywhere else). Loopback is
 * refused by default, so these clients allow 127.0.0.1 explicitly, except where the refusal is
 * the point.
 */
class GuardedHttpClientTest {
    private static final AllowList LOOPBACK = AllowList.parse("127.0.0.1", AllowList.OPTION);

    private HttpServer server;
    private int port;
    private final AtomicInteger requests = new AtomicInteger();
    private final Map<String, String> seen = new ConcurrentHashMap<>();
    private final CountDownLatch release = new CountDownLatch(1);

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        port = server.getAddress().getPort();
        server.createContext("/", exchange -> {
            requests.incrementAndGet();
            try {
                handle(exchange);
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    @AfterEach
    void stopServer() {
        release.countDown();
        server.stop(0);
    }

    private void handle(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath();
        byte[] request = x.getRequestBody().readAllBytes();
        seen.put(path, x.getRequestMethod() + " " + new String(request, StandardCharsets.UTF_8));
        x.getRequestHeaders().forEach((k, v) -> seen.put(path + " header " + k.toLowerCase(), String.join(",", v)));
        switch (path) {
            case "/text" -> send(x, 200, "text/plain; charset=utf-8", "héllo".getBytes(StandardCharsets.UTF_8), false);
            case "/latin1" -> send(x, 200, "text/plain; charset=iso-8859-1", new byte[] {'c', 'a', 'f', (byte) 0xe9}, false);
            case "/binary" -> send(x, 200, "application/octet-stream", allBytes(), false);
            case "/chunked-big" -> send(x, 200, "text/plain", new byte[5000], true);
            case "/length-big" -> send(x, 200, "text/plain", "x".repeat(5000).getBytes(StandardCharsets.US_ASCII), false);
            case "/slow" -> {
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                send(x, 200, "text/plain", "late".getBytes(StandardCharsets.US_ASCII), false);
            }
            case "/redirect-internal" -> redirect(x, 302, "http://10.1.2.3/admin");
            case "/redirect-metadata" -> redirect(x, 307, "http://169.254.169.254/latest/meta-data/");
            case "/redirect-local" -> redirect(x, 302, "/text");
            case "/redirect-post" -> redirect(x, 307, "/echo");
            case "/redirect-other-origin" -> redirect(x, 302, "http://localhost:" + port + "/echo");
            case "/loop" -> redirect(x, 302, "/loop");
            case "/echo" -> send(x, 201, "application/json", ("{\"got\":\"" + x.getRequestMethod() + "\"}")
                    .getBytes(StandardCharsets.US_ASCII), false);
            case "/fail" -> send(x, 503, "text/plain", "down for maintenance".getBytes(StandardCharsets.US_ASCII), false);
            default -> send(x, 404, "text/plain", "no such page".getBytes(StandardCharsets.US_ASCII), false);
        }
    }

    private static byte[] allBytes() {
        byte[] b = new byte[256];
        for (int i = 0; i < 256; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    private static void send(HttpExchange x, int status, String type, byte[] body, boolean chunked) throws IOException {
        x.getResponseHeaders().add("Content-Type", type);
        x.getResponseHeaders().add("X-Trace", "one");
        x.getResponseHeaders().add("X-Trace", "two");
        x.sendResponseHeaders(status, chunked ? 0 : body.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(body);
        }
    }

    private static void redirect(HttpExchange x, int status, String location) throws IOException {
        x.getResponseHeaders().add("Location", location);
        x.sendResponseHeaders(status, -1);
    }

    private GuardedHttpClient client(AllowList allowList, Resolver resolver) {
        return new GuardedHttpClient(new AddressPolicy(allowList), resolver, Connector.SYSTEM,
                (SSLSocketFactory) SSLSocketFactory.getDefault());
    }

    private GuardedHttpClient.Response send(GuardedHttpClient client, String method, String path, byte[] body,
                                            Map<String, String> headers, Duration timeout, int max) throws HttpException {
        return client.send(new GuardedHttpClient.Request(method, URI.create("http://127.0.0.1:" + port + path),
                headers, body, timeout, max));
    }

    private GuardedHttpClient.Response get(String path) throws HttpException {
        return send(client(LOOPBACK, Resolver.SYSTEM), "GET", path, null, Map.of(), Duration.ofSeconds(10), 1 << 20);
    }

    private HttpException failure(GuardedHttpClient client, String method, String path, Duration timeout, int max) {
        try {
            send(client, method, path, null, Map.of(), timeout, max);
        } catch (HttpException e) {
            return e;
        }
        throw new AssertionError(method + " " + path + " succeeded");
    }

    private static HttpException failure(GuardedHttpClient client, String url) {
        try {
            client.send(new GuardedHttpClient.Request("GET", URI.create(url), Map.of(), null, Duration.ofSeconds(5), 1024));
        } catch (HttpException e) {
            return e;
        }
        throw new AssertionError("GET " + url + " succeeded");
    }

    @Test
    void loopback_is_refused_by_default_and_nothing_reaches_the_server() {
        HttpException literal = failure(client(AllowList.EMPTY, Resolver.SYSTEM), "GET", "/text",
                Duration.ofSeconds(5), 1024);

        assertThat(literal.kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(literal.getMessage()).contains("it is a loopback address (127.0.0.0/8)")
                .contains("pg_durable.http_allowed_hosts");
        assertThat(requests).hasValue(0);
    }

    @Test
    void a_host_name_that_resolves_to_loopback_is_refused_by_default() throws Exception {
        Resolver toLoopback = host -> List.of(InetAddress.getByName("127.0.0.1"));

        HttpException stubbed = failure(client(AllowList.EMPTY, toLoopback), "http://innocent.example.test:" + port + "/text");
        HttpException localhost = failure(client(AllowList.EMPTY, Resolver.SYSTEM), "http://localhost:" + port + "/text");

        assertThat(stubbed.getMessage()).contains("'innocent.example.test'").contains("it resolves to a loopback address");
        assertThat(localhost.kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(localhost.getMessage()).contains("'localhost'").contains("it resolves to a loopback address");
        assertThat(requests).hasValue(0);
    }

    @Test
    void an_allowed_loopback_request_returns_status_headers_and_text() throws Exception {
        GuardedHttpClient.Response r = get("/text");
        ObjectNode envelope = ResponseEnvelope.of(r, 7);

        assertThat(r.status()).isEqualTo(200);
        assertThat(envelope.path("body").asText()).isEqualTo("héllo");
        assertThat(envelope.path("encoding").asText()).isEqualTo("text");
        assertThat(envelope.path("ok").asBoolean()).isTrue();
        assertThat(envelope.path("headers").path("content-type").asText()).isEqualTo("text/plain; charset=utf-8");
        assertThat(envelope.path("headers").path("x-trace").asText()).isEqualTo("one, two");
        assertThat(envelope.path("duration_ms").asLong()).isEqualTo(7);
        assertThat(seen.get("/text header host")).isEqualTo("127.0.0.1:" + port);
        assertThat(seen.get("/text header user-agent")).startsWith("pg_durable/");
    }

    @Test
    void a_declared_charset_decodes_the_text() throws Exception {
        assertThat(ResponseEnvelope.of(get("/latin1"), 0).path("body").asText()).isEqualTo("café");
    }

    @Test
    void a_binary_response_comes_back_as_base64_of_its_bytes() throws Exception {
        ObjectNode envelope = ResponseEnvelope.of(get("/binary"), 0);

        assertThat(envelope.path("encoding").asText()).isEqualTo("base64");
        assertThat(Base64.getDecoder().decode(envelope.path("body").asText())).isEqualTo(allBytes());
    }

    @Test
    void a_4xx_is_a_response_not_a_failure() throws Exception {
        GuardedHttpClient.Response r = get("/missing");

        assertThat(r.status()).isEqualTo(404);
        assertThat(ResponseEnvelope.of(r, 0).path("ok").asBoolean()).isFalse();
    }

    @Test
    void a_slow_response_fails_with_the_timeout() {
        HttpException e = failure(client(LOOPBACK, Resolver.SYSTEM), "GET", "/slow", Duration.ofSeconds(1), 1024);

        assertThat(e.kind()).isEqualTo(HttpException.Kind.TIMEOUT);
        assertThat(e.getMessage()).isEqualTo("HTTP timeout after 1s: GET http://127.0.0.1:" + port
                + "/slow did not complete within the step's timeout_seconds (1)");
    }

    @Test
    void an_oversized_response_fails_naming_the_limit_and_its_setting() {
        for (String path : List.of("/chunked-big", "/length-big")) {
            HttpException e = failure(client(LOOPBACK, Resolver.SYSTEM), "GET", path, Duration.ofSeconds(10), 4096);

            assertThat(e.kind()).isEqualTo(HttpException.Kind.LIMIT);
            assertThat(e.getMessage()).isEqualTo("HTTP response body from http://127.0.0.1:" + port + path
                    + " is larger than 4096 bytes, the limit set by pg_durable.http_max_response_bytes");
        }
    }

    @Test
    void a_redirect_into_a_refused_address_is_refused_at_the_hop() {
        HttpException internal = failure(client(LOOPBACK, Resolver.SYSTEM), "GET", "/redirect-internal",
                Duration.ofSeconds(10), 1024);
        HttpException metadata = failure(client(AllowList.parse("127.0.0.1, 169.254.0.0/16", AllowList.OPTION),
                Resolver.SYSTEM), "GET", "/redirect-metadata", Duration.ofSeconds(10), 1024);

        assertThat(internal.kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(internal.getMessage()).isEqualTo("Blocked: refused to connect to '10.1.2.3' for"
                + " http://10.1.2.3/admin: it is a private address (10.0.0.0/8); HTTP steps may not reach loopback,"
                + " private, link-local, multicast or other non-public addresses unless the operator allows the host"
                + " in pg_durable.http_allowed_hosts (or the worker's --http-allowed-hosts)");
        assertThat(metadata.getMessage()).contains("it is the cloud metadata service (169.254.169.254)");
    }

    @Test
    void redirects_are_followed_up_to_the_limit() throws Exception {
        GuardedHttpClient.Response followed = get("/redirect-local");
        HttpException loop = failure(client(LOOPBACK, Resolver.SYSTEM), "GET", "/loop", Duration.ofSeconds(10), 1024);

        assertThat(new String(followed.body(), StandardCharsets.UTF_8)).isEqualTo("héllo");
        assertThat(followed.uri().getPath()).isEqualTo("/text");
        assertThat(loop.kind()).isEqualTo(HttpException.Kind.LIMIT);
        assertThat(loop.getMessage()).contains("was redirected more than 5 times; the limit is 5 redirects");
        assertThat(requests).hasValue(2 + 6);
    }

    @Test
    void a_307_keeps_the_method_and_body_and_a_cross_origin_redirect_drops_the_request_headers() throws Exception {
        GuardedHttpClient client = client(AllowList.parse("127.0.0.1, ::1, localhost", AllowList.OPTION), Resolver.SYSTEM);
        send(client, "POST", "/redirect-post", "payload".getBytes(StandardCharsets.UTF_8),
                Map.of("Authorization", "Bearer secret"), Duration.ofSeconds(10), 1024);

        assertThat(seen.get("/echo")).isEqualTo("POST payload");
        assertThat(seen.get("/echo header authorization")).isEqualTo("Bearer secret");

        seen.clear();
        send(client, "POST", "/redirect-other-origin", "payload".getBytes(StandardCharsets.UTF_8),
                Map.of("Authorization", "Bearer secret"), Duration.ofSeconds(10), 1024);

        assertThat(seen.get("/echo")).isEqualTo("GET ");
        assertThat(seen).doesNotContainKey("/echo header authorization");
    }

    @Test
    void a_multipart_body_reaches_the_server_with_its_parts() throws Exception {
        Multipart.Encoded encoded = Multipart.encode(List.of(
                new HttpStepInput.Part("file", "a.bin", "application/octet-stream",
                        Base64.getMimeEncoder().encodeToString(new byte[] {1, 2, 3})),
                new HttpStepInput.Part("note", null, null, "aGVs\nbG8=")));

        GuardedHttpClient.Response r = send(client(LOOPBACK, Resolver.SYSTEM), "POST", "/echo", encoded.body(),
                Map.of("Content-Type", encoded.contentType()), Duration.ofSeconds(10), 1024);

        assertThat(r.status()).isEqualTo(201);
        assertThat(seen.get("/echo header content-type")).startsWith("multipart/form-data; boundary=pg_durable-");
        assertThat(seen.get("/echo")).contains("Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"")
                .contains("Content-Type: application/octet-stream\r\n\r\n\u0001\u0002\u0003\r\n")
                .contains("Content-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n");
    }
}
