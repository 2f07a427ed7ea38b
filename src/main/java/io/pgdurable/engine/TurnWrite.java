package io.pgdurable.engine;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.Objects;

/**
 * A write an orchestration attaches to the current turn: it runs on the turn's connection and
 * commits atomically with the turn's history. It runs only for decisions made for the first
 * time, never during replay.
 */
@FunctionalInterface
public interface TurnWrite {
    void apply(Connection connection) throws SQLException;

    /**
     * A write that is one parameterised statement. The worker sends consecutive statements of the
     * same text, from all the turns it commits together, as one batch: one round trip.
     * Parameters are bound with {@link PreparedStatement#setObject(int, Object)}.
     */
    static Sql sql(String sql, Object... params) {
        return new Sql(sql, params);
    }

    /** See {@link TurnWrite#sql(String, Object...)}. */
    final class Sql implements TurnWrite {
        private final String text;
        private final Object[] params;

        private Sql(String text, Object[] params) {
            this.text = Objects.requireNonNull(text, "sql");
            this.params = params.clone();
        }

        public String text() {
            return text;
        }

        public void bind(PreparedStatement ps) throws SQLException {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
        }

        @Override
        public void apply(Connection connection) throws SQLException {
            try (PreparedStatement ps = connection.prepareStatement(text)) {
                bind(ps);
                ps.execute();
            }
        }

        @Override
        public String toString() {
            return text + " " + Arrays.toString(params);
        }
    }
}
