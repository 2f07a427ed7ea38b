package io.pgdurable.graph.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hc.client5.http.io.DetachedSocketFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The address policy at the point of decision: a stub resolver hands the client chosen addresses,
 * and stub sockets record every connection attempt HttpClient makes and never dial. A refused
 * address must leave them untouched; an allowed one reaches them.
 */
class AddressRefusalTest {

    /** Maps names to addresses; records the names it was asked for. */
    private static final class StubResolver implements Resolver {
        final Map<String, List<InetAddress>> names = new HashMap<>();
        final List<String> asked = new ArrayList<>();

        StubResolver map(String name, InetAddress... addresses) {
            names.put(name, List.of(addresses));
            return this;
        }

        @Override
        public List<InetAddress> resolve(String host) throws UnknownHostException {
            asked.add(host);
            List<InetAddress> a = names.get(host);
            if (a == null) {
                throw new UnknownHostException(host);
            }
            return a;
        }
    }

    /**
     * Hands HttpClient sockets that record where they were asked to connect, and fail: nothing is
     * ever dialled.
     */
    private static final class RecordingSockets implements DetachedSocketFactory {
        final List<InetSocketAddress> attempts = new ArrayList<>();
        final List<Socket> created = new ArrayList<>();

        @Override
        public Socket create(Proxy proxy) {
            Socket socket = new Socket(Proxy.NO_PROXY) {
                @Override
                public void connect(SocketAddress address) throws IOException {
                    connect(address, 0);
                }

                @Override
                public void connect(SocketAddress address, int timeout) throws IOException {
                    attempts.add((InetSocketAddress) address);
                    throw new IOException("stub socket: not dialling " + address);
                }

                @Override
                public void bind(SocketAddress local) throws IOException {
                    throw new IOException("stub socket: not binding " + local);
                }
            };
            created.add(socket);
            return socket;
        }
    }

    private final StubResolver resolver = new StubResolver();
    private final RecordingSockets connector = new RecordingSockets();

    /** Whatever a test asked of the stub sockets, none of them was ever connected or bound. */
    @AfterEach
    void no_socket_ever_dialled() {
        assertThat(connector.created).allSatisfy(s -> {
            assertThat(s.isConnected()).as("a stub socket connected").isFalse();
            assertThat(s.isBound()).as("a stub socket bound").isFalse();
        });
    }

    private GuardedHttpClient client(AllowList allowList) {
        return new GuardedHttpClient(new AddressPolicy(allowList), resolver, connector,
                GuardedHttpClient.defaultTls());
    }

    private HttpException failure(GuardedHttpClient client, String url) {
        GuardedHttpClient.Request request = new GuardedHttpClient.Request("GET", URI.create(url), Map.of(), null,
                Duration.ofSeconds(5), 1 << 20);
        try {
            client.send(request);
        } catch (HttpException e) {
            return e;
        }
        throw new AssertionError("the request to " + url + " succeeded");
    }

    private static InetAddress ip(String literal) throws UnknownHostException {
        return InetAddress.getByName(literal);
    }

    /** An IPv6 address kept as IPv6 (InetAddress turns ::ffff:a.b.c.d into IPv4 by itself). */
    private static InetAddress v6(String literal) throws UnknownHostException {
        byte[] bytes = AddressPolicy.literal(literal);
        return Inet6Address.getByAddress(null, bytes, -1);
    }

