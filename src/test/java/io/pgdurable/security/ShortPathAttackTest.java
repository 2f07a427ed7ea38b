package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static io.pgdurable.security.SecurityFixture.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The short path's function, {@code df_engine.complete_and_advance}, is open to every role, like
 * the completions: the lease token is its guard. Even a caller holding a genuine token (here read
 * by the superuser and handed to mallory, as if it had leaked) can make it write only the item's
 * own instance, only the kinds of rows a turn writes: every other turn is refused whole, and the
 * item keeps its lease.
 */
class ShortPathAttackTest {
    private static SecurityFixture fx;
    private static String done;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_short_path").startWorker();
        done = fx.startAs(ALICE, "'SELECT 42 AS answer'");
        assertThat(fx.awaitAs(ALICE, done)).isEqualTo("completed");
        fx.exec("CREATE TABLE public.gate (n int); INSERT INTO public.gate VALUES (0); GRANT ALL ON public.gate TO " + ALICE);
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    @Test
    void a_turn_that_writes_outside_its_instance_or_of_another_kind_is_refused_whole() throws SQLException {
        try (Connection holder = fx.connect(SecurityFixture.SUPERUSER); Statement s = holder.createStatement()) {
            Leased step = startBehindGate(holder, s,
                    "'UPDATE gate SET n = n + 1 RETURNING ''genuine'' AS result' ~> 'SELECT 2 AS two'");
            String id = step.id();
            long item = step.item();
            String token = step.token();
            long length = step.length();
            String doneStatus = fx.query("SELECT status FROM df.instances WHERE id = ?", done);

            String[] turns = {
                    // Another instance's status.
                    "{\"history\": [], \"writes\": [{\"kind\": \"instance_done\", \"args\": [\"failed\", \"" + done + "\"]}]}",
                    // Another instance's node.
                    "{\"history\": [], \"writes\": [{\"kind\": \"node_update\", \"args\": [\"failed\", null, \"{}\", \""
                            + done + "\", \"00000000\"]}]}",
                    // A kind the function does not know (it never runs statement text).
                    "{\"history\": [], \"writes\": [{\"kind\": \"sql\", \"args\": [\"DROP TABLE public.canary\"]}]}",
                    // A status no turn writes.
                    "{\"history\": [], \"writes\": [{\"kind\": \"instance_done\", \"args\": [\"cancelled\", \"" + id + "\"]}]}",
                    // An end the engine does not have.
                    "{\"history\": [], \"finish\": {\"status\": \"Cancelled\", \"output\": \"1\"}}",
                    // Not a turn at all.
                    "[1, 2, 3]"};
            for (String turn : turns) {
                fx.refusalAs(MALLORY, "SELECT * FROM df_engine.complete_and_advance(?, ?::uuid, '\"forged\"', ?, now(),"
                        + " ?, 'mallory', 30)", item, token, (int) length, turn).is("22023", "complete_and_advance");
            }
            fx.refusalAs(MALLORY, "SELECT * FROM df_engine.complete_and_advance(?, ?::uuid, '\"forged\"', ?, now(),"
                    + " ?, 'mallory', 30)", item, token, (int) length, turns[2])
                    .is("22023", "is not a status write of instance " + id);

            // Every refusal left everything as it was: the item keeps its lease, nothing was queued
            // or appended, the other instance and the table are untouched.
            assertThat(fx.query("SELECT lease_token::text FROM df_engine.activity_queue WHERE id = ?", item)).isEqualTo(token);
            assertThat(fx.count("SELECT max(seq) FROM df_engine.history WHERE instance_id = ?", id)).isEqualTo(length);
            assertThat(fx.count("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?", id)).isZero();
            assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", done)).isEqualTo(doneStatus);
            assertThat(fx.count("SELECT count(*) FROM public.canary")).isEqualTo(3);

            holder.rollback();
            assertThat(fx.awaitAs(ALICE, id)).isEqualTo("completed");
            assertThat(fx.count("SELECT n FROM public.gate")).isEqualTo(1);
        }
    }

    @Test
    void a_turn_built_on_a_history_that_moved_on_is_not_taken_and_the_completion_is_queued() throws SQLException {
        try (Connection holder = fx.connect(SecurityFixture.SUPERUSER); Statement s = holder.createStatement()) {
            Leased step = startBehindGate(holder, s, "'UPDATE gate SET n = n + 1 RETURNING ''genuine'' AS result'");
            String id = step.id();
            long item = step.item();
            String token = step.token();
            long length = step.length();

            // One event short of the stored history: the caller's replay state is stale.
            assertThat(fx.queryAs(MALLORY, "SELECT advanced FROM df_engine.complete_and_advance(?, ?::uuid,"
                    + " '{\"rows\": [], \"row_count\": 0}', ?, now(), '{\"history\": [], \"finish\": {\"status\":"
                    + " \"Completed\", \"output\": \"\\\"forged\\\"\"}}', NULL, 30)", item, token, (int) length - 1))
                    .isEqualTo("f");

            // Nothing of the turn was written; the completion went to the queue, as any token holder's
            // complete_activity would, and the orchestration dispatch decided the turn itself: the
            // instance ended with the queued result, never with the turn's "forged" output.
            holder.rollback();
            assertThat(fx.awaitAs(ALICE, id)).isEqualTo("completed");
            assertThat(fx.query("SELECT output FROM df_engine.instances WHERE id = ?", id)).doesNotContain("forged");
            assertThat(fx.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ? AND payload LIKE '%forged%'",
                    id)).isZero();
            assertThat(fx.count("SELECT count(*) FROM df_engine.history WHERE instance_id = ? AND seq > ?"
                    + " AND event_type = 'TaskCompleted'", id, length)).isEqualTo(1);
        }
    }

    /** An instance whose first step is leased and held behind the gate, and that step's item. */
    private record Leased(String id, long item, String token, long length) {
    }

    /**
     * Locks the gate table in {@code holder}'s open transaction and starts {@code workflow} as
     * alice, whose first step then waits on the gate holding its lease; returns the item, its
     * token (read by the superuser, as if it had leaked) and the instance's history length.
     */
    private static Leased startBehindGate(Connection holder, Statement s, String workflow) throws SQLException {
        holder.setAutoCommit(false);
        s.execute("LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE");
        String id = fx.startAs(ALICE, workflow);
        DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df_engine.activity_queue"
                + " WHERE instance_id = ? AND lease_token IS NOT NULL", id) == 1, PATIENCE, "the step to be leased");
        long item = fx.count("SELECT id FROM df_engine.activity_queue WHERE instance_id = ?", id);
        return new Leased(id, item, fx.query("SELECT lease_token::text FROM df_engine.activity_queue WHERE id = ?", item),
                fx.count("SELECT max(seq) FROM df_engine.history WHERE instance_id = ?", id));
    }
}
