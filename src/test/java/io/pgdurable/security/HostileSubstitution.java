package io.pgdurable.security;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.graph.sql.SqlText;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

/**
 * The statements that put corpus value k ({@link HostileValues}, numbered from 1) into every
 * position a placeholder can stand, shared by the database-level and the workflow-level corpus
 * tests. The value k is reachable as:
 * <ul>
 *   <li>{@code {vk}}: a user variable;</li>
 *   <li>{@code $hk}, {@code $hk?}: a named result {@code {"rows":[{"v": value}]}};</li>
 *   <li>{@code $wide.ck}, {@code $wide.ck?}: column ck of the one row of result {@code wide};</li>
 *   <li>a row of {@code $all.*}, whose rows are {@code {"k": k, "v": value}};</li>
 *   <li>{@code {sys_label}}, in an instance labelled with the value.</li>
 * </ul>
 * In a workflow these results come from steps reading table {@code hostile (k, v)}; at the
 * database level from {@link #results(List)}. Statements that write put rows
 * {@code (k, ctx, v)} into table {@code received}.
 */
final class HostileSubstitution {
    /** The tag of the dollar-quoted DO bodies; values holding it are refused there. */
    static final List<String> DO_TAGS = List.of("$$", "$q$");

    private HostileSubstitution() {
    }

