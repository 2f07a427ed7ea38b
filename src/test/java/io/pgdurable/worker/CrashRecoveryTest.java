package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.testing.Poll;
import io.pgdurable.testing.TestCluster;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Kills a real worker JVM with SIGKILL in the middle of an activity and in the middle of an
 * orchestration turn; a second worker must finish every instance, with each step's effect and
 * completion recorded exactly once.
 */
class CrashRecoveryTest {
    private static final int INSTANCES = 5;

    private final TestCluster cluster = TestCluster.get();
    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void killLeftovers() {
        processes.forEach(Process::destroyForcibly);
    }

    @Test
    void worker_killed_mid_activity_is_taken_over_and_no_completion_is_recorded_twice() throws Exception {
        String db = cluster.createDatabase("crash_activity");
        List<String> ids = startInstances(db);
        WorkerProcess doomed = spawn(db, "doomed", "stall-activity");

        awaitTrue(() -> count(db, "SELECT count(*) FROM crash_attempts WHERE task_id = 1 AND worker = 'doomed'") > 0,
                Duration.ofSeconds(30), "worker to start task 1");
        doomed.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);

        finishWithSecondWorker(db, ids);
        // The stalled attempts were retried after their leases expired, by the survivor.
        assertThat(count(db, "SELECT count(*) FROM crash_attempts WHERE task_id = 1 AND worker = 'survivor'"))
                .isGreaterThan(0);
    }

    @Test
    void worker_killed_mid_turn_is_taken_over_and_no_completion_is_recorded_twice() throws Exception {
        String db = cluster.createDatabase("crash_turn");
        List<String> ids = startInstances(db);
        WorkerProcess doomed = spawn(db, "doomed", "stall-turn");

        String line = doomed.lines.poll(30, TimeUnit.SECONDS);
        while (line != null && !line.startsWith("TURN_STALLED")) {
            line = doomed.lines.poll(30, TimeUnit.SECONDS);
        }
        assertThat(line).as("worker reported a stalled turn").startsWith("TURN_STALLED");
        doomed.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);

        finishWithSecondWorker(db, ids);
    }

    private List<String> startInstances(String db) throws SQLException {
        try (Connection c = cluster.connect(db)) {
            CrashScenarios.createTables(c);
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(cluster.jdbcUrl(db, "postgres"));
        EngineClient client = new EngineClient(ds);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < INSTANCES; i++) {
            ids.add(client.start(CrashScenarios.ORCHESTRATION, "crash-" + i, 0));
        }
        return ids;
    }

    private void finishWithSecondWorker(String db, List<String> ids) throws Exception {
        String url = cluster.jdbcUrl(db, "postgres");
        WorkerConfig config = WorkerConfig.builder(url)
                .workerId("survivor")
                .pollInterval(Duration.ofMillis(50))
                .leaseDuration(Duration.ofSeconds(2))
                .build();
        try (Worker survivor = Worker.start(config, CrashScenarios.registry(url, "survivor", "none"))) {
            EngineClient client = new EngineClient(survivor.dataSource());
            for (String id : ids) {
                assertThat(client.awaitTerminal(id, Duration.ofSeconds(60)).status()).isEqualTo("Completed");
            }
        }
        // Every step's effect exists exactly once (primary key), and so does its completion.
        assertThat(count(db, "SELECT count(*) FROM crash_effects")).isEqualTo(INSTANCES * 3L);
        assertThat(count(db, """
                SELECT count(*) FROM (
                    SELECT instance_id, task_id FROM df_engine.history
                     WHERE event_type = 'TaskCompleted'
                     GROUP BY instance_id, task_id HAVING count(*) > 1) dup
                """)).isZero();
        assertThat(count(db, "SELECT count(*) FROM df_engine.history WHERE event_type = 'TaskCompleted'"))
                .isEqualTo(INSTANCES * 3L);
        assertThat(count(db, "SELECT count(*) FROM df_engine.activity_queue")).isZero();
    }

    private WorkerProcess spawn(String db, String name, String stall) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                CrashScenarios.class.getName(), cluster.jdbcUrl(db, "postgres"), name, stall)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p = pb.start();
        processes.add(p);
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    lines.add(l);
                }
            } catch (Exception ignored) {
                // the process was killed
            }
        }, "worker-output-" + name);
        reader.setDaemon(true);
        reader.start();
        return new WorkerProcess(p, lines);
    }

    private long count(String db, String sql) {
        try (Connection c = cluster.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    static void awaitTrue(BooleanSupplier condition, Duration timeout, String what) {
        Poll.until(timeout, what, condition::getAsBoolean);
    }

    private record WorkerProcess(Process process, BlockingQueue<String> lines) {
    }
}
