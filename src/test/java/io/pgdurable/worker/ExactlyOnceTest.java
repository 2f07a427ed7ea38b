package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An activity that writes its effect and records its completion in one transaction runs
 * exactly once: a crash just before that commit leaves no trace of the first try, and a crash
 * just after it does not run the activity again.
 */
class ExactlyOnceTest {
    private static final int INSTANCES = 10;
    private static final int STEPS = 3;
    private static final TestCluster CLUSTER = TestCluster.get();
    /** Prefix of the instances whose activity sends its insert with its completion. */
    private static final String TOGETHER = "together-";
    /** How often each activity body (instance/step) started, committed or not. */
    private static final ConcurrentHashMap<String, AtomicInteger> RUNS = new ConcurrentHashMap<>();
    private static String db;

    @BeforeAll
    static void createDatabase() throws SQLException {
        db = CLUSTER.createDatabase("exactly_once");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE eo_rows (instance_id text, step int, attempt int)");
        }
    }

    @Test
    void crash_before_commit_rolls_back_the_insert_with_the_completion_and_the_retry_inserts_once()
            throws SQLException {
        crashBeforeCommit("before", false);
    }

    /** The same for instances started in the worker's JVM, whose first step the start leased. */
    @Test
    void started_in_the_worker_a_crash_before_commit_rolls_back_the_insert_and_the_retry_inserts_once()
            throws SQLException {
        crashBeforeCommit("jvm-before", true);
    }

    @Test
    void crash_after_commit_does_not_run_the_activity_again() throws SQLException {
        crashAfterCommit("after", false);
    }

    /** The same with the activity's insert sent with its completion ({@code writeCompleteAndCommit}). */
    @Test
    void written_with_the_completion_a_crash_before_commit_rolls_back_the_insert_and_the_retry_inserts_once()
            throws SQLException {
        crashBeforeCommit(TOGETHER + "before", false);
    }

    @Test
    void written_with_the_completion_a_crash_after_commit_does_not_run_the_activity_again() throws SQLException {
        crashAfterCommit(TOGETHER + "after", false);
    }

    @Test
    void started_in_the_worker_a_crash_after_commit_does_not_run_the_activity_again() throws SQLException {
        crashAfterCommit("jvm-after", true);
    }

    /**
     * A worker that dies before the first step its start leased to it has begun: the lease runs
     * out, another claim takes the step, and it runs once.
     */
    @Test
    void started_in_the_worker_a_crash_before_the_first_step_starts_leaves_it_to_a_claim_and_it_runs_once()
            throws SQLException {
        Set<String> crashed = ConcurrentHashMap.newKeySet();
        FaultInjector crashBeforeFirstStep = (point, instanceId) -> {
            if (point == FaultPoint.BEFORE_ACTIVITY_START && crashed.add(instanceId)) {
                throw new SimulatedCrashException(point);
            }
        };
        List<String> ids = run("jvm-start", crashBeforeFirstStep, true);

        assertThat(crashed).hasSize(INSTANCES);
        for (String id : ids) {
            assertThat(count("SELECT count(*) FROM eo_rows WHERE instance_id = '" + id + "'")).isEqualTo(STEPS);
        }
        assertThat(runsOf("jvm-start")).hasSize(INSTANCES * STEPS).allSatisfy(n -> assertThat(n).isEqualTo(1));
        // The abandoned lease counted as the step's first attempt: the claim that ran it made the second.
        assertThat(count("SELECT count(*) FROM eo_rows WHERE instance_id LIKE 'jvm-start-%' AND step = 0"
                + " AND attempt = 2")).isEqualTo(INSTANCES);
    }

    private void crashBeforeCommit(String prefix, boolean inJvm) throws SQLException {
        Set<String> crashed = ConcurrentHashMap.newKeySet();
        AtomicInteger injected = new AtomicInteger();
        FaultInjector crashFirstTryOfEachInstance = (point, instanceId) -> {
            if (point == FaultPoint.BEFORE_ACTIVITY_COMMIT && crashed.add(instanceId)) {
                injected.incrementAndGet();
                throw new SimulatedCrashException(point);
            }
        };
        List<String> ids = run(prefix, crashFirstTryOfEachInstance, inJvm);

        assertThat(injected.get()).isEqualTo(INSTANCES);
        for (String id : ids) {
            assertThat(count("SELECT count(*) FROM eo_rows WHERE instance_id = '" + id + "'")).isEqualTo(STEPS);
        }
        // The row of each crashed try is gone: only the second attempt's insert of step 0 exists.
        assertThat(count("SELECT count(*) FROM eo_rows WHERE instance_id LIKE '" + prefix + "-%' AND step = 0"
                + " AND attempt = 1")).isZero();
        assertThat(count("SELECT count(*) FROM eo_rows WHERE instance_id LIKE '" + prefix + "-%' AND step = 0"
                + " AND attempt = 2")).isEqualTo(INSTANCES);
    }

    private void crashAfterCommit(String prefix, boolean inJvm) throws SQLException {
        Set<String> crashed = ConcurrentHashMap.newKeySet();
        FaultInjector crashAfterFirstCommit = (point, instanceId) -> {
            if (point == FaultPoint.AFTER_ACTIVITY_COMMIT && crashed.add(instanceId)) {
                throw new SimulatedCrashException(point);
            }
        };
        List<String> ids = run(prefix, crashAfterFirstCommit, inJvm);

        assertThat(crashed).hasSize(INSTANCES);
        for (String id : ids) {
            assertThat(count("SELECT count(*) FROM eo_rows WHERE instance_id = '" + id + "'")).isEqualTo(STEPS);
        }
        // Every activity body ran exactly once. (Its attempt number may still be 2: the worker that
        // "died" had been leased the next step by the short path, and a lease counts as a try.)
        assertThat(runsOf(prefix)).hasSize(INSTANCES * STEPS).allSatisfy(n -> assertThat(n).isEqualTo(1));
    }

    /** How often each activity body of the instances named {@code prefix-*} started. */
    private static List<Integer> runsOf(String prefix) {
        return RUNS.entrySet().stream().filter(e -> e.getKey().startsWith(prefix + "-"))
                .map(e -> e.getValue().get()).toList();
    }

    /** Runs the instances, started by a client or, with {@code inJvm}, with {@link Worker#startOrchestration}. */
    private List<String> run(String prefix, FaultInjector faults, boolean inJvm) throws SQLException {
        String url = CLUSTER.jdbcUrl(db, "postgres");
        Properties props = new Properties();
        Registry registry = new Registry()
                .orchestration("eo.steps", ctx -> {
                    for (int i = 0; i < STEPS; i++) {
                        ctx.callActivity("eo.insert", i, String.class).await();
                    }
                    return STEPS;
                })
                .activity("eo.insert", ctx -> {
                    RUNS.computeIfAbsent(ctx.instanceId() + "/" + ctx.input(Integer.class), k -> new AtomicInteger())
                            .incrementAndGet();
                    try (Connection c = DriverManager.getConnection(url, props)) {
                        c.setAutoCommit(false);
                        String insert = "INSERT INTO eo_rows (instance_id, step, attempt) VALUES (?, ?, ?)";
                        if (prefix.startsWith(TOGETHER)) {
                            ctx.writeCompleteAndCommit(c, insert,
                                    List.of(ctx.instanceId(), ctx.input(Integer.class), ctx.attempt()), "ok");
                            return "ok";
                        }
                        try (PreparedStatement ps = c.prepareStatement(insert)) {
                            ps.setString(1, ctx.instanceId());
                            ps.setInt(2, ctx.input(Integer.class));
                            ps.setInt(3, ctx.attempt());
                            ps.executeUpdate();
                        }
                        ctx.completeAndCommit(c, "ok");
                        return "ok";
                    }
                });
        WorkerConfig config = WorkerConfig.builder(url)
                .pollInterval(Duration.ofMillis(50))
                .leaseDuration(Duration.ofMillis(500))
                .faultInjector(faults)
                .build();
        List<String> ids = new ArrayList<>();
        try (Worker worker = Worker.start(config, registry)) {
            EngineClient client = new EngineClient(worker.dataSource());
            for (int i = 0; i < INSTANCES; i++) {
                String id = prefix + "-" + i;
                ids.add(inJvm ? worker.startOrchestration("eo.steps", id, null) : client.start("eo.steps", id, null));
            }
            for (String id : ids) {
                InstanceInfo info = client.awaitTerminal(id, Duration.ofSeconds(30));
                assertThat(info.status()).as("status of %s (output %s)", id, info.output()).isEqualTo("Completed");
            }
        }
        return ids;
    }

    private static long count(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
