package io.pgdurable.graph.http;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which addresses an HTTP step may connect to. By default every address that does not reach the
 * public internet is refused: loopback, private (RFC 1918, unique local IPv6), carrier-grade NAT,
 * link-local, multicast, unspecified, broadcast, reserved and documentation ranges, and the IPv6
 * forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) when the embedded address is
 * refused. Cloud metadata endpoints are refused always, allow-list or not. The operator's
 * {@link AllowList} lets chosen hosts and networks through.
 *
 * <p>The decision is pure: it looks at the bytes of an address (and the host name the URL gave),
 * and never resolves or dials anything.
 */
public final class AddressPolicy {

    /** A reason an address is refused, for the error message: "a private address (10.0.0.0/8)". */
    public record Refusal(String what, boolean metadata) {
    }

    private record Range(byte[] network, int prefix, String what) {
        boolean contains(byte[] address) {
            return inNetwork(network, prefix, address);
        }
    }

    /** Whether {@code address} lies in the network of {@code prefix} bits at {@code network}. */
    static boolean inNetwork(byte[] network, int prefix, byte[] address) {
        if (address.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (address[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (address[full] & mask) == (network[full] & mask);
    }

    /** Cloud metadata services, by address: refused even when an allow-list entry covers them. */
    private static final List<Range> METADATA = List.of(
            range("169.254.169.254/32", "the cloud metadata service (169.254.169.254)"),
            range("169.254.170.2/32", "the cloud container metadata service (169.254.170.2)"),
            range("100.100.100.200/32", "the cloud metadata service (100.100.100.200)"),
            range("192.0.0.192/32", "the cloud metadata service (192.0.0.192)"),
            range("fd00:ec2::254/128", "the cloud metadata service (fd00:ec2::254)"));

    /** Cloud metadata services, by name (lower case, without a trailing dot). */
    private static final Set<String> METADATA_NAMES = Set.of(
            "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
            "instance-data.ec2.internal", "metadata.azure.internal", "metadata.packet.net");

    private static final List<Range> IPV4 = List.of(
            range("0.0.0.0/8", "an unspecified or \"this network\" address (0.0.0.0/8)"),
            range("10.0.0.0/8", "a private address (10.0.0.0/8)"),
            range("100.64.0.0/10", "a carrier-grade NAT address (100.64.0.0/10)"),
            range("127.0.0.0/8", "a loopback address (127.0.0.0/8)"),
            range("169.254.0.0/16", "a link-local address (169.254.0.0/16)"),
            range("172.16.0.0/12", "a private address (172.16.0.0/12)"),
            range("192.0.0.0/24", "an IETF protocol assignment address (192.0.0.0/24)"),
            range("192.0.2.0/24", "a documentation address (192.0.2.0/24)"),
            range("192.88.99.0/24", "a 6to4 relay address (192.88.99.0/24)"),
            range("192.168.0.0/16", "a private address (192.168.0.0/16)"),
            range("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
            range("198.51.100.0/24", "a documentation address (198.51.100.0/24)"),
            range("203.0.113.0/24", "a documentation address (203.0.113.0/24)"),
            range("224.0.0.0/4", "a multicast address (224.0.0.0/4)"),
            range("255.255.255.255/32", "the broadcast address (255.255.255.255)"),
            range("240.0.0.0/4", "a reserved address (240.0.0.0/4)"));

    private static final List<Range> IPV6 = List.of(
            range("::/128", "the unspecified address (::)"),
            range("::1/128", "a loopback address (::1)"),
            range("64:ff9b:1::/48", "a local-use NAT64 address (64:ff9b:1::/48)"),
            range("100::/64", "a discard-only address (100::/64)"),
            range("2001::/32", "a Teredo address (2001::/32)"),
            range("2001:db8::/32", "a documentation address (2001:db8::/32)"),
            range("fc00::/7", "a unique local (private) address (fc00::/7)"),
            range("fe80::/10", "a link-local address (fe80::/10)"),
            range("fec0::/10", "a site-local address (fec0::/10)"),
            range("ff00::/8", "a multicast address (ff00::/8)"));

    /** IPv6 ranges whose addresses carry an IPv4 address: the prefix and where the IPv4 bytes start. */
    private record Embedding(Range range, int offset) {
    }

    private static final List<Embedding> EMBEDDED_IPV4 = List.of(
            new Embedding(range("::ffff:0:0/96", "an IPv4-mapped address"), 12),
            new Embedding(range("::/96", "an IPv4-compatible address"), 12),
            new Embedding(range("64:ff9b::/96", "a NAT64 address"), 12),
            new Embedding(range("2002::/16", "a 6to4 address"), 2));

    private final AllowList allowList;

    public AddressPolicy(AllowList allowList) {
        this.allowList = allowList == null ? AllowList.EMPTY : allowList;
    }

    /** The default policy: nothing allow-listed. */
    public static AddressPolicy strict() {
        return new AddressPolicy(AllowList.EMPTY);
    }

    public AllowList allowList() {
        return allowList;
    }

    /**
     * Why {@code host} (as the URL names it) may not be used at all, before it is resolved, or
     * null: the names of cloud metadata services are refused whatever they resolve to.
     */
    public Refusal refuseName(String host) {
        String name = normalise(host);
        if (METADATA_NAMES.contains(name)) {
            return new Refusal("the cloud metadata service name '" + name + "'", true);
        }
        return null;
    }

    /**
     * Why the step may not connect to {@code address}, which {@code host} (as the URL names it)
     * resolved to, or null when it may. The allow-list lets a refused address through when it
     * names the host or a network holding the address; metadata addresses are refused always.
     */
    public Refusal refuse(String host, InetAddress address) {
        byte[] bytes = address.getAddress();
        Refusal metadata = metadata(bytes);
        if (metadata != null) {
            return metadata;
        }
        Refusal refusal = classify(bytes);
        if (refusal == null) {
            return null;
        }
        if (allowList.allowsHost(normalise(host)) || allowList.allowsAddress(bytes)) {
            return null;
        }
        return refusal;
    }

    private static Refusal metadata(byte[] bytes) {
        for (Range r : METADATA) {
            if (r.contains(bytes)) {
                return new Refusal(r.what(), true);
            }
        }
        byte[] embedded = embeddedIpv4(bytes);
        return embedded == null ? null : metadata(embedded);
    }

    /** The refused class an address belongs to, or null for a public address. */
    static Refusal classify(byte[] bytes) {
        if (bytes.length == 4) {
            for (Range r : IPV4) {
                if (r.contains(bytes)) {
                    return new Refusal(r.what(), false);
                }
            }
            return null;
        }
        byte[] embedded = embeddedIpv4(bytes);
        if (embedded != null) {
            Refusal inner = classify(embedded);
            if (inner != null) {
                return new Refusal(inner.what() + " inside an IPv6 address", false);
            }
            return null;
        }
        for (Range r : IPV6) {
            if (r.contains(bytes)) {
                return new Refusal(r.what(), false);
            }
        }
        return null;
    }

    /** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or null. */
    private static byte[] embeddedIpv4(byte[] bytes) {
        if (bytes.length != 16) {
            return null;
        }
        for (Embedding e : EMBEDDED_IPV4) {
            // "::" and "::1" are in ::/96 but are their own IPv6 addresses, not IPv4-compatible ones.
            if (e.range().contains(bytes) && !(e.offset() == 12 && e.range().prefix() == 96
                    && isZero(e.range().network()) && isTinyV6(bytes))) {
                byte[] v4 = new byte[4];
                System.arraycopy(bytes, e.offset(), v4, 0, 4);
                return v4;
            }
        }
        return null;
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** :: and ::1 */
    private static boolean isTinyV6(byte[] bytes) {
        for (int i = 0; i < 15; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return (bytes[15] & 0xff) <= 1;
    }

    static String normalise(String host) {
        String h = host == null ? "" : host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        while (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }

    static Range range(String cidr, String what) {
        int slash = cidr.indexOf('/');
        byte[] network = literal(cidr.substring(0, slash));
        return new Range(network, Integer.parseInt(cidr.substring(slash + 1)), what);
    }

    /** The bytes of an IP literal (never a DNS look-up: callers pass literals only). */
    static byte[] literal(String ip) {
        try {
            InetAddress a = InetAddress.getByName(ip);
            if (a instanceof Inet6Address || a instanceof Inet4Address) {
                byte[] b = a.getAddress();
                // InetAddress turns ::ffff:a.b.c.d into an IPv4 address; a range must keep its family.
                if (ip.contains(":") && b.length == 4) {
                    byte[] v6 = new byte[16];
                    v6[10] = (byte) 0xff;
                    v6[11] = (byte) 0xff;
                    System.arraycopy(b, 0, v6, 12, 4);
                    return v6;
                }
                return b;
            }
            throw new IllegalArgumentException("not an IP literal: " + ip);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP literal: " + ip, e);
        }
    }
}
