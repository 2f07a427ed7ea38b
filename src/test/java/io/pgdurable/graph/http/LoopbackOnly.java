package io.pgdurable.graph.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.apache.hc.client5.http.io.DetachedSocketFactory;

/**
 * The only network HTTP tests use: it looks up no name (only {@code localhost} and IP literals
 * resolve, without a query) and its sockets connect to loopback addresses only, where the tests
 * run their own servers. A private, link-local or metadata address named by a test is therefore
 * never dialled, whatever the address policy under test decides; an attempt is remembered, so a
 * test can assert there was none.
 */
public final class LoopbackOnly {
    /**
     * A dotted quad of four octets, or anything with a colon (which the JDK parses as an IPv6
     * literal or refuses, never looks up). Looser digits-and-dots, such as {@code 999.1.1.1}, are
     * no literal to the JDK, which would send them to DNS.
     */
    private static final Pattern IP_LITERAL = Pattern.compile(
            "((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])|.*:.*");
    private static final Set<InetAddress> REFUSED = ConcurrentHashMap.newKeySet();

    /** Resolves {@code localhost} and IP literals without any lookup; any other name is unknown. */
    public static final Resolver RESOLVER = host -> {
        if (host.equalsIgnoreCase("localhost")) {
            return List.of(InetAddress.getLoopbackAddress());
        }
        if (IP_LITERAL.matcher(host).matches()) {
            return List.of(InetAddress.getByName(host)); // a literal: parsed, not looked up
        }
        throw new UnknownHostException(host + ": tests look up no names");
    };

    /** Loopback only, remembering every other address a socket was asked to connect to. */
    public static final HttpNetwork NETWORK = new HttpNetwork(RESOLVER, address -> {
        if (address.isLoopbackAddress()) {
            return true;
        }
        REFUSED.add(address);
        return false;
    });

    /** Sockets of {@link #NETWORK}, for tests that build a {@link GuardedHttpClient} themselves. */
    public static final DetachedSocketFactory SOCKETS = NETWORK.sockets();

    private LoopbackOnly() {
    }

    /** The non-loopback addresses a socket was asked to connect to so far (none, if all is well). */
    public static Set<InetAddress> refusedDials() {
        return Set.copyOf(REFUSED);
    }
}
