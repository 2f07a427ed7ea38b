package io.pgdurable.engine;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Map;

/**
 * The engine's limits on results and on the JSON it stores, in one place. A worker checks them
 * before anything commits: a SQL step's result while it is being read (the step fails and its
 * transaction rolls back), every node result, signal data and {@code df.break} value, and every
 * input, output and activity result the engine writes.
 *
 * <p>The limits are chosen so that whatever passes them can always be read back: every JSON
 * reader in pg_durable ({@link JsonCodec}) accepts {@value #READ_MAX_DEPTH} levels of nesting
 * (a value's {@value #MAX_DEPTH} at most, plus up to {@value #ENGINE_WRAPPING_DEPTH} levels of the
 * engine's own wrapping: a SQL result's {@code {"rows":[{...}]}}, nested JOIN arrays, named
 * results carried into a branch), strings and documents as long as {@code jsonb} can hold
 * ({@value #MAX_BYTES} bytes), and numbers of up to {@value #READ_MAX_NUMBER_LENGTH} characters
 * (more than any PostgreSQL {@code numeric} has).
 *
 * @param maxStepResultRows rows one SQL step may return ({@value #ROWS_OPTION})
 * @param maxResultBytes    size, as UTF-8 JSON text, of any result or stored JSON document
 *                          ({@value #BYTES_OPTION})
 * @param maxResultDepth    nesting of arrays and objects in a value: a {@code json}/{@code jsonb}
 *                          column value, signal data, a {@code df.break} value ({@value #DEPTH_OPTION})
 * @param maxStringLength   characters (UTF-16 units) in any one string of a result, object keys
 *                          included ({@value #STRING_OPTION})
 */
public record Limits(int maxStepResultRows, int maxResultBytes, int maxResultDepth, int maxStringLength) {

    public static final String ROWS_OPTION = "--max-step-result-rows";
    public static final String BYTES_OPTION = "--max-result-bytes";
    public static final String DEPTH_OPTION = "--max-result-depth";
    public static final String STRING_OPTION = "--max-result-string-length";

    public static final int DEFAULT_ROWS = 100_000;
    public static final int DEFAULT_BYTES = 16 * 1024 * 1024;
    public static final int DEFAULT_DEPTH = 1000;
    public static final int DEFAULT_STRING_LENGTH = 16 * 1024 * 1024;

    /** The most rows a step may be allowed to return. */
    public static final int MAX_ROWS = 10_000_000;
    /** The largest {@code jsonb} value PostgreSQL stores; also the most a result may be allowed. */
    public static final int MAX_BYTES = 268_435_455;
    /** The deepest a value may be allowed to nest. */
    public static final int MAX_DEPTH = 1000;
    /** Levels the engine may wrap around values: result envelopes, JOIN arrays, branch inputs. */
    public static final int ENGINE_WRAPPING_DEPTH = 500;
    /** Nesting every JSON reader and writer of pg_durable accepts. */
    public static final int READ_MAX_DEPTH = MAX_DEPTH + ENGINE_WRAPPING_DEPTH;
    /** The longest number every JSON reader accepts; PostgreSQL's numeric has at most 147,455 digits. */
    public static final int READ_MAX_NUMBER_LENGTH = 200_000;

    private static final Limits DEFAULTS = new Limits(DEFAULT_ROWS, DEFAULT_BYTES, DEFAULT_DEPTH, DEFAULT_STRING_LENGTH);

    public Limits {
        inRange(ROWS_OPTION, maxStepResultRows, 1, MAX_ROWS);
        inRange(BYTES_OPTION, maxResultBytes, 1024, MAX_BYTES);
        inRange(DEPTH_OPTION, maxResultDepth, 1, MAX_DEPTH);
        inRange(STRING_OPTION, maxStringLength, 1, MAX_BYTES);
    }

    /** The defaults: 100,000 rows, 16 MiB, 1,000 levels, 16 Mi characters. */
    public static Limits defaults() {
        return DEFAULTS;
    }

    public Limits withMaxStepResultRows(int v) {
        return new Limits(v, maxResultBytes, maxResultDepth, maxStringLength);
    }

    public Limits withMaxResultBytes(int v) {
        return new Limits(maxStepResultRows, v, maxResultDepth, maxStringLength);
    }

    public Limits withMaxResultDepth(int v) {
        return new Limits(maxStepResultRows, maxResultBytes, v, maxStringLength);
    }

    public Limits withMaxStringLength(int v) {
        return new Limits(maxStepResultRows, maxResultBytes, maxResultDepth, v);
    }

