package io.pgdurable.graph.interpreter;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Whether a condition node's result counts as true, as the original extension decides it.
 *
 * <p>A result with a {@code rows} array is false when the array is empty; otherwise, when the
 * first row is an object with at least one column, the first column's value decides. Any other
 * result decides as a whole. A value is true when it is: a boolean true; a number other than 0;
 * a non-empty array or object; a string that, trimmed and lower-cased, is {@code true},
 * {@code t} or {@code yes}, or is a non-zero number ({@code 1}, {@code 2.5}, {@code nan},
 * {@code inf}), or is anything else non-empty. Null, {@code false}, {@code f}, {@code no}, the
 * empty string and zero numbers ({@code 0}, {@code 0.0}, {@code -0e5}) are false.
 */
public final class Truthiness {

    /** The decimal forms Rust's f64 parser accepts (after lower-casing), without inf/nan. */
    private static final Pattern DECIMAL = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)(e[+-]?\\d+)?");

    private Truthiness() {
    }

    /** Whether {@code result} (a node's result; Java null counts as JSON null) is truthy. */
    public static boolean isTruthy(JsonNode result) {
        if (result == null) {
            return false;
        }
        JsonNode rows = result.isObject() ? result.get("rows") : null;
        if (rows != null && rows.isArray()) {
            if (rows.isEmpty()) {
                return false;
            }
            JsonNode first = rows.get(0);
            if (first.isObject()) {
                Iterator<JsonNode> values = first.elements();
                if (values.hasNext()) {
                    return isTruthyValue(values.next());
                }
            }
        }
        return isTruthyValue(result);
    }

    /** Whether a single JSON value is truthy, without looking for {@code rows}. */
    public static boolean isTruthyValue(JsonNode value) {
        if (value == null || value.isNull() || value.isMissingNode()) {
            return false;
        }
        if (value.isBoolean()) {
            return value.booleanValue();
        }
        if (value.isNumber()) {
            if (value.isDouble() || value.isFloat()) {
                return value.doubleValue() != 0.0;
            }
            return value.decimalValue().signum() != 0;
        }
        if (value.isTextual()) {
            return isTruthyText(value.textValue());
        }
        if (value.isContainerNode()) {
            return value.size() > 0;
        }
        return true;
    }

    /** The string rule on its own, also used for results that are not JSON. */
    public static boolean isTruthyText(String s) {
        String t = s.strip().toLowerCase(Locale.ROOT);
        if (t.isEmpty()) {
            return false;
        }
        switch (t) {
            case "true", "t", "yes":
                return true;
            case "false", "f", "no":
                return false;
            default:
                break;
        }
        if (DECIMAL.matcher(t).matches()) {
            int end = t.indexOf('e');
            String mantissa = end < 0 ? t : t.substring(0, end);
            return mantissa.chars().anyMatch(ch -> ch >= '1' && ch <= '9');
        }
        return true; // non-finite numbers and other non-empty text
    }
}