    /**
     * A position in a SELECT list: the expression that holds placeholder k, and the text that
     * value v must come out as. An identifier position names a column instead, {@code "k:…"}.
     */
    record SelectPosition(String name, IntFunction<String> expression, UnaryOperator<String> expected,
                          boolean identifier) {
        String item(int k) {
            return identifier ? "1 AS \"" + k + ":" + expression.apply(k) + "\"" : expression.apply(k) + " AS c" + k;
        }

        /** The value the column (or, for an identifier, the column's name) of value v at index k must have. */
        String expectedFor(int k, String v) {
            return identifier ? clipIdentifier(k + ":" + v) : expected.apply(v);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static final UnaryOperator<String> SAME = v -> v;
    private static final UnaryOperator<String> ANGLED = v -> "<" + v + ">";

    static final List<SelectPosition> SELECT_POSITIONS = List.of(
            new SelectPosition("{var} bare", k -> "{v" + k + "}", SAME, false),
            new SelectPosition("{var} cast", k -> "{v" + k + "}::text", SAME, false),
            new SelectPosition("{var} in '…'", k -> "'<{v" + k + "}>'", ANGLED, false),
            new SelectPosition("{var} in E'…'", k -> "E'<{v" + k + "}>'", ANGLED, false),
            new SelectPosition("{var} in \"…\"", k -> "{v" + k + "}", SAME, true),
            new SelectPosition("$name bare", k -> "$h" + k, SAME, false),
            new SelectPosition("$name? bare", k -> "$h" + k + "?", SAME, false),
            new SelectPosition("$name.col bare", k -> "$wide.c" + k, SAME, false),
            new SelectPosition("$name.col? bare", k -> "$wide.c" + k + "?", SAME, false),
            new SelectPosition("$name concatenated", k -> "'<' || $h" + k + " || '>'", ANGLED, false),
            new SelectPosition("$name cast", k -> "$h" + k + "::text", SAME, false),
            new SelectPosition("$name in '…'", k -> "'<$h" + k + ">'", ANGLED, false),
            new SelectPosition("$name? in '…'", k -> "'<$h" + k + "?>'", ANGLED, false),
            new SelectPosition("$name in E'…'", k -> "E'<$h" + k + ">'", ANGLED, false),
            new SelectPosition("$name.col in '…'", k -> "'<$wide.c" + k + ">'", ANGLED, false),
            new SelectPosition("$name.col? in E'…'", k -> "E'<$wide.c" + k + "?>'", ANGLED, false),
            new SelectPosition("$name in \"…\"", k -> "$h" + k, SAME, true),
            new SelectPosition("$name.col in \"…\"", k -> "$wide.c" + k, SAME, true));

    /** A comment holding placeholders, which must be left exactly as written. */
    static String comment(int k) {
        return " /* {v" + k + "} $h" + k + " $wide.c" + k + " */ -- {v" + k + "} $h" + k + " $all.*\n";
    }

    /** {@code SELECT} of the position for every index, ending in a comment that holds placeholders. */
    static String select(SelectPosition p, List<Integer> ks) {
        return "SELECT " + ks.stream().map(p::item).collect(Collectors.joining(", ")) + comment(ks.get(0));
    }

    /** How the rows of a DO body dollar-quoted with {@code tag} name themselves: {@code do-anonymous}, {@code do-q}. */
    static String doLabel(String tag) {
        return tag.equals("$$") ? "do-anonymous" : "do-" + tag.substring(1, tag.length() - 1);
    }

    /** The rows a DO body dollar-quoted with {@code tag} inserts for index k, one per position inside it. */
    private static List<String> doRows(String tag, int k) {
        String label = doLabel(tag);
        return List.of(
                "(" + k + ", '" + label + " {var} bare', {v" + k + "})",
                "(" + k + ", '" + label + " {var} in ''…''', '<{v" + k + "}>')",
                "(" + k + ", '" + label + " {var} in E''…''', E'<{v" + k + "}>')",
                "(" + k + ", '" + label + " $name bare', $h" + k + ")",
                "(" + k + ", '" + label + " $name? bare', $h" + k + "?)",
                "(" + k + ", '" + label + " $name.col bare', $wide.c" + k + ")",
                "(" + k + ", '" + label + " $name in ''…''', '<$h" + k + ">')",
                "(" + k + ", '" + label + " $name.col? in E''…''', E'<$wide.c" + k + "?>')");
    }

    /** What {@link #doBlock} with {@code tag} puts into received for value v: context → text. */
    static Map<String, String> expectedDoRows(String tag, String v) {
        String label = doLabel(tag);
        Map<String, String> out = new LinkedHashMap<>();
        out.put(label + " {var} bare", v);
        out.put(label + " {var} in '…'", "<" + v + ">");
        out.put(label + " {var} in E'…'", "<" + v + ">");
        out.put(label + " $name bare", v);
        out.put(label + " $name? bare", v);
        out.put(label + " $name.col bare", v);
        out.put(label + " $name in '…'", "<" + v + ">");
        out.put(label + " $name.col? in E'…'", "<" + v + ">");
        return out;
    }

    /** A DO block, dollar-quoted with {@code tag}, inserting every position of every index into received. */
    static String doBlock(String tag, List<Integer> ks) {
        return "DO " + tag + " BEGIN INSERT INTO received (k, ctx, v) VALUES "
                + ks.stream().flatMap(k -> doRows(tag, k).stream()).collect(Collectors.joining(", "))
                + ";" + comment(ks.get(0)) + "END " + tag;
    }

    /** Inserts every row of {@code $all.*} into received. */
    static final String ROW_SET = "INSERT INTO received (k, ctx, v) SELECT k, '$name.*', v FROM $all.* /* $all.* */";

    /** The message that refuses index k's placeholder in a DO body whose tag the value contains. */
    static String dollarRefusal(String tag) {
        return "inside the dollar-quoted string " + tag + "…" + tag + ": the result would contain " + tag
                + " and end the quote early; use a different tag, e.g. $q$…$q$";
    }

    /**
     * A statement holding {@code {vk}} where names stand — a qualified table, a joined table, a
     * later FROM item (found through the search_path), a qualifier — and once where a value
     * stands, then a comment holding placeholders. Run against table {@code idents.<value>}
     * holding one row (k), it returns (k, value).
     */
    static String namePositions(int k) {
        String v = "{v" + k + "}";
        return "SELECT " + v + ".k, " + v + " AS v FROM idents." + v + " JOIN idents." + v + " AS b USING (k), "
                + v + " AS c WHERE c.k = b.k" + comment(k);
    }

    /** True if PostgreSQL can take the value as a name: not empty, no NUL, at most 63 bytes of UTF-8. */
    static boolean nameable(String v) {
        return !v.isEmpty() && v.indexOf('\0') < 0 && v.getBytes(StandardCharsets.UTF_8).length <= 63;
    }

    /** The start of the message refusing {@code {vk}} with value v where a name stands. */
    static String nameRefusal(int k, String v) {
        String prefix = "{v" + k + "} cannot be substituted as a name: ";
        return v.isEmpty() ? prefix + "its value is empty" : prefix + "its value '";
    }

    /** The statement reading {@code {sys_label}} in every position, for an instance labelled with the value. */
    static final String LABEL_SELECT = "SELECT {sys_label} AS bare, '<{sys_label}>' AS quoted,"
            + " E'<{sys_label}>' AS escaped, 1 AS \"L:{sys_label}\" /* {sys_label} */ -- {sys_label}\n";

    /** The named results of the values, as the workflow's steps produce them. */
    static Map<String, JsonNode> results(List<String> values) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        Map<String, JsonNode> out = new LinkedHashMap<>();
        ObjectNode all = f.objectNode();
        ArrayNode allRows = all.putArray("rows");
        ObjectNode wide = f.objectNode();
        ObjectNode wideRow = wide.putArray("rows").addObject();
        for (int k = 1; k <= values.size(); k++) {
            String v = values.get(k - 1);
            ObjectNode h = f.objectNode();
            h.putArray("rows").addObject().put("v", v);
            h.put("row_count", 1);
            out.put("h" + k, h);
            allRows.addObject().put("k", k).put("v", v);
            wideRow.put("c" + k, v);
        }
        all.put("row_count", values.size());
        wide.put("row_count", 1);
        out.put("all", all);
        out.put("wide", wide);
        return out;
    }

    /** The variables v1..vn of the values. */
    static Map<String, String> vars(List<String> values) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int k = 1; k <= values.size(); k++) {
            out.put("v" + k, values.get(k - 1));
        }
        return out;
    }

    /** The indexes (from 1) of the values. */
    static List<Integer> indexes(List<String> values) {
        List<Integer> out = new ArrayList<>();
        for (int k = 1; k <= values.size(); k++) {
            out.add(k);
        }
        return out;
    }

    /**
     * An identifier as PostgreSQL keeps it: at most NAMEDATALEN - 1 = 63 bytes, cut at a
     * character boundary.
     */
    static String clipIdentifier(String s) {
        int bytes = 0;
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > 63) {
                break;
            }
            bytes += n;
            i += Character.charCount(cp);
        }
        return s.substring(0, i);
    }

    /**
     * The statement's structure as the lexer sees it: the number of statements, and the regions
     * in order, with the text of the SQL code between literals and, for dollar-quoted bodies, the
     * structure of the body. Literal and identifier contents are left out: they are the data.
     */
    static List<String> structure(String sql) {
        SqlText text = SqlText.of(sql);
        List<String> out = new ArrayList<>();
        out.add("statements: " + text.statementCount());
        for (SqlText.Region r : text.regions()) {
            switch (r.kind()) {
                case CODE, COMMENT -> out.add(r.kind() + " " + text.text(r));
                case DOLLAR_STRING -> {
                    out.add("DOLLAR_STRING " + r.delimiter() + (r.terminated() ? "" : " unterminated"));
                    for (String inner : structure(text.content(r))) {
                        out.add("  " + inner);
                    }
                }
                default -> out.add(r.kind() + (r.terminated() ? "" : " unterminated"));
            }
        }
        return out;
    }
}
