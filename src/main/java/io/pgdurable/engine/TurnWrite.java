package io.pgdurable.engine;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.Objects;

/**
 * A write an orchestration attaches to the current turn: it runs on the turn's connection and
 * commits atomically with the turn's history. It runs only for decisions made for the first
 * time, never during replay.
 *
 * <p>Most writes are statements, described with {@link #sql} or {@link #rows}; the engine store
 * ({@code io.pgdurable.engine.store.TurnWrites}) runs them, batched with the other turns committed
 * together. A lambda is a write of its own, given the turn's connection.
 */
@FunctionalInterface
public interface TurnWrite {
    /**
     * Runs a write of the orchestration's own on the turn's connection. Statement writes
     * ({@link Sql}, {@link Rows}) are run by the engine store and never through this method.
     */
    void apply(Connection connection) throws SQLException;

    /**
     * A write that is one parameterised statement. The worker sends consecutive statements of the
     * same text, from all the turns it commits together, as one batch: one round trip.
     * Parameters are bound with {@code PreparedStatement.setObject(int, Object)}.
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
        private final String kind;

        private Rows(String text, String[] columns) {
            this(text, columns, null);
        }

        private Rows(String text, String[] columns, String kind) {
            this.text = Objects.requireNonNull(text, "arrayStatement");
            this.columns = columns.clone();
            this.kind = kind;
        }

        /**
         * The same write, also known by a kind the engine's short path can apply as data (see
         * {@link #kind()}).
         */
        public Rows named(String kind) {
            return new Rows(text, columns, Objects.requireNonNull(kind, "kind"));
        }

        /**
         * The name under which the short path's SQL function applies this write from its values
         * alone, without the statement text; {@code null} when it has none, and a turn holding
         * such a write takes the queue path.
         */
        public String kind() {
            return kind;
        }

        public String text() {
            return text;
        }

        public int width() {
            return columns.length;
        }

        /** The value of column {@code index} (0-based). */
        public String column(int index) {
            return columns[index];
        }

        /** Run by the engine store, never through this method. */
        @Override
        public void apply(Connection connection) {
            throw new UnsupportedOperationException("TurnWrite.rows is run by the engine store: " + this);
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
        private final String kind;

        private Sql(String text, Object[] params) {
            this(text, params, null);
        }

        private Sql(String text, Object[] params, String kind) {
            this.text = Objects.requireNonNull(text, "sql");
            this.params = params.clone();
            this.kind = kind;
        }

        /** The same write, also known by a kind the engine's short path can apply as data. */
        public Sql named(String kind) {
            return new Sql(text, params, Objects.requireNonNull(kind, "kind"));
        }

        /** See {@link Rows#kind()}. */
        public String kind() {
            return kind;
        }

        public String text() {
            return text;
        }

        /** How many parameters the statement is given. */
        public int parameterCount() {
            return params.length;
        }

        /** The value of parameter {@code index} (0-based). */
        public Object parameter(int index) {
            return params[index];
        }

        /** Run by the engine store, never through this method. */
        @Override
        public void apply(Connection connection) {
            throw new UnsupportedOperationException("TurnWrite.sql is run by the engine store: " + this);
        }

        @Override
        public String toString() {
            return text + " " + Arrays.toString(params);
        }
    }
}
