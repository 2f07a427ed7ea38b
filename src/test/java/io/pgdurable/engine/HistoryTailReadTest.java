package io.pgdurable.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.store.ClaimedTurn;
import io.pgdurable.engine.store.TurnStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A turn needs the length of its instance's history: the claim reads it for the turn it hands
 * out, and the short path compares it with the worker's replay state. Both read the last event
 * only, however long the history and whatever the table's statistics say. Written as
 * {@code max(seq)}, a history table the planner had no statistics for (a fresh installation,
 * before autovacuum first analyzes it) got an aggregate over every event of the execution, so
 * each turn of a long instance read its whole history again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HistoryTailReadTest {
    private static final int EVENTS = 3_000;
    private static final String LONG = "long::1";

    private final EngineTestSupport support = new EngineTestSupport("history_tail_read");
    private final TurnStore turnStore = new TurnStore();

    @BeforeAll
    void neverAnalyzed() throws SQLException {
        // The table keeps the statistics it was installed with (none): autovacuum must not
        // analyze it while the tests run.
        exec("ALTER TABLE df_engine.history SET (autovacuum_enabled = false)");
    }

    @BeforeEach
    void aLongRunningInstance() throws SQLException {
        exec("TRUNCATE df_engine.history, df_engine.activity_queue, df_engine.orchestrator_queue,"
                + " df_engine.instances CASCADE");
        exec("INSERT INTO df_engine.instances (id, name, status, partition_key) VALUES ('" + LONG + "', 'orch', 'Running', 'k')");
        exec("INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)"
                + " SELECT '" + LONG + "', 1, s, 'TaskScheduled', now() FROM generate_series(1, " + EVENTS + ") s");
    }

    @Test
    void a_claim_reads_the_last_event_of_a_long_history_not_all_of_it() throws SQLException {
        exec("INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name)"
                + " VALUES ('" + LONG + "', 1, 'EventRaised', 'go')");

        List<ClaimedTurn> turns;
        long read;
        try (Connection c = support.connect()) {
            c.setAutoCommit(false);
            long before = historyRowsRead(c);
            turns = turnStore.claimTurns(c, 1);
            read = historyRowsRead(c) - before;
            c.rollback();
        }

        assertThat(turns).singleElement().satisfies(t -> assertThat(t.row().eventCount()).isEqualTo(EVENTS));
        assertThat(read).as("history rows read by the claim").isLessThan(10);
    }

    @Test
    void the_short_path_checks_a_long_history_by_its_last_event() throws SQLException {
        UUID token = UUID.randomUUID();
        long item;
        try (Connection c = support.connect(); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name, partition_key,"
                        + " lease_owner, lease_token, attempts) VALUES (?, 1, 1, 'step', 'k', 'w', ?, 1) RETURNING id")) {
            ps.setString(1, LONG);
            ps.setObject(2, token);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                item = rs.getLong(1);
            }
        }

        boolean advanced;
        long read;
        try (Connection c = support.connect()) {
            c.setAutoCommit(false);
            long before = historyRowsRead(c);
            try (PreparedStatement ps = c.prepareStatement("SELECT advanced FROM df_engine.complete_and_advance(?, ?, '1',"
                    + " ?, now(), '{\"history\": []}', NULL, 30)")) {
                ps.setLong(1, item);
                ps.setObject(2, token);
                ps.setInt(3, EVENTS);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    advanced = rs.getBoolean(1);
                }
            }
            read = historyRowsRead(c) - before;
            c.rollback();
        }

        assertThat(advanced).as("the turn built on all %d events is taken", EVENTS).isTrue();
        assertThat(read).as("history rows read by the short path's check").isLessThan(10);
    }

    /** History rows this session has read by index so far (the transaction's counts are not yet flushed). */
    private static long historyRowsRead(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read FROM pg_stat_xact_user_tables"
                     + " WHERE schemaname = 'df_engine' AND relname = 'history'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void exec(String sql) throws SQLException {
        try (Connection c = support.connect(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
