package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * A database shared by roles that do not trust each other, for attack tests. One per test class:
 * {@code SecurityFixture.create("sec_topic")} makes database {@code sec_topic} with the schema
 * installed and these roles (roles belong to the cluster, so every fixture shares them):
 * <ul>
 *   <li>{@link #ALICE} and {@link #BOB}: LOGIN, {@code df.grant_usage};</li>
 *   <li>{@link #MALLORY}: LOGIN, no df usage;</li>
 *   <li>{@link #DB_OWNER}: LOGIN, not a superuser, owner of the database (so it may create
 *       schemas, and objects in schema {@code public}, which it owns through
 *       {@code pg_database_owner}); no df usage;</li>
 *   <li>{@link #ADMIN}: LOGIN, a delegated administrator,
 *       {@code df.grant_usage(..., with_grant => true)}: it may grant and revoke usage and read
 *       {@code df.metrics()} and {@code df.workers} (USER_GUIDE 7.1, 7.2).</li>
 * </ul>
 * and these tables in {@code public}: {@code canary} (owned by alice, also writable by bob: an
 * injected statement in either role's step could destroy it; {@link #assertCanaryUntouched()}
 * notices), {@code alice_only} and {@code bob_only} (one secret row each, readable only by their
 * owner).
 *
 * <p>{@link #startWorker()} starts a worker as the superuser, as production runs it; it stops when
 * the fixture closes. Helpers run SQL as any role, expect refusals (SQLSTATE and message), and
 * start and await workflows as a role.
 */
public final class SecurityFixture implements AutoCloseable {
    public static final String ALICE = "sec_alice";
    public static final String BOB = "sec_bob";
    public static final String MALLORY = "sec_mallory";
    public static final String DB_OWNER = "sec_dbowner";
    public static final String ADMIN = "sec_admin";
    public static final String SUPERUSER = TestCluster.SUPERUSER;

    /** The secrets in {@code alice_only} and {@code bob_only}. */
    public static final String ALICE_SECRET = "alice's secret 7f3a";
    public static final String BOB_SECRET = "bob's secret 91c2";

    /** Upper bound for any single workflow here; a healthy run takes a fraction of it. */
    public static final Duration PATIENCE = Duration.ofSeconds(30);

    private final DfTestEnvironment env;
    private final String canaryState;

    private SecurityFixture(String name) {
        env = new DfTestEnvironment(name);
        for (String role : List.of(ALICE, BOB, MALLORY, DB_OWNER, ADMIN)) {
            env.cluster().createLoginRole(role);
            // Roles outlive databases: undo anything an earlier run may have left on them.
            env.exec("ALTER ROLE " + role + " NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION LOGIN");
        }
        env.exec("SET client_min_messages = warning;"
                + "SELECT df.grant_usage('" + ALICE + "'); SELECT df.grant_usage('" + BOB + "');"
                + "SELECT df.grant_usage('" + ADMIN + "', with_grant => true);"
                + "ALTER DATABASE " + name + " OWNER TO " + DB_OWNER);
        env.exec("""
                CREATE TABLE public.canary (id int PRIMARY KEY, note text NOT NULL);
                INSERT INTO public.canary VALUES (1, 'one'), (2, 'two'), (3, 'three');
                ALTER TABLE public.canary OWNER TO %1$s;
                GRANT ALL ON public.canary TO %2$s;
                CREATE TABLE public.alice_only (secret text NOT NULL);
                INSERT INTO public.alice_only VALUES ('%3$s');
                ALTER TABLE public.alice_only OWNER TO %1$s;
                CREATE TABLE public.bob_only (secret text NOT NULL);
                INSERT INTO public.bob_only VALUES ('%4$s');
                ALTER TABLE public.bob_only OWNER TO %2$s;
                """.formatted(ALICE, BOB, ALICE_SECRET.replace("'", "''"), BOB_SECRET.replace("'", "''")));
        canaryState = canaryState();
    }

    /**
     * A fresh database {@code name} with the roles and tables above, and no worker.
     *
     * @param name lower-case letters, digits and underscores; start it with {@code sec_}
     */
    public static SecurityFixture create(String name) {
        return new SecurityFixture(name);
    }

    /** Starts a worker (as the superuser) with the df graph runtime. */
    public SecurityFixture startWorker() {
        env.startWorker();
        return this;
    }

    /** Starts a worker that also runs the periodic reconciliation, paced by the database's settings. */
    public SecurityFixture startWorkerWithReconciliation() {
        env.startWorkerWithReconciliation();
        return this;
    }

    public String database() {
        return env.database();
    }

    /** The underlying environment, for its worker and engine helpers. */
    public DfTestEnvironment environment() {
        return env;
    }

    /** A new connection to the fixture's database as {@code role}, in auto-commit mode. */
    public Connection connect(String role) throws SQLException {
        return env.cluster().connect(env.database(), role);
    }

    // -------------------------------------------------------------------------------------------
    // SQL as a role
    // -------------------------------------------------------------------------------------------

    /**
     * Runs {@code sql} as {@code role}. Without parameters it is sent as a plain statement, so
     * operators containing {@code ?} ({@code ?>}) need no escaping.
     */
    public void execAs(String role, String sql, Object... params) {
        try (Connection c = connect(role)) {
            execute(c, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException(role + ": " + sql + ": " + e.getMessage(), e);
        }
    }

    /** The first column of the first row of {@code sql} run as {@code role}, or null without rows. */
    public String queryAs(String role, String sql, Object... params) {
        List<String> column = columnAs(role, sql, params);
        return column.isEmpty() ? null : column.get(0);
    }

    /** Every value of the first column of {@code sql} run as {@code role}. */
    public List<String> columnAs(String role, String sql, Object... params) {
        try (Connection c = connect(role)) {
            return column(c, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException(role + ": " + sql + ": " + e.getMessage(), e);
        }
    }

    /** A count (or any bigint) read as {@code role}; no rows or NULL is 0. */
    public long countAs(String role, String sql, Object... params) {
        String value = queryAs(role, sql, params);
        return value == null ? 0 : Long.parseLong(value);
    }

    /** Runs SQL as the superuser. */
    public void exec(String sql, Object... params) {
        execAs(SUPERUSER, sql, params);
    }

    /** The first value {@code sql} returns to the superuser, who sees every role's rows. */
    public String query(String sql, Object... params) {
        return queryAs(SUPERUSER, sql, params);
    }

    /** A count read as the superuser. */
    public long count(String sql, Object... params) {
        return countAs(SUPERUSER, sql, params);
    }

    /**
     * The error that {@code sql} run as {@code role} raises; fails the test if it succeeds.
     * Check it with {@link Refusal#is}.
     */
    public Refusal refusalAs(String role, String sql, Object... params) {
        try (Connection c = connect(role)) {
            return refusal(c, role, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException("connecting as " + role + ": " + e.getMessage(), e);
        }
    }

    /** Asserts that {@code sql} run as {@code role} fails with {@code sqlState} and a message containing the fragment. */
    public void assertRefused(String role, String sql, String sqlState, String messageFragment) {
        refusalAs(role, sql).is(sqlState, messageFragment);
    }

    /** The error that {@code sql} raises on an open connection (which stays open); fails the test if it succeeds. */
    public static Refusal refusal(Connection c, String role, String sql, Object... params) {
        try {
            execute(c, sql, params);
        } catch (PSQLException e) {
            ServerErrorMessage server = e.getServerErrorMessage();
            return new Refusal(role, sql, e.getSQLState(), server == null ? e.getMessage() : server.getMessage());
        } catch (SQLException e) {
            throw new AssertionError("unexpected kind of failure for " + role + ": " + sql, e);
        }
        throw new AssertionError("expected " + role + " to be refused, but it succeeded: " + sql);
    }

    /** What a refused statement reported. */
    public record Refusal(String role, String sql, String sqlState, String message) {
        /** Asserts the SQLSTATE and that the server's message contains {@code messageFragment}. */
        public Refusal is(String expectedSqlState, String messageFragment) {
            assertThat(sqlState).as("SQLSTATE of %s's %s (message: %s)", role, sql, message).isEqualTo(expectedSqlState);
            assertThat(message).as("message of %s's %s", role, sql).contains(messageFragment);
            return this;
        }
    }

    // -------------------------------------------------------------------------------------------
    // Workflows
    // -------------------------------------------------------------------------------------------

    /** {@code SELECT df.start(<graphExpression>)} as {@code role}; returns the instance id. */
    public String startAs(String role, String graphExpression) {
        return queryAs(role, "SELECT df.start(" + graphExpression + ")");
    }

    /** {@code df.start} with a label, which is passed as data (any text works). */
    public String startAs(String role, String graphExpression, String label) {
        return queryAs(role, "SELECT df.start(" + graphExpression + ", label => " + literal(label) + ")");
    }

    /** Waits, as {@code role} with df.await_instance, for the instance to end; returns its status. */
    public String awaitAs(String role, String id) {
        return awaitAs(role, id, PATIENCE);
    }

    /** Waits at most {@code timeout}, as {@code role} with df.await_instance, for the instance to end. */
    public String awaitAs(String role, String id, Duration timeout) {
        try {
            return queryAs(role, "SELECT df.await_instance(?, ?)", id, (int) timeout.toSeconds());
        } catch (IllegalStateException e) {
            throw new AssertionError(e.getMessage() + "\n" + env.engineState(id), e);
        }
    }

    /** Waits, as the superuser (who sees every role's instances), for the instance to end. */
    public String await(String id) {
        return awaitAs(SUPERUSER, id);
    }

    /** Waits until every instance has ended, polling as the superuser; allows a second per instance beyond {@link #PATIENCE}. */
    public void awaitAll(Collection<String> ids) {
        String[] array = ids.toArray(String[]::new);
        DfTestEnvironment.awaitTrue(() -> count("SELECT count(*) FROM df.instances WHERE id = ANY (?)"
                        + " AND status NOT IN ('completed', 'failed', 'cancelled')", (Object) array) == 0,
                PATIENCE.plusSeconds(ids.size()), ids.size() + " instances to end");
    }

    /** Starts the workflow as {@code role}, asserts that it completes and returns df.result. */
    public String resultOf(String role, String graphExpression) {
        String id = startAs(role, graphExpression);
        assertThat(awaitAs(role, id)).as("status of %s; %s", id, env.engineState(id)).isEqualTo("completed");
        return queryAs(role, "SELECT df.result(?)", id);
    }

    /** Starts the workflow as {@code role}, asserts that it fails and returns the error it failed with. */
    public String failureOf(String role, String graphExpression) {
        String id = startAs(role, graphExpression);
        assertThat(awaitAs(role, id)).as("status of %s; %s", id, env.engineState(id)).isEqualTo("failed");
        return rootError(id);
    }

    /** The error stored on a failed instance's root node. */
    public String rootError(String id) {
        return query("""
                SELECT n.result #>> '{}' FROM df.nodes n JOIN df.instances i ON i.id = n.instance_id
                 WHERE i.id = ? AND n.id = i.root_node
                """, id);
    }

    /** The id of the only node of the instance whose query is exactly {@code query}. */
    public String nodeIdOf(String id, String query) {
        return query("SELECT id FROM df.nodes WHERE instance_id = ? AND query = ?", id, query);
    }

    // -------------------------------------------------------------------------------------------
    // The canary
    // -------------------------------------------------------------------------------------------

    /** Asserts that table canary still exists, with its owner, storage and rows as created. */
    public void assertCanaryUntouched() {
        assertThat(canaryState()).as("table canary (owner, storage, rows)").isEqualTo(canaryState);
    }

    private String canaryState() {
        return query("""
                SELECT coalesce((SELECT c.relowner::regrole::text || ' ' || c.relfilenode
                                   FROM pg_class c WHERE c.oid = to_regclass('public.canary')), 'dropped')
                       || ' ' || coalesce((SELECT string_agg(id || '=' || note, ',' ORDER BY id)
                                             FROM public.canary WHERE to_regclass('public.canary') IS NOT NULL), '-')
                """);
    }

    // -------------------------------------------------------------------------------------------

    /** {@code s} as a SQL string literal (standard_conforming_strings is on). */
    public static String literal(String s) {
        return "'" + Objects.requireNonNull(s).replace("'", "''") + "'";
    }

    private static void execute(Connection c, String sql, Object... params) throws SQLException {
        if (params.length == 0) {
            try (Statement s = c.createStatement()) {
                s.execute(sql);
            }
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            ps.execute();
        }
    }

    private static List<String> column(Connection c, String sql, Object... params) throws SQLException {
        List<String> out = new ArrayList<>();
        if (params.length == 0) {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    private static void bind(PreparedStatement ps, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            if (params[i] instanceof String[] array) {
                ps.setArray(i + 1, ps.getConnection().createArrayOf("text", array));
            } else {
                ps.setObject(i + 1, params[i]);
            }
        }
    }

    @Override
    public void close() {
        env.close();
    }
}
