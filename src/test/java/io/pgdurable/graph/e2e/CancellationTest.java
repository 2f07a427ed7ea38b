package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.adminColumn;
import static io.pgdurable.graph.e2e.SqlProbe.adminLong;
import static io.pgdurable.graph.e2e.SqlProbe.execAsApp;
import static io.pgdurable.graph.e2e.SqlProbe.failure;
import static io.pgdurable.graph.e2e.SqlProbe.message;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import io.pgdurable.testing.Poll;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * df.cancel against a running worker: the df status, the engine instance and all its children
 * end cancelled, their timers and queued work are gone, and no step after the cancel runs.
 */
class CancellationTest {
    private static final Duration DONE = Duration.ofSeconds(20);
    private static final String OTHER_ROLE = "cancel_e2e_other";

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("cancel_e2e");
        env.cluster().createLoginRole(OTHER_ROLE);
        env.exec("SELECT df.grant_usage('" + OTHER_ROLE + "')");
        execAsApp(env, "CREATE TABLE cancel_marks (instance_id text, what text)");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void cancelling_a_sleeping_root_loop_stops_it_for_good() {
        String id = env.start("df.loop(df.sleep(1) ~> " + mark("tick") + ")");
        DfTestEnvironment.awaitTrue(() -> marks(id, "tick") >= 2, DONE, "two loop iterations");

        assertThat(env.queryAsApp("SELECT df.cancel(?)", id))
                .isEqualTo("Instance " + id + " cancelled: Cancelled by user");

        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("cancelled");
        assertThat(env.result(id)).isNull();
        assertEngineTreeCancelledAndIdle(id);
        long ticks = marks(id, "tick");
        // A sentinel due later than the loop's next iteration: had anything survived, it would have ticked.
        env.awaitSentinel(2);
        assertThat(marks(id, "tick")).isEqualTo(ticks);
        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("cancelled");
        assertEngineTreeCancelledAndIdle(id);
    }

    @Test
    void cancelling_inside_join_branches_cancels_every_branch_and_runs_nothing_after() {
        String id = env.start("df.\"join\"("
                + "df.sleep(2) ~> " + mark("after sleep") + ", df.wait_for_signal('never'))"
                + " ~> " + mark("after join"));
        DfTestEnvironment.awaitTrue(() -> bothBranchesWaiting(id), DONE, "both branches to be waiting");
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.instances WHERE id LIKE ? || '::%'", id))
                .as("one engine instance per branch").isEqualTo(2);

        env.queryAsApp("SELECT df.cancel(?, 'no longer needed')", id);

        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("cancelled");
        assertEngineTreeCancelledAndIdle(id);
        assertThat(env.queryAsAdmin("SELECT output FROM df_engine.instances WHERE id = ?", id))
                .isEqualTo("\"no longer needed\"");
        // A sentinel due after the moment the branch's sleep would have fired, and its step run.
        env.awaitSentinel(3);
        assertThat(marks(id, "after sleep")).isZero();
        assertThat(marks(id, "after join")).isZero();
        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("cancelled");
        assertEngineTreeCancelledAndIdle(id);
    }

    @Test
    void cancelling_while_a_step_runs_rolls_back_that_steps_work() {
        String id = env.start(sleepingInsert("in flight", "1.5") + " ~> " + mark("next"));
        long stepBackend = runningStep("in flight");

        env.queryAsApp("SELECT df.cancel(?)", id);

        // Once the step's backend has left its transaction, the insert has committed or rolled back for good.
        Poll.until(DONE, "the step's backend " + stepBackend + " to end its transaction",
                () -> adminLong(env, "SELECT count(*) FROM pg_stat_activity WHERE pid = ? AND xact_start IS NOT NULL",
                        stepBackend) == 0);
        // The step could not record its completion, so its transaction, insert included, rolled back.
        assertCancelledWithoutMarks(id, "in flight", "next");
    }

    @Test
    void cancelling_while_a_long_write_runs_stops_its_statement() {
        // A write that returns no rows goes to the database with its completion in one round trip;
        // the cancel stops its statement there too, long before the statement would end by itself.
        String id = env.start(sleepingInsert("long write", "600") + " ~> " + mark("after the long write"));
        long stepBackend = runningStep("long write");

        env.queryAsApp("SELECT df.cancel(?)", id);

        Poll.until(DONE, "the step's statement on backend " + stepBackend + " to be cancelled",
                () -> adminLong(env, "SELECT count(*) FROM pg_stat_activity WHERE pid = ? AND state = 'active'",
                        stepBackend) == 0);
        assertCancelledWithoutMarks(id, "long write", "after the long write");
    }

