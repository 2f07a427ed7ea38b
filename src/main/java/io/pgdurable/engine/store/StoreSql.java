package io.pgdurable.engine.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

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
     * The texts of one completion statement sent with what follows it in its round trip: the
     * statement, then {@code beforeCommit} (a constant statement of the caller's, or {@code
     * null}), then the {@code COMMIT}. Each text is built once and handed out as the same string
     * every time, so a completion, on every step's path, neither builds it again nor makes
     * pgjdbc's statement cache hash a new string to find it.
     */
    static final class Completion {
        /** More distinct beforeCommit statements than callers have are built each time, not kept. */
        private static final int KEPT = 16;

        private final String statement;
        private final String alone;
        private final Map<String, String> withBefore = new ConcurrentHashMap<>();

        Completion(String statement) {
            this.statement = statement;
            this.alone = statement + "; COMMIT";
        }

        String text(String beforeCommit) {
            if (beforeCommit == null) {
                return alone;
            }
            String text = withBefore.get(beforeCommit);
            if (text == null) {
                text = statement + "; " + beforeCommit + "; COMMIT";
                if (withBefore.size() < KEPT) {
                    withBefore.putIfAbsent(beforeCommit, text);
                }
            }
            return text;
        }
    }

    /**
     * The start of a claim over {@code queue} (a queue table with a (partition_key, visible_at)
     * index): the CTE {@code keys(k)} of its distinct partition keys, found by skipping through
     * that index, one probe per key however many rows each has; the last row's {@code k} is NULL.
     */
    static String partitionKeys(String queue) {
        return """
                WITH RECURSIVE keys(k) AS (
                    (SELECT q.partition_key FROM %1$s q ORDER BY q.partition_key LIMIT 1)
                    UNION ALL
                    SELECT (SELECT q.partition_key FROM %1$s q
                             WHERE q.partition_key > keys.k ORDER BY q.partition_key LIMIT 1)
                      FROM keys
                     WHERE keys.k IS NOT NULL)
                """.formatted(queue);
    }

    static Timestamp ts(Instant instant) {
        return Timestamp.from(instant);
    }
}
