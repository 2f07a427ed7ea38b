package io.pgdurable.graph.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS over the checked address: the client connects to the address it checked, yet the handshake
 * and the certificate check use the URL's host name. A server on 127.0.0.1 holds a certificate for
 * "localhost" only (made with the JDK's keytool), which the client trusts.
 */
class HttpsLoopbackTest {
    private static final char[] PASSWORD = "changeit".toCharArray();
    private static HttpsServer server;
    private static int port;
    private static SSLContext clientTls;
    private static final Map<String, String> hostHeaders = new ConcurrentHashMap<>();

    @BeforeAll
    static void start() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("target"), "https-loopback");
        Path keystore = dir.resolve("server.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", "changeit", "-keypass", "changeit")
                .redirectErrorStream(true).start();
        String output = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(keytool.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(keytool.exitValue()).as(output).isZero();

        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, PASSWORD);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, PASSWORD);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(kmf.getKeyManagers(), null, null);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        clientTls = SSLContext.getInstance("TLS");
        clientTls.init(null, tmf.getTrustManagers(), null);

        server = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(serverTls));
        server.createContext("/", x -> {
            hostHeaders.put(x.getRequestURI().getPath(), x.getRequestHeaders().getFirst("Host"));
            byte[] body = "secure".getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().add("Content-Type", "text/plain");
            x.sendResponseHeaders(200, body.length);
            try (OutputStream out = x.getResponseBody()) {
                out.write(body);
            }
            x.close();
        });
        server.start();
        port = server.getAddress().getPort();
    }

    @AfterAll
    static void stop() {
        server.stop(0);
    }

    /** "localhost" resolves to 127.0.0.1 here, whatever the machine's hosts file says. */
    private static GuardedHttpClient client() {
        Resolver localhost = host -> List.of(InetAddress.getByName("127.0.0.1"));
        return new GuardedHttpClient(new AddressPolicy(AllowList.parse("localhost, 127.0.0.1", AllowList.OPTION)),
                localhost, LoopbackOnly.SOCKETS, clientTls);
    }

    private static GuardedHttpClient.Request get(String url) {
        return new GuardedHttpClient.Request("GET", URI.create(url), Map.of(), null, Duration.ofSeconds(10), 1 << 20);
    }

    @Test
    void https_to_a_name_connects_to_the_checked_address_and_verifies_the_certificate_for_the_name() throws Exception {
        GuardedHttpClient.Response r = client().send(get("https://localhost:" + port + "/named"));

        assertThat(r.status()).isEqualTo(200);
        assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("secure");
        assertThat(hostHeaders.get("/named")).isEqualTo("localhost:" + port);
    }

    @Test
    void a_certificate_that_does_not_name_the_url_host_is_refused() {
        assertThatThrownBy(() -> client().send(get("https://127.0.0.1:" + port + "/by-address")))
                .isInstanceOf(HttpException.class)
                .hasMessageContaining("HTTP GET https://127.0.0.1:" + port + "/by-address failed: SSLHandshakeException")
                .hasMessageContaining("127.0.0.1");
        assertThat(hostHeaders).doesNotContainKey("/by-address");
    }
}
