package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.adminLong;
import static io.pgdurable.graph.e2e.SqlProbe.execAsApp;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.TestCluster;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A durable sleep outlives the worker that started it: the real CLI worker (the deployable jar)
 * is killed with SIGKILL during the sleep, a new worker takes over, and the step after the sleep
 * runs once, no earlier than the sleep allows.
 */
class WorkerRestartTest {
    private static final Duration DONE = Duration.ofSeconds(30);

    private static DfTestEnvironment env;
    private static Process cliWorker;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("restart_e2e");
        execAsApp(env, "CREATE TABLE restart_marks (instance_id text, at timestamptz DEFAULT clock_timestamp())");
    }

    @AfterAll
    static void tearDown() {
        if (cliWorker != null) {
            cliWorker.destroyForcibly();
        }
        env.close();
    }

    @Test
    void sleep_survives_a_killed_worker_and_the_next_step_runs_once_after_it() throws Exception {
        cliWorker = startCliWorker();
        DfTestEnvironment.awaitTrue(() -> adminLong(env, "SELECT count(*) FROM df.workers") > 0, DONE,
                "the CLI worker to register its heartbeat");

        String id = env.start(
                "df.sleep(3) ~> 'INSERT INTO restart_marks (instance_id) VALUES (''{sys_instance_id}'')'");
        DfTestEnvironment.awaitTrue(() -> "running".equals(
                env.queryAsAdmin("SELECT status FROM df.nodes WHERE instance_id = ? AND node_type = 'SLEEP'", id)),
                DONE, "the CLI worker to start the sleep");
        assertThat(cliWorker.isAlive()).isTrue();

        cliWorker.destroyForcibly();
        assertThat(cliWorker.waitFor(10, TimeUnit.SECONDS)).as("the CLI worker died").isTrue();
        assertThat(cliWorker.exitValue()).as("killed by SIGKILL").isEqualTo(128 + 9);
        assertThat(adminLong(env, "SELECT count(*) FROM restart_marks")).isZero();

        env.startWorker();

        assertThat(env.await(id, DONE)).isEqualTo("completed");
        assertThat(adminLong(env, "SELECT count(*) FROM restart_marks WHERE instance_id = ?", id)).isEqualTo(1);
        assertThat(env.queryAsAdmin("""
                SELECT i.completed_at >= i.created_at + interval '3 seconds'
                   AND m.at >= i.created_at + interval '3 seconds'
                  FROM df.instances i JOIN restart_marks m ON m.instance_id = i.id
                 WHERE i.id = ?
                """, id)).isEqualTo("t");
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.history"
                + " WHERE instance_id = ? AND event_type = 'TaskCompleted'", id)).isEqualTo(1);
    }

    private static Process startCliWorker() throws IOException {
        Path buildDir = Path.of(System.getProperty("pgdurable.test.buildDir", "target"));
        Path jar = buildDir.resolve("pg-durable.jar");
        assertThat(jar).as("the deployable jar, built in the process-classes phase").isRegularFile();
        Path log = Files.createTempFile(buildDir, "restart-e2e-worker-", ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-jar", jar.toString(), "worker",
                "--url", env.cluster().jdbcUrl(env.database(), TestCluster.SUPERUSER),
                "--poll-interval-ms", "50")
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
    }
}
