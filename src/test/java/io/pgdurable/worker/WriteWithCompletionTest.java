package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.Jdbc;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code ActivityContext.writeCompleteAndCommit}: the activity's statement commits with its
 * completion, and a statement that fails is the activity's own failure, on the short path as on
 * the queue path: it fails the activity once, with the statement's error, and is neither taken
 * for a lost lease nor for a refusal of the short path (which would run the activity again).
 */
class WriteWithCompletionTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    /** How often each instance's activity body started. */
    private static final ConcurrentHashMap<String, AtomicInteger> RUNS = new ConcurrentHashMap<>();
    private static String db;

    @BeforeAll
    static void createDatabase() throws SQLException {
        db = CLUSTER.createDatabase("write_with_completion");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.keys (k text PRIMARY KEY, instance_id text)");
        }
    }

    private static Registry registry() {
        return new Registry()
                .orchestration("wc.one", ctx -> ctx.callActivity("wc.insert", ctx.input(String.class), String.class)
                        .await())
                .activity("wc.insert", ctx -> {
                    RUNS.computeIfAbsent(ctx.instanceId(), k -> new AtomicInteger()).incrementAndGet();
                    try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))) {
                        c.setAutoCommit(false);
                        ctx.writeCompleteAndCommit(c, "INSERT INTO public.keys (k, instance_id) VALUES (?, ?)",
                                List.of(ctx.input(String.class), ctx.instanceId()), "inserted");
                    }
                    return "inserted";
                });
    }

    @Test
    void on_the_short_path_the_row_commits_with_the_completion_and_a_failing_statement_fails_the_activity_once()
            throws SQLException {
        runs("short", true);
    }

    @Test
    void on_the_queue_path_the_row_commits_with_the_completion_and_a_failing_statement_fails_the_activity_once()
            throws SQLException {
        runs("queue", false);
    }

    private static void runs(String prefix, boolean shortPath) throws SQLException {
        WorkerConfig config = WorkerConfig.builder(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))
                .pollInterval(Duration.ofMillis(50))
                .shortPath(shortPath)
                .build();
        try (Worker worker = Worker.start(config, registry())) {
            EngineClient client = new EngineClient(worker.dataSource());
            client.start("wc.one", prefix + "-first", prefix + "-key");
            InstanceInfo first = client.awaitTerminal(prefix + "-first", Duration.ofSeconds(30));
            assertThat(first.status()).as(first.output()).isEqualTo("Completed");
            assertThat(first.output()).isEqualTo("\"inserted\"");

            client.start("wc.one", prefix + "-again", prefix + "-key");
            InstanceInfo again = client.awaitTerminal(prefix + "-again", Duration.ofSeconds(30));
            assertThat(again.status()).isEqualTo("Failed");
            // The failure is the statement's own error (the output is its JSON).
            assertThat(again.output()).contains("PSQLException", "duplicate key value violates unique constraint",
                    "keys_pkey").doesNotContain("no longer holds its lease");
            if (shortPath) {
                assertThat(worker.stats().shortPathTurns()).as("the first instance's step").isPositive();
            }
        }
        assertThat(RUNS.get(prefix + "-first").get()).isEqualTo(1);
        assertThat(RUNS.get(prefix + "-again").get()).as("the failing activity ran once").isEqualTo(1);
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(Jdbc.single(c, "SELECT string_agg(instance_id, ',') FROM public.keys WHERE k = '" + prefix
                    + "-key'")).isEqualTo(prefix + "-first");
        }
    }
}
