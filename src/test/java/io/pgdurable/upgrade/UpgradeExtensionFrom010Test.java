package io.pgdurable.upgrade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgdurable.schema.CatalogSnapshot;
import io.pgdurable.testing.ProcessResult;
import io.pgdurable.testing.Processes;
import io.pgdurable.testing.TestCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Upgrading the extension from 0.1.0: the current build's {@code install-extension} puts the
 * control file and the scripts of every version into the test server's share directory;
 * {@code CREATE EXTENSION pg_durable VERSION '0.1.0'} installs the first release, whose own worker
 * (the jar built from its tag) leaves workflows in flight as in {@link UpgradeFrom010Test};
 * {@code ALTER EXTENSION pg_durable UPDATE} moves the database to the current version, the current
 * worker finishes them, and the catalog equals a fresh {@code CREATE EXTENSION pg_durable}.
 *
 * <p>Skipped, saying why, while the build has no {@code install-extension} command.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UpgradeExtensionFrom010Test {
    /** The version {@code ALTER EXTENSION ... UPDATE} moves to: this build's. */
    static final String CURRENT_VERSION = "0.2.0";

    private static final String DB = "upgrade_ext_010";
    private static final String FRESH_DB = "upgrade_ext_fresh";
    private static final String ROLE = "upgrade_ext_app";
    private static final Duration WORKER_START = Duration.ofSeconds(60);
    private static final Duration WORKER_STOP = Duration.ofSeconds(30);

    private static TestCluster cluster;
    private static Path logDir;
    private static boolean updated;
    /** Why the extension cannot be installed, or null if it can. */
    private static String noExtensionCommand;
    private static WorkerJvm oldWorker;
    private static WorkerJvm newWorker;

    @BeforeAll
    static void setUp() {
        Path jar = UpgradeScenario.currentJar();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessResult help = Processes.run(Duration.ofMinutes(1),
                List.of(java, "-jar", jar.toString(), "install-extension", "--help"));
        if (!help.succeeded() || !help.output().contains("--pg-config")) {
            noExtensionCommand = "this build has no 'install-extension' command yet (java -jar " + jar
                    + " install-extension --help shows no --pg-config option), so the extension cannot be installed";
            return;
        }
        cluster = TestCluster.get();
        String installed = UpgradeScenario.runJar(jar, "install-extension",
                "--pg-config", cluster.bindir().resolve("pg_config").toString());
        assertThat(installed).as("what install-extension wrote").contains("pg_durable.control");
        cluster.createEmptyDatabase(DB);
        cluster.createLoginRole(ROLE);
        logDir = Path.of(System.getProperty("pgdurable.test.buildDir", "target")).toAbsolutePath()
                .resolve("upgrade-logs").resolve(DB);
    }

    @BeforeEach
    void needsTheExtensionCommand() {
        assumeTrue(noExtensionCommand == null, () -> noExtensionCommand);
    }

    @AfterAll
    static void tearDown() throws InterruptedException {
        for (WorkerJvm w : new WorkerJvm[] {oldWorker, newWorker}) {
            if (w != null) {
                w.close();
            }
        }
    }

    @Test
    @Order(1)
    void workflows_in_flight_under_extension_0_1_0_finish_after_alter_extension_update_and_the_current_worker()
            throws Exception {
        Path oldJar = ReleaseJar.V0_1_0.jar();
        Path newJar = UpgradeScenario.currentJar();
        String url = cluster.jdbcUrl(DB, TestCluster.SUPERUSER);
        UpgradeScenario scenario = new UpgradeScenario(cluster, DB, ROLE);

        scenario.execAsAdmin("CREATE EXTENSION pg_durable VERSION '0.1.0'");
        assertThat(extensionVersion(scenario)).isEqualTo("0.1.0");
        scenario.prepare();

        oldWorker = WorkerJvm.start(oldJar, url, "ext-worker-0.1.0", logDir);
        oldWorker.awaitStarted(WORKER_START);
        scenario.startBeforeUpgrade();
        oldWorker.stopGracefully(WORKER_STOP);
        scenario.assertStillInFlight();

        scenario.execAsAdmin("ALTER EXTENSION pg_durable UPDATE");
        updated = true;
        assertThat(extensionVersion(scenario)).as("pg_extension.extversion, as \\dx shows it").isEqualTo(CURRENT_VERSION);
        scenario.assertStillInFlight();
        scenario.assertFinishedUntouched();

        newWorker = WorkerJvm.start(newJar, url, "ext-worker-current", logDir);
        newWorker.awaitStarted(WORKER_START);
        try {
            scenario.finishAfterUpgrade();
            scenario.assertFinishedUntouched();
            newWorker.assertAlive();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\nin-flight workflows:\n" + scenario.describe()
                    + "\nlast lines of the current worker's log:\n" + newWorker.logTail(), e);
        }
        newWorker.stopGracefully(WORKER_STOP);
    }

    @Test
    @Order(2)
    void the_updated_extension_has_the_catalog_of_a_fresh_create_extension() throws Exception {
        assertThat(updated).as("the first test updated the extension in " + DB).isTrue();
        cluster.createEmptyDatabase(FRESH_DB);
        UpgradeScenario fresh = new UpgradeScenario(cluster, FRESH_DB, ROLE);
        fresh.execAsAdmin("CREATE EXTENSION pg_durable");
        assertThat(extensionVersion(fresh)).isEqualTo(CURRENT_VERSION);
        fresh.execAsAdmin("SELECT df.grant_usage('" + ROLE + "')");

        CatalogSnapshot updatedCatalog;
        CatalogSnapshot freshCatalog;
        try (Connection a = cluster.connect(DB); Connection b = cluster.connect(FRESH_DB)) {
            updatedCatalog = CatalogSnapshot.of(a);
            freshCatalog = CatalogSnapshot.of(b);
        }
        assertThat(freshCatalog.lines().size()).as("objects in a fresh extension").isGreaterThan(100);
        assertThat(updatedCatalog.diff(freshCatalog))
                .as("catalog of the extension updated from 0.1.0 against a fresh CREATE EXTENSION").isEmpty();
        // The snapshot leaves extension membership out (so that it can compare with JDBC installs):
        // every function, table and view of the updated extension must belong to it.
        assertThat(new UpgradeScenario(cluster, DB, ROLE).queryAsAdmin("""
                SELECT count(*) FROM (
                    SELECT 'pg_proc'::regclass AS classid, p.oid FROM pg_proc p
                     WHERE p.pronamespace IN ('df'::regnamespace, 'df_engine'::regnamespace)
                    UNION ALL
                    SELECT 'pg_class'::regclass, c.oid FROM pg_class c
                     WHERE c.relnamespace IN ('df'::regnamespace, 'df_engine'::regnamespace)
                       AND c.relkind IN ('r', 'v', 'S')) o
                 WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.oid
                                      AND d.deptype = 'e')"""))
                .as("objects of df and df_engine that are not members of the updated extension").isEqualTo("0");
    }

    private static String extensionVersion(UpgradeScenario db) {
        return db.queryAsAdmin("SELECT extversion FROM pg_extension WHERE extname = 'pg_durable'");
    }
}