    /** A step that inserts the mark {@code what} for its instance after {@code seconds} of sleep. */
    private static String sleepingInsert(String what, String seconds) {
        return "'INSERT INTO cancel_marks (instance_id, what)"
                + " SELECT ''{sys_instance_id}'', ''" + what + "'' FROM pg_sleep(" + seconds + ")'";
    }

    /** Waits for the step inserting {@code what} to run; returns its backend's pid. */
    private static long runningStep(String what) {
        String running = "SELECT pid FROM pg_stat_activity"
                + " WHERE query LIKE '%" + what + "%' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
                + " AND state = 'active'";
        return Long.parseLong(Poll.until(DONE, "the step inserting '" + what + "' to be running",
                () -> adminColumn(env, running), pids -> pids.size() == 1).get(0));
    }

    private static void assertCancelledWithoutMarks(String id, String... whats) {
        for (String what : whats) {
            assertThat(marks(id, what)).as(what).isZero();
        }
        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("cancelled");
        assertEngineTreeCancelledAndIdle(id);
    }

    @Test
    void cancelling_a_terminal_instance_is_a_no_op_that_keeps_its_status() {
        String id = env.start("'SELECT 1 AS one'");
        assertThat(env.await(id, DONE)).isEqualTo("completed");
        String completedAt = env.queryAsAdmin("SELECT completed_at::text FROM df.instances WHERE id = ?", id);

        assertThat(env.queryAsApp("SELECT df.cancel(?, 'too late')", id))
                .isEqualTo("Instance " + id + " cancelled: too late");

        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("completed");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"one\": 1}], \"row_count\": 1}");
        assertThat(env.queryAsAdmin("SELECT completed_at::text FROM df.instances WHERE id = ?", id))
                .isEqualTo(completedAt);
        assertThat(env.queryAsAdmin("SELECT status FROM df_engine.instances WHERE id = ?", id)).isEqualTo("Completed");
    }

    @Test
    void cancelling_another_roles_instance_is_refused_and_leaves_it_running() throws SQLException {
        String theirs;
        try (Connection c = env.cluster().connect(env.database(), OTHER_ROLE);
             PreparedStatement ps = c.prepareStatement("SELECT df.start(df.sleep(30))");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            theirs = rs.getString(1);
        }

        PSQLException e = failure(env.connectAsApp(), "SELECT df.cancel(?)", theirs);
        assertThat(e.getSQLState()).isEqualTo("42704");
        assertThat(message(e)).isEqualTo("Instance not found or access denied: " + theirs);
        assertThat(env.queryAsAdmin("SELECT status FROM df.instances WHERE id = ?", theirs)).isIn("pending", "running");
        assertThat(env.queryAsAdmin("SELECT status FROM df_engine.instances WHERE id = ?", theirs))
                .isIn("Pending", "Running");
        env.exec("SELECT df.cancel('" + theirs + "')");
    }

    @Test
    void cancelling_an_unknown_instance_is_refused() throws SQLException {
        PSQLException e = failure(env.connectAsApp(), "SELECT df.cancel('0badf00d')");
        assertThat(e.getSQLState()).isEqualTo("42704");
        assertThat(message(e)).isEqualTo("Instance not found or access denied: 0badf00d");
    }

    /** A SQL step (as a quoted graph literal) that records {@code what} for its instance. */
    private static String mark(String what) {
        return "'INSERT INTO cancel_marks (instance_id, what) VALUES (''{sys_instance_id}'', ''" + what + "'')'";
    }

    private static boolean bothBranchesWaiting(String id) {
        return adminLong(env, "SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", id) == 1
                && adminLong(env, "SELECT count(*) FROM df.nodes WHERE instance_id = ? AND node_type = 'SLEEP'"
                        + " AND status = 'running'", id) == 1;
    }

    private static long marks(String id, String what) {
        return adminLong(env, "SELECT count(*) FROM cancel_marks WHERE instance_id = ? AND what = ?", id, what);
    }

    /** The engine root and its children are Cancelled; no message, timer or activity is queued for them. */
    private static void assertEngineTreeCancelledAndIdle(String id) {
        assertThat(adminColumn(env, "SELECT DISTINCT status FROM df_engine.instances"
                + " WHERE id = ? OR id LIKE ? || '::%'", id, id)).containsExactly("Cancelled");
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?"
                + " OR instance_id LIKE ? || '::%'", id, id)).isZero();
        assertThat(adminLong(env, "SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?"
                + " OR instance_id LIKE ? || '::%'", id, id)).isZero();
    }
}
