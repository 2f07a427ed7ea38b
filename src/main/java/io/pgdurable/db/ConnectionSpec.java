package io.pgdurable.db;

import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Locale;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.postgresql.Driver;
import org.postgresql.PGProperty;

/**
 * The one place pg_durable opens database connections: the worker's pool and listener, the
 * reconciler, the installer, the command line, the benchmarks, the PL/Java loopback, and the SQL
 * steps' connections as the submitting roles.
 *
 * <p><b>The project's own connections</b> ({@link #fromUrl}) always get
 * {@code search_path = pg_catalog, pg_temp}, sent in the startup packet as
 * {@code options=-c search_path=pg_catalog,pg_temp}. The worker usually logs in as a superuser;
 * with the default search path an unqualified name in its SQL (a function, an operator, a type)
 * could resolve to an object in {@code public} or any other schema that other roles may write, and
 * run their code with the worker's rights: a look-alike {@code public.current_setting(varchar,
 * boolean)} or {@code public.=(text, varchar)} is a better match for a {@code varchar} bind
 * parameter than the built-in. A startup option takes precedence over {@code ALTER ROLE ... SET}
 * and {@code ALTER DATABASE ... SET}, and {@code DISCARD ALL} and {@code RESET ALL} restore it, so
 * no setting a database owner controls can move it. pg_temp is named last so that temporary
 * objects can never shadow anything.
 *
 * <p><b>SQL-step connections</b> ({@link #forStep}) are the exception: a step's SQL runs as its
 * submitting role with that role's own defaults, search path included, exactly as in the role's
 * own sessions (unqualified table names in steps keep working). The worker's own statements on
 * those connections must therefore never depend on the search path: they name everything with
 * its schema, pass values as typed bind parameters instead of {@code ::} casts, and write
 * {@code OPERATOR(pg_catalog.=)} where they need an operator.
 *
 * <p>Nothing here is ever taken from a database session: the target and the credentials come from
 * the JDBC URL the operator configured (or, for the in-database worker, the server's own
 * configuration). The URL may carry any pgjdbc parameter (SSL settings and the like) except
 * {@code currentSchema}, which would set the search path behind the pin's back and is refused.
 *
 * <p>Every connection sends {@code application_name} in the startup packet (pgjdbc otherwise sets
 * it with a {@code SET} after connecting, and the first {@code RESET ALL} of a pooled connection
 * would reset it).
 *
 * <p>Instances are immutable; the {@code with...} methods return changed copies.
 */
public final class ConnectionSpec {

    /** The search path of every connection for pg_durable's own work. */
    public static final String SEARCH_PATH = "pg_catalog, pg_temp";

    /** The startup option that pins {@link #SEARCH_PATH}. */
    public static final String SEARCH_PATH_OPTION = "-c search_path=pg_catalog,pg_temp";

    /** The startup option every SQL-step connection carries (read by {@code df.setvar} and friends). */
    public static final String STEP_OPTION = "-c df.in_workflow=true";

    /**
     * pgjdbc sends {@code application_name} in the startup packet only when told the server is at
     * least 9.0; pg_durable needs 15 anyway.
     */
    private static final String ASSUME_MIN_SERVER_VERSION = "9.0";

    private static final String URL_PREFIX = "jdbc:postgresql:";
    private static final Driver DRIVER = new Driver();

    /** URL parameters this class sets itself; a URL's own values are read and then replaced. */
    private static final Set<String> OWN_PARAMETERS = Set.of(
            PGProperty.PG_HOST.getName(), PGProperty.PG_PORT.getName(), PGProperty.PG_DBNAME.getName(),
            PGProperty.USER.getName(), PGProperty.PASSWORD.getName(), PGProperty.OPTIONS.getName(),
            PGProperty.APPLICATION_NAME.getName(), PGProperty.ASSUME_MIN_SERVER_VERSION.getName());

    private enum Kind { OWN, STEP }

    private final Kind kind;
    private final String hosts;
    private final String ports;
    private final String database;
    private final String user;
    private final String password;
    private final String applicationName;
    private final String urlApplicationName;
    private final String urlOptions;
    private final Properties parameters;

    private ConnectionSpec(Kind kind, String hosts, String ports, String database, String user, String password,
                           String applicationName, String urlApplicationName, String urlOptions,
                           Properties parameters) {
        this.kind = kind;
        this.hosts = hosts;
        this.ports = ports;
        this.database = database;
        this.user = user;
        this.password = password;
        this.applicationName = applicationName;
        this.urlApplicationName = urlApplicationName;
        this.urlOptions = urlOptions;
        this.parameters = parameters;
    }

