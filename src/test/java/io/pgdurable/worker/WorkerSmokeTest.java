package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

class WorkerSmokeTest {

    @Test
    void sequential_and_fan_out_activities_complete() {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase("smoke");
        Registry registry = new Registry()
                .activity("double", ctx -> ctx.input(Integer.class) * 2)
                .orchestration("seq", ctx -> {
                    int v = ctx.input(Integer.class);
                    for (int i = 0; i < 3; i++) {
                        v = ctx.callActivity("double", v, Integer.class).await();
                    }
                    List<Task<Integer>> fan = new ArrayList<>();
                    for (int i = 0; i < 5; i++) {
                        fan.add(ctx.callActivity("double", i, Integer.class));
                    }
                    int sum = ctx.allOf(fan).await().stream().mapToInt(Integer::intValue).sum();
                    return v + sum;
                });
        List<String> finished = new CopyOnWriteArrayList<>();
        WorkerConfig config = WorkerConfig.builder(cluster.jdbcUrl(db)).user("postgres")
                .onInstanceFinished(finished::add).build();
        try (Worker worker = Worker.start(config, registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("seq", null, 1);
            InstanceInfo info = client.awaitTerminal(id, Duration.ofSeconds(20));
            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.output()).isEqualTo("28");
            // Reported once, right after the commit that ended it.
            awaitReported(finished, 1);
            assertThat(finished).containsExactly(id);
        }
    }

    @Test
    void the_end_of_an_instance_is_reported_on_the_short_path_and_on_the_queue_path() {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase("smoke_finished");
        // The short path is taken by activities that complete in their own transaction.
        Registry registry = new Registry()
                .activity("double", ctx -> {
                    int doubled = ctx.input(Integer.class) * 2;
                    try (Connection c = cluster.connect(db)) {
                        c.setAutoCommit(false);
                        ctx.completeAndCommit(c, doubled);
                    }
                    return doubled;
                })
                .orchestration("once", ctx -> ctx.callActivity("double", ctx.input(Integer.class), Integer.class).await())
                .orchestration("fails", ctx -> {
                    throw new IllegalStateException("no");
                });
        for (boolean shortPath : new boolean[] {true, false}) {
            List<String> finished = new CopyOnWriteArrayList<>();
            // One dispatch loop: a second one's idle poll may hold the instance as the step completes,
            // which rightly sends that turn to the queue and would make the count below vary.
            WorkerConfig config = WorkerConfig.builder(cluster.jdbcUrl(db)).user("postgres").shortPath(shortPath)
                    .orchestrationThreads(1).onInstanceFinished(finished::add).build();
            try (Worker worker = Worker.start(config, registry)) {
                EngineClient client = new EngineClient(worker.dataSource());
                String done = client.start("once", null, 4);
                String failed = client.start("fails", null, null);
                assertThat(client.awaitTerminal(done, Duration.ofSeconds(20)).status()).isEqualTo("Completed");
                assertThat(client.awaitTerminal(failed, Duration.ofSeconds(20)).status()).isEqualTo("Failed");
                awaitReported(finished, 2);
                assertThat(finished).as("short path " + shortPath).containsExactlyInAnyOrder(done, failed);
                assertThat(worker.stats().shortPathTurns()).as("short path " + shortPath)
                        .isEqualTo(shortPath ? 1 : 0);
            }
        }
    }

    @Test
    void work_waiting_from_before_the_start_runs_only_after_the_worker_has_given_its_pool() throws Exception {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase("smoke_before_work");
        AtomicReference<DataSource> given = new AtomicReference<>();
        Registry registry = new Registry()
                .activity("pool_given", ctx -> given.get() != null)
                .orchestration("check", ctx -> ctx.callActivity("pool_given", null, Boolean.class).await());
        // As after a restart: the instance waits before any worker runs.
        PGSimpleDataSource direct = new PGSimpleDataSource();
        direct.setUrl(cluster.jdbcUrl(db));
        direct.setUser("postgres");
        String id = new EngineClient(direct).start("check", null, null);
        AtomicLong historyWhenGiven = new AtomicLong(-1);
        WorkerConfig config = WorkerConfig.builder(cluster.jdbcUrl(db)).user("postgres")
                .pollInterval(Duration.ofMillis(20)).build();

        try (Worker worker = Worker.start(config, registry, pool -> {
            historyWhenGiven.set(historyOf(pool, id));
            given.set(pool);
        })) {
            InstanceInfo info = new EngineClient(worker.dataSource()).awaitTerminal(id, Duration.ofSeconds(20));
            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.output()).as("the step ran with the pool given").isEqualTo("true");
            assertThat(given.get()).isSameAs(worker.dataSource());
        }
        assertThat(historyWhenGiven.get()).as("history events when the pool was given").isZero();
    }

    private static long historyOf(DataSource pool, String instanceId) {
        try (Connection c = pool.getConnection();
             var ps = c.prepareStatement("SELECT count(*) FROM df_engine.history WHERE instance_id = ?")) {
            ps.setString(1, instanceId);
            try (var rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Waits until {@code count} ends were reported: the report follows the commit the status read sees. */
    private static void awaitReported(List<String> finished, int count) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (finished.size() < count && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }
}
