package io.pgdurable.cli;

import io.pgdurable.db.ConnectionSpec;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;
import org.postgresql.Driver;
import org.postgresql.PGProperty;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code --url}, {@code --user} and {@code --password} options shared by commands that connect. */
public final class ConnectionOptions {

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--url", required = true, paramLabel = "<jdbc-url>",
            description = "PostgreSQL JDBC URL, e.g. jdbc:postgresql://localhost:5432/mydb?user=postgres")
    String url;

    @Option(names = "--user", paramLabel = "<user>",
            description = "Database user, if the URL does not name one (default: the OS user).")
    String user;

    @Option(names = "--password", paramLabel = "<password>", arity = "0..1", interactive = true,
            description = "Database password; give the option without a value to be prompted for it.")
    char[] password;

    /** The URL as given. */
    public String url() {
        return url;
    }

    /**
     * The user and password given on the command line, checked once: the URL must be a PostgreSQL JDBC
     * URL, and a user may be given in the URL or with {@code --user}, not both (the URL would win).
     *
     * @param applicationName shown in {@code pg_stat_activity} unless the URL sets one
     */
    public Properties properties(String applicationName) {
        Properties fromUrl = Driver.parseURL(url, null);
        if (fromUrl == null) {
            throw new ParameterException(spec.commandLine(),
                    "--url must be a PostgreSQL JDBC URL like jdbc:postgresql://host:5432/db, got '" + url + "'");
        }
        if (user != null && fromUrl.getProperty(PGProperty.USER.getName()) != null) {
            throw new ParameterException(spec.commandLine(),
                    "the user is given twice, in --url and with --user; give it once");
        }
        Properties props = new Properties();
        PGProperty.APPLICATION_NAME.set(props, applicationName);
        if (user != null) {
            PGProperty.USER.set(props, user);
        }
        if (password != null) {
            PGProperty.PASSWORD.set(props, new String(password));
        }
        return props;
    }

    /**
     * How to connect for pg_durable's own work (search_path pinned, see {@link ConnectionSpec}),
     * checked once like {@link #properties(String)}.
     *
     * @param applicationName shown in {@code pg_stat_activity} unless the URL sets one
     */
    public ConnectionSpec spec(String applicationName) {
        Properties props = properties(applicationName);
        try {
            return ConnectionSpec.fromUrl(url)
                    .withUser(PGProperty.USER.getOrDefault(props))
                    .withPassword(PGProperty.PASSWORD.getOrDefault(props))
                    .withApplicationName(applicationName);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--url: " + e.getMessage());
        }
    }

    /** Opens a connection; a failure names the problem, not just the driver's exception type. */
    public Connection open(String applicationName) throws SQLException {
        ConnectionSpec connection = spec(applicationName);
        try {
            return connection.open();
        } catch (SQLException e) {
            throw new SQLException("cannot connect to the database: " + e.getMessage(), e.getSQLState(), e);
        }
    }
}