    /**
     * A connection for pg_durable's own work, to the server, database and user that {@code jdbcUrl}
     * names, with the URL's other parameters.
     *
     * @throws IllegalArgumentException if the URL is not a PostgreSQL JDBC URL, or sets {@code currentSchema}
     */
    public static ConnectionSpec fromUrl(String jdbcUrl) {
        if (jdbcUrl == null || !jdbcUrl.startsWith(URL_PREFIX)) {
            throw new IllegalArgumentException("JDBC URL must start with " + URL_PREFIX + ", got '" + jdbcUrl + "'");
        }
        Properties parsed = Driver.parseURL(jdbcUrl, null);
        if (parsed == null) {
            throw new IllegalArgumentException("not a valid PostgreSQL JDBC URL: '" + jdbcUrl + "'");
        }
        if (parsed.getProperty(PGProperty.CURRENT_SCHEMA.getName()) != null) {
            throw new IllegalArgumentException("the JDBC URL sets currentSchema, which pg_durable does not allow:"
                    + " its own connections always use search_path " + SEARCH_PATH
                    + ", and SQL steps use the submitting role's own search_path; remove currentSchema from '"
                    + jdbcUrl + "'");
        }
        Properties rest = new Properties();
        for (String name : parsed.stringPropertyNames()) {
            if (!OWN_PARAMETERS.contains(name)) {
                rest.setProperty(name, parsed.getProperty(name));
            }
        }
        return new ConnectionSpec(Kind.OWN, parsed.getProperty(PGProperty.PG_HOST.getName()),
                parsed.getProperty(PGProperty.PG_PORT.getName()), parsed.getProperty(PGProperty.PG_DBNAME.getName()),
                parsed.getProperty(PGProperty.USER.getName()), parsed.getProperty(PGProperty.PASSWORD.getName()),
                null, parsed.getProperty(PGProperty.APPLICATION_NAME.getName()),
                parsed.getProperty(PGProperty.OPTIONS.getName()), rest);
    }

    /**
     * A connection for a SQL step: the same server and URL parameters (SSL settings and so on), to
     * {@code database} (null: this spec's database), authenticated as {@code role} with no
     * password, with the role's own defaults (no search path pin) and {@code df.in_workflow = true}.
     * The URL's user, password and {@code options} are not used.
     */
    public ConnectionSpec forStep(String role, String database) {
        Objects.requireNonNull(role, "role");
        return new ConnectionSpec(Kind.STEP, hosts, ports, database == null ? this.database : database, role, null,
                applicationName, null, null, parameters);
    }

    /** This spec with {@code user} as the login role (null: keep the URL's). */
    public ConnectionSpec withUser(String user) {
        return user == null ? this : new ConnectionSpec(kind, hosts, ports, database, user, password,
                applicationName, urlApplicationName, urlOptions, parameters);
    }

    /** This spec with {@code password} (null: keep the URL's). */
    public ConnectionSpec withPassword(String password) {
        return password == null ? this : new ConnectionSpec(kind, hosts, ports, database, user, password,
                applicationName, urlApplicationName, urlOptions, parameters);
    }

    /**
     * This spec with {@code name} shown in {@code pg_stat_activity}. For the project's own
     * connections an {@code ApplicationName} in the URL wins; SQL-step connections always show
     * {@code name}.
     */
    public ConnectionSpec withApplicationName(String name) {
        return new ConnectionSpec(kind, hosts, ports, database, user, password, name, urlApplicationName,
                urlOptions, parameters);
    }

