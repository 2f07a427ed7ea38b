package io.pgdurable.dashboard;

import io.pgdurable.db.ConnectionSpec;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.testing.SettableClock;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * A database with pg_durable, a worker, two workflow roles with passwords (alice and bob, under
 * per-fixture names) and the dashboard on a free loopback port.
 *
 * <p>The dashboard's logins come from 127.0.0.2, where the test cluster wants passwords
 * ({@link TestCluster#requirePasswordsFrom}); the worker's and the tests' own logins come from
 * 127.0.0.1, which the cluster trusts, as a worker's address usually is (operator guide 6.4).
 */
final class DashboardFixture implements AutoCloseable {

    static final String DASHBOARD_ADDRESS = "127.0.0.2";

    final DfTestEnvironment env;
    final String alice;
    final String bob;
    final String alicePassword = "alice-" + Sessions.randomToken().substring(0, 12);
    final String bobPassword = "bob-" + Sessions.randomToken().substring(0, 12);
    final SettableClock clock = new SettableClock(Instant.parse("2026-12-03T10:00:00Z"));
    final DashboardServer server;

    /** @param name database and role name stem: lower-case letters, digits, underscores */
    DashboardFixture(String name, boolean settableClock) {
        env = new DfTestEnvironment(name);
        TestCluster cluster = env.cluster();
        cluster.requirePasswordsFrom(DASHBOARD_ADDRESS);
        alice = name + "_alice";
        bob = name + "_bob";
        cluster.createLoginRole(alice, alicePassword);
        cluster.createLoginRole(bob, bobPassword);
        for (String role : new String[] {alice, bob}) {
            env.exec("SELECT df.grant_usage('" + role + "')");
            env.exec("GRANT ALL ON SCHEMA public TO " + role);
        }
        env.startWorkerWithReconciliation();
        server = DashboardServer.start(new DashboardServer.Config(database(), "127.0.0.1", 0,
                Duration.ofMinutes(30), Duration.ofHours(12), 20, false,
                settableClock ? clock : Clock.systemUTC()));
    }

    /** How the dashboard reaches the database: from the address that needs passwords. */
    ConnectionSpec database() {
        return databaseFrom(DASHBOARD_ADDRESS);
    }

    ConnectionSpec databaseFrom(String address) {
        return ConnectionSpec.fromUrl("jdbc:postgresql://" + TestCluster.HOST + ":" + env.cluster().port() + "/"
                + env.database() + "?localSocketAddress=" + address);
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.port();
    }

    /** Starts {@code graph} (a df expression) as {@code role} with {@code label}; returns the instance id. */
    String startAs(String role, String graph, String label) throws SQLException {
        try (Connection c = env.cluster().connect(env.database(), role);
             // pgjdbc reads a lone ? as a parameter: ?? is the ?> operator's question mark.
             PreparedStatement ps = c.prepareStatement("SELECT df.start(" + graph.replace("?", "??") + ", ?)")) {
            ps.setString(1, label);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /** The instance's status, read as the superuser. */
    String status(String id) {
        return env.queryAsAdmin("SELECT status FROM df.instances WHERE id = ?", id);
    }

    @Override
    public void close() {
        server.close();
        env.close();
    }
}
