package io.pgdurable.pljava;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.pgdurable.bench.BenchmarkReport;
import io.pgdurable.bench.BenchmarkSettings;
import io.pgdurable.bench.EngineBenchmark;
import io.pgdurable.bench.Scenario;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.testing.Poll;
import io.pgdurable.testing.ProcessResult;
import io.pgdurable.testing.TestCluster;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The in-database path: install.sql on a fresh database, df.reconcile() and df.run_worker()
 * through PL/Java, pg_cron scheduling, replace_jar and uninstall. Needs PL/Java installed for this
 * PostgreSQL (it is not available from a package registry); without it every test here is skipped,
 * saying so, and everything else runs.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PlJavaDeploymentTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final Path PROJECT = Path.of(System.getProperty("pgdurable.test.projectDir", "."));
    private static final String ROLE = "pljava_app";
    private static final String ADMIN = "pljava_admin";
    private static String db;
    private static Path jar;

    @BeforeAll
    static void requirePlJava() {
        Assumptions.assumeTrue(CLUSTER.hasPlJavaLibrary() && CLUSTER.isExtensionAvailable("pljava"),
                "PL/Java is not installed for this PostgreSQL: skipping the in-database tests"
                        + " (install.sql, df.reconcile, df.run_worker, replace_jar, uninstall);"
                        + " everything else runs without it");
        db = CLUSTER.createEmptyDatabase("pljava_deploy");
        jar = CLUSTER.copyForServer(PROJECT.resolve("target/pg-durable.jar"));
    }

    @Test
    @Order(1)
    void install_script_installs_from_scratch_and_is_safe_to_run_twice() throws SQLException {
        CLUSTER.createLoginRole(ADMIN);
        for (int run = 1; run <= 2; run++) {
            // The second run also names an admin role.
            ProcessResult r = run == 1 ? installScript() : installScript("-v", "admin_role=" + ADMIN);
            assertThat(r.exitCode()).as("install.sql run %d:%n%s", run, r.output()).isZero();
        }
        assertThat(query("SELECT count(*) FROM df_engine.schema_files"))
                .isEqualTo(String.valueOf(new io.pgdurable.schema.SchemaInstaller().shippedFiles().size()));
        assertThat(query("SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc"
                + " WHERE pronamespace = 'df'::regnamespace AND proname IN ('reconcile', 'run_worker')"))
                .isEqualTo("reconcile,run_worker");
        assertThat(query("SELECT has_function_privilege('public', 'df.reconcile()', 'EXECUTE')")).isEqualTo("f");
        CLUSTER.createLoginRole(ROLE);
        exec("SELECT df.grant_usage('" + ROLE + "')");
    }

    @Test
    @Order(2)
    void reconcile_runs_through_sql_and_returns_its_summary() throws SQLException {
        JsonNode summary = JsonCodec.tree(query("SELECT df.reconcile()::text"));
        assertThat(summary.path("skipped").asBoolean(true)).isFalse();
        assertThat(summary.has("instances_removed")).isTrue();
        assertThat(summary.path("settings").path("retention_days").asInt()).isEqualTo(30);
        assertThat(query("SELECT count(*) FROM df.reconcile_runs WHERE trigger = 'sql' AND error IS NULL"))
                .isEqualTo("1");
    }

    @Test
    @Order(3)
    void an_admin_role_runs_the_admin_functions_and_an_ordinary_role_may_not() throws SQLException {
        try (Connection admin = CLUSTER.connect(db, ADMIN); Statement s = admin.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT df.reconcile()::text")) {
                rs.next();
                assertThat(JsonCodec.tree(rs.getString(1)).path("skipped").asBoolean(true)).isFalse();
            }
            try (ResultSet rs = s.executeQuery("SELECT df.run_worker(1)::text")) {
                rs.next();
                assertThat(JsonCodec.tree(rs.getString(1)).path("ran").asBoolean()).isTrue();
            }
            // The helpers behind them stay closed.
            assertThatThrownBy(() -> s.executeQuery("SELECT df._worker_stop()"))
                    .hasMessageContaining("permission denied for function _worker_stop");
        }
        try (Connection app = CLUSTER.connect(db, ROLE); Statement s = app.createStatement()) {
            for (String call : List.of("df.reconcile()", "df.run_worker(1)", "df._worker_start(1)")) {
                assertThatThrownBy(() -> s.executeQuery("SELECT " + call))
                        .as(call).hasMessageContaining("permission denied for function");
            }
        }
    }

    @Test
    @Order(4)
    void run_worker_completes_a_workflow_without_an_external_worker() throws SQLException {
        String id = startAsApp("('SELECT 20 AS a' |=> 'a') ~> 'SELECT $a + 1 AS b'");
        JsonNode summary = JsonCodec.tree(query("SELECT df.run_worker(4)::text"));
        assertThat(summary.path("ran").asBoolean()).isTrue();
        assertThat(query("SELECT status FROM df.instances WHERE id = '" + id + "'")).isEqualTo("completed");
        assertThat(query("SELECT df.result('" + id + "')")).isEqualTo("{\"rows\": [{\"b\": 21}], \"row_count\": 1}");
        assertThat(query("SELECT count(*) FROM df_engine.workers")).as("heartbeat removed").isEqualTo("0");
    }

    /**
     * An HTTP step under the in-database worker: HttpClient runs inside PL/Java's security policy
     * (the shipped one grants connecting to 127.0.0.1) on classes from the jar's snapshot, and the
     * address checks read the allow-list from the server's configuration as they do outside.
     */
    @Test
    @Order(4)
    void run_worker_runs_an_http_step_to_an_allow_listed_host() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", x -> {
            byte[] body = "{\"ok\": true}".getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().set("Content-Type", "application/json");
            x.sendResponseHeaders(200, body.length);
            try (OutputStream out = x.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        try {
            setHttpAllowList("ALTER SYSTEM SET pg_durable.http_allowed_hosts = '127.0.0.1'");
            exec("SELECT df.grant_usage('" + ROLE + "', include_http => true)");
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/status";
            String id = startAsApp("(df.http('" + url + "', 'GET') |=> 'resp') ~> 'SELECT $resp.status AS s, $resp.ok AS ok'");
            query("SELECT df.run_worker(6)::text");
            assertThat(query("SELECT status FROM df.instances WHERE id = '" + id + "'"))
                    .as("status of %s; its nodes: %s", id, query("SELECT string_agg(node_type || ' ' || status || ' '"
                            + " || coalesce(error, result::text, ''), '; ') FROM df.nodes WHERE instance_id = '" + id + "'"))
                    .isEqualTo("completed");
            assertThat(query("SELECT df.result('" + id + "')"))
                    .isEqualTo("{\"rows\": [{\"s\": 200, \"ok\": true}], \"row_count\": 1}");
        } finally {
            setHttpAllowList("ALTER SYSTEM RESET pg_durable.http_allowed_hosts");
            exec("SELECT df.revoke_usage('" + ROLE + "')");
            exec("SELECT df.grant_usage('" + ROLE + "')");
            server.stop(0);
        }
    }

    @Test
    @Order(5)
    void run_worker_stops_promptly_on_query_cancel() throws SQLException {
        long started = System.nanoTime();
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            // Long enough for the JVM to start and the worker to be running when the cancel comes.
            s.execute("SET statement_timeout = '8s'");
            assertThatThrownBy(() -> s.executeQuery("SELECT df.run_worker(60)"))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("statement timeout");
        }
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));
        assertThat(query("SELECT count(*) FROM df_engine.workers")).as("worker stopped and left").isEqualTo("0");
    }

    @Test
    @Order(6)
    void terminating_reconcile_at_any_point_of_its_first_second_never_takes_the_cluster_down() throws Exception {
        // An expired instance whose engine record the test keeps locked: every pass waits on that
        // row lock, inside the pass, until it is terminated.
        // (Finished by hand: it only has to be due.)
        String id = startAsApp("'SELECT 1 AS one'");
        exec("UPDATE df.instances SET status = 'completed', completed_at = now() - interval '400 days',"
                + " terminal_at = now() - interval '400 days'"
                + " WHERE id = '" + id + "'");
        exec("UPDATE df_engine.instances SET status = 'Completed', completed_at = now() - interval '400 days'"
                + " WHERE id = '" + id + "'");
        Path log = CLUSTER.dataDir().resolve("server.log");
        long logMark = Files.size(log);
        try (Connection blocker = CLUSTER.connect(db); Connection bystander = CLUSTER.connect(db);
             Statement watch = bystander.createStatement()) {
            blocker.setAutoCommit(false);
            try (Statement s = blocker.createStatement()) {
                s.executeQuery("SELECT 1 FROM df_engine.instances WHERE id = '" + id + "' FOR UPDATE").close();
            }
            // 100 to 800 ms after the call began (a fresh backend: its first second), then once the
            // pass is waiting on the row lock, inside its work.
            for (long delayMs : new long[] {100, 300, 500, 800, -1}) {
                String moment = delayMs < 0 ? "while the pass waits on a row lock" : delayMs + " ms after the call";
                // A fresh backend each time, as for a pg_cron job.
                try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
                    long pid = backendPid(s);
                    CompletableFuture<SQLException> call = CompletableFuture.supplyAsync(() -> {
                        try {
                            s.executeQuery("SELECT df.reconcile()").close();
                            return null;
                        } catch (SQLException e) {
                            return e;
                        }
                    });
                    awaitTrue(() -> "active".equals(queryQuietly("SELECT state FROM pg_stat_activity WHERE pid = " + pid)),
                            Duration.ofSeconds(10), "df.reconcile() to be running");
                    if (delayMs >= 0) {
                        Thread.sleep(delayMs);  // where in the call the terminate lands, not a wait for an outcome
                    } else {
                        awaitTrue(() -> "Lock".equals(queryQuietly(
                                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = " + pid)),
                                Duration.ofSeconds(30), "df.reconcile() to wait on the locked engine record");
                    }
                    exec("SELECT pg_terminate_backend(" + pid + ")");
                    SQLException ended = call.get(30, java.util.concurrent.TimeUnit.SECONDS);
                    assertThat((Object) ended).as("terminated %s", moment).isNotNull();
                    assertThat(ended.getMessage()).contains("terminating connection due to administrator command");
                }
                // A backend that aborted would have made the postmaster end every session.
                try (ResultSet rs = watch.executeQuery("SELECT 1")) {
                    assertThat(rs.next()).as("bystander session survived a terminate %s", moment).isTrue();
                }
            }
            blocker.rollback();
        }
        assertThat(serverLogSince(log, logMark)).contains("terminating connection due to administrator command")
                .doesNotContain("terminated by signal")
                .doesNotContain("all server processes terminated");
        JsonNode summary = JsonCodec.tree(query("SELECT df.reconcile()::text"));
        assertThat(summary.path("error").isMissingNode()).as(summary.toString()).isTrue();
        assertThat(query("SELECT count(*) FROM df.instances WHERE id = '" + id + "'")).isEqualTo("0");
    }

    @Test
    @Order(7)
    void a_terminated_run_worker_exits_cleanly_and_hands_its_running_step_back() throws Exception {
        Path log = CLUSTER.dataDir().resolve("server.log");
        long logMark = Files.size(log);
        String id = startAsApp("'SELECT 1 AS slept FROM pg_sleep(3)' ~> 'SELECT 2 AS after'");
        try (Connection bystander = CLUSTER.connect(db); Statement watch = bystander.createStatement()) {
            CompletableFuture<SQLException> run = CompletableFuture.supplyAsync(() -> {
                try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
                    s.executeQuery("SELECT df.run_worker(60)").close();
                    return null;
                } catch (SQLException e) {
                    return e;
                }
            });
            awaitTrue(() -> "1".equals(queryQuietly("SELECT count(*) FROM pg_stat_activity"
                            + " WHERE query = 'SELECT 1 AS slept FROM pg_sleep(3)' AND state = 'active'")),
                    Duration.ofSeconds(30), "the in-database worker to be running the step");
            // Its LISTEN connection is up too: made through the worker's own socket factory, which
            // pgjdbc loads by name, here through PL/Java's class loader and under its policy.
            awaitTrue(() -> "1".equals(queryQuietly("SELECT count(*) FROM pg_stat_activity"
                            + " WHERE datname = current_database() AND application_name = 'pg_durable listener'"
                            + " AND query = 'LISTEN df_engine'")),
                    Duration.ofSeconds(30), "the in-database worker's listener to be listening");
            exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND query = 'SELECT df.run_worker(60)'");
            SQLException ended = run.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertThat((Object) ended).as("df.run_worker ended with an error").isNotNull();
            assertThat(ended.getMessage()).contains("terminating connection due to administrator command");

            // A backend that aborted would have made the postmaster end every session, this one too.
            try (ResultSet rs = watch.executeQuery("SELECT 1")) {
                assertThat(rs.next()).as("bystander session survived").isTrue();
            }
            awaitTrue(() -> "0".equals(queryQuietly("SELECT count(*) FROM df_engine.workers")),
                    Duration.ofSeconds(10), "the terminated worker's heartbeat row to go");
        }
        String since = serverLogSince(log, logMark);
        assertThat(since).contains("terminating connection due to administrator command")
                .doesNotContain("terminated by signal")
                .doesNotContain("not properly shut down");

        // The step was handed back at exit, so the next run takes it at once, without waiting for
        // its lease to expire, and it runs to completion.
        query("SELECT df.run_worker(8)::text");
        assertThat(query("SELECT status FROM df.instances WHERE id = '" + id + "'")).isEqualTo("completed");
        assertThat(query("SELECT df.result('" + id + "')")).isEqualTo("{\"rows\": [{\"after\": 2}], \"row_count\": 1}");
    }

    @Test
    @Order(8)
    void schedule_worker_outside_the_cron_database_explains_what_to_run() {
        assertThatThrownBy(() -> query("SELECT df.schedule_worker()"))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("pg_cron is not installed in database " + db);
    }

    @Test
    @Order(9)
    void a_workflow_completes_through_run_worker_scheduled_by_pg_cron() throws Exception {
        Assumptions.assumeTrue(CLUSTER.hasPgCron(), "pg_cron is not preloaded: skipping the scheduled-worker test");
        String job = "pgd_worker_" + db;
        try (Connection cron = CLUSTER.connect("postgres"); Statement s = cron.createStatement()) {
            s.execute("CREATE EXTENSION IF NOT EXISTS pg_cron");
            s.execute("SELECT cron.schedule_in_database('" + job + "', '* * * * *', 'SELECT df.run_worker(50)', '"
                    + db + "')");
        }
        try {
            String id = startAsApp("'SELECT 1 AS one' ~> 'SELECT 2 AS two'");
            // pg_cron fires at minute boundaries.
            awaitTrue(() -> "completed".equals(queryQuietly("SELECT status FROM df.instances WHERE id = '" + id + "'")),
                    Duration.ofSeconds(150), "the scheduled in-database worker to run the workflow");
        } finally {
            try (Connection cron = CLUSTER.connect("postgres"); Statement s = cron.createStatement()) {
                s.execute("SELECT cron.unschedule('" + job + "')");
            }
            // A scheduled run may still be going: cancel it (it stops promptly) and wait until it left.
            exec("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND pid <> pg_backend_pid() AND query LIKE 'SELECT df.run_worker%'");
            awaitTrue(() -> "0".equals(queryQuietly("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND pid <> pg_backend_pid() AND query LIKE 'SELECT df.run_worker%' AND state = 'active'")),
                    Duration.ofSeconds(30), "the scheduled in-database worker to stop");
        }
    }

    @Test
    @Order(10)
    void in_database_worker_runs_the_seed_reconciliation_scenario() throws Exception {
        // An engine record whose df rows were deleted by hand: made before the short retention applies.
        String orphan = startAsApp("'SELECT 1'");
        query("SELECT df.run_worker(3)::text");
        assertThat(query("SELECT status FROM df.instances WHERE id = '" + orphan + "'")).isEqualTo("completed");
        exec("DELETE FROM df.instances WHERE id = '" + orphan + "'");
        assertThat(query("SELECT count(*) FROM df_engine.instances WHERE id = '" + orphan + "'")).isEqualTo("1");

        exec("ALTER DATABASE " + db + " SET pg_durable.reconcile_interval = 2");
        exec("ALTER DATABASE " + db + " SET pg_durable.retention_days = 0");
        try {
            // A rolled-back df.start leaves nothing in either store.
            try (Connection c = CLUSTER.connect(db, ROLE)) {
                c.setAutoCommit(false);
                try (Statement s = c.createStatement()) {
                    s.executeQuery("SELECT df.start('SELECT 1', 'rolled-back')").close();
                }
                c.rollback();
            }
            assertThat(query("SELECT count(*) FROM df.instances WHERE label = 'rolled-back'")).isEqualTo("0");
            String waiting = startAsApp("df.wait_for_signal('go') ~> 'SELECT 42 AS answer'");

            // Several periodic passes while the instance waits: it survives them all.
            query("SELECT df.run_worker(7)::text");
            assertThat(Integer.parseInt(query("SELECT count(*) FROM df.reconcile_runs WHERE trigger = 'worker'")))
                    .isGreaterThanOrEqualTo(2);
            assertThat(query("SELECT count(*) FROM df_engine.instances WHERE id = '" + orphan + "'"))
                    .as("orphan reclaimed").isEqualTo("0");
            assertThat(query("SELECT status FROM df.instances WHERE id = '" + waiting + "'")).isEqualTo("running");
            assertThat(query("SELECT status FROM df_engine.instances WHERE id = '" + waiting + "'")).isEqualTo("Running");

            // Signal it; it completes; a later pass removes it.
            try (Connection c = CLUSTER.connect(db, ROLE);
                 PreparedStatement ps = c.prepareStatement("SELECT df.signal(?, 'go')")) {
                ps.setString(1, waiting);
                ps.executeQuery().close();
            }
            CompletableFuture<String> run = CompletableFuture.supplyAsync(() -> queryQuietly("SELECT df.run_worker(8)::text"));
            awaitTrue(() -> "0".equals(queryQuietly("SELECT count(*) FROM df.instances WHERE id = '" + waiting + "'")),
                    Duration.ofSeconds(30), "the completed instance to be reconciled away");
            run.get();
            assertThat(query("SELECT count(*) FROM df_engine.instances WHERE id = '" + waiting + "'")).isEqualTo("0");
            assertThat(query("SELECT count(*) FROM df.instances WHERE status IN ('pending', 'running')")).isEqualTo("0");
        } finally {
            exec("ALTER DATABASE " + db + " RESET pg_durable.reconcile_interval");
            exec("ALTER DATABASE " + db + " RESET pg_durable.retention_days");
        }
    }

    @Test
    @Order(11)
    void replace_jar_keeps_every_instance_and_row() throws SQLException {
        String kept = startAsApp("'SELECT 5 AS five'");
        String before = query("SELECT count(*) || '/' || (SELECT count(*) FROM df.nodes) FROM df.instances");
        Path newBuild = CLUSTER.copyForServer(PROJECT.resolve("target/pg-durable.jar"));
        exec("SELECT sqlj.replace_jar('file:" + newBuild + "', 'pg_durable', true)");
        assertThat(query("SELECT count(*) || '/' || (SELECT count(*) FROM df.nodes) FROM df.instances")).isEqualTo(before);
        query("SELECT df.run_worker(3)::text");
        assertThat(query("SELECT status FROM df.instances WHERE id = '" + kept + "'")).isEqualTo("completed");
    }

    @Test
    @Order(12)
    void the_benchmark_compares_the_in_database_worker_on_the_same_workload() throws SQLException {
        BenchmarkSettings settings = BenchmarkSettings.builder(CLUSTER.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .scenarios(EnumSet.of(Scenario.IN_DATABASE))
                .instances(10)
                .steps(3)
                .warmupInstances(2)
                .timeout(Duration.ofMinutes(2))
                .build();
        StringWriter printed = new StringWriter();
        BenchmarkReport report = new EngineBenchmark(settings, new PrintWriter(printed, true)).run();
        assertThat(report.inDatabase()).hasValueSatisfying(t -> {
            assertThat(t.verification().ok()).as(t.verification().describe()).isTrue();
            assertThat(t.verification().expectedRows()).isEqualTo(30);
        });
        assertThat(printed.toString()).contains("in-database: rows OK");
        assertThat(query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT df.run_worker%' AND state = 'active'"))
                .as("the benchmark's df.run_worker was cancelled").isEqualTo("0");
    }

    @Test
    @Order(13)
    void uninstall_removes_the_java_functions_and_keeps_the_tables_and_df_reconcile() throws SQLException {
        ProcessResult r = CLUSTER.psql(db, "-v", "ON_ERROR_STOP=1",
                "-f", PROJECT.resolve("pljava-deploy/uninstall.sql").toString());
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(query("SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
                + " WHERE p.pronamespace = 'df'::regnamespace AND l.lanname IN ('java', 'javau')")).isEqualTo("0");
        assertThat(query("SELECT count(*) FROM pg_proc WHERE pronamespace = 'df'::regnamespace"
                + " AND proname = 'run_worker'")).isEqualTo("0");
        // df.reconcile() is SQL and part of the schema: it stays, and works without PL/Java.
        assertThat(query("SELECT df.reconcile() ->> 'error'")).isNull();
        assertThat(query("SELECT count(*) > 0 FROM df.instances")).isEqualTo("t");
        assertThat(query("SELECT count(*) FROM sqlj.jar_repository WHERE jarname = 'pg_durable'")).isEqualTo("0");
    }

    // -------------------------------------------------------------------------------------------

    private static String serverLogSince(Path log, long offset) throws java.io.IOException {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(log.toFile(), "r")) {
            f.seek(offset);
            byte[] tail = new byte[(int) (f.length() - offset)];
            f.readFully(tail);
            return new String(tail, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private static long backendPid(Statement s) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static ProcessResult installScript(String... extra) {
        List<String> args = new ArrayList<>(List.of("-v", "jar=" + jar));
        args.addAll(List.of(extra));
        args.addAll(List.of("-f", PROJECT.resolve("target/pljava-deploy/install.sql").toString()));
        return CLUSTER.psql(db, args.toArray(new String[0]));
    }

    private static String startAsApp(String expression) throws SQLException {
        try (Connection c = CLUSTER.connect(db, ROLE); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT df.start(" + expression + ")")) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static String query(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static String queryQuietly(String sql) {
        try {
            return query(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    private static void setHttpAllowList(String alterSystem) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("SET pg_durable.http_allowed_hosts = ''");  // makes the name known to this session
            s.execute(alterSystem);
            s.execute("SELECT pg_reload_conf()");
        }
    }

    private static void exec(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static void awaitTrue(BooleanSupplier condition, Duration timeout, String what) {
        Poll.until(timeout, what, condition::getAsBoolean);
    }
}
