package io.pgdurable.graph.sql;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.graph.model.GraphException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Fills a SQL step's placeholders so that no value can change the statement's structure.
 *
 * <p>The placeholders are the original extension's: {@code {name}} (user variable),
 * {@code {sys_instance_id}}, {@code {sys_label}} (empty string without a label), and, for named
 * results, {@code $name} (first column of the first row, or the whole result when it has no
 * {@code rows}), {@code $name.col} (that field of the first row, or of the result object),
 * {@code $name?} and {@code $name.col?} (NULL instead of failing on no rows or NULL) and
 * {@code $name.*} (the rows as a {@code VALUES} list). Result names are tried longest first; a
 * {@code $} or {@code {} that does not start a known placeholder stays as it is, as does
 * {@code $name.col} for a column the result lacks (PostgreSQL then reports it).
 *
 * <p>Unlike the original, which pasted text and scanned again, substitution is one pass over the
 * user's SQL (an inserted value is never scanned for placeholders) and each value goes in as data
 * for the place it stands, found with {@link SqlText}:
 * <ul>
 *   <li>bare SQL where a name stands ({@link IdentifierPositions}: {@code FROM {t}},
 *       {@code s.{t}}, {@code INSERT INTO t ({c})}, ...), for {@code {name}} only: the value as one
 *       double-quoted identifier, {@code "} doubled; an empty value, a NUL character and a value
 *       longer than {@value #MAX_IDENTIFIER_BYTES} bytes are errors (PostgreSQL would reject the
 *       first and silently cut the last to a different name);</li>
 *   <li>bare SQL elsewhere: a number or boolean becomes a typed bind parameter {@code ?} (int4, int8 or
 *       numeric as a numeric literal would be typed; bool), exactly equivalent to the original's
 *       bare literal; a string (also an object or array as JSON text, a whole non-row result) and
 *       NULL become an escaped literal, {@code 'it''s'} and {@code NULL}, because a literal of
 *       unknown type is what the original produced and an untyped bind parameter does not behave
 *       like one everywhere ({@code json_build_object('k', $1)}, {@code concat}, {@code format},
 *       {@code $1 IS NULL} fail with "could not determine data type of parameter");
 *       {@code $name.*} becomes {@code (VALUES (?, ?::text), ...) AS "name"("col", ...)}, strings
 *       cast to text as the original did, or {@code (SELECT NULL WHERE false) AS "name"} without
 *       rows;</li>
 *   <li>inside {@code '…'}: the value's text with {@code '} doubled; inside {@code E'…'} also
 *       backslashes doubled; inside {@code "…"}: {@code "} doubled;</li>
 *   <li>inside a dollar-quoted string (typically a function or DO body, itself SQL): the content is
 *       lexed again and each placeholder is rendered for its place there, bare positions getting
 *       escaped SQL literals ({@code 'text'}, {@code 42}, {@code (-1)}, {@code true}, {@code NULL})
 *       as in the original; a value that would produce the closing tag is an error;</li>
 *   <li>inside comments: nothing is substituted;</li>
 *   <li>inside {@code U&'…'}, {@code U&"…"}, {@code B'…'} and {@code X'…'}: a placeholder is an
 *       error.</li>
 * </ul>
 * Inside quotes and dollar quotes a value's text is: a string as is, a number or boolean as in
 * JSON, an object or array as JSON text, NULL as {@code NULL}. Escaped literals rely on
 * {@code standard_conforming_strings} being on, which {@link PreparedSql#bind} checks; a literal is
 * kept apart from a neighbouring quote or {@code U&} prefix so it cannot fuse with it, and a
 * value glued to a name or keyword ({@code report_{year}}) is refused.
 *
 * <p>A literal {@code ?} in bare SQL (e.g. the jsonb operators {@code ?}, {@code ?|},
 * {@code ?&}) is written {@code ??}, pgjdbc's escape. If the user's bare SQL uses positional
 * parameters itself ({@code PREPARE p(int) AS SELECT $1}, a SQL-standard function body), bind
 * parameters would collide with them, so every value is then written as a literal. A
 * {@code $name.*} whose cells would take the statement past {@value #ROWSET_PARAM_BUDGET} bind
 * parameters is likewise written with literals.
 *
 * <p>{@link #parameterized} writes the same statement with every value that {@link #prepare}
 * writes as a whole literal of unknown type (a string in bare SQL, or a {@code '…'} string
 * holding one placeholder and nothing else, such as {@code '{sys_instance_id}'}) as a bind
 * parameter without a type instead ({@link BindValue.Type#LITERAL_TEXT}), so that the statement's
 * text is the same for every instance and the server can keep it prepared. An untyped parameter
 * takes its type from its place as such a literal does, except where nothing gives it one (an
 * argument of {@code format}, {@code concat} or {@code json_build_object}, {@code IS NULL},
 * {@code pg_typeof}), after a type name ({@code DATE '…'}) and beside a string continued on the
 * next line: there the server refuses it while parsing, which a worker checks once for each
 * statement text before it uses the form, and writes the literals back
 * ({@link PreparedSql#withLiterals()}) if it was refused. The one place where a
 * literal of unknown type means something the parameter does not, and no parse tells them apart,
 * is an item of {@code ORDER BY}, {@code GROUP BY} or {@code DISTINCT ON} (a string constant there
 * is an error, a parameter an expression): a statement with one of those words takes parameters
 * only right after an operator. Only a single {@code SELECT}, {@code INSERT}, {@code UPDATE},
 * {@code DELETE}, {@code MERGE}, {@code VALUES} or {@code WITH} statement takes them at all, and
 * only when no other value is written into its text (inside a longer string, as a name, in a
 * dollar-quoted body, a row set), which would make the text differ per instance all the same.
 */
public final class Substitution {

    /** Most rows {@code $name.*} expands, as in the original. */
    public static final int MAX_ROWSET_ROWS = 10_000;

    /** The longest name PostgreSQL keeps, in bytes: NAMEDATALEN - 1. */
    public static final int MAX_IDENTIFIER_BYTES = 63;

    /** Bind parameters a statement may reach through row sets before they switch to literals. */
    static final int ROWSET_PARAM_BUDGET = 30_000;

    /** PostgreSQL's numeric: at most 131,072 digits before the point and 16,383 after. */
    private static final int NUMERIC_MAX_INTEGER_DIGITS = 131_072;
    private static final int NUMERIC_MAX_SCALE = 16_383;

    /** Statements whose bare SQL may take {@link BindValue.Type#LITERAL_TEXT} parameters. */
    private static final Set<String> PARAMETER_STATEMENTS =
            Set.of("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "WITH");

    /** What may stand right before a literal that becomes a parameter in a statement with a sort list. */
    private static final String OPERATOR_CHARS = "=<>!+-*/%|&~^#@";

    private Substitution() {
    }

    /**
     * Substitutes every placeholder of {@code query}.
     *
     * @throws GraphException when a placeholder cannot be filled: a strict reference to a result
     *     with no rows or a NULL value, a malformed result, too many rows for {@code $name.*}, a
     *     value glued to a name in bare SQL, a value that cannot be a name where a name stands, or a
     *     value that would end its dollar quote
     */
    public static PreparedSql prepare(String query, SubstitutionContext ctx) {
        return render(query, ctx, false);
    }

    /**
     * Like {@link #prepare}, with the values that it writes as whole literals of unknown type
     * written as {@link BindValue.Type#LITERAL_TEXT} parameters where the statement can take them
     * (see the class comment), if that leaves no value in the statement's text (written into a
     * longer string, as a name, in a dollar-quoted body, a row set): otherwise, what
     * {@link #prepare} writes. {@link PreparedSql#withLiterals()} of the result is what
     * {@link #prepare} writes, but for a space here and there.
     *
     * @throws GraphException as {@link #prepare}
     */
    public static PreparedSql parameterized(String query, SubstitutionContext ctx) {
        return render(query, ctx, true);
    }

    private static PreparedSql render(String query, SubstitutionContext ctx, boolean parameterized) {
        Objects.requireNonNull(query, "query");
        Objects.requireNonNull(ctx, "ctx");
        SqlText text = SqlText.of(query);
        boolean positional = usesPositionalParameters(text);
        Renderer renderer = new Renderer(ctx, positional);
        if (parameterized && !positional && text.statementCount() == 1
                && PARAMETER_STATEMENTS.contains(text.firstKeyword())) {
            renderer.literalParameters(text, text.hasSortList());
        }
        Sink sink = new Sink();
        renderer.render(text, sink, true);
        PreparedSql out = new PreparedSql(sink.sb.toString(), renderer.params);
        if (parameterized && renderer.textHoldsValues && out.hasLiteralParameters()) {
            // The text may differ per instance all the same, and could not be kept prepared: it is
            // not worth the server's parse of each new text before it is sent (StatementForms).
            return render(query, ctx, false);
        }
        return out;
    }

    /**
     * The last character before {@code pos} that is not whitespace or inside a comment ({@code '\0'}
     * if there is none): for a quoted region before it, its closing quote.
     */
    private static char significantBefore(SqlText text, int pos) {
        String s = text.sql();
        List<SqlText.Region> regions = text.regions();
        for (int k = regions.size() - 1; k >= 0; k--) {
            SqlText.Region r = regions.get(k);
            if (r.start() >= pos || r.kind() == SqlText.Kind.COMMENT) {
                continue;
            }
            if (r.kind() != SqlText.Kind.CODE) {
                return s.charAt(r.end() - 1);
            }
            for (int i = Math.min(pos, r.end()) - 1; i >= r.start(); i--) {
                if (!SqlText.isSpace(s.charAt(i))) {
                    return s.charAt(i);
                }
            }
        }
        return '\0';
    }

    /** True if the bare SQL holds a positional parameter such as {@code $1}. */
    private static boolean usesPositionalParameters(SqlText text) {
        String s = text.sql();
        for (SqlText.Region r : text.regions()) {
            if (r.kind() != SqlText.Kind.CODE) {
                continue;
            }
            boolean inWord = false;
            for (int i = r.start(); i < r.end(); i++) {
                char c = s.charAt(i);
                if (c == '$' && !inWord && i + 1 < r.end() && s.charAt(i + 1) >= '0' && s.charAt(i + 1) <= '9') {
                    return true;
                }
                inWord = inWord ? SqlText.isIdentCont(c) : SqlText.isIdentStart(c);
            }
        }
        return false;
    }

    // ---------------------------------------------------------------------------------------
    // Values
    // ---------------------------------------------------------------------------------------

    private enum ValueKind { STRING, NUMBER, BOOLEAN, NULL }

    /** A scalar to insert: text for STRING, the JSON number node for NUMBER. */
    private record Value(ValueKind kind, String text, JsonNode number) {

        static final Value NULL = new Value(ValueKind.NULL, "NULL", null);

        static Value string(String s) {
            return new Value(ValueKind.STRING, s, null);
        }

        static Value of(JsonNode node) {
            if (node == null || node.isNull() || node.isMissingNode()) {
                return NULL;
            }
            if (node.isTextual()) {
                return string(node.textValue());
            }
            if (node.isBoolean()) {
                return new Value(ValueKind.BOOLEAN, node.booleanValue() ? "true" : "false", null);
            }
            if (node.isNumber()) {
                if ((node.isDouble() || node.isFloat()) && !Double.isFinite(node.doubleValue())) {
                    return string(node.asText());
                }
                return new Value(ValueKind.NUMBER, numberText(node), node);
            }
            return string(JsonCodec.toJson(node));
        }

        /**
         * A number's text as PostgreSQL writes a numeric: every digit, no exponent (so
         * {@code 1e400} becomes a 1 and 400 zeros), while it is within numeric's range; beyond
         * it (such a value cannot come from PostgreSQL) in exponent form, exact all the same.
         */
        static String numberText(JsonNode node) {
            if (node.isBigDecimal()) {
                BigDecimal d = node.decimalValue();
                if (d.scale() <= NUMERIC_MAX_SCALE && d.scale() >= -NUMERIC_MAX_INTEGER_DIGITS) {
                    return d.toPlainString();
                }
                return d.toString();
            }
            return node.asText();
        }

        /** The value's text inside quotes. */
        String plainText() {
            return text;
        }

        /** The value as a SQL literal in bare SQL. */
        String sqlLiteral() {
            return switch (kind) {
                case STRING -> quoteLiteral(text);
                case NUMBER -> text.startsWith("-") ? "(" + text + ")" : text;
                case BOOLEAN, NULL -> text;
            };
        }

        /** True when bare SQL gets this value as a bind parameter rather than a literal. */
        boolean bindsInCode() {
            return kind == ValueKind.NUMBER || kind == ValueKind.BOOLEAN;
        }

        BindValue bindValue() {
            return switch (kind) {
                case STRING -> BindValue.text(text);
                case BOOLEAN -> new BindValue(BindValue.Type.BOOLEAN, text.equals("true"));
                case NULL -> throw new IllegalStateException("NULL is written as a literal");
                case NUMBER -> {
                    if (number.isIntegralNumber()) {
                        if (number.canConvertToInt()) {
                            yield new BindValue(BindValue.Type.INTEGER, number.intValue());
                        }
                        if (number.canConvertToLong()) {
                            yield new BindValue(BindValue.Type.BIGINT, number.longValue());
                        }
                        yield new BindValue(BindValue.Type.NUMERIC, new BigDecimal(number.bigIntegerValue()));
                    }
                    yield new BindValue(BindValue.Type.NUMERIC, number.decimalValue());
                }
            };
        }
    }

    /** The rows of {@code $name.*}: column names from the first row, one list of cells per row. */
    private record RowSet(String name, List<String> columns, List<List<Value>> rows) {
    }

    static String quoteLiteral(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    static String quoteIdentifier(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    // ---------------------------------------------------------------------------------------
    // References
    // ---------------------------------------------------------------------------------------

    private enum RefKind { VARIABLE, SCALAR, COLUMN, ROWSET }

    /** A placeholder found at [start, end); {@code value} is set for VARIABLE. */
    private record Ref(RefKind kind, int start, int end, String label, String name, String column,
                       boolean nullSafe, String value) {
    }

    /** What a reference resolves to: exactly one of value, rowSet, verbatim is non-null. */
    private record Resolution(Value value, RowSet rowSet, String verbatim) {
    }

    // ---------------------------------------------------------------------------------------
    // Output
    // ---------------------------------------------------------------------------------------

    /** Output text plus where substituted values landed in it. */
    private static final class Sink {
        final StringBuilder sb = new StringBuilder();
        final List<int[]> spans = new ArrayList<>();
        final List<String> labels = new ArrayList<>();

        void raw(CharSequence s) {
            sb.append(s);
        }

        void raw(char c) {
            sb.append(c);
        }

        void value(String s, String label) {
            int start = sb.length();
            sb.append(s);
            spans.add(new int[] {start, sb.length()});
            labels.add(label);
        }

        void nested(Sink inner) {
            int offset = sb.length();
            sb.append(inner.sb);
            for (int k = 0; k < inner.spans.size(); k++) {
                spans.add(new int[] {inner.spans.get(k)[0] + offset, inner.spans.get(k)[1] + offset});
                labels.add(inner.labels.get(k));
            }
        }

        char last() {
            return sb.length() == 0 ? '\0' : sb.charAt(sb.length() - 1);
        }

        /** The label of a value that overlaps or touches [from, to), or of the first value. */
        String labelNear(int from, int to) {
            for (int k = 0; k < spans.size(); k++) {
                if (spans.get(k)[0] <= to && spans.get(k)[1] >= from) {
                    return labels.get(k);
                }
            }
            return labels.isEmpty() ? "a substituted value" : labels.get(0);
        }
    }

    private enum TextContext { STRING, ESCAPE_STRING, IDENTIFIER }

    private static final class Renderer {
        private final SubstitutionContext ctx;
        private final boolean literalsOnly;
        private final List<String> names;
        final List<BindValue> params = new ArrayList<>();
        /** The statement, when whole literals of unknown type become parameters; else null. */
        private SqlText parameterText;
        private boolean sortList;
        /** Whether a value went into the text itself (not as a parameter), which may then differ per instance. */
        boolean textHoldsValues;

        Renderer(SubstitutionContext ctx, boolean literalsOnly) {
            this.ctx = ctx;
            this.literalsOnly = literalsOnly;
            this.names = new ArrayList<>(ctx.results().keySet());
            this.names.sort(Comparator.comparingInt(String::length).reversed()
                    .thenComparing(Comparator.naturalOrder()));
        }

        /**
         * Writes whole literals of unknown type in {@code statement} as parameters; with
         * {@code sortList}, only right after an operator.
         */
        void literalParameters(SqlText statement, boolean sortList) {
            this.parameterText = statement;
            this.sortList = sortList;
        }

        /** Whether a literal of unknown type starting at {@code pos} of the statement becomes a parameter. */
        private boolean literalParameterAt(boolean top, int pos) {
            if (!top || parameterText == null || params.size() >= ROWSET_PARAM_BUDGET) {
                return false;
            }
            return !sortList || OPERATOR_CHARS.indexOf(significantBefore(parameterText, pos)) >= 0;
        }

        /** Renders lexed text; {@code top} is true for the statement itself, false for a dollar-quoted body. */
        void render(SqlText text, Sink sink, boolean top) {
            String s = text.sql();
            Set<Integer> identifiers = text.identifierPositions();
            for (SqlText.Region r : text.regions()) {
                switch (r.kind()) {
                    case CODE -> code(s, r.start(), r.end(), sink, top, identifiers);
                    case COMMENT -> sink.raw(s.substring(r.start(), r.end()));
                    case STRING -> {
                        if (!wholeLiteral(s, r, sink, top)) {
                            quoted(s, r, sink, TextContext.STRING);
                        }
                    }
                    case ESCAPE_STRING -> quoted(s, r, sink, TextContext.ESCAPE_STRING);
                    case IDENTIFIER -> quoted(s, r, sink, TextContext.IDENTIFIER);
                    case UNICODE_STRING, UNICODE_IDENTIFIER, BIT_STRING -> forbidden(s, r, sink);
                    case DOLLAR_STRING -> dollar(s, r, sink);
                    default -> throw new IllegalStateException(r.kind().name());
                }
            }
        }

        private void code(String s, int from, int to, Sink sink, boolean top, Set<Integer> identifiers) {
            boolean inWord = false;
            int i = from;
            while (i < to) {
                char c = s.charAt(i);
                if (c == '{' || (c == '$' && !inWord)) {
                    Ref ref = find(s, i, to);
                    if (ref != null) {
                        Resolution res = resolve(ref);
                        if (res.verbatim() != null) {
                            codeText(res.verbatim(), sink, top);
                        } else {
                            char next = ref.end() < s.length() ? s.charAt(ref.end()) : '\0';
                            if ((c == '{' && inWord) || (SqlText.isIdentCont(next) && next != '$')) {
                                throw new GraphException(ref.label() + " cannot be substituted there: in SQL"
                                        + " code a value stands on its own and cannot be part of a name or keyword."
                                        + " Quote the position (\"" + ref.label() + "\" for a name, '"
                                        + ref.label() + "' for text) or separate it with a space or operator");
                            }
                            if (res.rowSet() != null) {
                                rowSet(res.rowSet(), ref.label(), sink, top);
                            } else if (ref.kind() == RefKind.VARIABLE && identifiers.contains(ref.start())) {
                                identifier(ref, sink, next);
                            } else if (res.value().kind() == ValueKind.STRING && literalParameterAt(top, ref.start())) {
                                parameter(BindValue.literalText(res.value().plainText()), ref.label(), sink, next);
                            } else {
                                scalar(res.value(), ref.label(), sink, top, next);
                            }
                        }
                        i = ref.end();
                        inWord = false;
                        continue;
                    }
                }
                if (c == '?' && top) {
                    sink.raw("??");
                } else {
                    sink.raw(c);
                }
                inWord = inWord ? SqlText.isIdentCont(c) : SqlText.isIdentStart(c);
                i++;
            }
        }

        private static void codeText(String text, Sink sink, boolean top) {
            sink.raw(top ? text.replace("?", "??") : text);
        }

        private boolean binds(boolean top) {
            return top && !literalsOnly;
        }

        private void scalar(Value v, String label, Sink sink, boolean top, char next) {
            if (binds(top) && v.bindsInCode()) {
                parameter(v.bindValue(), label, sink, next);
                return;
            }
            // Keep a literal from fusing with a neighbouring literal ('a''b') or a U& prefix.
            char last = sink.last();
            if (last == '\'' || last == '&') {
                sink.raw(' ');
            }
            sink.value(v.sqlLiteral(), label);
            textHoldsValues = true;
            if (next == '\'') {
                sink.raw(' ');
            }
        }

        private void parameter(BindValue value, String label, Sink sink, char next) {
            // "??" is pgjdbc's escaped question mark: keep a placeholder apart from any neighbour '?'.
            if (sink.last() == '?') {
                sink.raw(' ');
            }
            sink.value("?", label);
            params.add(value);
            if (next == '?') {
                sink.raw(' ');
            }
        }

        /**
         * A plain {@code '…'} string (not {@code N'…'}) holding exactly one placeholder that stands
         * for a value, written as a parameter where the statement takes one. Returns false, writing
         * nothing, otherwise. (One part of a string continued over lines becomes a parameter too,
         * which the server then refuses while parsing, as it does a parameter after a type name.)
         */
        private boolean wholeLiteral(String s, SqlText.Region r, Sink sink, boolean top) {
            if (!r.terminated() || s.charAt(r.start()) != '\'' || r.contentStart() == r.contentEnd()
                    || !literalParameterAt(top, r.start())) {
                return false;
            }
            char first = s.charAt(r.contentStart());
            if (first != '{' && first != '$') {
                return false;
            }
            Ref ref = find(s, r.contentStart(), r.contentEnd());
            if (ref == null || ref.end() != r.contentEnd()) {
                return false;
            }
            Resolution res = resolve(ref);
            if (res.value() == null) {
                return false;
            }
            char next = r.end() < s.length() ? s.charAt(r.end()) : '\0';
            parameter(BindValue.literalText(res.value().plainText()), ref.label(), sink, next);
            return true;
        }

        /**
         * A {@code {name}} in identifier position ({@link IdentifierPositions}): its value as one
         * double-quoted identifier, as PostgreSQL's quote_ident would write it but always quoted.
         */
        private void identifier(Ref ref, Sink sink, char next) {
            String v = ref.value();
            String problem = null;
            if (v.isEmpty()) {
                problem = "its value is empty";
            } else if (v.indexOf('\0') >= 0) {
                problem = "its value " + shown(v) + " contains a NUL character";
            } else {
                int bytes = v.getBytes(StandardCharsets.UTF_8).length;
                if (bytes > MAX_IDENTIFIER_BYTES) {
                    problem = "its value " + shown(v) + " is " + bytes + " bytes long; a PostgreSQL name is at most "
                            + MAX_IDENTIFIER_BYTES + " bytes (NAMEDATALEN - 1)";
                }
            }
            if (problem != null) {
                throw new GraphException(ref.label() + " cannot be substituted as a name: " + problem);
            }
            // Keep the quoted name from fusing with a neighbouring quoted name ("a""b") or a U& prefix.
            char last = sink.last();
            if (last == '"' || last == '&') {
                sink.raw(' ');
            }
            sink.value(quoteIdentifier(v), ref.label());
            textHoldsValues = true;
            if (next == '"') {
                sink.raw(' ');
            }
        }

        /** A value for a message: as a literal, a NUL written as \0, cut after 40 characters. */
        private static String shown(String v) {
            String cut = v.codePointCount(0, v.length()) > 40 ? v.substring(0, v.offsetByCodePoints(0, 40)) + "…" : v;
            return quoteLiteral(cut.replace("\0", "\\0"));
        }

        private void rowSet(RowSet rs, String label, Sink sink, boolean top) {
            // Its shape follows the rows, so the text is not the same for every instance.
            textHoldsValues = true;
            String alias = quoteIdentifier(rs.name());
            if (rs.rows().isEmpty()) {
                sink.value("(SELECT NULL WHERE false) AS " + alias, label);
                return;
            }
            int cells = 0;
            for (List<Value> row : rs.rows()) {
                for (Value v : row) {
                    cells += v.kind() == ValueKind.NULL ? 0 : 1;
                }
            }
            boolean bind = binds(top) && params.size() + cells <= ROWSET_PARAM_BUDGET;
            StringBuilder sb = new StringBuilder(sink.last() == '?' ? " (VALUES " : "(VALUES ");
            for (int r = 0; r < rs.rows().size(); r++) {
                sb.append(r == 0 ? "(" : ", (");
                List<Value> row = rs.rows().get(r);
                for (int col = 0; col < row.size(); col++) {
                    if (col > 0) {
                        sb.append(", ");
                    }
                    Value v = row.get(col);
                    if (v.kind() == ValueKind.NULL) {
                        sb.append("NULL");
                    } else if (bind) {
                        sb.append(v.kind() == ValueKind.STRING ? "?::text" : "?");
                        params.add(v.bindValue());
                    } else {
                        sb.append(v.sqlLiteral());
                        if (v.kind() == ValueKind.STRING) {
                            sb.append("::text");
                        }
                    }
                }
                sb.append(')');
            }
            sb.append(") AS ").append(alias).append('(');
            for (int col = 0; col < rs.columns().size(); col++) {
                sb.append(col == 0 ? "" : ", ").append(quoteIdentifier(rs.columns().get(col)));
            }
            sb.append(')');
            sink.value(sb.toString(), label);
        }

        private void quoted(String s, SqlText.Region r, Sink sink, TextContext context) {
            sink.raw(s.substring(r.start(), r.contentStart()));
            int i = r.contentStart();
            int to = r.contentEnd();
            while (i < to) {
                char c = s.charAt(i);
                if (c == '\\' && context == TextContext.ESCAPE_STRING) {
                    // An escaped character is not the start of a placeholder, and a backslash must
                    // never escape the first character of an inserted value.
                    sink.raw(s.substring(i, Math.min(i + 2, to)));
                    i += 2;
                    continue;
                }
                if (c == '{' || c == '$') {
                    Ref ref = find(s, i, to);
                    if (ref != null) {
                        Resolution res = resolve(ref);
                        if (res.verbatim() != null) {
                            sink.raw(res.verbatim());
                        } else if (res.rowSet() != null) {
                            throw new GraphException(ref.label() + " cannot be used inside a quoted "
                                    + (context == TextContext.IDENTIFIER ? "identifier" : "string")
                                    + "; a row set belongs in a FROM clause");
                        } else {
                            sink.value(escape(res.value().plainText(), context), ref.label());
                            textHoldsValues = true;
                        }
                        i = ref.end();
                        continue;
                    }
                }
                sink.raw(c);
                i++;
            }
            sink.raw(s.substring(r.contentEnd(), r.end()));
        }

        private static String escape(String text, TextContext context) {
            return switch (context) {
                case STRING -> text.replace("'", "''");
                case ESCAPE_STRING -> text.replace("\\", "\\\\").replace("'", "''");
                case IDENTIFIER -> text.replace("\"", "\"\"");
            };
        }

        private void forbidden(String s, SqlText.Region r, Sink sink) {
            for (int i = r.contentStart(); i < r.contentEnd(); i++) {
                char c = s.charAt(i);
                if (c == '{' || c == '$') {
                    Ref ref = find(s, i, r.contentEnd());
                    if (ref != null) {
                        String what = switch (r.kind()) {
                            case UNICODE_STRING -> "a U&'…' string";
                            case UNICODE_IDENTIFIER -> "a U&\"…\" identifier";
                            default -> "a B'…' or X'…' bit string";
                        };
                        throw new GraphException(ref.label() + " cannot be substituted inside " + what
                                + "; use a plain '…' string or \"…\" identifier");
                    }
                }
            }
            sink.raw(s.substring(r.start(), r.end()));
        }

        private void dollar(String s, SqlText.Region r, Sink sink) {
            String delimiter = r.delimiter();
            Sink inner = new Sink();
            render(SqlText.of(s.substring(r.contentStart(), r.contentEnd())), inner, false);
            // PostgreSQL ends the string at the first delimiter after the opening one, which may
            // also be formed by the end of the content and the start of the closing delimiter.
            int at = (inner.sb + delimiter).indexOf(delimiter);
            if (at < inner.sb.length()) {
                throw new GraphException("Cannot substitute " + inner.labelNear(at, at + delimiter.length())
                        + " inside the dollar-quoted string " + delimiter + "…" + delimiter
                        + ": the result would contain " + delimiter + " and end the quote early;"
                        + " use a different tag, e.g. $q$…$q$");
            }
            sink.raw(delimiter);
            sink.nested(inner);
            sink.raw(s.substring(r.contentEnd(), r.end()));
        }

        // -----------------------------------------------------------------------------------
        // Finding and resolving placeholders
        // -----------------------------------------------------------------------------------

        /** The placeholder starting at i (a '{' or '$'), not reaching past {@code to}, or null. */
        private Ref find(String s, int i, int to) {
            if (s.charAt(i) == '{') {
                int end = identifierEnd(s, i + 1, to);
                if (end == i + 1 || end >= to || s.charAt(end) != '}') {
                    return null;
                }
                String name = s.substring(i + 1, end);
                String value = switch (name) {
                    case "sys_instance_id" -> ctx.instanceId();
                    case "sys_label" -> ctx.label() == null ? "" : ctx.label();
                    default -> ctx.vars().get(name);
                };
                return value == null ? null
                        : new Ref(RefKind.VARIABLE, i, end + 1, "{" + name + "}", name, null, false, value);
            }
            for (String name : names) {
                if (i + 1 + name.length() > to || !s.startsWith(name, i + 1)) {
                    continue;
                }
                int after = i + 1 + name.length();
                if (after + 2 <= to && s.startsWith(".*", after)) {
                    return new Ref(RefKind.ROWSET, i, after + 2, "$" + name + ".*", name, null, false, null);
                }
                if (after < to && s.charAt(after) == '.') {
                    int colEnd = identifierEnd(s, after + 1, to);
                    if (colEnd > after + 1) {
                        boolean nullSafe = colEnd < to && s.charAt(colEnd) == '?';
                        String col = s.substring(after + 1, colEnd);
                        return new Ref(RefKind.COLUMN, i, colEnd + (nullSafe ? 1 : 0), "$" + name + "." + col,
                                name, col, nullSafe, null);
                    }
                }
                if (after < to && s.charAt(after) == '?') {
                    return new Ref(RefKind.SCALAR, i, after + 1, "$" + name, name, null, true, null);
                }
                if (after == to || !isAsciiIdentCont(s.charAt(after))) {
                    return new Ref(RefKind.SCALAR, i, after, "$" + name, name, null, false, null);
                }
            }
            return null;
        }

        private Resolution resolve(Ref ref) {
            return switch (ref.kind()) {
                case VARIABLE -> new Resolution(Value.string(ref.value()), null, null);
                case SCALAR -> new Resolution(scalarOf(ref), null, null);
                case COLUMN -> columnOf(ref);
                case ROWSET -> new Resolution(null, rowSetOf(ref.name()), null);
            };
        }

        private static JsonNode rowsOf(JsonNode result) {
            JsonNode rows = result.isObject() ? result.get("rows") : null;
            return rows != null && rows.isArray() ? rows : null;
        }

        private Value scalarOf(Ref ref) {
            String n = ref.name();
            JsonNode result = ctx.results().get(n);
            JsonNode rows = rowsOf(result);
            if (rows == null) {
                return Value.string(JsonCodec.toJson(result));
            }
            if (rows.isEmpty()) {
                if (ref.nullSafe()) {
                    return Value.NULL;
                }
                throw new GraphException("$" + n + " has no rows — query returned zero results");
            }
            JsonNode first = rows.get(0);
            if (!first.isObject()) {
                throw new GraphException("$" + n + ": first row is not an object");
            }
            Iterator<JsonNode> values = first.elements();
            if (!values.hasNext()) {
                throw new GraphException("$" + n + ": first row has no columns");
            }
            JsonNode v = values.next();
            if (v.isNull()) {
                if (ref.nullSafe()) {
                    return Value.NULL;
                }
                throw new GraphException("$" + n + " is NULL — first column of first row is NULL");
            }
            return Value.of(v);
        }

        private Resolution columnOf(Ref ref) {
            String n = ref.name();
            String label = ref.label();
            JsonNode result = ctx.results().get(n);
            JsonNode rows = rowsOf(result);
            JsonNode fields;
            if (rows != null) {
                if (rows.isEmpty()) {
                    if (ref.nullSafe()) {
                        return new Resolution(Value.NULL, null, null);
                    }
                    throw new GraphException("$" + n + " has no rows — query returned zero results");
                }
                fields = rows.get(0);
                if (!fields.isObject()) {
                    throw new GraphException(label + ": first row is not an object");
                }
            } else if (result.isObject()) {
                fields = result;
            } else {
                throw new GraphException(label + ": result is neither a row set nor a JSON object");
            }
            JsonNode v = fields.get(ref.column());
            if (v == null) {
                return new Resolution(null, null, label + (ref.nullSafe() ? "?" : ""));
            }
            if (v.isNull()) {
                if (ref.nullSafe()) {
                    return new Resolution(Value.NULL, null, null);
                }
                throw new GraphException(label + " is NULL");
            }
            return new Resolution(Value.of(v), null, null);
        }

        private RowSet rowSetOf(String n) {
            JsonNode rows = rowsOf(ctx.results().get(n));
            if (rows == null) {
                throw new GraphException("$" + n + ".* — invalid result format");
            }
            if (rows.size() > MAX_ROWSET_ROWS) {
                throw new GraphException("$" + n + ".* — result has " + rows.size() + " rows, exceeding the"
                        + " maximum of " + MAX_ROWSET_ROWS + " for row-set expansion. Use pagination or"
                        + " intermediate tables for large result sets.");
            }
            if (rows.isEmpty()) {
                return new RowSet(n, List.of(), List.of());
            }
            if (!rows.get(0).isObject()) {
                throw new GraphException("$" + n + ".* — row is not an object");
            }
            List<String> columns = new ArrayList<>();
            rows.get(0).fieldNames().forEachRemaining(columns::add);
            if (columns.isEmpty()) {
                throw new GraphException("$" + n + ".* — the first row has no columns");
            }
            List<List<Value>> out = new ArrayList<>(rows.size());
            for (JsonNode row : rows) {
                if (!row.isObject()) {
                    throw new GraphException("$" + n + ".* — row is not an object");
                }
                List<Value> cells = new ArrayList<>(columns.size());
                for (String col : columns) {
                    cells.add(Value.of(row.get(col)));
                }
                out.add(cells);
            }
            return new RowSet(n, columns, out);
        }

        private static int identifierEnd(String s, int from, int to) {
            if (from >= to || !isAsciiIdentStart(s.charAt(from))) {
                return from;
            }
            int j = from + 1;
            while (j < to && isAsciiIdentCont(s.charAt(j))) {
                j++;
            }
            return j;
        }

        private static boolean isAsciiIdentStart(char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        }

        private static boolean isAsciiIdentCont(char c) {
            return isAsciiIdentStart(c) || (c >= '0' && c <= '9');
        }
    }
}
