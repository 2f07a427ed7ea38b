package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Attack: a df user calls {@code df.signal} in transactions it keeps open. When the signal took
 * the instance row lock until the sender committed, the worker's turn of that instance waited
 * for it, and with it every other instance in the same batch of turns: another role's workflow
 * stayed pending for as long as the sender liked. Now {@code df.signal} only inserts.
 */
class SignalLockAttackTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final String BOB = "sig_lock_bob";

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("sig_lock");
        env.cluster().createLoginRole(BOB);
        env.exec("SELECT df.grant_usage('" + BOB + "')");
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void signals_held_in_open_transactions_stall_neither_other_roles_workflows_nor_the_signalled_instances()
            throws SQLException {
        env.stopWorkers();
        // Two instances of the attacker's, each with a wait and other work beside it.
        String first = env.start("df.\"join\"(df.wait_for_signal('go'), 'SELECT pg_sleep(0.2), 2 AS other')");
        String second = env.start("df.\"join\"(df.wait_for_signal('go'), 'SELECT pg_sleep(0.2), 2 AS other')");
        List<Connection> held = new ArrayList<>();
        try {
            // Signals sent before any worker runs, in two transactions left open.
            held.add(signalAndHold(first, "go", "{\"n\": 1}"));
            held.add(signalAndHold(second, "go", "{\"n\": 2}"));
            String bobs;
            try (Connection c = env.cluster().connect(env.database(), BOB)) {
                bobs = first(c, "SELECT df.start('SELECT 1' ~> 'SELECT 2 AS done')");
            }
            env.startWorker();

            // Another role's workflow finishes...
            DfTestEnvironment.awaitTrue(() -> "completed".equals(adminText(
                    "SELECT status FROM df.instances WHERE id = ?", bobs)), BOUND, "bob's workflow to complete");
            // ... and the signalled instances go on: their other branch completes and their waits open.
            for (String id : List.of(first, second)) {
                DfTestEnvironment.awaitTrue(() -> "completed".equals(adminText(
                        "SELECT status FROM df.nodes WHERE instance_id = ? AND query LIKE '%2 AS other'", id)),
                        BOUND, "the other branch of " + id + " to complete");
                DfTestEnvironment.awaitTrue(() -> "1".equals(adminText(
                        "SELECT count(*) FROM df.signal_waits WHERE instance_id = ? AND routed_seq IS NULL", id)),
                        BOUND, "the wait of " + id + " to open");
            }
            assertThat(adminText("SELECT status FROM df.instances WHERE id = ?", first)).isEqualTo("running");

            // Once the senders commit, the signals are delivered.
            for (Connection c : held) {
                c.commit();
            }
            assertThat(env.await(first, BOUND)).isEqualTo("completed");
            assertThat(env.await(second, BOUND)).isEqualTo("completed");
            assertThat(env.result(first)).contains("\"data\": {\"n\": 1}");
            assertThat(env.result(second)).contains("\"data\": {\"n\": 2}");
        } finally {
            for (Connection c : held) {
                c.close();
            }
        }
    }

    @Test
    void a_signal_whose_transaction_rolls_back_is_never_delivered() throws SQLException {
        env.startWorker();
        String id = env.start("df.wait_for_signal('once', 30)");
        DfTestEnvironment.awaitTrue(() -> "1".equals(adminText(
                "SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", id)), BOUND, "the wait to open");
        try (Connection c = signalAndHold(id, "once", "\"rolled back\"")) {
            c.rollback();
        }
        env.queryAsApp("SELECT df.signal(?, 'once', '\"committed\"')", id);

        assertThat(env.await(id, BOUND)).isEqualTo("completed");
        assertThat(env.result(id)).contains("\"data\": \"committed\"");
    }

    /** A connection as the application role, in a transaction that has sent a signal and is still open. */
    private static Connection signalAndHold(String id, String name, String data) throws SQLException {
        Connection c = env.connectAsApp();
        c.setAutoCommit(false);
        assertThat(first(c, "SELECT df.signal(?, ?, ?)", id, name, data)).isEqualTo("OK");
        return c;
    }

    private static String adminText(String sql, Object... params) {
        return env.queryAsAdmin(sql, params);
    }

    private static String first(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
