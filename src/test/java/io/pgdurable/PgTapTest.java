package io.pgdurable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgdurable.testing.ProcessResult;
import io.pgdurable.testing.Processes;
import io.pgdurable.testing.TestCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs every pgTAP file in {@code test/pgtap/} with {@code pg_prove}, each in a fresh database that
 * has the schema installed and the {@code pgtap} extension created.
 */
class PgTapTest {

    private static final String HINT = " (.ci/run installs it)";

    @TestFactory
    Stream<DynamicTest> pgtap_files_pass() throws IOException {
        Path dir = Path.of(System.getProperty("pgdurable.test.projectDir", ".")).toAbsolutePath().resolve("test/pgtap");
        List<Path> files;
        try (Stream<Path> listing = Files.list(dir)) {
            files = listing.filter(f -> f.getFileName().toString().endsWith(".sql")).sorted().toList();
        }
        Optional<Path> pgProve = Processes.findOnPath("pg_prove");
        assumeTrue(pgProve.isPresent(), "pg_prove is not on the PATH; install the Debian package"
                + " libtap-parser-sourcehandler-pgtap-perl" + HINT);
        TestCluster cluster = TestCluster.get();
        assumeTrue(cluster.isExtensionAvailable("pgtap"), "the pgtap extension is not installed in "
                + cluster.bindir() + "; install the Debian package postgresql-15-pgtap" + HINT);
        return files.stream().map(file -> DynamicTest.dynamicTest(
                file.getFileName().toString(), file.toUri(), () -> prove(cluster, pgProve.get(), file)));
    }

    private static void prove(TestCluster cluster, Path pgProve, Path file) throws SQLException {
        String db = cluster.createDatabase(databaseFor(file));
        try (Connection c = cluster.connect(db); Statement st = c.createStatement()) {
            st.execute("CREATE EXTENSION pgtap");
        }
        ProcessResult result = Processes.run(Duration.ofMinutes(10), List.of(
                pgProve.toString(), "--verbose", "--psql-bin", cluster.bindir().resolve("psql").toString(),
                "-h", TestCluster.HOST, "-p", Integer.toString(cluster.port()), "-U", TestCluster.SUPERUSER,
                "-d", db, file.toString()));
        assertThat(result.exitCode())
                .as("pg_prove %s exited with %d:%n%s", file.getFileName(), result.exitCode(), result.output())
                .isZero();
    }

    /** {@code 001_schema.sql} is tested in database {@code pgtap_001_schema}. */
    private static String databaseFor(Path file) {
        String base = file.getFileName().toString().replaceFirst("\\.sql$", "").toLowerCase(Locale.ROOT);
        String name = "pgtap_" + base.replaceAll("[^a-z0-9_]", "_");
        return name.length() > 63 ? name.substring(0, 63) : name;
    }
}
