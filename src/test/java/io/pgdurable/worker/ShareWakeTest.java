package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The claim loop stops claiming a partition key's items while the key is at its share, and a slot
 * freeing wakes it. Chains of steps on the short path pass their slot from one step to the next;
 * the worker used to decide whether to wake the loop by the key's count as a slot freed, and a
 * count read while another chain's slot passed on was off by one either way, so the loop could
 * sleep a whole poll interval with threads free and items waiting. Here the poll interval is an
 * hour: every workflow finishes only if no wake-up is missed. (The race is one of timing: on the
 * old code this failed about one run in four.)
 */
class ShareWakeTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final int WORKFLOWS = 600;
    private static final int STEPS = 3;

    @Test
    void chains_passing_their_slots_never_leave_the_claim_loop_asleep_at_the_share() throws Exception {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase("share_wake");
        AtomicReference<DataSource> engine = new AtomicReference<>();
        Registry registry = new Registry()
                .activity("step", ctx -> {
                    // Completes in its own transaction, so the next step is leased to this worker
                    // and runs in this step's slot (the short path).
                    try (Connection c = engine.get().getConnection()) {
                        c.setAutoCommit(false);
                        ctx.completeAndCommit(c, ctx.input(Integer.class) + 1);
                    }
                    return null;
                })
                .orchestration("chain", ctx -> {
                    int n = ctx.input(Integer.class);
                    for (int i = 0; i < STEPS; i++) {
                        n = ctx.callActivity("step", n, Integer.class).await();
                    }
                    return n;
                });
        WorkerConfig config = WorkerConfig.builder(cluster.jdbcUrl(db)).user("postgres")
                .pollInterval(Duration.ofHours(1)).activityThreads(3).maxActivitiesPerRole(2).build();
        try (Worker worker = Worker.start(config, registry, engine::set)) {
            EngineClient client = new EngineClient(worker.dataSource());
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < WORKFLOWS; i++) {
                ids.add(client.start("chain", null, i));
            }
            for (int i = 0; i < WORKFLOWS; i++) {
                InstanceInfo info;
                try {
                    info = client.awaitTerminal(ids.get(i), BOUND);
                } catch (RuntimeException e) {
                    throw new AssertionError(e.getMessage() + "; queues: " + queues(cluster, db), e);
                }
                assertThat(info.status()).as(ids.get(i)).isEqualTo("Completed");
                assertThat(info.output()).as(ids.get(i)).isEqualTo(Integer.toString(i + STEPS));
            }
        }
    }

    /** What waits in the queues, for the message of a workflow that did not finish. */
    private static String queues(TestCluster cluster, String db) {
        String sql = "SELECT (SELECT count(*) FROM df_engine.activity_queue WHERE lease_owner IS NULL),"
                + " (SELECT count(*) FROM df_engine.activity_queue WHERE lease_owner IS NOT NULL),"
                + " (SELECT count(*) FROM df_engine.orchestrator_queue),"
                + " (SELECT count(*) FROM df_engine.instances WHERE status = 'Running'),"
                + " (SELECT extract(epoch FROM max(visible_at) - now())::text FROM df_engine.activity_queue),"
                + " (SELECT string_agg(DISTINCT coalesce(partition_key, '<null>'), ',') FROM df_engine.activity_queue)";
        try (Connection c = cluster.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return "activities unleased " + rs.getLong(1) + ", leased " + rs.getLong(2) + "; orchestrator messages "
                    + rs.getLong(3) + "; running instances " + rs.getLong(4) + "; latest visible_at - now() "
                    + rs.getString(5) + " s; keys " + rs.getString(6);
        } catch (SQLException e) {
            return "unreadable (" + e.getMessage() + ")";
        }
    }
}
