package io.pgdurable.graph.sql;

import java.math.BigDecimal;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;

/**
 * One bind parameter produced by {@link Substitution}. Numbers and booleans are typed as
 * PostgreSQL types the equivalent literal: an integral number is int4 when it fits, else int8, else
 * numeric; other numbers numeric; booleans bool. Strings are bound with no parameter type of their
 * own: as row-set cells, {@code ?::text} ({@code UNTYPED_TEXT}), and, in a statement written by
 * {@link Substitution#parameterized}, where the original wrote a literal of unknown type
 * ({@code LITERAL_TEXT}, which {@link PreparedSql#withLiterals()} writes back as that literal).
 *
 * @param type  how the value is bound
 * @param value a String (UNTYPED_TEXT, LITERAL_TEXT), Integer, Long, BigDecimal, Boolean, or null (NULL)
 */
public record BindValue(Type type, Object value) {

    /** How a value is bound. */
    public enum Type { UNTYPED_TEXT, INTEGER, BIGINT, NUMERIC, BOOLEAN, NULL, LITERAL_TEXT }

    public BindValue {
        boolean ok = switch (type) {
            case UNTYPED_TEXT, LITERAL_TEXT -> value instanceof String;
            case INTEGER -> value instanceof Integer;
            case BIGINT -> value instanceof Long;
            case NUMERIC -> value instanceof BigDecimal;
            case BOOLEAN -> value instanceof Boolean;
            case NULL -> value == null;
        };
        if (!ok) {
            throw new IllegalArgumentException("a " + type + " bind value cannot hold " + value);
        }
    }

    /** Text sent with no parameter type, for the server to infer (used with a cast, {@code ?::text}). */
    public static BindValue text(String s) {
        return new BindValue(Type.UNTYPED_TEXT, s);
    }

    /**
     * Text standing where the statement would otherwise hold the literal {@code 'text'} of unknown
     * type: bound with no parameter type, so the server infers the same type for it wherever it
     * can infer one at all.
     */
    public static BindValue literalText(String s) {
        return new BindValue(Type.LITERAL_TEXT, s);
    }

    /** An untyped SQL NULL. {@link Substitution} writes NULL as a literal; this is for other callers. */
    public static BindValue sqlNull() {
        return new BindValue(Type.NULL, null);
    }

    /**
     * Binds this value as parameter {@code index} (1-based). With pgjdbc, text goes through
     * {@code setObject(i, s, Types.OTHER)} and NULL through {@code setNull(i, Types.OTHER)}, both of
     * which send parameter type 0 ("unspecified").
     */
    public void bindTo(PreparedStatement ps, int index) throws SQLException {
        switch (type) {
            case UNTYPED_TEXT, LITERAL_TEXT -> ps.setObject(index, value, Types.OTHER);
            case INTEGER -> ps.setInt(index, (Integer) value);
            case BIGINT -> ps.setLong(index, (Long) value);
            case NUMERIC -> ps.setBigDecimal(index, (BigDecimal) value);
            case BOOLEAN -> ps.setBoolean(index, (Boolean) value);
            case NULL -> ps.setNull(index, Types.OTHER);
            default -> throw new IllegalStateException(type.name());
        }
    }
}
