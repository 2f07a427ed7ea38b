package io.pgdurable.engine.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/** The registry of live workers ({@code df_engine.workers}): heartbeats and removal. */
public final class WorkerRegistry {

    public void heartbeat(Connection c, String workerId, String host, long pid, String mode) throws SQLException {
        String sql = """
                INSERT INTO df_engine.workers (id, host, pid, mode) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_seen_at = now()
                """;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, workerId);
            ps.setString(2, host);
            ps.setLong(3, pid);
            ps.setString(4, mode);
            ps.executeUpdate();
        }
    }

    public void removeWorker(Connection c, String workerId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM df_engine.workers WHERE id = ?")) {
            ps.setString(1, workerId);
            ps.executeUpdate();
        }
    }
}
