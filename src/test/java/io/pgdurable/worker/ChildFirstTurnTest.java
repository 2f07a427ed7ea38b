package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.Jdbc;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A dispatch loop's turn that starts children whose orchestrations this worker runs writes each
 * child's first turn with it: the child is created running, its first activity leased to this
 * worker, and no start message is queued for a dispatch loop to claim. A trigger logs every
 * message queued, so the tests see which children went through a start message.
 */
class ChildFirstTurnTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    /** How often each child's step body started. */
    private static final ConcurrentHashMap<String, AtomicInteger> RUNS = new ConcurrentHashMap<>();
    private static String db;

    @BeforeAll
    static void createDatabase() throws SQLException {
        db = CLUSTER.createDatabase("child_first_turn");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.queued (instance_id text, kind text)");
            s.execute("CREATE TABLE public.effects (instance_id text)");
            s.execute("CREATE FUNCTION public.log_queued() RETURNS trigger LANGUAGE plpgsql AS $$"
                    + " BEGIN INSERT INTO public.queued VALUES (NEW.instance_id, NEW.kind); RETURN NULL; END $$");
            s.execute("CREATE TRIGGER log_queued AFTER INSERT ON df_engine.orchestrator_queue"
                    + " FOR EACH ROW EXECUTE FUNCTION public.log_queued()");
        }
    }

    private static Registry registry() {
        return new Registry()
                .orchestration("ct.parent", ctx -> {
                    String child = ctx.input(String.class);
                    List<Task<Integer>> branches = new ArrayList<>();
                    for (int i = 1; i <= 2; i++) {
                        branches.add(ctx.callSubOrchestration(child, ctx.instanceId() + "-c" + i, i, Integer.class));
                    }
                    return ctx.allOf(branches).await().stream().mapToInt(Integer::intValue).sum();
                })
                .orchestration("ct.child", ctx -> ctx.callActivity("ct.twice", ctx.input(Integer.class), Integer.class)
                        .await())
                .orchestration("ct.child.after.timer", ctx -> {
                    ctx.createTimer(Duration.ofMillis(1)).await();
                    return ctx.callActivity("ct.twice", ctx.input(Integer.class), Integer.class).await();
                })
                .orchestration("ct.existing.child", ctx -> ctx.callSubOrchestration("ct.child", "ct-existing", 1,
                        Integer.class).await())
                // Writes its effect and completes in its own transaction, so each completion can take
                // the short path; counts how often its body started.
                .activity("ct.twice", ctx -> {
                    int v = ctx.input(Integer.class);
                    RUNS.computeIfAbsent(ctx.instanceId(), k -> new AtomicInteger()).incrementAndGet();
                    try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))) {
                        c.setAutoCommit(false);
                        try (PreparedStatement ps = c.prepareStatement("INSERT INTO public.effects VALUES (?)")) {
                            ps.setString(1, ctx.instanceId());
                            ps.executeUpdate();
                        }
                        ctx.completeAndCommit(c, 2 * v);
                    }
                    return 2 * v;
                });
    }

    /** Starts ct.parent as {@code id}, its children running orchestration {@code child}, and awaits their sum. */
    private static void runParent(EngineClient client, String id, String child) {
        client.start("ct.parent", id, child);
        InstanceInfo done = client.awaitTerminal(id, Duration.ofSeconds(30));
        assertThat(done.status()).as("%s: %s", id, done.output()).isEqualTo("Completed");
        assertThat(done.output()).isEqualTo("6");
    }

    private static Worker worker() {
        return Worker.start(WorkerConfig.builder(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))
                .pollInterval(Duration.ofMillis(50))
                .build(), registry());
    }

    @Test
    void children_start_with_their_first_turn_written_by_the_parents_turn_and_no_start_message() throws SQLException {
        try (Worker worker = worker()) {
            runParent(new EngineClient(worker.dataSource()), "ct-join", "ct.child");
        }
        try (Connection c = CLUSTER.connect(db)) {
            // The parent's start went through the queue (a client started it); its children did not.
            assertThat(Jdbc.single(c, "SELECT string_agg(instance_id || ' ' || kind, ',' ORDER BY instance_id, kind)"
                    + " FROM public.queued WHERE instance_id LIKE 'ct-join%' AND kind = 'ExecutionStarted'"))
                    .isEqualTo("ct-join ExecutionStarted");
            for (String child : new String[] {"ct-join-c1", "ct-join-c2"}) {
                assertThat(Jdbc.single(c, "SELECT string_agg(event_type, ',' ORDER BY seq) FROM df_engine.history"
                        + " WHERE instance_id = '" + child + "'"))
                        .isEqualTo("OrchestratorStarted,ExecutionStarted,TaskScheduled,"
                                + "OrchestratorStarted,TaskCompleted,ExecutionCompleted");
                assertThat(Jdbc.single(c, "SELECT parent_id || ' ' || status FROM df_engine.instances WHERE id = '"
                        + child + "'")).isEqualTo("ct-join Completed");
                assertThat(Jdbc.single(c, "SELECT status FROM df_engine.executions WHERE instance_id = '" + child + "'"))
                        .isEqualTo("Completed");
            }
        }
    }

    /**
     * A crash just before the parent's turn commits takes the children and their first turns
     * with it, and the retry creates them once; a crash just before a child's leased first step
     * starts leaves the step to a claim once its lease runs out. Every step's body runs once and
     * its row is written once.
     */
    @Test
    void crashes_around_children_started_with_their_first_turn_leave_every_step_run_once() throws SQLException {
        Set<String> crashed = ConcurrentHashMap.newKeySet();
        FaultInjector faults = (point, instanceId) -> {
            boolean parentTurn = point == FaultPoint.BEFORE_TURN_COMMIT && instanceId.matches("ct-crash-\\d");
            boolean childStep = point == FaultPoint.BEFORE_ACTIVITY_START && instanceId.contains("-c");
            if ((parentTurn || childStep) && crashed.add(point + " " + instanceId)) {
                throw new SimulatedCrashException(point);
            }
        };
        WorkerConfig config = WorkerConfig.builder(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))
                .pollInterval(Duration.ofMillis(50))
                .leaseDuration(Duration.ofMillis(500))
                .faultInjector(faults)
                .build();
        try (Worker worker = Worker.start(config, registry())) {
            EngineClient client = new EngineClient(worker.dataSource());
            // One at a time, so each parent's first turn is the first (the crash point's) of its batch.
            for (int i = 0; i < 3; i++) {
                runParent(client, "ct-crash-" + i, "ct.child");
            }
        }
        // Each parent's turn crashed once before its commit, each child's first step once before it started.
        assertThat(crashed).hasSize(3 + 6);
        assertThat(RUNS.entrySet().stream().filter(e -> e.getKey().startsWith("ct-crash-")))
                .hasSize(6).allSatisfy(e -> assertThat(e.getValue().get()).as(e.getKey()).isEqualTo(1));
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(Jdbc.single(c, "SELECT count(*) || ' ' || count(DISTINCT instance_id) FROM public.effects"
                    + " WHERE instance_id LIKE 'ct-crash-%'")).isEqualTo("6 6");
            // The retried turns started the children with their first turns too.
            assertThat(Jdbc.single(c, "SELECT count(*) FROM public.queued WHERE instance_id LIKE 'ct-crash-%-c%'"
                    + " AND kind = 'ExecutionStarted'")).isEqualTo("0");
        }
    }

    /** A child whose first turn sets a timer is started the usual way, with a start message, and completes. */
    @Test
    void a_child_whose_first_turn_does_more_than_schedule_activities_starts_the_usual_way() throws SQLException {
        try (Worker worker = worker()) {
            runParent(new EngineClient(worker.dataSource()), "ct-timers", "ct.child.after.timer");
        }
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(Jdbc.single(c, "SELECT string_agg(instance_id, ',' ORDER BY instance_id) FROM public.queued"
                    + " WHERE instance_id LIKE 'ct-timers%' AND kind = 'ExecutionStarted'"))
                    .isEqualTo("ct-timers,ct-timers-c1,ct-timers-c2");
        }
    }

    /**
     * A child whose id exists already is not created, and its first turn is not written into the
     * existing instance's history: the parent's task fails, as for any child.
     */
    @Test
    void a_child_whose_id_exists_fails_the_parents_task_and_leaves_the_existing_instance_alone() throws SQLException {
        String before;
        try (Worker worker = worker()) {
            EngineClient client = new EngineClient(worker.dataSource());
            client.start("ct.child", "ct-existing", 5);
            assertThat(client.awaitTerminal("ct-existing", Duration.ofSeconds(30)).output()).isEqualTo("10");
            try (Connection c = CLUSTER.connect(db)) {
                before = Jdbc.single(c, "SELECT string_agg(seq || event_type || coalesce(payload, ''), ',' ORDER BY seq)"
                        + " FROM df_engine.history WHERE instance_id = 'ct-existing'");
            }
            client.start("ct.existing.child", "ct-dup-parent", null);
            InstanceInfo parent = client.awaitTerminal("ct-dup-parent", Duration.ofSeconds(30));
            assertThat(parent.status()).isEqualTo("Failed");
            assertThat(parent.output()).contains("sub-orchestration instance 'ct-existing' already exists");
        }
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(Jdbc.single(c, "SELECT string_agg(seq || event_type || coalesce(payload, ''), ',' ORDER BY seq)"
                    + " FROM df_engine.history WHERE instance_id = 'ct-existing'")).isEqualTo(before);
            assertThat(Jdbc.single(c, "SELECT parent_id IS NULL AND status = 'Completed' FROM df_engine.instances"
                    + " WHERE id = 'ct-existing'")).isEqualTo("t");
            assertThat(Jdbc.single(c, "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = 'ct-existing'"))
                    .isEqualTo("0");
        }
    }
}