    @ParameterizedTest(name = "{0} is refused as {1}")
    @CsvSource(delimiter = '|', value = {
            "127.0.0.1        | a loopback address (127.0.0.0/8)",
            "127.45.6.7       | a loopback address (127.0.0.0/8)",
            "10.1.2.3         | a private address (10.0.0.0/8)",
            "172.16.0.1       | a private address (172.16.0.0/12)",
            "172.31.255.254   | a private address (172.16.0.0/12)",
            "192.168.10.20    | a private address (192.168.0.0/16)",
            "100.64.0.1       | a carrier-grade NAT address (100.64.0.0/10)",
            "100.127.255.254  | a carrier-grade NAT address (100.64.0.0/10)",
            "169.254.1.1      | a link-local address (169.254.0.0/16)",
            "0.0.0.0          | an unspecified or \"this network\" address (0.0.0.0/8)",
            "255.255.255.255  | the broadcast address (255.255.255.255)",
            "224.0.0.1        | a multicast address (224.0.0.0/4)",
            "239.255.255.250  | a multicast address (224.0.0.0/4)",
            "240.0.0.1        | a reserved address (240.0.0.0/4)",
            "192.0.2.1        | a documentation address (192.0.2.0/24)",
            "198.18.0.1       | a benchmarking address (198.18.0.0/15)",
            "169.254.169.254  | the cloud metadata service (169.254.169.254)",
            "100.100.100.200  | the cloud metadata service (100.100.100.200)",
            "::1              | a loopback address (::1)",
            "::               | the unspecified address (::)",
            "fc00::1          | a unique local (private) address (fc00::/7)",
            "fd12:3456::1     | a unique local (private) address (fc00::/7)",
            "fe80::1          | a link-local address (fe80::/10)",
            "ff02::1          | a multicast address (ff00::/8)",
            "2001:db8::1      | a documentation address (2001:db8::/32)",
            "fd00:ec2::254    | the cloud metadata service (fd00:ec2::254)",
            "::ffff:10.0.0.1  | a private address (10.0.0.0/8) inside an IPv6 address",
            "::ffff:127.0.0.1 | a loopback address (127.0.0.0/8) inside an IPv6 address",
            "::10.0.0.1       | a private address (10.0.0.0/8) inside an IPv6 address",
            "64:ff9b::a00:1   | a private address (10.0.0.0/8) inside an IPv6 address",
            "2002:a00:1::1    | a private address (10.0.0.0/8) inside an IPv6 address",
            "::ffff:169.254.169.254 | the cloud metadata service (169.254.169.254)",
    })
    void a_name_resolving_to_a_non_public_address_is_refused_before_anything_is_dialled(String address, String what)
            throws Exception {
        InetAddress a = address.contains(":") ? v6(address) : ip(address);
        resolver.map("api.example.test", a);

        HttpException e = failure(client(AllowList.EMPTY), "https://api.example.test/path");

        assertThat(e.kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(e.getMessage()).startsWith("Blocked: refused to connect to 'api.example.test' for"
                + " https://api.example.test/path: it resolves to " + what + ";");
        assertThat(connector.attempts).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "http://127.0.0.1/        | a loopback address (127.0.0.0/8)",
            "http://[::1]:8080/x      | a loopback address (::1)",
            "http://10.0.0.5:9000/    | a private address (10.0.0.0/8)",
            "http://169.254.169.254/latest/meta-data/ | the cloud metadata service (169.254.169.254)",
            "http://[::ffff:a9fe:a9fe]/ | the cloud metadata service (169.254.169.254)",
            "http://[fe80::1]/        | a link-local address (fe80::/10)",
    })
    void an_ip_literal_in_the_url_is_checked_without_a_look_up(String url, String what) {
        HttpException e = failure(client(AllowList.EMPTY), url);

        assertThat(e.kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(e.getMessage()).contains(": it is " + what + ";");
        assertThat(resolver.asked).isEmpty();
        assertThat(connector.attempts).isEmpty();
    }

    @Test
    void a_public_address_reaches_the_socket_with_the_checked_address() throws Exception {
        resolver.map("api.example.test", ip("93.184.216.34"));

        HttpException e = failure(client(AllowList.EMPTY), "http://api.example.test:8080/x");

        assertThat(e.kind()).isEqualTo(HttpException.Kind.NETWORK);
        assertThat(connector.attempts).containsExactly(new InetSocketAddress(ip("93.184.216.34"), 8080));
        assertThat(resolver.asked).containsExactly("api.example.test");
    }

    @Test
    void an_allowed_ip_literal_goes_to_the_stub_socket_at_that_address_and_is_never_looked_up() throws Exception {
        HttpException v4 = failure(client(AllowList.parse("10.0.0.0/8, fd00::/8", AllowList.OPTION)), "http://10.0.0.5:9000/");
        HttpException v6 = failure(client(AllowList.parse("10.0.0.0/8, fd00::/8", AllowList.OPTION)), "https://[fd00::7]/");

        assertThat(v4.kind()).isEqualTo(HttpException.Kind.NETWORK);
        assertThat(v6.kind()).isEqualTo(HttpException.Kind.NETWORK);
        assertThat(connector.attempts).containsExactly(new InetSocketAddress(ip("10.0.0.5"), 9000),
                new InetSocketAddress(v6("fd00::7"), 443));
        assertThat(resolver.asked).isEmpty();
    }

    @Test
    void a_name_with_one_internal_address_among_public_ones_is_refused_as_a_whole() throws Exception {
        resolver.map("mixed.example.test", ip("93.184.216.34"), ip("10.9.8.7"));

        HttpException e = failure(client(AllowList.EMPTY), "http://mixed.example.test/");

        assertThat(e.kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(e.getMessage()).contains("a private address (10.0.0.0/8)");
        assertThat(connector.attempts).isEmpty();
    }

    @Test
    void metadata_service_names_are_refused_before_they_are_resolved() {
        resolver.map("metadata.google.internal", new InetAddress[0]);

        HttpException e = failure(client(AllowList.parse("metadata.google.internal", AllowList.SETTING)),
                "http://metadata.google.internal/computeMetadata/v1/");

        assertThat(e.getMessage()).contains("it is the cloud metadata service name 'metadata.google.internal';"
                + " HTTP steps may never reach cloud metadata services");
        assertThat(resolver.asked).isEmpty();
        assertThat(connector.attempts).isEmpty();
    }

    @Test
    void the_allow_list_lets_a_named_host_or_network_through_but_never_the_metadata_service() throws Exception {
        resolver.map("api.internal", ip("10.1.2.3")).map("db.corp.example", ip("192.168.7.7"))
                .map("other.example.test", ip("172.20.0.1")).map("meta.example.test", ip("169.254.169.254"));
        GuardedHttpClient client = client(AllowList.parse("api.internal, *.corp.example 172.20.0.0/16 169.254.0.0/16",
                AllowList.SETTING));

        assertThat(failure(client, "http://api.internal/").kind()).isEqualTo(HttpException.Kind.NETWORK);
        assertThat(failure(client, "http://db.corp.example/").kind()).isEqualTo(HttpException.Kind.NETWORK);
        assertThat(failure(client, "http://other.example.test/").kind()).isEqualTo(HttpException.Kind.NETWORK);
        HttpException metadata = failure(client, "http://meta.example.test/");

        assertThat(metadata.kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(metadata.getMessage()).contains("the cloud metadata service (169.254.169.254)");
        assertThat(connector.attempts).extracting(a -> a.getAddress().getHostAddress())
                .containsExactly("10.1.2.3", "192.168.7.7", "172.20.0.1");
    }

    @Test
    void a_wildcard_entry_does_not_allow_the_domain_itself_nor_a_lookalike() throws Exception {
        resolver.map("corp.example", ip("10.0.0.1")).map("evilcorp.example", ip("10.0.0.2"));
        GuardedHttpClient client = client(AllowList.parse("*.corp.example", AllowList.OPTION));

        assertThat(failure(client, "http://corp.example/").kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(failure(client, "http://evilcorp.example/").kind()).isEqualTo(HttpException.Kind.REFUSED);
        assertThat(connector.attempts).isEmpty();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "ftp://example.test/file | Blocked: unsupported URL scheme 'ftp' in ftp://example.test/file. Only http and https are allowed.",
            "file:///etc/passwd      | Blocked: unsupported URL scheme 'file' in file:///etc/passwd. Only http and https are allowed.",
            "http://user:pw@example.test/ | Blocked: the URL http://user:pw@example.test/ carries user information (user:password@); put credentials in a header instead",
    })
    void urls_that_are_not_plain_http_are_refused(String url, String message) {
        HttpException e = failure(client(AllowList.EMPTY), url);

        assertThat(e.getMessage()).isEqualTo(message);
        assertThat(resolver.asked).isEmpty();
        assertThat(connector.attempts).isEmpty();
    }

    @Test
    void a_bad_allow_list_entry_is_refused_naming_the_setting_and_the_entry() {
        assertThatThrownBy(() -> AllowList.parse("api.internal, 10.0.0.0/33", AllowList.SETTING))
                .hasMessage("pg_durable.http_allowed_hosts: '10.0.0.0/33' is not a host name, *.domain, IP address or"
                        + " CIDR network (such as api.internal, *.corp.example, 10.1.2.3 or 10.0.0.0/8)");
        assertThatThrownBy(() -> AllowList.parse("http://x/", AllowList.OPTION))
                .hasMessageStartingWith("--http-allowed-hosts: 'http://x/' is not a host name");
        assertThatThrownBy(() -> HttpSettings.fromConfiguration(null, "12abc", null))
                .hasMessage("pg_durable.http_max_response_bytes must be a whole number of bytes between 1024 and"
                        + " 104857600, got '12abc'");
    }

    @Test
    void the_stub_sockets_never_connect_not_even_to_a_listening_loopback_server() throws Exception {
        try (ServerSocket listening = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket socket = connector.create(null)) {
            InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(), listening.getLocalPort());

            assertThatThrownBy(() -> socket.connect(target, 1000))
                    .isInstanceOf(IOException.class).hasMessageContaining("not dialling");
            assertThatThrownBy(() -> socket.connect(target))
                    .isInstanceOf(IOException.class).hasMessageContaining("not dialling");
            assertThat(socket.isConnected()).isFalse();
            assertThat(connector.attempts).containsExactly(target, target);
        }
    }
}
