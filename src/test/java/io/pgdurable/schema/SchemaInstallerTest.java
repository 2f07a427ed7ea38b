package io.pgdurable.schema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.testing.Poll;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SchemaInstallerTest {

    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static final String FIXTURES = "io/pgdurable/schema/fixtures/";

    private final TestCluster cluster = TestCluster.get();
    private final SchemaInstaller installer = new SchemaInstaller();
    private String db;

    @BeforeEach
    void createEmptyDatabase() {
        db = cluster.createEmptyDatabase("schema_installer_" + DATABASES.incrementAndGet());
    }

    @Test
    void shipped_migration_list_starts_at_version_one_and_names_the_engine_schema() {
        assertThat(installer.migrations()).isNotEmpty();
        assertThat(installer.migrations().get(0)).isEqualTo(new Migration(1, "001_engine.sql"));
        assertThat(installer.latestVersion()).isEqualTo(installer.migrations().get(installer.migrations().size() - 1).version());
    }

    @Test
    void install_lock_is_a_share_row_exclusive_lock_on_the_ledger_that_only_its_owner_can_take() throws SQLException {
        assertThat(SchemaInstaller.LOCK_STATEMENT)
                .isEqualTo("LOCK TABLE df_engine.schema_migrations IN SHARE ROW EXCLUSIVE MODE");
        cluster.createLoginRole("installer_lock_probe");
        try (Connection c = cluster.connect(db)) {
            installer.install(c, 1);
        }
        try (Connection probe = cluster.connect(db, "installer_lock_probe")) {
            probe.setAutoCommit(false);
            assertThatThrownBy(() -> execute(probe, SchemaInstaller.LOCK_STATEMENT))
                    .isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
        }
    }

    @Test
    void first_install_applies_every_migration_in_order_and_records_it() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            InstallResult result = installer.install(c);

            assertThat(result.applied()).isEqualTo(installer.migrations());
            assertThat(result.currentVersion()).isEqualTo(installer.latestVersion());
            assertThat(ledger(c)).isEqualTo(installer.migrations());
        }
    }

    @Test
    void second_install_applies_nothing() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            installer.install(c);
            List<Timestamp> firstAppliedAt = appliedAt(c);

            InstallResult again = installer.install(c);

            assertThat(again.applied()).isEmpty();
            assertThat(again.upToDate()).isTrue();
            assertThat(again.currentVersion()).isEqualTo(installer.latestVersion());
            assertThat(ledger(c)).isEqualTo(installer.migrations());
            assertThat(appliedAt(c)).isEqualTo(firstAppliedAt);
        }
    }

    @Test
    void install_upgrades_a_version_one_schema_in_place_to_the_latest() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            InstallResult old = installer.install(c, 1);
            assertThat(old.appliedVersions()).containsExactly(1);
            assertThat(old.currentVersion()).isEqualTo(1);
            List<Timestamp> versionOneAppliedAt = appliedAt(c);

            InstallResult upgrade = installer.install(c);

            assertThat(upgrade.applied()).isEqualTo(installer.migrations().subList(1, installer.migrations().size()));
            assertThat(upgrade.currentVersion()).isEqualTo(installer.latestVersion());
            assertThat(ledger(c)).isEqualTo(installer.migrations());
            assertThat(appliedAt(c).get(0)).isEqualTo(versionOneAppliedAt.get(0));
        }
    }

    @Test
    void upgrade_applies_only_the_newer_migration_and_keeps_existing_rows() throws SQLException {
        SchemaInstaller twoVersions = fixture("upgrade");
        try (Connection c = cluster.connect(db)) {
            twoVersions.install(c, 1);
            execute(c, "INSERT INTO df_engine.items (id) VALUES (7)");

            InstallResult upgrade = twoVersions.install(c);

            assertThat(upgrade.appliedVersions()).containsExactly(2);
            assertThat(upgrade.currentVersion()).isEqualTo(2);
            assertThat(queryString(c, "SELECT id || ':' || label FROM df_engine.items")).isEqualTo("7:unlabelled");
        }
    }

    @Test
    void failing_migration_is_named_and_rolls_back_the_whole_install() throws SQLException {
        SchemaInstaller broken = fixture("broken");
        try (Connection c = cluster.connect(db)) {
            assertThatThrownBy(() -> broken.install(c))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("002_broken.sql")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42601"));

            assertThat(c.getAutoCommit()).isTrue();
            assertThat(queryString(c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'df_engine'")).isEqualTo("0");
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
    void concurrent_installs_both_succeed_and_apply_each_migration_once() throws Exception {
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

            List<Migration> appliedByEither = new ArrayList<>(first.applied());
            appliedByEither.addAll(second.applied());
            assertThat(appliedByEither).containsExactlyInAnyOrderElementsOf(installer.migrations());
            assertThat(first.currentVersion()).isEqualTo(installer.latestVersion());
            assertThat(second.currentVersion()).isEqualTo(installer.latestVersion());
        } finally {
            pool.shutdownNow();
        }
        try (Connection c = cluster.connect(db)) {
            assertThat(ledger(c)).isEqualTo(installer.migrations());
        }
    }

    @Test
    void install_waits_while_another_session_holds_the_install_lock() throws Exception {
        try (Connection holder = cluster.connect(db); Connection c = cluster.connect(db)) {
            installer.install(holder, 1);
            holder.setAutoCommit(false);
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

            assertThat(install.get(2, TimeUnit.MINUTES).applied())
                    .isEqualTo(installer.migrations().subList(1, installer.migrations().size()));
        }
    }

    @Test
    void install_that_meets_another_installer_creating_the_schema_waits_for_it_and_tries_once_more()
            throws Exception {
        try (Connection other = cluster.connect(db); Connection c = cluster.connect(db)) {
            other.setAutoCommit(false);
            execute(other, "CREATE SCHEMA df_engine");
            execute(other, "CREATE TABLE df_engine.schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
                    + " applied_at timestamptz NOT NULL DEFAULT now())");
            CompletableFuture<InstallResult> install = CompletableFuture.supplyAsync(() -> {
                try {
                    return installer.install(c);
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            awaitWaitingForAnotherTransaction(other);

            other.commit();

            assertThat(install.get(2, TimeUnit.MINUTES).applied()).isEqualTo(installer.migrations());
        }
    }

    @Test
    void install_pins_its_search_path_whatever_the_connections_own() throws SQLException {
        SchemaInstaller probe = fixture("search_path");
        try (Connection c = cluster.connect(db)) {
            execute(c, "SET search_path = public, pg_catalog");
            probe.install(c);

            assertThat(queryString(c, "SELECT setting FROM df_engine.seen_search_path")).isEqualTo("pg_catalog, pg_temp");
            assertThat(queryString(c, "SHOW search_path")).isEqualTo("public, pg_catalog");
        }
    }

    @Test
    void migration_list_with_versions_out_of_order_is_rejected() {
        assertThatThrownBy(() -> fixture("unordered"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("line 2")
                .hasMessageContaining("001_items.sql");
    }

    @Test
    void migration_file_names_must_start_with_a_version() {
        assertThat(Migration.fromFileName("012_retention.sql")).isEqualTo(new Migration(12, "012_retention.sql"));
        assertThatThrownBy(() -> Migration.fromFileName("engine.sql"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("engine.sql");
    }

    private static SchemaInstaller fixture(String name) {
        return new SchemaInstaller(SchemaInstallerTest.class.getClassLoader(), FIXTURES + name);
    }

    /** Polls pg_locks until some other session waits for the install lock; fails after a minute. */
    private static void awaitWaitingForInstallLock(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT count(*) FROM pg_locks
                WHERE locktype = 'relation' AND NOT granted AND mode = 'ShareRowExclusiveLock'
                  AND relation = 'df_engine.schema_migrations'::regclass""")) {
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

    private static List<Migration> ledger(Connection c) throws SQLException {
        List<Migration> rows = new ArrayList<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT version, name FROM df_engine.schema_migrations ORDER BY version")) {
            while (rs.next()) {
                rows.add(new Migration(rs.getInt(1), rs.getString(2)));
            }
        }
        return rows;
    }

    private static List<Timestamp> appliedAt(Connection c) throws SQLException {
        List<Timestamp> rows = new ArrayList<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT applied_at FROM df_engine.schema_migrations ORDER BY version")) {
            while (rs.next()) {
                rows.add(rs.getTimestamp(1));
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

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
