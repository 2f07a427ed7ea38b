package io.pgdurable.schema;

import static io.pgdurable.testing.Jdbc.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.testing.Poll;
import io.pgdurable.testing.TestCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SchemaInstallerTest {

    private static final AtomicInteger DATABASES = new AtomicInteger();

    private final TestCluster cluster = TestCluster.get();
    private final SchemaInstaller installer = new SchemaInstaller();
    private String db;

    @TempDir
    Path tmp;

    @BeforeEach
    void createEmptyDatabase() {
        db = cluster.createEmptyDatabase("schema_installer_" + DATABASES.incrementAndGet());
    }

    @Test
    void shipped_scripts_install_version_0_2_0_starting_with_the_baseline_step() {
        assertThat(installer.version()).isEqualTo("0.2.0");
        assertThat(installer.shippedFiles().get(0).file()).isEqualTo("steps/001_baseline.sql");
        assertThat(installer.shippedFiles().get(0).release()).isEqualTo("0.1.0");
    }

    @Test
    void install_lock_is_a_share_row_exclusive_lock_on_the_ledger_that_only_its_owner_can_take() throws SQLException {
        assertThat(SchemaInstaller.LOCK_STATEMENT)
                .isEqualTo("LOCK TABLE df_engine.schema_files IN SHARE ROW EXCLUSIVE MODE");
        cluster.createLoginRole("installer_lock_probe");
        try (Connection c = cluster.connect(db)) {
            installer.install(c);
        }
        try (Connection probe = cluster.connect(db, "installer_lock_probe")) {
            probe.setAutoCommit(false);
            assertThatThrownBy(() -> execute(probe, SchemaInstaller.LOCK_STATEMENT))
                    .isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
        }
    }

    @Test
    void first_install_applies_every_shipped_file_and_records_it_with_its_checksum() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            InstallResult result = installer.install(c);

            assertThat(result.previousVersion()).isNull();
            assertThat(result.version()).isEqualTo("0.2.0");
            assertThat(result.applied()).isEqualTo(installer.shippedFiles().stream().map(SchemaFile::file).toList());
            Map<String, String> expected = new LinkedHashMap<>();
            installer.shippedFiles().forEach(f -> expected.put(f.file(), f.kind() + " " + f.checksum()));
            assertThat(ledger(c)).isEqualTo(expected);
        }
    }

    @Test
    void second_install_applies_nothing_and_reports_up_to_date() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            installer.install(c);
            String before = queryString(c, "SELECT string_agg(file || applied_at, ',' ORDER BY file) FROM df_engine.schema_files");

            InstallResult again = installer.install(c);

            assertThat(again.upToDate()).isTrue();
            assertThat(again.previousVersion()).isEqualTo("0.2.0");
            assertThat(queryString(c, "SELECT string_agg(file || applied_at, ',' ORDER BY file) FROM df_engine.schema_files"))
                    .isEqualTo(before);
        }
    }

    @Test
    void a_recorded_step_whose_checksum_differs_from_the_shipped_one_is_refused_and_nothing_changes()
            throws SQLException {
        try (Connection c = cluster.connect(db)) {
            installer.install(c);
            execute(c, "UPDATE df_engine.schema_files SET checksum = 'abc123' WHERE file = 'steps/001_baseline.sql'");
            String shipped = installer.shippedFiles().get(0).checksum();

            assertThatThrownBy(() -> installer.install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessage("pg_durable: step steps/001_baseline.sql was changed after it was applied (recorded abc123,"
                            + " shipped " + shipped + "); a released step must never be edited. Restore the step as it"
                            + " was released and put the change into a new step, or, for a development database, drop"
                            + " schemas df and df_engine and install again")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("55000"));
            assertThat(c.getAutoCommit()).isTrue();
        }
    }

    @Test
    void changed_function_files_are_applied_again_without_touching_the_steps() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            installer.install(c);
            execute(c, "UPDATE df_engine.schema_files SET checksum = 'old' WHERE file = 'functions/01_engine.sql'");
            execute(c, "CREATE OR REPLACE FUNCTION df_engine.wake() RETURNS void LANGUAGE sql AS 'SELECT'");

            InstallResult result = installer.install(c);

            assertThat(result.applied()).allMatch(f -> f.startsWith("functions/")).contains("functions/01_engine.sql");
            assertThat(queryString(c, "SELECT prosrc FROM pg_proc WHERE oid = 'df_engine.wake()'::regprocedure"))
                    .contains("pg_notify");
            assertThat(installer.install(c).upToDate()).isTrue();
        }
    }

    @Test
    void a_release_0_1_0_database_upgrades_to_what_a_fresh_install_makes() throws SQLException {
        String fresh = cluster.createEmptyDatabase("schema_installer_fresh_" + DATABASES.incrementAndGet());
        try (Connection old = cluster.connect(db); Connection c = cluster.connect(fresh)) {
            Release010.install(old);
            execute(old, "SELECT df.setvar('kept', 'yes')");

            InstallResult result = installer.install(old);
            installer.install(c);

            assertThat(result.previousVersion()).isEqualTo("0.1.0");
            assertThat(result.applied()).doesNotContain("steps/001_baseline.sql").contains("steps/002_locks_and_signal_routing.sql");
            CatalogSnapshot upgraded = CatalogSnapshot.of(old);
            CatalogSnapshot installed = CatalogSnapshot.of(c);
            assertThat(upgraded).as(upgraded.diff(installed)).isEqualTo(installed);
            assertThat(ledger(old)).isEqualTo(ledger(c));
            assertThat(queryString(old, "SELECT df.getvar('kept')")).isEqualTo("yes");
            assertThat(installer.install(old).upToDate()).isTrue();
        }
    }

    @Test
    void a_0_1_0_ledger_with_unreleased_development_migrations_is_refused() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            Release010.install(c);
            execute(c, "INSERT INTO df_engine.schema_migrations (version, name) VALUES (9, '009_privileges.sql'),"
                    + " (10, '010_fair_share.sql')");

            assertThatThrownBy(() -> installer.install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessage("pg_durable: this database has schema migrations that were never released"
                            + " (009_privileges.sql, 010_fair_share.sql), from a development build after 0.1.0;"
                            + " pg_durable cannot upgrade it. Install pg_durable into a new database, or drop schemas"
                            + " df and df_engine (losing their data) and install again");
            assertThat(queryString(c, "SELECT count(*) FROM df_engine.schema_migrations")).isEqualTo("10");
        }
    }

    @Test
    void a_database_with_pg_durable_objects_but_no_ledger_is_refused() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            execute(c, "CREATE SCHEMA df_engine");
            execute(c, "CREATE TABLE df_engine.instances (id text)");

            assertThatThrownBy(() -> installer.install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessageStartingWith("pg_durable: schema df_engine or df already holds objects, but"
                            + " df_engine.schema_files records no install");
        }
    }

    @Test
    void a_step_that_requires_drained_refuses_while_an_instance_is_in_flight_and_passes_after() throws Exception {
        Path v1 = source("v1", "0.1.0", Map.of("001_base.sql", """
                -- release: 0.1.0
                CREATE SCHEMA IF NOT EXISTS df_engine;
                CREATE TABLE df_engine.instances (id text PRIMARY KEY, status text NOT NULL);
                """));
        Path v2 = source("v2", "0.2.0", Map.of("001_base.sql", Files.readString(v1.resolve("sql/steps/001_base.sql")),
                "002_history_format.sql", """
                -- release: 0.2.0
                -- requires: drained
                ALTER TABLE df_engine.instances ADD COLUMN format int NOT NULL DEFAULT 2;
                """));
        try (Connection c = cluster.connect(db)) {
            SchemaInstaller.fromDirectory(v1.resolve("out")).install(c);
            execute(c, "INSERT INTO df_engine.instances VALUES ('a', 'Completed'), ('b', 'Running')");
            SchemaInstaller upgrade = SchemaInstaller.fromDirectory(v2.resolve("out"));

            assertThatThrownBy(() -> upgrade.install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessage("pg_durable: step steps/002_history_format.sql cannot keep workflows in flight across"
                            + " the upgrade from 0.1.0, and 1 instances are not finished. Drain them first: stop"
                            + " starting workflows, let the workers finish them (or cancel them with df.cancel), wait"
                            + " until SELECT count(*) FROM df_engine.instances WHERE status NOT IN ('Completed',"
                            + " 'Failed', 'Cancelled') returns 0, then upgrade again");
            assertThat(queryString(c, "SELECT count(*) FROM df_engine.schema_files WHERE file LIKE 'steps/002%'"))
                    .isEqualTo("0");

            execute(c, "UPDATE df_engine.instances SET status = 'Cancelled' WHERE id = 'b'");
            InstallResult result = upgrade.install(c);

            assertThat(result.previousVersion()).isEqualTo("0.1.0");
            assertThat(result.applied()).containsExactly("steps/002_history_format.sql");
            assertThat(queryString(c, "SELECT string_agg(id || format, ',' ORDER BY id) FROM df_engine.instances"))
                    .isEqualTo("a2,b2");
        }
    }

    @Test
    void a_failing_step_is_named_and_rolls_back_the_whole_install() throws Exception {
        Path src = source("broken", "0.1.0", Map.of(
                "001_items.sql", "-- release: 0.1.0\nCREATE SCHEMA IF NOT EXISTS df_engine;\nCREATE TABLE df_engine.items (id int);\n",
                "002_broken.sql", "-- release: 0.1.0\nCREATE TABLE df_engine.oops (;\n"));
        try (Connection c = cluster.connect(db)) {
            assertThatThrownBy(() -> SchemaInstaller.fromDirectory(src.resolve("out")).install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("pg_durable--0.1.0.sql failed")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42601"));

            assertThat(c.getAutoCommit()).isTrue();
            assertThat(queryString(c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'df_engine'")).isEqualTo("0");
        }
    }

    @Test
    void install_pins_its_search_path_whatever_the_connections_own() throws Exception {
        Path src = source("search_path", "0.1.0", Map.of("001_seen.sql", """
                -- release: 0.1.0
                CREATE TABLE df_engine.seen_search_path AS SELECT current_setting('search_path') AS setting;
                """));
        try (Connection c = cluster.connect(db)) {
            execute(c, "SET search_path = public, pg_catalog");
            SchemaInstaller.fromDirectory(src.resolve("out")).install(c);

            assertThat(queryString(c, "SELECT setting FROM df_engine.seen_search_path")).isEqualTo("pg_catalog, pg_temp");
            assertThat(queryString(c, "SHOW search_path")).isEqualTo("public, pg_catalog");
        }
    }

    @Test
    void install_restores_the_connections_auto_commit_setting() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            c.setAutoCommit(false);
            installer.install(c);
            assertThat(c.getAutoCommit()).isFalse();
            c.setAutoCommit(true);
            installer.install(c);
            assertThat(c.getAutoCommit()).isTrue();
        }
    }

    @Test
    void concurrent_installs_both_succeed_and_apply_each_file_once() throws Exception {
        CyclicBarrier together = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<InstallResult>> results = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                results.add(pool.submit(() -> {
                    try (Connection c = cluster.connect(db)) {
                        together.await(30, TimeUnit.SECONDS);
                        return installer.install(c);
                    }
                }));
            }
            InstallResult first = results.get(0).get(2, TimeUnit.MINUTES);
            InstallResult second = results.get(1).get(2, TimeUnit.MINUTES);

            assertThat(List.of(first.upToDate(), second.upToDate())).containsExactlyInAnyOrder(true, false);
            assertThat(first.version()).isEqualTo("0.2.0");
            assertThat(second.version()).isEqualTo("0.2.0");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void install_waits_while_another_session_holds_the_install_lock() throws Exception {
        try (Connection holder = cluster.connect(db); Connection c = cluster.connect(db)) {
            holder.setAutoCommit(false);
            execute(holder, "CREATE SCHEMA df_engine");
            execute(holder, "CREATE TABLE df_engine.schema_files (file text PRIMARY KEY, kind text NOT NULL,"
                    + " release text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
            holder.commit();
            execute(holder, SchemaInstaller.LOCK_STATEMENT);
            CompletableFuture<InstallResult> install = CompletableFuture.supplyAsync(() -> {
                try {
                    return installer.install(c);
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            awaitWaitingForInstallLock(holder);
            assertThat(install).isNotDone();

            holder.commit();

            assertThat(install.get(2, TimeUnit.MINUTES).previousVersion()).isNull();
        }
    }

    @Test
    void install_that_meets_another_installer_creating_the_schema_waits_for_it_and_tries_once_more()
            throws Exception {
        try (Connection other = cluster.connect(db); Connection c = cluster.connect(db)) {
            other.setAutoCommit(false);
            execute(other, "CREATE SCHEMA df_engine");
            CompletableFuture<InstallResult> install = CompletableFuture.supplyAsync(() -> {
                try {
                    return installer.install(c);
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            awaitWaitingForAnotherTransaction(other);

            other.commit();

            assertThat(install.get(2, TimeUnit.MINUTES).applied()).hasSize(installer.shippedFiles().size());
        }
    }

    /** Writes a schema source with the given steps (and no function file) and generates its scripts into out/. */
    private Path source(String name, String version, Map<String, String> steps) throws IOException {
        Path root = tmp.resolve(name);
        Path stepDir = Files.createDirectories(root.resolve("sql/steps"));
        Files.createDirectories(root.resolve("sql/functions"));
        for (Map.Entry<String, String> e : steps.entrySet()) {
            Files.writeString(stepDir.resolve(e.getKey()), e.getValue());
        }
        new ScriptGenerator(root.resolve("sql"), version).writeTo(root.resolve("out"));
        return root;
    }

    /** Polls pg_locks until some other session waits for the install lock; fails after a minute. */
    private static void awaitWaitingForInstallLock(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT count(*) FROM pg_locks
                WHERE locktype = 'relation' AND NOT granted AND mode = 'ShareRowExclusiveLock'
                  AND relation = 'df_engine.schema_files'::regclass""")) {
            Poll.until(Duration.ofMinutes(1), "a session waiting for the install lock", () -> count(ps) > 0);
        }
    }

    /** Polls pg_locks until some session waits for another's transaction; fails after a minute. */
    private static void awaitWaitingForAnotherTransaction(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted")) {
            Poll.until(Duration.ofMinutes(1), "a session waiting for the schema's creation (another transaction)",
                    () -> count(ps) > 0);
        }
    }

    private static long count(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The ledger: file -> "kind checksum", in file order. */
    private static Map<String, String> ledger(Connection c) throws SQLException {
        Map<String, String> rows = new LinkedHashMap<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT file, kind, checksum FROM df_engine.schema_files"
                     + " ORDER BY kind DESC, file")) {
            while (rs.next()) {
                rows.put(rs.getString(1), rs.getString(2) + " " + rs.getString(3));
            }
        }
        return rows;
    }

    private static String queryString(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
