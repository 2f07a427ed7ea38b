package io.pgdurable.pljava;

import io.pgdurable.db.ConnectionSpec;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Where a Java function running inside a backend connects back to. PL/Java's own connection
 * ({@code jdbc:default:connection}) belongs to the calling transaction and cannot commit, so work
 * that commits step by step (the in-database worker) opens ordinary JDBC connections to the same
 * server and database, as the current user (the owner of the SECURITY DEFINER wrapper), over TCP.
 *
 * <p>The target comes from the server alone, never from the calling session, whose settings
 * anyone who may call the function controls ({@link #TARGET_QUERY}): the port is the server's
 * {@code port} (a postmaster-only setting), the database is the current one, the user the
 * current user, and the host is {@value #HOST_SETTING} as the server's configuration files set it
 * ({@code postgresql.conf}, or {@code ALTER SYSTEM}'s {@code postgresql.auto.conf}), read from
 * {@code pg_catalog.pg_file_settings}; a value set with {@code SET}, {@code ALTER DATABASE ... SET}
 * or {@code ALTER ROLE ... SET} is ignored. Unset, it is {@value #DEFAULT_HOST}. The host must be
 * an IP address or a DNS name ({@link #checkHost}), so nothing else can reach the JDBC URL.
 *
 * <p>{@code pg_hba.conf} must let that role in from there: {@code trust} for 127.0.0.1, or a
 * password in the server OS user's {@code ~/.pgpass}, which pgjdbc reads. The connections are
 * made by {@link ConnectionSpec}, so their search_path is pinned like every other of the project's
 * own connections.
 */
public final class Loopback {
    public static final String HOST_SETTING = "pg_durable.loopback_host";
    public static final String DEFAULT_HOST = "127.0.0.1";

    /**
     * The loopback target, from the server's own configuration: port, database, user, and the
     * host from the configuration files (null when they do not set it). Schema-qualified
     * throughout, since it runs in the caller's session and under its search_path. Reading
     * {@code pg_file_settings} needs a superuser (the owner of the SECURITY DEFINER functions).
     */
    public static final String TARGET_QUERY = """
            SELECT pg_catalog.current_setting('port'),
                   pg_catalog.current_database(),
                   CURRENT_USER,
                   (SELECT f.setting
                      FROM pg_catalog.pg_file_settings f
                     WHERE pg_catalog.lower(f.name) OPERATOR(pg_catalog.=) 'pg_durable.loopback_host'
                       AND f.applied
                     ORDER BY f.seqno DESC
                     LIMIT 1)
            """;

    private static final Pattern IPV4 = Pattern.compile(
            "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]{2,45}");
    private static final Pattern DNS_LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");

    private final String host;
    private final int port;
    private final String database;
    private final String user;

    private Loopback(String host, int port, String database, String user) {
        this.host = host;
        this.port = port;
        this.database = database;
        this.user = user;
    }

    /** The target, read through PL/Java's default connection. */
    static Loopback fromServerConfiguration() throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:default:connection")) {
            return fromServerConfiguration(c);
        }
    }

    /** The target, read with {@link #TARGET_QUERY} on {@code c}. */
    public static Loopback fromServerConfiguration(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(TARGET_QUERY)) {
            rs.next();
            String configured = rs.getString(4);
            String host = configured == null || configured.isEmpty() ? DEFAULT_HOST : checkHost(configured);
            return new Loopback(host, Integer.parseInt(rs.getString(1)), rs.getString(2), rs.getString(3));
        }
    }

    /**
     * {@code value} if it is an IPv4 or IPv6 address or a DNS host name; anything else (ports,
     * paths, URL parameters, spaces, zone ids) is refused with SQLSTATE 22023.
     */
    public static String checkHost(String value) throws SQLException {
        if (value != null && (IPV4.matcher(value).matches() || isIpv6(value) || isDnsName(value))) {
            return value;
        }
        throw new SQLException(HOST_SETTING + " must be an IP address or a DNS host name, got '" + value + "'",
                "22023");
    }

    private static boolean isIpv6(String value) {
        if (value.indexOf(':') < 0 || !IPV6_CHARS.matcher(value).matches()) {
            return false;
        }
        try {
            // A literal with a colon is parsed, never looked up.
            return InetAddress.getByName(value) instanceof Inet6Address;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static boolean isDnsName(String value) {
        if (value.isEmpty() || value.length() > 253) {
            return false;
        }
        String[] labels = value.split("\\.", -1);
        for (String label : labels) {
            if (!DNS_LABEL.matcher(label).matches()) {
                return false;
            }
        }
        // An all-numeric last label would make a malformed IPv4 address pass as a name.
        return !labels[labels.length - 1].chars().allMatch(Character::isDigit);
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    public String database() {
        return database;
    }

    public String user() {
        return user;
    }

    /**
     * The target as a JDBC URL, with no parameters (the user travels separately). Built here
     * rather than by {@link ConnectionSpec}: {@code df.run_worker} calls this on PL/Java's class
     * loader, which reads every class through SPI, and pgjdbc's classes are loaded by the worker's
     * own loader instead.
     */
    public String jdbcUrl() {
        String address = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return "jdbc:postgresql://" + address + ":" + port + "/"
                + URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** How to connect back for the project's own work (search_path pinned). */
    public ConnectionSpec spec() {
        return ConnectionSpec.fromUrl(jdbcUrl()).withUser(user);
    }

    /** A data source for the project's own work, as {@link #user()}, showing {@code applicationName}. */
    public DataSource dataSource(String applicationName) {
        return spec().withApplicationName(applicationName).dataSource();
    }
}
