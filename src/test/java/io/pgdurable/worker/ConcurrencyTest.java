package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Two workers share one database: no instance is turned by both at once, and none is lost. */
class ConcurrencyTest {
    private static final int INSTANCES = 500;
    private static final int STEPS = 3;

    @Test
    void two_workers_process_500_instances_without_overlap_or_loss() throws Exception {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase("concurrency");
        Set<String> inTurn = ConcurrentHashMap.newKeySet();
        AtomicInteger overlaps = new AtomicInteger();
        Registry registry = new Registry()
                .activity("cc.step", ctx -> ctx.input(Integer.class) + 1)
                .orchestration("cc.steps", ctx -> {
                    int v = 0;
                    for (int i = 0; i < STEPS; i++) {
                        v = ctx.callActivity("cc.step", v, Integer.class).await();
                        String id = ctx.instanceId();
                        // Runs inside the turn's transaction, while the instance's row lock is held.
                        ctx.addTurnWrite(c -> {
                            if (!inTurn.add(id)) {
                                overlaps.incrementAndGet();
                            }
                            try {
                                Thread.sleep(1);  // widens the window in which two turns could overlap
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            } finally {
                                inTurn.remove(id);
                            }
                        });
                    }
                    return v;
                });
        String url = cluster.jdbcUrl(db, "postgres");
        try (Connection c = cluster.connect(db)) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.start_orchestration(?, 'cc.steps', '0')")) {
                for (int i = 0; i < INSTANCES; i++) {
                    ps.setString(1, "cc-" + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
        }
        try (Worker a = Worker.start(config(url, "worker-a"), registry);
             Worker b = Worker.start(config(url, "worker-b"), registry)) {
            CrashRecoveryTest.awaitTrue(() -> count(cluster, db,
                    "SELECT count(*) FROM df_engine.instances WHERE status <> 'Completed'") == 0,
                    Duration.ofSeconds(120), "all instances to complete");
            assertThat(a.stats().turns()).as("worker a did turns").isPositive();
            assertThat(b.stats().turns()).as("worker b did turns").isPositive();
        }
        assertThat(overlaps.get()).as("turns of one instance running at once").isZero();
        assertThat(count(cluster, db, "SELECT count(*) FROM df_engine.instances WHERE output = '3'"))
                .isEqualTo(INSTANCES);
        // Each activity's completion is in history exactly once.
        assertThat(count(cluster, db, "SELECT count(*) FROM df_engine.history WHERE event_type = 'TaskCompleted'"))
                .isEqualTo((long) INSTANCES * STEPS);
        assertThat(count(cluster, db, """
                SELECT count(*) FROM (SELECT instance_id, task_id FROM df_engine.history
                                       WHERE event_type = 'TaskScheduled'
                                       GROUP BY 1, 2 HAVING count(*) > 1) d
                """)).isZero();
    }

    /**
     * Many dispatch loops race for turns of the same few instances, each turn appending to
     * history. A loop that locks an instance just after another loop's turn of it committed must
     * still see that turn's history: a stale history length would make its events collide with
     * the committed ones and fail the instance.
     */
    @Test
    void turns_of_one_instance_in_quick_succession_across_loops_never_collide() throws Exception {
        int instances = 6;
        int events = 1000;
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase("concurrency_hot");
        Registry registry = new Registry()
                .orchestration("cc.collect", ctx -> {
                    int sum = 0;
                    for (int i = 0; i < events; i++) {
                        sum += ctx.waitForExternalEvent("e", Integer.class).await();
                    }
                    return sum;
                });
        String url = cluster.jdbcUrl(db, "postgres");
        try (Connection c = cluster.connect(db); Statement s = c.createStatement()) {
            for (int i = 0; i < instances; i++) {
                s.execute("SELECT df_engine.start_orchestration('hot-" + i + "', 'cc.collect', 'null')");
            }
        }
        WorkerConfig.Builder hot = WorkerConfig.builder(url).pollInterval(Duration.ofMillis(5))
                .orchestrationThreads(3).turnBatchSize(1);
        try (Worker a = Worker.start(hot.workerId("hot-a").build(), registry);
             Worker b = Worker.start(hot.workerId("hot-b").build(), registry)) {
            Thread[] raisers = new Thread[instances];
            for (int i = 0; i < instances; i++) {
                String id = "hot-" + i;
                raisers[i] = new Thread(() -> {
                    try (Connection c = cluster.connect(db);
                         PreparedStatement ps = c.prepareStatement("SELECT df_engine.raise_event(?, 'e', '1')")) {
                        ps.setString(1, id);
                        for (int n = 0; n < events; n++) {
                            ps.executeQuery().close();
                            Thread.sleep(1);  // a steady stream: many short turns, not a few long ones
                        }
                    } catch (SQLException e) {
                        throw new IllegalStateException(e);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                raisers[i].start();
            }
            for (Thread t : raisers) {
                t.join();
            }
            CrashRecoveryTest.awaitTrue(() -> count(cluster, db,
                    "SELECT count(*) FROM df_engine.instances WHERE status IN ('Pending', 'Running')") == 0,
                    Duration.ofSeconds(120), "every instance to finish");
        }
        assertThat(count(cluster, db, "SELECT count(*) FROM df_engine.instances WHERE status = 'Failed'"))
                .as("instances failed by a turn that could not be written").isZero();
        assertThat(count(cluster, db, "SELECT count(*) FROM df_engine.instances WHERE output = '" + events + "'"))
                .isEqualTo(instances);
    }

    private static WorkerConfig config(String url, String id) {
        return WorkerConfig.builder(url).workerId(id).pollInterval(Duration.ofMillis(50)).build();
    }

    private static long count(TestCluster cluster, String db, String sql) {
        try (Connection c = cluster.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
