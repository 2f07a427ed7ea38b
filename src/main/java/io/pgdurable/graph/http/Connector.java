package io.pgdurable.graph.http;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/**
 * Opens the TCP connection to an address the {@link AddressPolicy} has already checked (never to
 * a name: the client resolves names itself). TLS, when the URL asks for it, is layered on top by
 * the client with the URL's host name for SNI and certificate checks. Tests inject a stub that
 * records the attempt and never dials.
 */
@FunctionalInterface
public interface Connector {

    /** Plain sockets. */
    Connector SYSTEM = (address, timeout) -> {
        Socket s = new Socket();
        try {
            s.connect(address, (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    };

    /** A connected socket to {@code address}, within {@code timeout}. */
    Socket connect(InetSocketAddress address, Duration timeout) throws IOException;
}
