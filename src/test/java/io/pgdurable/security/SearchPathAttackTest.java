package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.cli.Main;
import io.pgdurable.engine.Registry;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.reconcile.ReconcileLoop;
import io.pgdurable.testing.Poll;
import io.pgdurable.testing.TestCluster;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import picocli.CommandLine;

/**
 * A non-superuser database owner plants look-alike functions and operators in {@code public} (a
 * better match for a {@code varchar} bind parameter or an unknown literal than the built-ins)
 * and moves {@code public} ahead of {@code pg_catalog} with {@code ALTER DATABASE ... SET
 * search_path}. Each trap records who ran it and, run by a superuser, makes the attacker one.
 * The installer, the worker (turns, steps, signals, timers, its periodic reconciliation) and the
 * reconcile command log in as a superuser; none of them may ever run a trap.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SearchPathAttackTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final String DB = "search_path_attack";
    private static final String ATTACKER = "sp_attacker";
    private static final String WORKER = "sp_worker";
    private static final String APP = "sp_app";
    private static final Duration DONE = Duration.ofSeconds(30);

    private static final List<AutoCloseable> RUNNING = new ArrayList<>();

    @BeforeAll
    static void plantTrapsAndInstall() throws SQLException {
        CLUSTER.createEmptyDatabase(DB);
        CLUSTER.createLoginRole(ATTACKER);
        CLUSTER.createLoginRole(APP);
        CLUSTER.createLoginRole(WORKER);
        try (Connection admin = CLUSTER.connect(DB)) {
            exec(admin, "ALTER ROLE " + WORKER + " SUPERUSER");
            exec(admin, "ALTER ROLE " + ATTACKER + " NOSUPERUSER");
            exec(admin, "ALTER DATABASE " + DB + " OWNER TO " + ATTACKER);
        }
        try (Connection attacker = CLUSTER.connect(DB, ATTACKER)) {
            // The database owner may create in public (owned by pg_database_owner) and set the
            // database's defaults.
            exec(attacker, """
                    CREATE TABLE public.trap_log (trap text, current_role_name text, session_role_name text,
                                                  application text);
                    GRANT INSERT, SELECT ON public.trap_log TO PUBLIC;
                    -- Not transactional: counts traps run as the worker's login even in a rolled-back transaction.
                    CREATE SEQUENCE public.trap_hits_as_worker;
                    GRANT USAGE ON SEQUENCE public.trap_hits_as_worker TO PUBLIC;
                    CREATE FUNCTION public.pgd_trap(p_trap text) RETURNS void
                    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
                    BEGIN
                        IF session_user OPERATOR(pg_catalog.=) 'sp_worker' THEN
                            PERFORM pg_catalog.nextval('public.trap_hits_as_worker'::pg_catalog.regclass);
                        END IF;
                        INSERT INTO public.trap_log VALUES (p_trap, current_user, session_user,
                                                           pg_catalog.current_setting('application_name'));
                        BEGIN
                            EXECUTE 'ALTER ROLE sp_attacker SUPERUSER';
                        EXCEPTION WHEN insufficient_privilege THEN
                            NULL;
                        END;
                    END
                    $$;
                    GRANT EXECUTE ON FUNCTION public.pgd_trap(text) TO PUBLIC;

                    CREATE FUNCTION public.current_setting(varchar, boolean) RETURNS text
                    LANGUAGE plpgsql AS $$
                    BEGIN
                        PERFORM public.pgd_trap('current_setting(varchar, boolean)');
                        RETURN pg_catalog.current_setting($1::pg_catalog.text, $2);
                    END
                    $$;
                    CREATE FUNCTION public.current_setting(varchar) RETURNS text
                    LANGUAGE plpgsql AS $$
                    BEGIN
                        PERFORM public.pgd_trap('current_setting(varchar)');
                        RETURN pg_catalog.current_setting($1::pg_catalog.text);
                    END
                    $$;
                    CREATE FUNCTION public.nextval(text) RETURNS bigint
                    LANGUAGE plpgsql AS $$
                    BEGIN
                        PERFORM public.pgd_trap('nextval(text)');
                        RETURN pg_catalog.nextval($1::pg_catalog.regclass);
                    END
                    $$;
                    CREATE FUNCTION public.now() RETURNS timestamptz
                    LANGUAGE plpgsql STABLE AS $$
                    BEGIN
                        PERFORM public.pgd_trap('now()');
                        RETURN pg_catalog.now();
                    END
                    $$;
                    CREATE FUNCTION public.trap_eq_text_varchar(text, varchar) RETURNS boolean
                    LANGUAGE plpgsql AS $$
                    BEGIN
                        PERFORM public.pgd_trap('=(text, varchar)');
                        RETURN $1 OPERATOR(pg_catalog.=) $2::pg_catalog.text;
                    END
                    $$;
                    CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = varchar,
                                              FUNCTION = public.trap_eq_text_varchar);
                    CREATE FUNCTION public.trap_eq_varchar_text(varchar, text) RETURNS boolean
                    LANGUAGE plpgsql AS $$
                    BEGIN
                        PERFORM public.pgd_trap('=(varchar, text)');
                        RETURN $1::pg_catalog.text OPERATOR(pg_catalog.=) $2;
                    END
                    $$;
                    CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = text,
                                              FUNCTION = public.trap_eq_varchar_text);
                    """);
            exec(attacker, "ALTER DATABASE " + DB + " SET search_path = public, pg_catalog");
        }
        Run install = cli("install", "--url", CLUSTER.jdbcUrl(DB, WORKER));
        assertThat(install.exitCode).as(install.err).isZero();
        try (Connection worker = CLUSTER.connect(DB, WORKER)) {
            exec(worker, "SELECT df.grant_usage('" + APP + "')");
            exec(worker, "GRANT ALL ON SCHEMA public TO " + APP);
        }
        startWorker();
    }

    @AfterAll
    static void stop() throws Exception {
        for (int i = RUNNING.size() - 1; i >= 0; i--) {
            RUNNING.get(i).close();
        }
        try (Connection admin = CLUSTER.connect("postgres")) {
            exec(admin, "ALTER ROLE " + ATTACKER + " NOSUPERUSER");
        }
    }

    @Test
    @Order(1)
    void install_binds_no_look_alike_from_public_into_the_schema() throws SQLException {
        // Column defaults, checks, views and policies hold references to the functions and
        // operators they were built with; none may be the attacker's.
        assertThat(admin("""
                SELECT count(*) FROM pg_depend d
                 WHERE d.classid <> 'pg_operator'::regclass
                   AND ((d.refclassid = 'pg_proc'::regclass
                         AND d.refobjid IN (SELECT oid FROM pg_proc WHERE pronamespace = 'public'::regnamespace))
                     OR (d.refclassid = 'pg_operator'::regclass
                         AND d.refobjid IN (SELECT oid FROM pg_operator WHERE oprnamespace = 'public'::regnamespace)))
                """)).isEqualTo("0");
        assertNoTrapRanAsTheWorker();
    }

    @Test
    @Order(2)
    void workflows_with_steps_signals_and_timers_never_run_a_look_alike_as_the_worker() throws SQLException {
        String steps = startAsApp("'CREATE TABLE sp_items (n int)' ~> 'INSERT INTO sp_items VALUES (1), (2)'"
                + " ~> 'SELECT count(*) AS n FROM sp_items'");
        String signalled = startAsApp("df.wait_for_signal('go', 60) ~> df.sleep(1) ~> 'SELECT 3 AS three'");
        await(() -> "running".equals(asApp("SELECT df.status(?)", signalled)), "the signal wait to start");
        asApp("SELECT df.signal(?, 'go', '{\"x\": 1}')", signalled);

        assertThat(asApp("SELECT df.await_instance(?, ?)", steps, (int) DONE.toSeconds())).isEqualTo("completed");
        // Unqualified names in the role's own steps still resolve through its own search_path.
        assertThat(asApp("SELECT df.result(?)", steps)).isEqualTo("{\"rows\": [{\"n\": 2}], \"row_count\": 1}");
        assertThat(asApp("SELECT df.await_instance(?, ?)", signalled, (int) DONE.toSeconds())).isEqualTo("completed");
        assertNoTrapRanAsTheWorker();
    }

    @Test
    @Order(3)
    void reconciliation_never_runs_a_look_alike_as_the_worker() throws SQLException {
        Run reconcile = cli("reconcile", "--url", CLUSTER.jdbcUrl(DB, WORKER));
        assertThat(reconcile.exitCode).as(reconcile.err).isZero();
        // The worker's periodic pass reads pg_durable.reconcile_interval every second.
        await(() -> !"0".equals(admin("SELECT count(*) FROM df.reconcile_runs WHERE trigger = 'worker'")),
                "the worker's periodic reconciliation");
        assertNoTrapRanAsTheWorker();
    }

    private static void assertNoTrapRanAsTheWorker() throws SQLException {
        assertThat(admin("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'sp_attacker'"))
                .as("the attacker is a superuser").isEqualTo("f");
        assertThat(admin("SELECT pg_catalog.string_agg(trap || ' by ' || application, ', ') FROM public.trap_log"
                + " WHERE session_role_name OPERATOR(pg_catalog.=) 'sp_worker'"))
                .as("traps that ran as the worker's login").isNull();
        assertThat(admin("SELECT is_called FROM public.trap_hits_as_worker"))
                .as("a trap ran as the worker's login in a transaction that rolled back").isEqualTo("f");
    }

    private static void startWorker() {
        String url = CLUSTER.jdbcUrl(DB, WORKER);
        GraphRuntime graph = new GraphRuntime(url, 8, 4, Duration.ofSeconds(10));
        Registry registry = graph.register(new Registry());
        WorkerConfig config = WorkerConfig.builder(url)
                .pollInterval(Duration.ofMillis(50))
                .leaseDuration(Duration.ofSeconds(5))
                .shutdownGrace(Duration.ofSeconds(2))
                .build();
        Worker worker = Worker.start(config, registry, graph::attach);
        RUNNING.add(graph);
        RUNNING.add(worker);
        RUNNING.add(ReconcileLoop.startOn(worker.dataSource(), worker.id()));
    }

    private static String startAsApp(String graph) throws SQLException {
        return asApp("SELECT df.start(" + graph + ")");
    }

    private static String asApp(String sql, Object... params) throws SQLException {
        try (Connection c = CLUSTER.connect(DB, APP)) {
            return first(c, sql, params);
        }
    }

    /** As the cluster's own superuser, whose session never runs the attacker's objects. */
    private static String admin(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(DB)) {
            exec(c, "SET search_path = pg_catalog, pg_temp");
            return first(c, sql);
        }
    }

    /** Waits for {@code condition}, at most {@link #DONE}. */
    private static void await(SqlCondition condition, String what) {
        Poll.until(DONE, what, condition::test);
    }

    @FunctionalInterface
    private interface SqlCondition {
        boolean test() throws SQLException;
    }

    private static String first(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private static void exec(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = Main.commandLine();
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        int exitCode = cmd.execute(args);
        return new Run(exitCode, out.toString(), err.toString());
    }

    private record Run(int exitCode, String out, String err) {
    }
}
