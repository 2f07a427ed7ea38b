package io.pgdurable.cli;

import io.pgdurable.dashboard.DashboardServer;
import io.pgdurable.db.ConnectionSpec;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.postgresql.Driver;
import org.postgresql.PGProperty;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code dashboard}: the web dashboard, for people who sign in with their own PostgreSQL role. */
@Command(
        name = "dashboard",
        description = {
                "Serve the web dashboard: instances, each one's graph and history, an overview and the"
                        + " workers. People sign in with their own PostgreSQL role and password (checked by the"
                        + " server's pg_hba.conf) and see what that role may see. Listens on loopback unless told"
                        + " otherwise; put it behind a TLS proxy to serve it further (USER_GUIDE, \"The web"
                        + " dashboard\")."
        })
final class DashboardCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--url", required = true, paramLabel = "<jdbc-url>",
            description = "PostgreSQL JDBC URL of the database to show, without a user or password,"
                    + " e.g. jdbc:postgresql://localhost:5432/mydb")
    String url;

    @Option(names = "--listen", paramLabel = "<host:port>", defaultValue = "127.0.0.1:8080",
            description = "Address and port to listen on (default: ${DEFAULT-VALUE}; port 0: any free port).")
    String listen;

    @Option(names = "--session-idle-minutes", paramLabel = "<min>", defaultValue = "30",
            description = "A session ends after this many minutes without a request (1 to 1440; default: ${DEFAULT-VALUE}).")
    int idleMinutes;

    @Option(names = "--session-max-hours", paramLabel = "<h>", defaultValue = "12",
            description = "A session ends this many hours after sign-in, used or not (1 to 168; default: ${DEFAULT-VALUE}).")
    int maxHours;

    @Option(names = "--max-sessions", paramLabel = "<n>", defaultValue = "50",
            description = "Sessions open at once, each holding one database connection (1 to 1000; default: ${DEFAULT-VALUE}).")
    int maxSessions;

    @Option(names = "--secure-cookies", paramLabel = "<true|false>", defaultValue = "false", arity = "1",
            description = "Mark cookies Secure; set it when browsers reach the dashboard over HTTPS through a proxy"
                    + " (default: ${DEFAULT-VALUE}).")
    boolean secureCookies;

    @Override
    public Integer call() throws InterruptedException {
        DashboardServer.Config config = new DashboardServer.Config(database(), host(), port(),
                Duration.ofMinutes(range("--session-idle-minutes", idleMinutes, 1, 1_440)),
                Duration.ofHours(range("--session-max-hours", maxHours, 1, 168)),
                range("--max-sessions", maxSessions, 1, 1_000), secureCookies, Clock.systemUTC());
        DashboardServer server = DashboardServer.start(config);
        PrintWriter out = spec.commandLine().getOut();
        out.println("pg_durable dashboard on http://" + hostForUrl(config.host()) + ":" + server.port()
                + "/ (database " + config.database().database() + "); Ctrl-C stops it");
        out.flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "pg_durable-dashboard-shutdown"));
        stopped.await();
        return 0;
    }

    /** The database to show; the URL must not carry credentials: people bring their own. */
    ConnectionSpec database() {
        java.util.Properties parsed = Driver.parseURL(url, null);
        if (parsed == null) {
            throw new ParameterException(spec.commandLine(),
                    "--url must be a PostgreSQL JDBC URL like jdbc:postgresql://host:5432/db, got '" + url + "'");
        }
        if (parsed.getProperty(PGProperty.USER.getName()) != null || parsed.getProperty(PGProperty.PASSWORD.getName()) != null) {
            throw new ParameterException(spec.commandLine(), "--url names a user or password; the dashboard has no"
                    + " credentials of its own (each person signs in with theirs): remove them from the URL");
        }
        try {
            return ConnectionSpec.fromUrl(url);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--url: " + e.getMessage());
        }
    }

    String host() {
        int colon = listen.lastIndexOf(':');
        if (colon <= 0) {
            throw new ParameterException(spec.commandLine(), "--listen must be host:port, like 127.0.0.1:8080, got '"
                    + listen + "'");
        }
        String host = listen.substring(0, colon);
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    int port() {
        String text = listen.substring(listen.lastIndexOf(':') + 1);
        try {
            int port = Integer.parseInt(text);
            if (port >= 0 && port <= 65_535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new ParameterException(spec.commandLine(), "--listen: the port must be a number from 0 to 65535, got '"
                + text + "'");
    }

    private int range(String option, int value, int min, int max) {
        if (value < min || value > max) {
            throw new ParameterException(spec.commandLine(), option + " must be from " + min + " to " + max
                    + ", got " + value);
        }
        return value;
    }

    private static String hostForUrl(String host) {
        return host.contains(":") ? "[" + host + "]" : host;
    }
}
