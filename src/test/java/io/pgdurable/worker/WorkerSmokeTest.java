package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

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
        WorkerConfig config = WorkerConfig.builder(cluster.jdbcUrl(db)).user("postgres").build();
        try (Worker worker = Worker.start(config, registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            String id = client.start("seq", null, 1);
            InstanceInfo info = client.awaitTerminal(id, Duration.ofSeconds(20));
            assertThat(info.status()).isEqualTo("Completed");
            assertThat(info.output()).isEqualTo("28");
        }
    }
}
