package io.pgdurable.engine.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
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

    /**
     * Settings for the rest of the transaction, sent ahead of a queue claim or look in its round
     * trip: the statement is planned without sequential or bitmap scans. A worker connection
     * keeps the plan it made when it first ran the statement, and a queue's statistics are always
     * stale: it swings from empty to thousands of rows within seconds. While a queue was a few
     * pages long, a sequential or bitmap scan (and a sort) looked cheaper than an ordered index
     * scan, and the plan kept then read the whole queue at every claim once it had filled, until
     * vacuum's next statistics made the server plan again. The indexes serve every size.
     *
     * <p>{@code set_config(..., true)} rather than {@code SET LOCAL}: an activity claim runs in
     * autocommit, where the round trip is one implicit transaction that the settings last for,
     * but {@code SET LOCAL} outside a transaction block also raises a warning into the server's
     * log at every claim. Its one row is skipped by {@link #resultAfterIndexPlans}.
     */
    static final String INDEX_PLANS = "SELECT pg_catalog.set_config('enable_seqscan', 'off', true),"
            + " pg_catalog.set_config('enable_bitmapscan', 'off', true); ";

    /**
     * The first result set of {@code s}, just executed, after that of {@link #INDEX_PLANS} (and
     * any command status before it).
     */
    static ResultSet resultAfterIndexPlans(Statement s) throws SQLException {
        nextResultSet(s).close();
        return nextResultSet(s);
    }

    /**
     * The result of {@code s} that is an open result set, past command statuses (a setting's,
     * a savepoint's) and result sets already read.
     */
    static ResultSet nextResultSet(Statement s) throws SQLException {
        ResultSet rs = s.getResultSet();
        while (rs == null || rs.isClosed()) {
            if (!s.getMoreResults() && s.getUpdateCount() == -1) {
                throw new SQLException("a statement of the round trip returned no rows");
            }
            rs = s.getResultSet();
        }
        return rs;
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

        /**
         * Prepares this completion with {@code beforeCommit} behind it and the activity's own
         * {@code write} (or {@code null}) ahead of it, and binds the write's parameters and the
         * completion's first three: {@code item}'s id and lease token, and {@code result}. The
         * completion's next parameter is {@link #next(ActivityWrite)}.
         */
        PreparedStatement prepare(Connection c, String beforeCommit, ActivityWrite write, ActivityItem item,
                                  String result) throws SQLException {
            String text = text(beforeCommit);
            PreparedStatement ps = c.prepareStatement(write == null ? text : write.ahead(text));
            try {
                int p = write == null ? 1 : write.bind(ps);
                ps.setLong(p, item.id());
                ps.setObject(p + 1, item.leaseToken());
                ps.setString(p + 2, result);
                return ps;
            } catch (SQLException | RuntimeException e) {
                ps.close();
                throw e;
            }
        }

        /** The index of the completion's parameter after the three {@link #prepare} binds. */
        static int next(ActivityWrite write) {
            return (write == null ? 0 : write.parameters().size()) + 4;
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
