package io.pgdurable.engine.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.List;

/** JDBC helpers shared by the store's classes. */
final class StoreSql {
    private StoreSql() {
    }

    static void batch(Connection c, String sql, List<Object[]> rows) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (rows.size() == 1) {
                bind(ps, rows.get(0));
                ps.executeUpdate();
                return;
            }
            for (Object[] row : rows) {
                bind(ps, row);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    static void bind(PreparedStatement ps, Object[] row) throws SQLException {
        for (int i = 0; i < row.length; i++) {
            Object v = row[i];
            if (v == null) {
                ps.setNull(i + 1, Types.NULL);
            } else if (v instanceof Integer n) {
                ps.setInt(i + 1, n);
            } else if (v instanceof Timestamp t) {
                ps.setTimestamp(i + 1, t);
            } else {
                ps.setString(i + 1, v.toString());
            }
        }
    }

    /**
     * The end of a completion's statement text: {@code beforeCommit} (a constant statement of the
     * caller's, or {@code null}), then the {@code COMMIT}.
     */
    static String beforeCommit(String beforeCommit) {
        return beforeCommit == null ? "COMMIT" : beforeCommit + "; COMMIT";
    }

    static Timestamp ts(Instant instant) {
        return Timestamp.from(instant);
    }
}
