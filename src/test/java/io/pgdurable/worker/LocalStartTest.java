package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.Jdbc;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Worker#startOrchestration}: a start made in the worker's JVM writes the instance's first
 * turn itself, and falls back to a plain start (the dispatch loops take the first turn) when it
 * cannot.
 */
class LocalStartTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    /** Long enough that a dispatch loop, never woken, does not poll again while a test runs. */
    private static final Duration NO_POLL = Duration.ofHours(1);
    private static String db;

    @BeforeAll
    static void createDatabase() {
        db = CLUSTER.createDatabase("local_start");
    }

    private static Registry registry() {
        return new Registry()
                .orchestration("ls.steps", ctx -> {
                    int n = ctx.input(Integer.class);
                    int sum = 0;
                    for (int i = 0; i < n; i++) {
                        sum += ctx.callActivity("ls.twice", i, Integer.class).await();
                    }
                    return sum;
                })
                .orchestration("ls.at.once", ctx -> "done")
                .orchestration("ls.fails", ctx -> {
                    throw new IllegalStateException("refused at the first turn");
                })
                // Completes in its own transaction, so each completion can take the short path.
                .activity("ls.twice", ctx -> {
                    int v = ctx.input(Integer.class);
                    try (Connection c = DriverManager.getConnection(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))) {
                        c.setAutoCommit(false);
                        ctx.completeAndCommit(c, 2 * v);
                    }
                    return 2 * v;
                });
    }

    /**
     * Its dispatch loops never wake (no notifications, an hour between polls), so only the
     * start's own first turn and the short path can move the instances: they complete all the
     * same, each with its first turn in its history, and no start message was left to claim.
     */
    @Test
    void a_start_in_the_worker_runs_the_first_turn_itself_and_the_steps_follow_without_a_dispatch_loop()
            throws SQLException {
        WorkerConfig config = WorkerConfig.builder(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))
                .listen(false)
                .pollInterval(NO_POLL)
                .build();
        try (Worker worker = Worker.start(config, registry())) {
            EngineClient client = new EngineClient(worker.dataSource());
            for (int i = 0; i < 5; i++) {
                String id = worker.startOrchestration("ls.steps", "ls-run-" + i, 3);
                assertThat(id).isEqualTo("ls-run-" + i);
            }
            String generated = worker.startOrchestration("ls.steps", null, 1);
            assertThat(generated).matches("[0-9a-f-]{36}");
            for (String id : new String[] {"ls-run-0", "ls-run-1", "ls-run-2", "ls-run-3", "ls-run-4"}) {
                InstanceInfo info = client.awaitTerminal(id, Duration.ofSeconds(30));
                assertThat(info.status()).as("status of %s", id).isEqualTo("Completed");
                assertThat(info.output()).isEqualTo("6");
            }
            assertThat(client.awaitTerminal(generated, Duration.ofSeconds(30)).output()).isEqualTo("0");
            assertThat(worker.stats().shortPathTurns()).isEqualTo(5 * 3 + 1);
        }
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(Jdbc.single(c, "SELECT string_agg(event_type, ',' ORDER BY seq) FROM df_engine.history"
                    + " WHERE instance_id = 'ls-run-0' AND seq <= 3"))
                    .isEqualTo("OrchestratorStarted,ExecutionStarted,TaskScheduled");
            assertThat(Jdbc.single(c, "SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id LIKE 'ls-run-%'"))
                    .isEqualTo("0");
        }
    }

    /**
     * An orchestration this worker does not know, and first turns that end the instance at once
     * (completing, or failing in the orchestration's code), start plainly: the dispatch loops
     * take their first turns and end them as they end any instance.
     */
    @Test
    void what_the_start_cannot_take_starts_plainly_and_the_dispatch_loops_end_it() throws SQLException {
        WorkerConfig config = WorkerConfig.builder(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))
                .pollInterval(Duration.ofMillis(50))
                .build();
        try (Worker worker = Worker.start(config, registry())) {
            EngineClient client = new EngineClient(worker.dataSource());
            worker.startOrchestration("ls.unknown", "ls-plain-unknown", null);
            worker.startOrchestration("ls.at.once", "ls-plain-done", null);
            worker.startOrchestration("ls.fails", "ls-plain-fails", null);
            assertThat(client.awaitTerminal("ls-plain-done", Duration.ofSeconds(30)).output()).isEqualTo("\"done\"");
            InstanceInfo failed = client.awaitTerminal("ls-plain-fails", Duration.ofSeconds(30));
            assertThat(failed.status()).isEqualTo("Failed");
            assertThat(failed.output()).contains("refused at the first turn");
            InstanceInfo unknown = client.awaitTerminal("ls-plain-unknown", Duration.ofSeconds(30));
            assertThat(unknown.status()).isEqualTo("Failed");
            assertThat(unknown.output()).contains("no orchestration named 'ls.unknown'");
        }
    }

    /**
     * The errors are a plain start's, and a failed start leaves nothing behind: not a row, and not
     * the activity slot its first turn reserved. The worker has one slot for the role and its
     * loops never poll, so a start after the refused ones completes only if that slot came back.
     */
    @Test
    void bad_starts_fail_with_a_plain_starts_errors_and_leave_nothing() throws SQLException {
        WorkerConfig config = WorkerConfig.builder(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER))
                .listen(false)
                .pollInterval(NO_POLL)
                .activityThreads(2)
                .maxActivitiesPerRole(1)
                .build();
        try (Worker worker = Worker.start(config, registry())) {
            EngineClient client = new EngineClient(worker.dataSource());
            worker.startOrchestration("ls.steps", "ls-dup", 0); // ends at once: a plain start
            Jdbc.sqlFailure(() -> worker.startOrchestration("ls.steps", "ls-dup", 2), "23505",
                    "orchestration instance \"ls-dup\" already exists");
            Jdbc.sqlFailure(() -> worker.startOrchestration("ls.steps", "", 1), "22023",
                    "orchestration instance id must not be empty");
            Jdbc.sqlFailure(() -> worker.startOrchestration("", "ls-no-name", 1), "22023",
                    "orchestration name must not be empty");
            Jdbc.sqlFailure(() -> worker.startOrchestration(null, "ls-null-name", 1), "22023",
                    "orchestration name must not be empty");
            worker.startOrchestration("ls.steps", "ls-after", 2);
            assertThat(client.awaitTerminal("ls-after", Duration.ofSeconds(30)).output()).isEqualTo("2");
        }
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(Jdbc.single(c, "SELECT input FROM df_engine.instances WHERE id = 'ls-dup'")).isEqualTo("0");
            assertThat(Jdbc.single(c, "SELECT count(*) FROM df_engine.history WHERE instance_id = 'ls-dup'"
                    + " AND event_type = 'TaskScheduled'")).isEqualTo("0");
            assertThat(Jdbc.single(c, "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = 'ls-dup'"))
                    .isEqualTo("0");
            assertThat(Jdbc.single(c, "SELECT count(*) FROM df_engine.instances WHERE id IN ('', 'ls-no-name', 'ls-null-name')"))
                    .isEqualTo("0");
        }
    }

    /**
     * The worker's pool commits its bookkeeping asynchronously; a start, local or plain, commits
     * with the database's own synchronous_commit, as a client's start does. A trigger records the
     * setting in force in each start's transaction.
     */
    @Test
    void a_start_commits_with_the_databases_synchronous_commit_not_the_pools() throws SQLException {
        String sdb = CLUSTER.createDatabase("local_start_sync");
        try (Connection c = CLUSTER.connect(sdb); Statement s = c.createStatement()) {
            s.execute("ALTER DATABASE " + sdb + " SET synchronous_commit = 'remote_write'");
            s.execute("CREATE TABLE public.seen (id text, level text)");
            s.execute("CREATE FUNCTION public.record_level() RETURNS trigger LANGUAGE plpgsql AS $$"
                    + " BEGIN INSERT INTO public.seen VALUES (NEW.id, current_setting('synchronous_commit'));"
                    + " RETURN NULL; END $$");
            s.execute("CREATE TRIGGER record_level AFTER INSERT ON df_engine.instances"
                    + " FOR EACH ROW EXECUTE FUNCTION public.record_level()");
        }
        WorkerConfig config = WorkerConfig.builder(CLUSTER.jdbcUrl(sdb, TestCluster.SUPERUSER))
                .listen(false)
                .pollInterval(NO_POLL)
                .build();
        try (Worker worker = Worker.start(config, registry());
             Connection pooled = worker.dataSource().getConnection()) {
            assertThat(Jdbc.single(pooled, "SHOW synchronous_commit")).isEqualTo("off");
            worker.startOrchestration("ls.steps", "sync-local", 1);
            worker.startOrchestration("ls.unknown", "sync-plain", 1);
            assertThat(Jdbc.single(pooled, "SELECT string_agg(id || ' ' || level, ',' ORDER BY id) FROM public.seen"))
                    .isEqualTo("sync-local remote_write,sync-plain remote_write");
        }
    }
}
