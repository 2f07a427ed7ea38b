package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A caller who may run HTTP steps tries to point them at the worker's own machine (a server on
 * 127.0.0.1 stands for an internal service) by allow-listing loopback in every place a caller or a
 * database owner can reach: the submitting session, the role's and the database's settings. The
 * worker reads the HTTP settings from the server's configuration files only, so none of that
 * counts; ALTER SYSTEM (an administrator) does.
 */
class HttpTargetAttackTest {
    private static final String SETTING = "pg_durable.http_allowed_hosts";

    private static DfTestEnvironment env;
    private static HttpServer server;
    private static String url;
    private static final AtomicInteger hits = new AtomicInteger();

    @BeforeAll
    static void setUp() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", x -> {
            hits.incrementAndGet();
            byte[] body = "internal secrets".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            x.sendResponseHeaders(200, body.length);
            try (OutputStream out = x.getResponseBody()) {
                out.write(body);
            }
            x.close();
        });
        server.start();
        url = "http://127.0.0.1:" + server.getAddress().getPort() + "/admin";
        env = new DfTestEnvironment("http_attack");
        env.exec("SELECT df.grant_usage('" + env.role() + "', include_http => true)");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() throws SQLException {
        alterSystem("RESET " + SETTING);
        env.close();
        server.stop(0);
    }

    private static void alterSystem(String change) throws SQLException {
        try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement()) {
            s.execute("SET " + SETTING + " = ''");  // makes the name known to this session
            s.execute("ALTER SYSTEM " + change);
            s.execute("SELECT pg_reload_conf()");
        }
    }

    /** Starts the request as the application role, in a session that first runs {@code sessionSql}. */
    private static String startAs(String sessionSql) throws SQLException {
        try (Connection c = env.connectAsApp()) {
            try (Statement s = c.createStatement()) {
                s.execute(sessionSql);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT df.start(df.http(?, 'GET'))")) {
                ps.setString(1, url);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getString(1);
                }
            }
        }
    }

    private static String error(String id) throws IOException {
        assertThat(env.await(id, Duration.ofSeconds(30))).isEqualTo("failed");
        return new ObjectMapper().readTree(env.queryAsAdmin(
                "SELECT result::text FROM df.nodes WHERE instance_id = ? AND node_type = 'HTTP'", id)).asText();
    }

    @Test
    void loopback_allowed_in_the_session_the_role_or_the_database_is_still_refused() throws Exception {
        env.exec("ALTER ROLE " + env.role() + " SET " + SETTING + " = '127.0.0.1'");
        env.exec("ALTER DATABASE " + env.database() + " SET " + SETTING + " = '127.0.0.1'");
        int before = hits.get();
        try {
            String id = startAs("SET " + SETTING + " = '127.0.0.1'");

            assertThat(error(id)).startsWith("Blocked: refused to connect to '127.0.0.1' for " + url
                    + ": it is a loopback address (127.0.0.0/8);");
            assertThat(hits).hasValue(before);
        } finally {
            env.exec("ALTER ROLE " + env.role() + " RESET " + SETTING);
            env.exec("ALTER DATABASE " + env.database() + " RESET " + SETTING);
        }
    }

    @Test
    void the_server_configuration_allows_it_and_a_malformed_value_fails_the_step_naming_it() throws Exception {
        alterSystem("SET " + SETTING + " = '127.0.0.1'");
        try {
            String id = startAs("SELECT 1");
            assertThat(env.await(id, Duration.ofSeconds(30))).as(env.engineState(id)).isEqualTo("completed");
            assertThat(env.result(id)).contains("\"body\": \"internal secrets\"");

            alterSystem("SET " + SETTING + " = '127.0.0.1/99'");
            String bad = startAs("SELECT 1");
            assertThat(error(bad)).startsWith("HTTP node ").endsWith(" cannot run: pg_durable.http_allowed_hosts:"
                    + " '127.0.0.1/99' is not a host name, *.domain, IP address or CIDR network (such as api.internal,"
                    + " *.corp.example, 10.1.2.3 or 10.0.0.0/8) (in the server's configuration)");
        } finally {
            alterSystem("RESET " + SETTING);
        }
    }
}
