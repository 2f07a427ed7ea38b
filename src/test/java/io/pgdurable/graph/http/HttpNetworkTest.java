package io.pgdurable.graph.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class HttpNetworkTest {

    @Test
    void a_socket_refuses_an_address_its_network_does_not_reach_before_dialling() throws IOException {
        List<InetAddress> asked = new ArrayList<>();
        HttpNetwork closed = new HttpNetwork(LoopbackOnly.RESOLVER, a -> {
            asked.add(a);
            return false;
        });
        InetAddress privateAddress = InetAddress.getByName("10.1.2.3"); // a literal: no lookup
        try (Socket socket = closed.sockets().create(null)) {
            assertThatThrownBy(() -> socket.connect(new InetSocketAddress(privateAddress, 80), 1000))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("does not reach it");
            assertThatThrownBy(() -> socket.connect(new InetSocketAddress(privateAddress, 80)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("does not reach it");
            assertThat(socket.isConnected()).isFalse();
        }
        assertThat(asked).containsExactly(privateAddress, privateAddress);
    }

    @Test
    void the_test_resolver_answers_literals_and_localhost_and_looks_up_nothing_else() throws UnknownHostException {
        assertThat(LoopbackOnly.RESOLVER.resolve("127.0.0.1")).containsExactly(InetAddress.getByName("127.0.0.1"));
        assertThat(LoopbackOnly.RESOLVER.resolve("localhost")).containsExactly(InetAddress.getLoopbackAddress());
        assertThatThrownBy(() -> LoopbackOnly.RESOLVER.resolve("metadata.google.internal"))
                .isInstanceOf(UnknownHostException.class)
                .hasMessageContaining("tests look up no names");
        // Digits and dots that are no address would go to DNS in the JDK: refused here first.
        for (String notALiteral : List.of("999.1.1.1", "10.1.2", "1.2.3.4.5", "010.0.0.1")) {
            assertThatThrownBy(() -> LoopbackOnly.RESOLVER.resolve(notALiteral)).as(notALiteral)
                    .isInstanceOf(UnknownHostException.class)
                    .hasMessageContaining("tests look up no names");
        }
        // A colon makes it an IPv6 literal to the JDK, which refuses a bad one without a lookup.
        assertThatThrownBy(() -> LoopbackOnly.RESOLVER.resolve("fd00::zz"))
                .isInstanceOf(UnknownHostException.class);
    }

    @Test
    void the_worker_network_is_the_system_one_with_plain_sockets() {
        assertThat(HttpNetwork.SYSTEM.resolver()).isSameAs(Resolver.SYSTEM);
        assertThat(HttpNetwork.SYSTEM.sockets()).isSameAs(GuardedHttpClient.PLAIN_SOCKETS);
    }
}
