package io.pgdurable.graph.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.graph.sql.SubstitutionContext;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Placeholders in an HTTP step's url, body, header values and part names and file names, filled
 * as plain text (the original's "raw" substitution: nothing is quoted, since none of these is SQL):
 * {@code {name}} (a user variable), {@code {sys_instance_id}}, {@code {sys_label}}, and for named
 * results {@code $name} (first column of the first row; the whole result as JSON when it has no
 * rows, such as another HTTP step's envelope), {@code $name.col} (that column of the first row,
 * or that field of the result object: {@code $resp.body}, {@code $resp.status}), and
 * {@code $name?} / {@code $name.col?} (empty text instead of failing on no rows, NULL or a
 * missing field). A string goes in as its text, a number or boolean as in JSON, an object or array
 * as JSON text. {@code $name.*} is an error here. Anything else stays as it is, including
 * {@value #IDEMPOTENCY_KEY}, which the activity fills with the step's idempotency key.
 *
 * <p>One pass: an inserted value is never scanned for placeholders.
 */
public final class HttpTemplate {
    /** Filled by the activity: the same for every try of one step run, different for every run. */
    public static final String IDEMPOTENCY_KEY = "{sys_idempotency_key}";

    private static final Pattern WHOLE = Pattern.compile(
            "\\s*(\\$[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?\\??|\\{[A-Za-z_][A-Za-z0-9_]*})\\s*");

    private final SubstitutionContext ctx;
    private final List<String> names;

    public HttpTemplate(SubstitutionContext ctx) {
        this.ctx = ctx;
        this.names = new ArrayList<>(ctx.results().keySet());
        this.names.sort(Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder()));
    }

    /** Whether {@code value} is one placeholder and nothing else (white space aside). */
    public static boolean isWholeReference(String value) {
        return WHOLE.matcher(value).matches();
    }

    /**
     * {@code text} with its placeholders filled; {@code where} names the field for errors.
     *
     * @throws GraphException when a placeholder cannot be filled
     */
    public String fill(String text, String where) {
        if (text == null) {
            return null;
        }
        StringBuilder out = new StringBuilder(text.length());
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == '{') {
                int end = identifierEnd(text, i + 1);
                if (end > i + 1 && end < text.length() && text.charAt(end) == '}') {
                    String name = text.substring(i + 1, end);
                    String value = switch (name) {
                        case "sys_instance_id" -> ctx.instanceId();
                        case "sys_label" -> ctx.label() == null ? "" : ctx.label();
                        default -> ctx.vars().get(name);
                    };
                    if (value != null) {
                        out.append(value);
                        i = end + 1;
                        continue;
                    }
                }
            } else if (c == '$') {
                int consumed = result(text, i, out, where);
                if (consumed > 0) {
                    i += consumed;
                    continue;
                }
            }
            out.append(c);
            i++;
        }
        return out.toString();
    }

    /** Fills a $-reference at {@code i}, returning the characters it took, or 0 if none starts there. */
    private int result(String s, int i, StringBuilder out, String where) {
        for (String name : names) {
            if (!s.startsWith(name, i + 1)) {
                continue;
            }
            int after = i + 1 + name.length();
            if (after + 1 < s.length() + 1 && s.startsWith(".*", after)) {
                throw new GraphException("$" + name + ".* cannot be used in an HTTP step's " + where
                        + "; a row set belongs in a SQL step");
            }
            if (after < s.length() && s.charAt(after) == '.') {
                int colEnd = identifierEnd(s, after + 1);
                if (colEnd > after + 1) {
                    boolean nullSafe = colEnd < s.length() && s.charAt(colEnd) == '?';
                    String col = s.substring(after + 1, colEnd);
                    out.append(column(name, col, nullSafe));
                    return colEnd + (nullSafe ? 1 : 0) - i;
                }
            }
            boolean nullSafe = after < s.length() && s.charAt(after) == '?';
            if (nullSafe || after == s.length() || !isIdentCont(s.charAt(after))) {
                out.append(scalar(name, nullSafe));
                return after + (nullSafe ? 1 : 0) - i;
            }
        }
        return 0;
    }

    private String scalar(String name, boolean nullSafe) {
        JsonNode result = ctx.results().get(name);
        JsonNode rows = result != null && result.isObject() ? result.get("rows") : null;
        if (rows == null || !rows.isArray()) {
            return text(result, "$" + name, nullSafe);
        }
        if (rows.isEmpty()) {
            if (nullSafe) {
                return "";
            }
            throw new GraphException("$" + name + " has no rows — query returned zero results");
        }
        Iterator<JsonNode> values = rows.get(0).elements();
        if (!values.hasNext()) {
            throw new GraphException("$" + name + ": first row has no columns");
        }
        return text(values.next(), "$" + name, nullSafe);
    }

    private String column(String name, String col, boolean nullSafe) {
        String label = "$" + name + "." + col;
        JsonNode result = ctx.results().get(name);
        JsonNode rows = result != null && result.isObject() ? result.get("rows") : null;
        JsonNode fields;
        if (rows != null && rows.isArray()) {
            if (rows.isEmpty()) {
                if (nullSafe) {
                    return "";
                }
                throw new GraphException("$" + name + " has no rows — query returned zero results");
            }
            fields = rows.get(0);
        } else if (result != null && result.isObject()) {
            fields = result;
        } else {
            throw new GraphException(label + ": result is neither a row set nor a JSON object");
        }
        JsonNode v = fields.get(col);
        if (v == null) {
            if (nullSafe) {
                return "";
            }
            throw new GraphException(label + ": the result has no column or field '" + col + "'");
        }
        return text(v, label, nullSafe);
    }

    private static String text(JsonNode v, String label, boolean nullSafe) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            if (nullSafe) {
                return "";
            }
            throw new GraphException(label + " is NULL");
        }
        if (v.isTextual()) {
            return v.textValue();
        }
        if (v.isBigDecimal()) {
            return v.decimalValue().toPlainString();
        }
        if (v.isValueNode()) {
            return v.asText();
        }
        return JsonCodec.toJson(v);
    }

    private static int identifierEnd(String s, int from) {
        if (from >= s.length() || !isIdentStart(s.charAt(from))) {
            return from;
        }
        int j = from + 1;
        while (j < s.length() && isIdentCont(s.charAt(j))) {
            j++;
        }
        return j;
    }

    private static boolean isIdentStart(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }

    private static boolean isIdentCont(char c) {
        return isIdentStart(c) || (c >= '0' && c <= '9');
    }
}