    /**
     * This spec with a further pgjdbc connection property, such as {@code reWriteBatchedInserts}.
     * Properties that decide where, as whom or with which session settings the connection is
     * made are refused: use the other methods.
     */
    public ConnectionSpec withProperty(String name, String value) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
        if (OWN_PARAMETERS.contains(name) || name.equalsIgnoreCase(PGProperty.CURRENT_SCHEMA.getName())) {
            throw new IllegalArgumentException("connection property " + name + " is set by ConnectionSpec itself");
        }
        Properties copy = new Properties();
        copy.putAll(parameters);
        copy.setProperty(name, value);
        return new ConnectionSpec(kind, hosts, ports, database, user, password, applicationName, urlApplicationName,
                urlOptions, copy);
    }

    /** This spec's value of the pgjdbc connection property {@code name} (from the URL or {@link #withProperty}), or null. */
    public String property(String name) {
        return parameters.getProperty(name);
    }

    /** The database connected to. */
    public String database() {
        return database;
    }

    /** The login role, or null when the driver's default (the OS user) applies. */
    public String user() {
        return user;
    }

    /** Whether connections get the pinned {@link #SEARCH_PATH} (false only for SQL steps). */
    public boolean pinsSearchPath() {
        return kind == Kind.OWN;
    }

    /** The startup {@code options} these connections send. */
    public String startupOptions() {
        if (kind == Kind.STEP) {
            return STEP_OPTION;
        }
        // The pin comes last: of two -c settings of one parameter the later one wins.
        return urlOptions == null || urlOptions.isBlank() ? SEARCH_PATH_OPTION : urlOptions + " " + SEARCH_PATH_OPTION;
    }

    /** Opens a connection. */
    public Connection open() throws SQLException {
        return open(0);
    }

    private Connection open(int loginTimeoutSeconds) throws SQLException {
        Properties props = new Properties();
        props.putAll(parameters);
        if (user != null) {
            props.setProperty(PGProperty.USER.getName(), user);
        }
        if (password != null) {
            props.setProperty(PGProperty.PASSWORD.getName(), password);
        }
        String app = kind == Kind.OWN && urlApplicationName != null ? urlApplicationName : applicationName;
        if (app != null) {
            props.setProperty(PGProperty.APPLICATION_NAME.getName(), app);
        }
        props.setProperty(PGProperty.OPTIONS.getName(), startupOptions());
        props.setProperty(PGProperty.ASSUME_MIN_SERVER_VERSION.getName(), ASSUME_MIN_SERVER_VERSION);
        if (loginTimeoutSeconds > 0) {
            props.setProperty(PGProperty.LOGIN_TIMEOUT.getName(), Integer.toString(loginTimeoutSeconds));
        }
        // The URL carries the address only; every parameter travels as a property, so none of the
        // URL's own parameters can override what is set here.
        Connection c = DRIVER.connect(url(), props);
        if (c == null) {
            throw new SQLException("pgjdbc did not accept the URL " + url(), "08001");
        }
        return c;
    }

    /** A data source that opens connections with {@link #open()}; give it to a pool or the reconciler. */
    public DataSource dataSource() {
        return new SpecDataSource(this);
    }

    /** The address as a JDBC URL: hosts, ports and database, no parameters. */
    public String url() {
        String[] h = hosts.split(",");
        String[] p = ports.split(",");
        StringBuilder url = new StringBuilder(URL_PREFIX).append("//");
        for (int i = 0; i < h.length; i++) {
            if (i > 0) {
                url.append(',');
            }
            url.append(h[i]).append(':').append(i < p.length ? p[i] : p[p.length - 1]);
        }
        url.append('/').append(URLEncoder.encode(database == null ? "" : database, StandardCharsets.UTF_8)
                .replace("+", "%20"));
        return url.toString();
    }

    @Override
    public String toString() {
        return "ConnectionSpec{" + kind.name().toLowerCase(Locale.ROOT) + ", " + url()
                + (user == null ? "" : ", user=" + user) + ", options=" + startupOptions() + "}";
    }

    /** A minimal {@link DataSource} over a spec. */
    private static final class SpecDataSource implements DataSource {
        private final ConnectionSpec spec;
        private volatile int loginTimeoutSeconds;
        private volatile PrintWriter logWriter;

        SpecDataSource(ConnectionSpec spec) {
            this.spec = spec;
        }

        @Override
        public Connection getConnection() throws SQLException {
            return spec.open(loginTimeoutSeconds);
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            return spec.withUser(username).withPassword(password).open(loginTimeoutSeconds);
        }

        @Override
        public PrintWriter getLogWriter() {
            return logWriter;
        }

        @Override
        public void setLogWriter(PrintWriter out) {
            this.logWriter = out;
        }

        @Override
        public void setLoginTimeout(int seconds) {
            this.loginTimeoutSeconds = seconds;
        }

        @Override
        public int getLoginTimeout() {
            return loginTimeoutSeconds;
        }

        @Override
        public Logger getParentLogger() throws SQLFeatureNotSupportedException {
            throw new SQLFeatureNotSupportedException("no parent logger");
        }

        @Override
        public <T> T unwrap(Class<T> iface) throws SQLException {
            if (iface.isInstance(this)) {
                return iface.cast(this);
            }
            throw new SQLException("not a wrapper for " + iface.getName());
        }

        @Override
        public boolean isWrapperFor(Class<?> iface) {
            return iface.isInstance(this);
        }

        @Override
        public String toString() {
            return spec.toString();
        }
    }
}