    private static void inRange(String option, int v, int min, int max) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(option + " must be between " + min + " and " + max + ", got " + v);
        }
    }

    // -------------------------------------------------------------------------------------------
    // Checks
    // -------------------------------------------------------------------------------------------

    /** The error for a step that returned more rows than allowed ({@code what}: "the result of ..."). */
    public JsonLimitException tooManyRows(String what) {
        return new JsonLimitException(what + " has more than " + maxStepResultRows + " rows; the limit is "
                + maxStepResultRows + " rows (worker option " + ROWS_OPTION + ")");
    }

    /** The error for a result whose JSON reached {@code bytes}, over the byte limit. */
    public JsonLimitException tooManyBytes(String what, long bytes) {
        return new JsonLimitException(what + " is " + bytes + " bytes as JSON; the limit is " + maxResultBytes
                + " bytes (worker option " + BYTES_OPTION + ")");
    }

    /**
     * Checks one value of a result: how deep it nests and how long its strings (and keys) are.
     *
     * @param what how the error names the value, e.g. {@code column "doc" of row 3 of the result of node n2}
     * @throws JsonLimitException over {@link #maxResultDepth()} or {@link #maxStringLength()}
     */
    public void checkValue(JsonNode value, String what) {
        if (value == null) {
            return;
        }
        // Iterative, so a deep value cannot exhaust the stack while it is being measured.
        Deque<Level> stack = new ArrayDeque<>();
        int deepest = visit(value, 0, stack, what);
        while (!stack.isEmpty()) {
            Level level = stack.pop();
            Iterator<Map.Entry<String, JsonNode>> fields = level.node().fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> field = fields.next();
                checkString(field.getKey(), what);
                deepest = Math.max(deepest, visit(field.getValue(), level.depth(), stack, what));
            }
            if (level.node().isArray()) {
                for (JsonNode element : level.node()) {
                    deepest = Math.max(deepest, visit(element, level.depth(), stack, what));
                }
            }
        }
        if (deepest > maxResultDepth) {
            throw new JsonLimitException(what + " nests " + deepest + " levels deep; the limit is " + maxResultDepth
                    + " levels (worker option " + DEPTH_OPTION + ")");
        }
    }

    /** Checks a string or queues a container; returns the depth reached. */
    private int visit(JsonNode node, int parentDepth, Deque<Level> stack, String what) {
        if (node.isTextual()) {
            checkString(node.textValue(), what);
        } else if (node.isContainerNode()) {
            stack.push(new Level(node, parentDepth + 1));
            return parentDepth + 1;
        }
        return parentDepth;
    }

    private record Level(JsonNode node, int depth) {
    }

    /** Checks one string of a result against {@link #maxStringLength()}. */
    public void checkString(String s, String what) {
        if (s != null && s.length() > maxStringLength) {
            throw new JsonLimitException(what + " holds a string of " + s.length() + " characters; the limit is "
                    + maxStringLength + " characters (worker option " + STRING_OPTION + ")");
        }
    }

    /**
     * Serializes a value the engine is about to store and checks the text with
     * {@link #checkDocument(String, String)}; returns the text.
     */
    public String checkedJson(Object value, String what) {
        String json = JsonCodec.toJson(value);
        checkDocument(json, what);
        return json;
    }

    /**
     * Checks a JSON document the engine is about to store: at most {@link #maxResultBytes()}
     * bytes, and no deeper than every reader accepts ({@value #READ_MAX_DEPTH} levels).
     */
    public void checkDocument(String json, String what) {
        if (json == null) {
            return;
        }
        long bytes = utf8Length(json);
        if (bytes > maxResultBytes) {
            throw tooManyBytes(what, bytes);
        }
        int depth = depth(json);
        if (depth > READ_MAX_DEPTH) {
            throw new JsonLimitException(what + " nests " + depth + " levels deep; pg_durable stores JSON at most "
                    + READ_MAX_DEPTH + " levels deep (a value may nest " + DEPTH_OPTION + " levels, at most " + MAX_DEPTH
                    + ", and the engine's wrapping of results up to " + ENGINE_WRAPPING_DEPTH + " more)");
        }
    }

    /** The length of {@code s} encoded as UTF-8. */
    public static long utf8Length(CharSequence s) {
        long n = 0;
        int len = s.length();
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < len && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /** How deeply arrays and objects nest in a JSON text ({@code 1} → 0, {@code [[]]} → 2). */
    public static int depth(String json) {
        int depth = 0;
        int max = 0;
        boolean inString = false;
        int len = json.length();
        for (int i = 0; i < len; i++) {
            char c = json.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '[' || c == '{') {
                depth++;
                max = Math.max(max, depth);
            } else if (c == ']' || c == '}') {
                depth--;
            }
        }
        return max;
    }

    @Override
    public String toString() {
        return "Limits{" + ROWS_OPTION + "=" + maxStepResultRows + ", " + BYTES_OPTION + "=" + maxResultBytes + ", "
                + DEPTH_OPTION + "=" + maxResultDepth + ", " + STRING_OPTION + "=" + maxStringLength + "}";
    }
}
