package io.pgdurable.graph.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Turns a host name into addresses. The HTTP client resolves each host once, checks every address
 * it gets with {@link AddressPolicy}, and connects only to those checked addresses, so a name that
 * resolves differently a moment later (DNS rebinding) cannot slip past the check. Tests inject a
 * stub that maps names to chosen addresses.
 */
@FunctionalInterface
public interface Resolver {

    /** The system resolver ({@link InetAddress#getAllByName}), which parses IP literals itself. */
    Resolver SYSTEM = host -> List.of(InetAddress.getAllByName(host));

    /** Every address of {@code host}; never empty. */
    List<InetAddress> resolve(String host) throws UnknownHostException;
}
