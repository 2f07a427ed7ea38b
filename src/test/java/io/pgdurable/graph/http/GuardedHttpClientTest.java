package io.pgdurable.graph.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pgdurable.testing.Poll;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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

    @AfterEach
    void nothingButLoopbackWasDialled() {
        assertThat(LoopbackOnly.refusedDials()).as("addresses off this machine a socket was asked to reach").isEmpty();
    }

    private void handle(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath();
        seen.put(path + " raw", x.getRequestURI().getRawPath() + "?" + x.getRequestURI().getRawQuery());
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
            case "/many-headers" -> {
                for (int i = 0; i < 250; i++) {
                    x.getResponseHeaders().add("X-Header-" + i, "v");
                }
                send(x, 200, "text/plain", new byte[0], false);
            }
            case "/long-header" -> {
                x.getResponseHeaders().add("X-Long", "y".repeat(70_000));
                send(x, 200, "text/plain", new byte[0], false);
            }
            case "/large-headers" -> {
                for (int i = 0; i < 100; i++) {
                    x.getResponseHeaders().add("X-Header-" + i, "z".repeat(1000));
                }
                send(x, 200, "text/plain", new byte[0], false);
            }
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
        return new GuardedHttpClient(new AddressPolicy(allowList), resolver, LoopbackOnly.SOCKETS,
                GuardedHttpClient.defaultTls());
    }

    private GuardedHttpClient.Response send(GuardedHttpClient client, String method, String path, byte[] body,
                                            Map<String, String> headers, Duration timeout, int max) throws HttpException {
        return client.send(new GuardedHttpClient.Request(method, URI.create("http://127.0.0.1:" + port + path),
                headers, body, timeout, max));
    }

    private GuardedHttpClient.Response get(String path) throws HttpException {
        return send(client(LOOPBACK, LoopbackOnly.RESOLVER), "GET", path, null, Map.of(), Duration.ofSeconds(10), 1 << 20);
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
        HttpException literal = failure(client(AllowList.EMPTY, LoopbackOnly.RESOLVER), "GET", "/text",
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
        HttpException localhost = failure(client(AllowList.EMPTY, LoopbackOnly.RESOLVER), "http://localhost:" + port + "/text");

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
        HttpException e = failure(client(LOOPBACK, LoopbackOnly.RESOLVER), "GET", "/slow", Duration.ofSeconds(1), 1024);

        assertThat(e.kind()).isEqualTo(HttpException.Kind.TIMEOUT);
        assertThat(e.getMessage()).isEqualTo("HTTP timeout after 1s: GET http://127.0.0.1:" + port
                + "/slow did not complete within the step's timeout_seconds (1)");
    }

    @Test
    void an_oversized_response_fails_naming_the_limit_and_its_setting() {
        for (String path : List.of("/chunked-big", "/length-big")) {
            HttpException e = failure(client(LOOPBACK, LoopbackOnly.RESOLVER), "GET", path, Duration.ofSeconds(10), 4096);

            assertThat(e.kind()).isEqualTo(HttpException.Kind.LIMIT);
            assertThat(e.getMessage()).isEqualTo("HTTP response body from http://127.0.0.1:" + port + path
                    + " is larger than 4096 bytes, the limit set by pg_durable.http_max_response_bytes");
        }
    }

    @Test
    void a_redirect_into_a_refused_address_is_refused_at_the_hop() {
        HttpException internal = failure(client(LOOPBACK, LoopbackOnly.RESOLVER), "GET", "/redirect-internal",
                Duration.ofSeconds(10), 1024);
        HttpException metadata = failure(client(AllowList.parse("127.0.0.1, 169.254.0.0/16", AllowList.OPTION),
                LoopbackOnly.RESOLVER), "GET", "/redirect-metadata", Duration.ofSeconds(10), 1024);

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
        HttpException loop = failure(client(LOOPBACK, LoopbackOnly.RESOLVER), "GET", "/loop", Duration.ofSeconds(10), 1024);

        assertThat(new String(followed.body(), StandardCharsets.UTF_8)).isEqualTo("héllo");
        assertThat(followed.uri().getPath()).isEqualTo("/text");
        assertThat(loop.kind()).isEqualTo(HttpException.Kind.LIMIT);
        assertThat(loop.getMessage()).contains("was redirected more than 5 times; the limit is 5 redirects");
        assertThat(requests).hasValue(2 + 6);
    }

    @Test
    void a_307_keeps_the_method_and_body_and_a_cross_origin_redirect_drops_the_request_headers() throws Exception {
        GuardedHttpClient client = client(AllowList.parse("127.0.0.1, ::1, localhost", AllowList.OPTION), LoopbackOnly.RESOLVER);
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

        GuardedHttpClient.Response r = send(client(LOOPBACK, LoopbackOnly.RESOLVER), "POST", "/echo", encoded.body(),
                Map.of("Content-Type", encoded.contentType()), Duration.ofSeconds(10), 1024);

        assertThat(r.status()).isEqualTo(201);
        assertThat(seen.get("/echo header content-type")).startsWith("multipart/form-data; boundary=pg_durable-");
        assertThat(seen.get("/echo")).contains("Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"")
                .contains("Content-Type: application/octet-stream\r\n\r\n\u0001\u0002\u0003\r\n")
                .contains("Content-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n");
    }

    @Test
    void a_path_and_query_outside_ascii_are_sent_percent_encoded() throws Exception {
        GuardedHttpClient.Response r = get("/caf\u00e9?q=\u00fc");

        assertThat(r.status()).isEqualTo(404);
        assertThat(seen.get("/caf\u00e9 raw")).isEqualTo("/caf%C3%A9?q=%C3%BC");
    }

    @Test
    void too_many_or_too_large_response_headers_fail_naming_the_limit() {
        GuardedHttpClient client = client(LOOPBACK, LoopbackOnly.RESOLVER);
        HttpException many = failure(client, "GET", "/many-headers", Duration.ofSeconds(10), 1024);
        HttpException oneLong = failure(client, "GET", "/long-header", Duration.ofSeconds(10), 1024);
        HttpException large = failure(client, "GET", "/large-headers", Duration.ofSeconds(10), 1024);

        assertThat(many.kind()).isEqualTo(HttpException.Kind.LIMIT);
        assertThat(many.getMessage()).isEqualTo("HTTP response from http://127.0.0.1:" + port
                + "/many-headers has more than 200 headers; the limit is 200 (fixed)");
        for (HttpException e : List.of(oneLong, large)) {
            assertThat(e.kind()).isEqualTo(HttpException.Kind.LIMIT);
            assertThat(e.getMessage()).startsWith("HTTP response headers from http://127.0.0.1:" + port)
                    .endsWith(" are larger than 65536 bytes; the limit is 65536 bytes (fixed)");
        }
    }

    @Test
    void abort_from_another_thread_stops_the_request_in_flight() throws Exception {
        GuardedHttpClient.Call call = client(LOOPBACK, LoopbackOnly.RESOLVER).newCall(new GuardedHttpClient.Request("GET",
                URI.create("http://127.0.0.1:" + port + "/slow"), Map.of(), null, Duration.ofSeconds(60), 1024));
        CompletableFuture<HttpException> outcome = CompletableFuture.supplyAsync(() -> {
            try {
                call.execute();
                return null;
            } catch (HttpException e) {
                return e;
            }
        });
        Poll.until(Duration.ofSeconds(10), "the request reached the server", () -> requests.get() == 1);

        call.abort();

        HttpException e = outcome.get(10, TimeUnit.SECONDS);
        assertThat(e).isNotNull();
        assertThat(e.kind()).isEqualTo(HttpException.Kind.ABORTED);
        assertThat(e.getMessage()).isEqualTo("HTTP GET http://127.0.0.1:" + port
                + "/slow was stopped: its step was cancelled");
    }

    @Test
    void a_name_is_resolved_once_per_hop_and_httpclient_connects_only_to_the_checked_address() throws Exception {
        // The first answer is an allowed address, every later one a refused address (DNS rebinding):
        // the request must go to the first answer without asking again.
        AtomicInteger lookups = new AtomicInteger();
        Resolver rebinding = host -> List.of(InetAddress.getByName(lookups.getAndIncrement() == 0 ? "127.0.0.1" : "10.9.9.9"));
        GuardedHttpClient client = client(LOOPBACK, rebinding);

        GuardedHttpClient.Response r = client.send(new GuardedHttpClient.Request("GET",
                URI.create("http://rebind.example.test:" + port + "/text"), Map.of(), null, Duration.ofSeconds(10), 1024));

        assertThat(r.status()).isEqualTo(200);
        assertThat(lookups).hasValue(1);
        assertThat(seen.get("/text header host")).isEqualTo("rebind.example.test:" + port);
    }

    @Test
    void the_resolver_inside_httpclient_answers_only_for_the_checked_host() throws Exception {
        GuardedHttpClient.CheckedAddresses checked = new GuardedHttpClient.CheckedAddresses("api.example.test",
                List.of(InetAddress.getByName("93.184.216.34")));

        assertThat(checked.resolve("API.example.test", 443))
                .containsExactly(new InetSocketAddress(InetAddress.getByName("93.184.216.34"), 443));
        assertThat(checked.resolve("api.example.test")).containsExactly(InetAddress.getByName("93.184.216.34"));
        assertThatThrownBy(() -> checked.resolve("other.example.test", 80))
                .isInstanceOf(UnknownHostException.class)
                .hasMessage("'other.example.test' is not the checked host 'api.example.test'");
        assertThatThrownBy(() -> checked.resolve("127.0.0.1"))
                .isInstanceOf(UnknownHostException.class);
    }

    /** A server that answers one connection with {@code reply}, whatever the request, and closes it. */
    private static int rawServer(String reply) throws IOException {
        java.net.ServerSocket listener = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            try (listener; java.net.Socket s = listener.accept()) {
                s.getInputStream().read(new byte[8192]);
                s.getOutputStream().write(reply.getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
            } catch (IOException e) {
                // the test sees what the client saw
            }
        });
        t.setDaemon(true);
        t.start();
        return listener.getLocalPort();
    }

    @Test
    void a_malformed_or_truncated_response_fails_as_unusable() throws Exception {
        int garbage = rawServer("garbage\r\n\r\n");
        HttpException malformed = failure(client(LOOPBACK, LoopbackOnly.RESOLVER), "http://127.0.0.1:" + garbage + "/x");
        int shortBody = rawServer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
        HttpException truncated = failure(client(LOOPBACK, LoopbackOnly.RESOLVER), "http://127.0.0.1:" + shortBody + "/y");

        assertThat(malformed.kind()).isEqualTo(HttpException.Kind.PROTOCOL);
        assertThat(malformed.getMessage()).startsWith("HTTP response from http://127.0.0.1:" + garbage
                + "/x is unusable: ");
        assertThat(truncated.kind()).isEqualTo(HttpException.Kind.PROTOCOL);
        assertThat(truncated.getMessage()).startsWith("HTTP response from http://127.0.0.1:" + shortBody
                + "/y is unusable: ");
    }
}
