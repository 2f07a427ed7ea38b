package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An activity the worker does not know fails its task, and gives its slot and its role's share
 * back like any other outcome: a worker that met more unknown activities than its share must
 * still run the role's next known one.
 */
class UnknownActivityTest {

    @Test
    void unknown_activities_fail_their_tasks_without_using_up_the_roles_share() {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase("unknown_activity");
        Registry registry = new Registry()
                .activity("double", ctx -> ctx.input(Integer.class) * 2)
                .orchestration("calls-missing", ctx -> ctx.callActivity("missing", 1, Integer.class).await())
                .orchestration("calls-double", ctx -> ctx.callActivity("double", ctx.input(Integer.class),
                        Integer.class).await());
        int share = 2;
        WorkerConfig config = WorkerConfig.builder(cluster.jdbcUrl(db)).user("postgres")
                .activityThreads(3).maxActivitiesPerRole(share).build();
        try (Worker worker = Worker.start(config, registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            List<String> missing = new ArrayList<>();
            for (int i = 0; i < 3 * share; i++) {
                missing.add(client.start("calls-missing", null, null));
            }
            for (String id : missing) {
                InstanceInfo info = client.awaitTerminal(id, Duration.ofSeconds(20));
                assertThat(info.status()).as(id).isEqualTo("Failed");
                assertThat(info.output()).as(id).contains("no activity named 'missing'");
            }
            // All of them went to the same role (the session user) as this one.
            String known = client.start("calls-double", null, 21);
            InstanceInfo info = client.awaitTerminal(known, Duration.ofSeconds(20));
            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.output()).isEqualTo("42");
        }
    }
}
