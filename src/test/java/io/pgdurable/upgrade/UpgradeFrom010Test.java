package io.pgdurable.upgrade;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.schema.CatalogSnapshot;
import io.pgdurable.testing.TestCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Upgrading a JDBC install of release 0.1.0 with the current build: 0.1.0's own installer and
 * worker (the jar built from its tag) start workflows that are left sleeping, waiting for a signal,
 * mid-loop and mid-join; the worker is stopped, {@code java -jar pg-durable.jar install} of the
 * current build upgrades the schema, the current worker takes over, and every workflow finishes
 * with the result it would have had without the upgrade, while the finished ones stay as they were.
 * The upgraded database's catalog then equals a fresh install's.
 *
 * <p>The old worker is stopped with SIGTERM, as a service manager stops it for a planned upgrade;
 * its sleeps and signal waits are durable rows and timers, so nothing depends on a lease running
 * out. Killed workers are the crash tests' subject (CrashRecoveryTest, WorkerRestartTest, ChaosTest).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UpgradeFrom010Test {
    private static final String DB = "upgrade_jdbc_010";
    private static final String FRESH_DB = "upgrade_jdbc_fresh";
    private static final String ROLE = "upgrade_app";
    private static final Duration WORKER_START = Duration.ofSeconds(60);
    private static final Duration WORKER_STOP = Duration.ofSeconds(30);

    private static TestCluster cluster;
    private static Path logDir;
    private static boolean upgraded;
    private static WorkerJvm oldWorker;
    private static WorkerJvm newWorker;

    @BeforeAll
    static void setUp() {
        cluster = TestCluster.get();
        cluster.createEmptyDatabase(DB);
        cluster.createLoginRole(ROLE);
        logDir = Path.of(System.getProperty("pgdurable.test.buildDir", "target")).toAbsolutePath()
                .resolve("upgrade-logs").resolve(DB);
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
    void workflows_in_flight_under_0_1_0_finish_after_the_current_installer_and_worker_take_over() throws Exception {
        Path oldJar = ReleaseJar.V0_1_0.jar();
        Path newJar = UpgradeScenario.currentJar();
        String url = cluster.jdbcUrl(DB, TestCluster.SUPERUSER);

        UpgradeScenario.runJar(oldJar, "install", "--url", url);
        assertThat(versionsIn(DB)).as("the ledger of a 0.1.0 install").isEqualTo("1,2,3,4,5,6,7,8");
        UpgradeScenario scenario = new UpgradeScenario(cluster, DB, ROLE);
        scenario.prepare();

        oldWorker = WorkerJvm.start(oldJar, url, "worker-0.1.0", logDir);
        oldWorker.awaitStarted(WORKER_START);
        scenario.startBeforeUpgrade();
        oldWorker.stopGracefully(WORKER_STOP);
        scenario.assertStillInFlight();

        String installed = UpgradeScenario.runJar(newJar, "install", "--url", url);
        upgraded = true;
        scenario.assertStillInFlight();
        scenario.assertFinishedUntouched();

        newWorker = WorkerJvm.start(newJar, url, "worker-current", logDir);
        newWorker.awaitStarted(WORKER_START);
        try {
            scenario.finishAfterUpgrade();
            scenario.assertFinishedUntouched();
            newWorker.assertAlive();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\nupgrade output:\n" + installed + "\nin-flight workflows:\n"
                    + scenario.describe() + "\nlast lines of the current worker's log:\n" + newWorker.logTail(), e);
        }
        newWorker.stopGracefully(WORKER_STOP);
    }

    @Test
    @Order(2)
    void the_upgraded_database_has_the_catalog_of_a_fresh_install_of_the_current_version() throws Exception {
        assertThat(upgraded).as("the first test upgraded " + DB).isTrue();
        cluster.createEmptyDatabase(FRESH_DB);
        UpgradeScenario.runJar(UpgradeScenario.currentJar(), "install", "--url", cluster.jdbcUrl(FRESH_DB, TestCluster.SUPERUSER));
        // The same usage grant as the upgraded database's role got under 0.1.0, so privileges compare too.
        new UpgradeScenario(cluster, FRESH_DB, ROLE).execAsAdmin("SELECT df.grant_usage('" + ROLE + "')");

        CatalogSnapshot upgradedCatalog;
        CatalogSnapshot freshCatalog;
        try (Connection a = cluster.connect(DB); Connection b = cluster.connect(FRESH_DB)) {
            upgradedCatalog = CatalogSnapshot.of(a);
            freshCatalog = CatalogSnapshot.of(b);
        }
        assertThat(freshCatalog.lines().size()).as("objects in a fresh install").isGreaterThan(100);
        assertThat(upgradedCatalog.diff(freshCatalog))
                .as("catalog of the database upgraded from 0.1.0 against a fresh install").isEmpty();
    }

    private static String versionsIn(String db) {
        return new UpgradeScenario(cluster, db, ROLE).queryAsAdmin(
                "SELECT string_agg(version::text, ',' ORDER BY version) FROM df_engine.schema_migrations");
    }
}
