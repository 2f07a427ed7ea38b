package io.pgdurable.graph.http;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Hosts and networks an HTTP step may reach although {@link AddressPolicy} refuses their
 * addresses by default: an internal API, a service on the worker's own machine. Entries, separated
 * by commas or white space: a host name ({@code api.internal}, matched exactly, case-insensitive),
 * a wildcard for the names under a domain ({@code *.corp.example}, not the domain itself), an IP
 * address ({@code 10.1.2.3}, {@code ::1}) or a network in CIDR form ({@code 10.0.0.0/8},
 * {@code fd00::/8}). The allow-list only lets refused addresses through; public addresses need no
 * entry. Cloud metadata endpoints stay refused whatever it says.
 *
 * <p>Only the operator sets it: the server's configuration ({@value #SETTING}) or the worker's
 * command line ({@value #OPTION}); never a caller's session.
 */
public final class AllowList {
    public static final String SETTING = "pg_durable.http_allowed_hosts";
    public static final String OPTION = "--http-allowed-hosts";

    public static final AllowList EMPTY = new AllowList(Set.of(), Set.of(), List.of(), "");

    private static final Pattern DNS_NAME = Pattern.compile(
            "(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*");
    private static final Pattern IP_CHARS = Pattern.compile("[0-9a-f:.]+");

    private record Network(byte[] network, int prefix) {
    }

    private final Set<String> hosts;
    private final Set<String> suffixes;
    private final List<Network> networks;
    private final String text;

    private AllowList(Set<String> hosts, Set<String> suffixes, List<Network> networks, String text) {
        this.hosts = hosts;
        this.suffixes = suffixes;
        this.networks = networks;
        this.text = text;
    }

    /**
     * Parses an allow-list; {@code source} names where it came from ({@value #SETTING} or
     * {@value #OPTION}) for the error. Null or blank is the empty list.
     *
     * @throws IllegalArgumentException naming the source and the entry that is none of the forms
     */
    public static AllowList parse(String value, String source) {
        if (value == null || value.isBlank()) {
            return EMPTY;
        }
        Set<String> hosts = new LinkedHashSet<>();
        Set<String> suffixes = new LinkedHashSet<>();
        List<Network> networks = new ArrayList<>();
        for (String raw : value.trim().split("[,\\s]+")) {
            if (raw.isEmpty()) {
                continue;
            }
            String entry = raw.toLowerCase(Locale.ROOT);
            int slash = entry.indexOf('/');
            String address = slash < 0 ? entry : entry.substring(0, slash);
            if (address.startsWith("[") && address.endsWith("]")) {
                address = address.substring(1, address.length() - 1);
            }
            if (isIpLiteral(address)) {
                byte[] bytes = AddressPolicy.literal(address);
                int prefix = bytes.length * 8;
                if (slash >= 0) {
                    String p = entry.substring(slash + 1);
                    if (!p.matches("[0-9]{1,3}") || Integer.parseInt(p) > bytes.length * 8) {
                        throw bad(source, raw);
                    }
                    prefix = Integer.parseInt(p);
                }
                networks.add(new Network(bytes, prefix));
            } else if (slash < 0 && entry.startsWith("*.") && DNS_NAME.matcher(entry.substring(2)).matches()) {
                suffixes.add(AddressPolicy.normalise(entry.substring(1)));
            } else if (slash < 0 && DNS_NAME.matcher(AddressPolicy.normalise(entry)).matches()) {
                hosts.add(AddressPolicy.normalise(entry));
            } else {
                throw bad(source, raw);
            }
        }
        return new AllowList(Set.copyOf(hosts), Set.copyOf(suffixes), List.copyOf(networks), value.trim());
    }

    private static IllegalArgumentException bad(String source, String entry) {
        return new IllegalArgumentException(source + ": '" + entry + "' is not a host name, *.domain,"
                + " IP address or CIDR network (such as api.internal, *.corp.example, 10.1.2.3 or 10.0.0.0/8)");
    }

    private static boolean isIpLiteral(String s) {
        if (!IP_CHARS.matcher(s).matches()) {
            return false;
        }
        if (s.indexOf(':') >= 0) {
            return true;  // only an IPv6 literal has a colon; AddressPolicy.literal parses it, never looks it up
        }
        return s.matches("(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");
    }

    /** This list and {@code other} together. */
    public AllowList with(AllowList other) {
        if (other == null || other.isEmpty()) {
            return this;
        }
        if (isEmpty()) {
            return other;
        }
        Set<String> h = new LinkedHashSet<>(hosts);
        h.addAll(other.hosts);
        Set<String> s = new LinkedHashSet<>(suffixes);
        s.addAll(other.suffixes);
        List<Network> n = new ArrayList<>(networks);
        n.addAll(other.networks);
        return new AllowList(Set.copyOf(h), Set.copyOf(s), List.copyOf(n), text + ", " + other.text);
    }

    public boolean isEmpty() {
        return hosts.isEmpty() && suffixes.isEmpty() && networks.isEmpty();
    }

    boolean allowsHost(String normalisedHost) {
        if (hosts.contains(normalisedHost)) {
            return true;
        }
        for (String suffix : suffixes) {
            if (normalisedHost.endsWith(suffix) && normalisedHost.length() > suffix.length()) {
                return true;
            }
        }
        return false;
    }

    boolean allowsAddress(byte[] address) {
        for (Network n : networks) {
            if (AddressPolicy.inNetwork(n.network(), n.prefix(), address)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return text;
    }
}
