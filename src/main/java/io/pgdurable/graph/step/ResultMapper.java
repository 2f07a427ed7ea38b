package io.pgdurable.graph.step;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.JsonLimitException;
import io.pgdurable.engine.Limits;
import io.pgdurable.graph.model.GraphException;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Locale;
import org.postgresql.PGResultSetMetaData;
import org.postgresql.core.Oid;
import org.postgresql.jdbc.PgResultSet;

/**
 * Turns a SQL step's result set into its JSON result, {@code {"rows":[{col: value, ...}],
 * "row_count": N}}, in column order (a repeated column name keeps its first position and its
 * last value).
 *
 * <p>Types as in the original: bool → boolean; int2/int4/int8 → integer; float4/float8 → number
 * (NaN and ±Infinity → null; float4 as its shortest decimal, 0.1 not 0.10000000149011612);
 * numeric → string, exact, never in exponent form ({@code "NaN"}, {@code "Infinity"} as text);
 * text/varchar/bpchar/name → string; uuid → lower-case string; date → {@code 2024-06-15};
 * timestamp → {@code 2024-06-15T12:30:00} and timestamptz → {@code 2024-06-15T12:30:00+00:00} in
 * UTC, each with a fraction of 3 or 6 digits only when non-zero ({@code infinity} and
 * {@code -infinity} as text); json/jsonb → the JSON value itself (numbers kept exact); void → null;
 * SQL NULL → null. Every other type (interval, arrays, bytea, inet, money, enums, domains,
 * records, ...) → its PostgreSQL text form, where the original failed the step; bytea as
 * {@code \x} hex. That text form is the server's only when pgjdbc receives the column in text
 * format, which it does unless the statement was server-prepared with binary transfer (connect
 * with {@code binaryTransfer=false} to rule that out).
 */
public final class ResultMapper {

    private static final JsonNodeFactory NODES = JsonCodec.nodes();
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    /** {@code {"rows":[]}} and {@code ,"row_count":} around the rows, without the count's digits. */
    private static final int ENVELOPE_BYTES = "{\"rows\":[],\"row_count\":}".length();

    private ResultMapper() {
    }

    /** The result of a statement that returned no result set: {@code {"rows":[],"row_count":0}}. */
    public static ObjectNode empty() {
        ObjectNode out = NODES.objectNode();
        out.putArray("rows");
        out.put("row_count", 0);
        return out;
    }

    /** Reads every remaining row of {@code rs} (it is not closed), with the default limits. */
    public static ObjectNode map(ResultSet rs) throws SQLException {
        return map(rs, Limits.defaults(), "the result");
    }

