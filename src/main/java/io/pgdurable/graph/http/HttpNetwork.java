package io.pgdurable.graph.http;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.net.SocketAddress;
import java.util.Objects;
import java.util.function.Predicate;
import org.apache.hc.client5.http.io.DetachedSocketFactory;

/**
 * The network HTTP steps use: how names are resolved, and which addresses a socket may connect to
 * at all. The worker uses {@link #SYSTEM}; the address policy has already decided by the time a
 * socket connects, so there the second test never refuses. A test passes a network that resolves
 * nothing and connects only where it started its own servers, so that no request can leave the
 * machine even if the policy under test were wrong.
 *
 * @param resolver   name resolution, consulted once per host and hop
 * @param mayConnect the last fence before a socket connects; a refused address fails the request
 *                   as a network error, with nothing sent
 */
public record HttpNetwork(Resolver resolver, Predicate<InetAddress> mayConnect) {
    /** The system resolver; sockets connect wherever the address policy allowed. */
    public static final HttpNetwork SYSTEM = new HttpNetwork(Resolver.SYSTEM, address -> true);

    public HttpNetwork {
        Objects.requireNonNull(resolver, "resolver");
        Objects.requireNonNull(mayConnect, "mayConnect");
    }

    /** Unconnected sockets with no proxy that refuse, before dialling, an address {@link #mayConnect} refuses. */
    DetachedSocketFactory sockets() {
        if (this == SYSTEM) {
            return GuardedHttpClient.PLAIN_SOCKETS;
        }
        return proxy -> new Socket(Proxy.NO_PROXY) {
            @Override
            public void connect(SocketAddress endpoint) throws IOException {
                connect(endpoint, 0);
            }

            @Override
            public void connect(SocketAddress endpoint, int timeout) throws IOException {
                InetAddress address = endpoint instanceof InetSocketAddress inet ? inet.getAddress() : null;
                if (address == null || !mayConnect.test(address)) {
                    throw new IOException("not connecting to " + endpoint + ": this network does not reach it");
                }
                super.connect(endpoint, timeout);
            }
        };
    }
}
