package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A dispatch loop's batch of turns commits, and then the loop looks for what is due next. A
 * failure there, after the commit, is no turn's failure: it used to be handled as one, and the
 * turn's instance, whose turn had committed, was failed.
 */
class AfterTurnCommitTest {
    private static final int INSTANCES = 4;
    private static final TestCluster CLUSTER = TestCluster.get();
    private static String db;

    @BeforeAll
    static void createDatabase() {
        db = CLUSTER.createDatabase("after_turn_commit");
    }

    @Test
    void a_failure_after_a_batch_committed_fails_no_instance_and_every_instance_completes() throws SQLException {
        Set<String> broken = ConcurrentHashMap.newKeySet();
        FaultInjector failAfterFirstCommit = (point, instanceId) -> {
            if (point == FaultPoint.AFTER_TURN_COMMIT && broken.add(instanceId)) {
                throw new IllegalStateException("the look at what is due next failed for good");
            }
        };
        Registry registry = new Registry()
                .orchestration("after.commit", ctx -> {
                    String first = ctx.callActivity("after.echo", "a", String.class).await();
                    String second = ctx.callActivity("after.echo", "b", String.class).await();
                    return first + second;
                })
                .activity("after.echo", ctx -> ctx.input(String.class));
        WorkerConfig config = WorkerConfig.builder(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))
                .pollInterval(Duration.ofMillis(50))
                .faultInjector(failAfterFirstCommit)
                .build();
        List<String> ids = new ArrayList<>();
        try (Worker worker = Worker.start(config, registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            // One at a time, so that each first turn is a batch of its own: a failed batch of
            // several turns is retried turn by turn, a failed turn claimed alone fails its instance.
            for (int i = 0; i < INSTANCES; i++) {
                String id = client.start("after.commit", "after-" + i, null);
                ids.add(id);
                InstanceInfo info = client.awaitTerminal(id, Duration.ofSeconds(30));
                assertThat(info.status()).as("status of %s (output %s)", id, info.output()).isEqualTo("Completed");
                assertThat(info.output()).isEqualTo("\"ab\"");
            }
        }
        assertThat(broken).as("the fault was injected").isNotEmpty();
    }
}
