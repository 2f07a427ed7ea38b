package io.pgdurable.graph.interpreter;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.Jdbc;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The write that marks a df instance running, on either path (a dispatch loop's first turn, and
 * the short path's {@code df_engine.complete_and_advance}), finds the instance by its primary key
 * however many instances are pending and whatever the statistics say. Written as
 * {@code status = 'pending'}, it matched {@code idx_instances_status (status, created_at DESC, id)},
 * which PostgreSQL chose once its statistics showed pending rows to be rare, and then read every
 * pending entry to find the id.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InstanceRunningLookupTest {
    private static final int PENDING = 400;
    /** A pending instance among the others, and one that ended. */
    private static final String TARGET = "0000abcd";
    private static final String ENDED = "00000001";

    private final TestCluster cluster = TestCluster.get();
    private String db;

    @BeforeAll
    void manyPendingInstancesAndStatisticsThatCallThemRare() throws SQLException {
        db = cluster.createDatabase("instance_running_lookup");
        exec("INSERT INTO df.instances (id, root_node, status, terminal_at)"
                + " SELECT lpad(to_hex(g), 8, '0'), '00000000', 'completed', now() FROM generate_series(1, 20000) g");
        exec("ANALYZE df.instances");
        // Pending after the statistics were taken, as a burst of starts is.
        exec("INSERT INTO df.instances (id, root_node) SELECT lpad(to_hex(100000 + g), 8, '0'), '00000000'"
                + " FROM generate_series(1, " + PENDING + ") g");
        exec("INSERT INTO df.instances (id, root_node) VALUES ('" + TARGET + "', '00000000')");
    }

    @Test
    void a_dispatch_turn_marks_a_pending_instance_running_without_scanning_the_status_index() throws SQLException {
        try (Connection c = cluster.connect(db)) {
            c.setAutoCommit(false);
            long[] before = statusIndexReads(c);
            int updated = run(c, GraphOrchestration.INSTANCE_RUNNING, TARGET);
            int ended = run(c, GraphOrchestration.INSTANCE_RUNNING, ENDED);
            long[] after = statusIndexReads(c);
            String status = Jdbc.single(c, "SELECT status FROM df.instances WHERE id = '" + TARGET + "'");
            String endedStatus = Jdbc.single(c, "SELECT status FROM df.instances WHERE id = '" + ENDED + "'");
            c.rollback();

            assertThat(updated).isEqualTo(1);
            assertThat(status).isEqualTo("running");
            assertThat(ended).as("an instance that is not pending keeps its status").isZero();
            assertThat(endedStatus).isEqualTo("completed");
            assertThat(after[0] - before[0]).as("scans of idx_instances_status").isZero();
            assertThat(after[1] - before[1]).as("entries read from idx_instances_status").isZero();
        }
    }

    @Test
    void the_short_path_marks_a_pending_instance_running_without_scanning_the_status_index() throws SQLException {
        UUID token = UUID.randomUUID();
        long item;
        exec("DELETE FROM df_engine.instances WHERE id = '" + TARGET + "'");
        exec("INSERT INTO df_engine.instances (id, name, status, partition_key)"
                + " VALUES ('" + TARGET + "', 'df.function_graph', 'Running', 'k')");
        try (Connection c = cluster.connect(db); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name, partition_key,"
                        + " lease_owner, lease_token, attempts) VALUES (?, 1, 0, 'df.sql', 'k', 'w', ?, 1) RETURNING id")) {
            ps.setString(1, TARGET);
            ps.setObject(2, token);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                item = rs.getLong(1);
            }
        }

        try (Connection c = cluster.connect(db)) {
            c.setAutoCommit(false);
            long[] before = statusIndexReads(c);
            boolean advanced;
            try (PreparedStatement ps = c.prepareStatement("SELECT advanced FROM df_engine.complete_and_advance(?, ?,"
                    + " '{}', 0, now(), ?, NULL, 30)")) {
                ps.setLong(1, item);
                ps.setObject(2, token);
                ps.setString(3, "{\"history\": [], \"writes\": [{\"kind\": \"instance_running\", \"args\": [\""
                        + TARGET + "\"]}]}");
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    advanced = rs.getBoolean(1);
                }
            }
            long[] after = statusIndexReads(c);
            String status = Jdbc.single(c, "SELECT status FROM df.instances WHERE id = '" + TARGET + "'");
            c.rollback();

            assertThat(advanced).as("the turn is taken on the short path").isTrue();
            assertThat(status).isEqualTo("running");
            assertThat(after[0] - before[0]).as("scans of idx_instances_status").isZero();
            assertThat(after[1] - before[1]).as("entries read from idx_instances_status").isZero();
        }
    }

    private static int run(Connection c, String sql, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, id);
            return ps.executeUpdate();
        }
    }

    /** Scans of the status index and entries they read, in this transaction so far. */
    private static long[] statusIndexReads(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_stat_get_xact_numscans(i), pg_stat_get_xact_tuples_returned(i)"
                     + " FROM CAST('df.idx_instances_status' AS regclass) AS i")) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2)};
        }
    }

    private void exec(String sql) throws SQLException {
        try (Connection c = cluster.connect(db)) {
            Jdbc.execute(c, sql);
        }
    }
}
