package io.pgdurable.extension;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.JsonCodec;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.schema.CatalogSnapshot;
import io.pgdurable.schema.SchemaInstaller;
import io.pgdurable.testing.ProcessResult;
import io.pgdurable.testing.Processes;
import io.pgdurable.testing.TestCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * pg_durable installed the way PostgreSQL extensions are: {@code install-extension} places the
 * files in the test server's sharedir, then {@code CREATE EXTENSION}, {@code \dx}, PL/Java's
 * worker extension and {@code DROP EXTENSION}. Writing into the sharedir needs the rights of the
 * server's installation (root on a Debian package); without them the tests are skipped.
 */
class ExtensionTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final Path PROJECT = Path.of(System.getProperty("pgdurable.test.projectDir", "."));
    private static final Path JAR = PROJECT.resolve("target/pg-durable.jar");
    private static final String ROLE = "ext_alice";
    private static Path sharedir;
    private static ProcessResult installed;

    @BeforeAll
    static void installExtensionFiles() {
        Path pgConfig = CLUSTER.bindir().resolve("pg_config");
        ProcessResult r = Processes.run(Duration.ofSeconds(30), List.of(pgConfig.toString(), "--sharedir"));
        sharedir = Path.of(r.output().strip());
        Assumptions.assumeTrue(Files.isWritable(sharedir.resolve("extension")),
                "cannot write to " + sharedir.resolve("extension") + ": skipping the extension tests"
                        + " (install-extension needs the rights of the PostgreSQL installation)");
        installed = installExtension("--pg-config", pgConfig.toString());
        CLUSTER.createLoginRole(ROLE);
        assertThat(installed.exitCode()).as(installed.output()).isZero();
    }

    private static ProcessResult installExtension(String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString(),
                "install-extension"));
        command.addAll(List.of(args));
        return Processes.run(Duration.ofSeconds(60), command);
    }

    @Test
    void install_extension_writes_the_control_files_scripts_and_jar_into_the_servers_sharedir_and_says_so() {
        for (String file : List.of("extension/pg_durable.control", "extension/pg_durable--0.2.0.sql",
                "extension/pg_durable--0.1.0.sql", "extension/pg_durable--0.1.0--0.2.0.sql",
                "extension/pg_durable_pljava.control", "extension/pg_durable_pljava--0.2.0.sql",
                "pg_durable/pg-durable-0.2.0.jar")) {
            assertThat(sharedir.resolve(file)).isRegularFile();
            assertThat(installed.output()).contains("Wrote " + sharedir.resolve(file));
        }
    }

    @Test
    void install_extension_with_a_pg_config_that_does_not_exist_names_it_and_fails() {
        ProcessResult r = installExtension("--pg-config", "/nonexistent/pg_config");

        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("cannot run pg_config '/nonexistent/pg_config'");
    }

    @Test
    void create_extension_installs_the_control_plane_and_dx_shows_its_version_then_drop_removes_it()
            throws SQLException {
        String db = CLUSTER.createEmptyDatabase("ext_create");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION pg_durable");
            s.execute("SELECT df.grant_usage('" + ROLE + "')");

            assertThat(single(s, "SELECT extversion FROM pg_extension WHERE extname = 'pg_durable'")).isEqualTo("0.2.0");
            s.execute("SET ROLE " + ROLE);
            assertThat(single(s, "SELECT df.start('SELECT 1', 'from the extension')")).matches("[0-9a-f]{8}");
            s.execute("RESET ROLE");
            assertThat(single(s, "SELECT status FROM df.instances WHERE label = 'from the extension'"))
                    .isEqualTo("pending");

            s.execute("DROP EXTENSION pg_durable");
            assertThat(single(s, "SELECT count(*) FROM pg_namespace WHERE nspname IN ('df', 'df_engine')"))
                    .isEqualTo("0");
        }
    }

    @Test
    void an_extension_install_has_the_same_catalog_as_a_jdbc_install() throws SQLException {
        String viaExtension = CLUSTER.createEmptyDatabase("ext_catalog_extension");
        String viaJdbc = CLUSTER.createDatabase("ext_catalog_jdbc");
        try (Connection e = CLUSTER.connect(viaExtension); Connection j = CLUSTER.connect(viaJdbc);
             Statement s = e.createStatement()) {
            s.execute("CREATE EXTENSION pg_durable");
            CatalogSnapshot extension = CatalogSnapshot.of(e);
            CatalogSnapshot jdbc = CatalogSnapshot.of(j);

            assertThat(extension.diff(jdbc)).as("extension install against JDBC install").isEmpty();
        }
    }

    @Test
    void the_jdbc_installer_refuses_a_database_where_pg_durable_is_an_extension() throws SQLException {
        String db = CLUSTER.createEmptyDatabase("ext_then_jdbc");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION pg_durable");
            try {
                new SchemaInstaller().install(c);
                throw new AssertionError("the JDBC installer ran over the extension");
            } catch (SQLException e) {
                assertThat(e.getMessage()).contains("pg_durable is installed in this database as an extension"
                        + " (version 0.2.0); upgrade it with ALTER EXTENSION pg_durable UPDATE");
            }
            assertThat(single(s, "SELECT extversion FROM pg_extension WHERE extname = 'pg_durable'")).isEqualTo("0.2.0");
        }
    }

    @Test
    void create_extension_refuses_a_database_where_the_jdbc_installer_put_pg_durable() throws SQLException {
        String db = CLUSTER.createDatabase("jdbc_then_ext");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            try {
                s.execute("CREATE EXTENSION pg_durable");
                throw new AssertionError("CREATE EXTENSION ran over the JDBC install");
            } catch (PSQLException e) {
                assertThat(e.getSQLState()).isEqualTo("42P06");
                assertThat(e.getServerErrorMessage().getMessage()).startsWith("pg_durable: schema df_engine or df"
                        + " already exists in this database, so pg_durable was installed here without CREATE EXTENSION");
            }
            assertThat(single(s, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_durable'")).isEqualTo("0");
        }
    }

    @Test
    void the_pljava_extension_comes_with_cascade_and_its_worker_runs_a_workflow() throws Exception {
        Assumptions.assumeTrue(CLUSTER.hasPlJavaLibrary() && CLUSTER.isExtensionAvailable("pljava"),
                "PL/Java is not installed for this PostgreSQL: skipping CREATE EXTENSION pg_durable_pljava");
        String db = CLUSTER.createEmptyDatabase("ext_pljava");
        String id;
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION pg_durable_pljava CASCADE");
            assertThat(single(s, "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname)"
                    + " FROM pg_extension WHERE extname LIKE 'pg_durable%'"))
                    .isEqualTo("pg_durable 0.2.0, pg_durable_pljava 0.2.0");
            s.execute("SELECT df.grant_usage('" + ROLE + "')");
            s.execute("SET ROLE " + ROLE);
            id = single(s, "SELECT df.start('SELECT 41 + 1 AS answer')");
        }
        DfTestEnvironment.awaitTrue(() -> {
            String summary = queryQuietly(db, "SELECT df.run_worker(2)::text");
            assertThat(JsonCodec.tree(summary).path("ran").asBoolean()).as(summary).isTrue();
            return "completed".equals(queryQuietly(db, "SELECT status FROM df.instances WHERE id = '" + id + "'"));
        }, Duration.ofSeconds(60), "the in-database worker to complete the workflow");

        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            assertThat(single(s, "SELECT jarorigin FROM sqlj.jar_repository WHERE jarname = 'pg_durable'"))
                    .isEqualTo("file:" + sharedir.resolve("pg_durable/pg-durable-0.2.0.jar"));
            s.execute("DROP EXTENSION pg_durable_pljava");
            assertThat(single(s, "SELECT to_regprocedure('df.run_worker(integer)') IS NULL")).isEqualTo("t");
        }
    }

    @Test
    void the_pljava_extension_refuses_a_jar_of_the_same_name_installed_another_way() throws SQLException {
        Assumptions.assumeTrue(CLUSTER.hasPlJavaLibrary() && CLUSTER.isExtensionAvailable("pljava"),
                "PL/Java is not installed for this PostgreSQL: skipping CREATE EXTENSION pg_durable_pljava");
        String db = CLUSTER.createEmptyDatabase("ext_pljava_jar");
        Path jar = CLUSTER.copyForServer(JAR);
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION pljava");
            s.execute("SELECT sqlj.install_jar('file:" + jar + "', 'pg_durable', false)");
            s.execute("CREATE EXTENSION pg_durable");
            try {
                s.execute("CREATE EXTENSION pg_durable_pljava");
                throw new AssertionError("the extension was created beside a foreign jar");
            } catch (PSQLException e) {
                assertThat(e.getServerErrorMessage().getMessage()).startsWith(
                        "pg_durable_pljava: a jar named pg_durable is already installed in this database");
            }
        }
    }

    private static String single(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).as(sql).isTrue();
            return rs.getString(1);
        }
    }

    private static String queryQuietly(String db, String sql) {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            return single(s, sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }
}
