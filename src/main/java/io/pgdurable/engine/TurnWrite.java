package io.pgdurable.engine;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;
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

    /**
     * One row of a set-based statement. The worker sends consecutive rows of the same statement
     * text, from all the turns it commits together, as one execution: the statement receives one
     * {@code text[]} parameter per column, holding that column's values in the order the rows
     * were written, and must write all of them at once (for example {@code UPDATE ... FROM
     * unnest(?::text[], ...)}). Where two rows may touch the same target, the statement decides
     * which wins (the last, usually, by {@code WITH ORDINALITY}). A row alone is sent the same way.
     */
    static Rows rows(String arrayStatement, String... columns) {
        return new Rows(arrayStatement, columns);
    }

    /** See {@link TurnWrite#rows(String, String...)}. */
    final class Rows implements TurnWrite {
        private final String text;
        private final String[] columns;

        private Rows(String text, String[] columns) {
            this.text = Objects.requireNonNull(text, "arrayStatement");
            this.columns = columns.clone();
        }

        public String text() {
            return text;
        }

        public int width() {
            return columns.length;
        }

        @Override
        public void apply(Connection connection) throws SQLException {
            applyAll(connection, List.of(this));
        }

        /** Runs the statement once for {@code rows}, which must all have this statement's text and width. */
        public static void applyAll(Connection connection, List<Rows> rows) throws SQLException {
            Rows first = rows.get(0);
            String[][] byColumn = new String[first.columns.length][rows.size()];
            for (int r = 0; r < rows.size(); r++) {
                Rows row = rows.get(r);
                if (!row.text.equals(first.text) || row.columns.length != first.columns.length) {
                    throw new IllegalArgumentException("rows of different statements: " + row.text);
                }
                for (int col = 0; col < byColumn.length; col++) {
                    byColumn[col][r] = row.columns[col];
                }
            }
            try (PreparedStatement ps = connection.prepareStatement(first.text)) {
                for (int col = 0; col < byColumn.length; col++) {
                    ps.setArray(col + 1, connection.createArrayOf("text", byColumn[col]));
                }
                ps.execute();
            }
        }

        @Override
        public String toString() {
            return text + " " + Arrays.toString(columns);
        }
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