    /**
     * Reads the remaining rows of {@code rs} (it is not closed), checking the result against
     * {@code limits} as it goes: it stops at the first row over the row limit, at the row that
     * takes the JSON over the byte limit, and at the first value too deep or string too long, so
     * no more than the limits allow is ever held.
     *
     * @param what how errors name the result, e.g. {@code the result of SQL step n2}
     * @throws JsonLimitException naming the limit, the value reached and the option that sets it
     */
    public static ObjectNode map(ResultSet rs, Limits limits, String what) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        int n = md.getColumnCount();
        String[] names = new String[n + 1];
        ColumnType[] types = new ColumnType[n + 1];
        for (int i = 1; i <= n; i++) {
            names[i] = md.getColumnLabel(i);
            types[i] = typeOf(rs, md, i);
        }
        ObjectNode out = NODES.objectNode();
        ArrayNode rows = out.putArray("rows");
        CountingStream size = new CountingStream();
        int count = 0;
        while (rs.next()) {
            if (count == limits.maxStepResultRows()) {
                throw limits.tooManyRows(what);
            }
            ObjectNode row = NODES.objectNode();
            for (int i = 1; i <= n; i++) {
                String where = "column \"" + names[i] + "\" of row " + (count + 1) + " of " + what;
                JsonNode value = value(rs, i, types[i], where, limits);
                limits.checkValue(value, where);
                row.set(names[i], value);
            }
            size.add(count > 0 ? 1 : 0); // the comma between rows
            write(row, size);
            long total = size.bytes + ENVELOPE_BYTES + digits(count + 1);
            if (total > limits.maxResultBytes()) {
                throw new JsonLimitException(what + " reached " + total + " bytes as JSON at row " + (count + 1)
                        + "; the limit is " + limits.maxResultBytes() + " bytes (worker option " + Limits.BYTES_OPTION
                        + ")");
            }
            rows.add(row);
            count++;
        }
        out.put("row_count", count);
        return out;
    }

    private static void write(ObjectNode row, CountingStream size) {
        try {
            JsonCodec.mapper().writeValue(size, row);
        } catch (IOException e) {
            throw new JsonLimitException("a row of the result cannot be written as JSON: " + e.getMessage(), e);
        }
    }

    private static int digits(int n) {
        return Integer.toString(n).length();
    }

    /** Counts the bytes written to it and keeps none. */
    private static final class CountingStream extends OutputStream {
        long bytes;

        void add(int n) {
            bytes += n;
        }

        @Override
        public void write(int b) {
            bytes++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            bytes += len;
        }

        @Override
        public void close() {
            // writeValue closes its target; nothing to release
        }
    }

    private enum ColumnType {
        BOOL, INT2, INT4, INT8, FLOAT4, FLOAT8, NUMERIC, TEXT, UUID, DATE, TIMESTAMP, TIMESTAMPTZ, JSON, VOID,
        BYTEA, OTHER
    }

    /** The column's type from its OID with pgjdbc; from the type name with any other driver. */
    private static ColumnType typeOf(ResultSet rs, ResultSetMetaData md, int i) throws SQLException {
        if (rs.isWrapperFor(PgResultSet.class)) {
            int oid = rs.unwrap(PgResultSet.class).getColumnOID(i);
            boolean binary = md.isWrapperFor(PGResultSetMetaData.class)
                    && md.unwrap(PGResultSetMetaData.class).getFormat(i) == 1;
            return switch (oid) {
                case Oid.BOOL -> ColumnType.BOOL;
                case Oid.INT2 -> ColumnType.INT2;
                case Oid.INT4 -> ColumnType.INT4;
                case Oid.INT8 -> ColumnType.INT8;
                case Oid.FLOAT4 -> ColumnType.FLOAT4;
                case Oid.FLOAT8 -> ColumnType.FLOAT8;
                case Oid.NUMERIC -> ColumnType.NUMERIC;
                case Oid.TEXT, Oid.VARCHAR, Oid.BPCHAR, Oid.NAME -> ColumnType.TEXT;
                case Oid.UUID -> ColumnType.UUID;
                case Oid.DATE -> ColumnType.DATE;
                case Oid.TIMESTAMP -> ColumnType.TIMESTAMP;
                case Oid.TIMESTAMPTZ -> ColumnType.TIMESTAMPTZ;
                case Oid.JSON, Oid.JSONB -> ColumnType.JSON;
                case Oid.VOID -> ColumnType.VOID;
                case Oid.BYTEA -> binary ? ColumnType.BYTEA : ColumnType.OTHER;
                default -> ColumnType.OTHER;
            };
        }
        return switch (md.getColumnTypeName(i).toLowerCase(Locale.ROOT)) {
            case "bool" -> ColumnType.BOOL;
            case "int2", "smallserial" -> ColumnType.INT2;
            case "int4", "serial" -> ColumnType.INT4;
            case "int8", "bigserial" -> ColumnType.INT8;
            case "float4" -> ColumnType.FLOAT4;
            case "float8" -> ColumnType.FLOAT8;
            case "numeric" -> ColumnType.NUMERIC;
            case "text", "varchar", "bpchar", "name" -> ColumnType.TEXT;
            case "uuid" -> ColumnType.UUID;
            case "date" -> ColumnType.DATE;
            case "timestamp" -> ColumnType.TIMESTAMP;
            case "timestamptz" -> ColumnType.TIMESTAMPTZ;
            case "json", "jsonb" -> ColumnType.JSON;
            case "void" -> ColumnType.VOID;
            default -> ColumnType.OTHER;
        };
    }

    private static JsonNode value(ResultSet rs, int i, ColumnType type, String where, Limits limits)
            throws SQLException {
        switch (type) {
            case VOID:
                return NullNode.getInstance();
            case BOOL: {
                boolean v = rs.getBoolean(i);
                return rs.wasNull() ? NullNode.getInstance() : NODES.booleanNode(v);
            }
            case INT2:
            case INT4: {
                int v = rs.getInt(i);
                return rs.wasNull() ? NullNode.getInstance() : NODES.numberNode(v);
            }
            case INT8: {
                long v = rs.getLong(i);
                return rs.wasNull() ? NullNode.getInstance() : NODES.numberNode(v);
            }
            case FLOAT4: {
                float v = rs.getFloat(i);
                if (rs.wasNull() || !Float.isFinite(v)) {
                    return NullNode.getInstance();
                }
                return NODES.numberNode(Double.parseDouble(Float.toString(v)));
            }
            case FLOAT8: {
                double v = rs.getDouble(i);
                return rs.wasNull() || !Double.isFinite(v) ? NullNode.getInstance() : NODES.numberNode(v);
            }
            default:
                break;
        }
        String text = rs.getString(i);
        if (text == null) {
            return NullNode.getInstance();
        }
        if (type != ColumnType.JSON) {
            limits.checkString(text, where);
        }
        return switch (type) {
            case NUMERIC -> NODES.textNode(plainNumeric(text));
            case UUID -> NODES.textNode(text.toLowerCase(Locale.ROOT));
            case DATE -> NODES.textNode(date(rs.getObject(i, LocalDate.class)));
            case TIMESTAMP -> NODES.textNode(timestamp(rs.getObject(i, LocalDateTime.class)));
            case TIMESTAMPTZ -> NODES.textNode(timestamptz(rs.getObject(i, OffsetDateTime.class)));
            case JSON -> parseJson(text, where);
            case BYTEA -> NODES.textNode(hex(rs.getBytes(i)));
            default -> NODES.textNode(text);
        };
    }

    private static String plainNumeric(String text) {
        if (text.indexOf('E') < 0 && text.indexOf('e') < 0) {
            return text;
        }
        try {
            return new BigDecimal(text).toPlainString();
        } catch (NumberFormatException e) {
            return text;
        }
    }

    private static String date(LocalDate d) {
        if (d.equals(LocalDate.MAX)) {
            return "infinity";
        }
        if (d.equals(LocalDate.MIN)) {
            return "-infinity";
        }
        return yearPrefix(d.getYear()) + String.format(Locale.ROOT, "-%02d-%02d", d.getMonthValue(), d.getDayOfMonth());
    }

    private static String timestamp(LocalDateTime t) {
        if (t.equals(LocalDateTime.MAX)) {
            return "infinity";
        }
        if (t.equals(LocalDateTime.MIN)) {
            return "-infinity";
        }
        return date(t.toLocalDate()) + String.format(Locale.ROOT, "T%02d:%02d:%02d", t.getHour(), t.getMinute(),
                t.getSecond()) + fraction(t.getNano());
    }

    private static String timestamptz(OffsetDateTime t) {
        if (t.equals(OffsetDateTime.MAX)) {
            return "infinity";
        }
        if (t.equals(OffsetDateTime.MIN)) {
            return "-infinity";
        }
        return timestamp(t.withOffsetSameInstant(ZoneOffset.UTC).toLocalDateTime()) + "+00:00";
    }

    /** The year as ISO 8601 writes it: four digits, or a sign and more digits outside 0000-9999. */
    private static String yearPrefix(int year) {
        if (year >= 0 && year <= 9999) {
            return String.format(Locale.ROOT, "%04d", year);
        }
        return (year < 0 ? "-" : "+") + String.format(Locale.ROOT, "%04d", Math.abs(year));
    }

    /** {@code .SSS} or {@code .SSSSSS} (or nine digits), or nothing for a whole second. */
    private static String fraction(int nanos) {
        if (nanos == 0) {
            return "";
        }
        if (nanos % 1_000_000 == 0) {
            return String.format(Locale.ROOT, ".%03d", nanos / 1_000_000);
        }
        if (nanos % 1_000 == 0) {
            return String.format(Locale.ROOT, ".%06d", nanos / 1_000);
        }
        return String.format(Locale.ROOT, ".%09d", nanos);
    }

    private static JsonNode parseJson(String text, String where) {
        try {
            return JsonCodec.mapper().readTree(text);
        } catch (StreamConstraintsException e) {
            throw new JsonLimitException(where + " cannot be read: " + e.getOriginalMessage() + " (pg_durable reads"
                    + " JSON at most " + Limits.READ_MAX_DEPTH + " levels deep, with numbers of at most "
                    + Limits.READ_MAX_NUMBER_LENGTH + " characters; worker option " + Limits.DEPTH_OPTION
                    + " sets how deep a value may be)", e);
        } catch (JsonProcessingException e) {
            throw new GraphException(where + " holds JSON that cannot be read: " + e.getOriginalMessage(), e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder(2 + bytes.length * 2).append("\\x");
        for (byte b : bytes) {
            sb.append(HEX[(b >> 4) & 0xf]).append(HEX[b & 0xf]);
        }
        return sb.toString();
    }
}
