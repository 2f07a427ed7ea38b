package io.pgdurable.graph.sql;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A SQL string split into the lexical regions PostgreSQL sees: bare code, string literals,
 * quoted identifiers, dollar-quoted strings and comments.
 *
 * <p>The rules are PostgreSQL's own (scan.l) with {@code standard_conforming_strings} on:
 * <ul>
 *   <li>{@code '…'} and {@code N'…'}: {@code ''} is a quote, backslash is an ordinary character;
 *   <li>{@code E'…'}: backslash escapes the next character, {@code ''} is a quote;
 *   <li>{@code U&'…'}, {@code B'…'}, {@code X'…'}: quotes as in {@code '…'};
 *   <li>a literal followed by whitespace containing a newline (line comments allowed) and another
 *       {@code '…'} continues in the same kind; each segment is its own region, the whitespace
 *       between them is code and the comments are comments;
 *   <li>{@code "…"} and {@code U&"…"}: {@code ""} is a quote;
 *   <li>{@code $tag$…$tag$} (empty tag allowed) where {@code $} does not continue an identifier;
 *   <li>{@code --} to the end of the line, and {@code /* … *}{@code /}, which nest.
 * </ul>
 * A prefix letter belongs to the literal only when it starts a token: in {@code xE'a'} the
 * literal is a plain {@code '…'}. An unterminated literal, identifier or comment runs to the end
 * of the text, as PostgreSQL would reject it anyway.
 *
 * <p>Statements are split at a bare {@code ;} outside parentheses. Inside the body of
 * {@code CREATE FUNCTION|PROCEDURE … BEGIN ATOMIC … END} semicolons do not split, following
 * both psql's rule (BEGIN/CASE … END nesting) and pgjdbc's (no split after BEGIN ATOMIC): a
 * semicolon splits unless both say it does not, so the count is never lower than the number of
 * statements pgjdbc would send. Pieces holding only whitespace and comments are not statements.
 */
public final class SqlText {

    /** What a region of the text is. */
    public enum Kind {
        /** Bare SQL: keywords, names, operators, numbers, punctuation, whitespace. */
        CODE,
        /** {@code '…'} or {@code N'…'}. */
        STRING,
        /** {@code E'…'}: backslash escapes. */
        ESCAPE_STRING,
        /** {@code U&'…'}: backslash (or the UESCAPE character) introduces a Unicode escape. */
        UNICODE_STRING,
        /** {@code B'…'} or {@code X'…'}. */
        BIT_STRING,
        /** {@code $tag$…$tag$}. */
        DOLLAR_STRING,
        /** {@code "…"}. */
        IDENTIFIER,
        /** {@code U&"…"}. */
        UNICODE_IDENTIFIER,
        /** {@code -- …} or {@code /* … *}{@code /}. */
        COMMENT
    }

    /**
     * One region: {@code [start, end)} in the text, with its content (between the opening and
     * closing delimiters) at {@code [contentStart, contentEnd)}. For CODE and COMMENT the content
     * is the whole region. {@code delimiter} is the dollar-quote tag including both {@code $}
     * (e.g. {@code $fn$}) for DOLLAR_STRING, else null. {@code terminated} is false when the text
     * ends before the region's closing delimiter.
     */
    public record Region(Kind kind, int start, int end, int contentStart, int contentEnd,
                         String delimiter, boolean terminated) {
    }

    private static final Set<String> TRANSACTION_CONTROL =
            Set.of("BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE");
    /** Statements that send no rows unless they have a RETURNING clause. */
    private static final Set<String> ROWLESS_WRITES = Set.of("INSERT", "UPDATE", "DELETE", "MERGE");

    /**
     * Lexed texts by their text. A workflow's steps keep the same SQL from instance to instance
     * (values go in as bind parameters), and each step's text is lexed several times on its way
     * (checks, substitution, identifier positions); the cache makes that once per distinct text.
     * Bounded: texts up to {@value #CACHE_MAX_CHARS} characters, at most {@value #CACHE_MAX_ENTRIES}
     * of them, all dropped when it is full. A lexed text holds the text's analysis only, the same
     * for every role.
     */
    static final int CACHE_MAX_ENTRIES = 1_024;
    static final int CACHE_MAX_CHARS = 16_384;
    private static final Map<String, SqlText> CACHE = new ConcurrentHashMap<>();

    private final String sql;
    private final List<Region> regions;
    private final List<int[]> statements;
    private volatile Set<Integer> identifierPositions;
    private volatile Boolean writeWithoutRows;
    private volatile Boolean sortList;

    private SqlText(String sql) {
        this.sql = sql;
        this.regions = List.copyOf(new Lexer(sql).run());
        this.statements = List.copyOf(splitStatements());
    }

    /** Lexes {@code sql}. */
    public static SqlText of(String sql) {
        Objects.requireNonNull(sql, "sql");
        SqlText cached = CACHE.get(sql);
        if (cached != null) {
            return cached;
        }
        SqlText text = new SqlText(sql);
        if (sql.length() <= CACHE_MAX_CHARS) {
            if (CACHE.size() >= CACHE_MAX_ENTRIES) {
                CACHE.clear();
            }
            CACHE.put(sql, text);
        }
        return text;
    }

    /**
     * Lexes {@code sql} through the cache when it is there, without entering it otherwise: for a
     * text that may be seen once (a step's text after substitution often differs per workflow),
     * which entering would push out the texts that recur.
     */
    static SqlText peek(String sql) {
        Objects.requireNonNull(sql, "sql");
        SqlText cached = CACHE.get(sql);
        return cached != null ? cached : new SqlText(sql);
    }

    /** How many lexed texts the cache holds now. */
    static int cachedTexts() {
        return CACHE.size();
    }

    /** {@link IdentifierPositions#of} of this text, computed once. */
    Set<Integer> identifierPositions() {
        Set<Integer> positions = identifierPositions;
        if (positions == null) {
            positions = Set.copyOf(IdentifierPositions.of(this));
            identifierPositions = positions;
        }
        return positions;
    }

    /** The text this was made from. */
    public String sql() {
        return sql;
    }

    /** The regions in order; together they cover the whole text without overlap. */
    public List<Region> regions() {
        return regions;
    }

    /** The text of a region. */
    public String text(Region region) {
        return sql.substring(region.start(), region.end());
    }

    /** The content of a region, without its delimiters. */
    public String content(Region region) {
        return sql.substring(region.contentStart(), region.contentEnd());
    }

    /** How many statements the text holds; 0 for empty, blank or comment-only text. */
    public int statementCount() {
        return statements.size();
    }

    /** Each statement's text without its terminating semicolon, stripped of surrounding whitespace. */
    public List<String> statements() {
        List<String> out = new ArrayList<>(statements.size());
        for (int[] s : statements) {
            out.add(sql.substring(s[0], s[1]).strip());
        }
        return out;
    }

    /**
     * The first keyword of the first statement, upper-cased: the first token after leading
     * whitespace and comments, if that token is a name or keyword. Null when there is no
     * statement or it starts with something else (a parenthesis, a quoted identifier, ...).
     */
    public String firstKeyword() {
        return statements.isEmpty() ? null : keywordAt(statements.get(0)[0], statements.get(0)[1], 0);
    }

    /**
     * Whether this text is one {@code INSERT}, {@code UPDATE}, {@code DELETE} or {@code MERGE}
     * statement with no {@code RETURNING} anywhere in its bare SQL, every string, identifier and
     * comment closed. Run through pgjdbc's extended protocol such a statement never returns a
     * result set (rows a rule's {@code SELECT} action makes are not sent), so its result as a
     * step is known before it runs. Conservative: a statement starting with {@code WITH}, or one
     * with the word {@code RETURNING} in a subquery, says false.
     */
    public boolean isWriteWithoutRows() {
        Boolean known = writeWithoutRows;
        if (known == null) {
            known = computeWriteWithoutRows();
            writeWithoutRows = known;
        }
        return known;
    }

    /**
     * {@link #isWriteWithoutRows()} of {@code sql}, lexed as {@link #peek} does.
     */
    public static boolean isWriteWithoutRows(String sql) {
        return peek(sql).isWriteWithoutRows();
    }

    /**
     * Whether the bare SQL holds {@code ORDER BY}, {@code GROUP BY} or {@code DISTINCT}, whose
     * lists tell a string constant from any other expression; computed once.
     */
    public boolean hasSortList() {
        Boolean known = sortList;
        if (known == null) {
            known = computeSortList();
            sortList = known;
        }
        return known;
    }

    private boolean computeSortList() {
        String previous = "";
        for (Region r : regions) {
            if (r.kind() == Kind.COMMENT) {
                continue;
            }
            if (r.kind() != Kind.CODE) {
                previous = "";
                continue;
            }
            int i = r.start();
            while (i < r.end()) {
                char c = sql.charAt(i);
                if (!isIdentStart(c)) {
                    if (!isSpace(c)) {
                        previous = "";
                    }
                    i++;
                    continue;
                }
                int j = i + 1;
                while (j < r.end() && isIdentCont(sql.charAt(j))) {
                    j++;
                }
                String word = sql.substring(i, j).toUpperCase(Locale.ROOT);
                if (word.equals("DISTINCT") || (word.equals("BY") && (previous.equals("ORDER")
                        || previous.equals("GROUP")))) {
                    return true;
                }
                previous = word;
                i = j;
            }
        }
        return false;
    }

    private boolean computeWriteWithoutRows() {
        String first = firstKeyword();
        if (statements.size() != 1 || first == null || !ROWLESS_WRITES.contains(first)) {
            return false;
        }
        for (Region r : regions) {
            if (!r.terminated()) {
                return false;
            }
            if (r.kind() == Kind.CODE && containsWord(r, "RETURNING")) {
                return false;
            }
        }
        return true;
    }

    /** Whether a CODE region holds {@code word} (upper case) as a whole name or keyword. */
    private boolean containsWord(Region r, String word) {
        int i = r.start();
        while (i < r.end()) {
            if (isIdentStart(sql.charAt(i))) {
                int j = i + 1;
                while (j < r.end() && isIdentCont(sql.charAt(j))) {
                    j++;
                }
                if (j - i == word.length() && sql.regionMatches(true, i, word, 0, word.length())) {
                    return true;
                }
                i = j;
            } else {
                i++;
            }
        }
        return false;
    }

    /**
     * True when a statement of {@code sql} manages the transaction itself: BEGIN, START
     * TRANSACTION, COMMIT (also COMMIT PREPARED), END, ROLLBACK (also ROLLBACK PREPARED, ROLLBACK
     * TO SAVEPOINT), ABORT, SAVEPOINT, RELEASE [SAVEPOINT] or PREPARE TRANSACTION. Keywords are
     * matched case-insensitively after leading whitespace and comments; PREPARE of a statement and
     * START of anything but TRANSACTION do not count.
     */
    public static boolean isTransactionControl(String sql) {
        SqlText text = of(sql);
        for (int[] s : text.statements) {
            String first = text.keywordAt(s[0], s[1], 0);
            if (first == null) {
                continue;
            }
            if (TRANSACTION_CONTROL.contains(first)) {
                return true;
            }
            if ((first.equals("START") || first.equals("PREPARE"))
                    && "TRANSACTION".equals(text.keywordAt(s[0], s[1], 1))) {
                return true;
            }
        }
        return false;
    }

    /** The n-th (0-based) token of the statement at [from, to) if it and all before it are words. */
    private String keywordAt(int from, int to, int n) {
        int seen = 0;
        for (Region r : regions) {
            if (r.end() <= from || r.start() >= to) {
                continue;
            }
            if (r.kind() == Kind.COMMENT) {
                continue;
            }
            if (r.kind() != Kind.CODE) {
                return null;
            }
            int i = Math.max(r.start(), from);
            int end = Math.min(r.end(), to);
            while (i < end) {
                char c = sql.charAt(i);
                if (isSpace(c)) {
                    i++;
                } else if (isIdentStart(c)) {
                    int j = i + 1;
                    while (j < end && isIdentCont(sql.charAt(j))) {
                        j++;
                    }
                    if (seen == n) {
                        return sql.substring(i, j).toUpperCase(Locale.ROOT);
                    }
                    seen++;
                    i = j;
                } else {
                    return null;
                }
            }
        }
        return null;
    }

    private List<int[]> splitStatements() {
        List<int[]> out = new ArrayList<>();
        StatementState st = new StatementState();
        int start = 0;
        boolean nonEmpty = false;
        for (Region r : regions) {
            if (r.kind() == Kind.COMMENT) {
                continue;
            }
            if (r.kind() != Kind.CODE) {
                nonEmpty = true;
                continue;
            }
            int i = r.start();
            while (i < r.end()) {
                char c = sql.charAt(i);
                if (isIdentStart(c)) {
                    int j = i + 1;
                    while (j < r.end() && isIdentCont(sql.charAt(j))) {
                        j++;
                    }
                    st.word(sql.substring(i, j));
                    nonEmpty = true;
                    i = j;
                    continue;
                }
                if (c == ';' && st.splitsHere()) {
                    if (nonEmpty) {
                        out.add(new int[] {start, i});
                    }
                    start = i + 1;
                    nonEmpty = false;
                    st.newStatement();
                } else if (c == '(') {
                    st.parenDepth++;
                    nonEmpty = true;
                } else if (c == ')') {
                    if (st.parenDepth > 0) {
                        st.parenDepth--;
                    }
                    nonEmpty = true;
                } else if (!isSpace(c)) {
                    nonEmpty = true;
                }
                i++;
            }
        }
        if (nonEmpty) {
            out.add(new int[] {start, sql.length()});
        }
        return out;
    }

    /** Per-statement state for the BEGIN ATOMIC rules of psql and pgjdbc. */
    private static final class StatementState {
        int parenDepth;
        // psql: statement starts CREATE [OR REPLACE] FUNCTION|PROCEDURE; BEGIN/CASE/END nesting.
        final List<String> leadingWords = new ArrayList<>();
        int beginDepth;
        // pgjdbc: first keyword CREATE, then BEGIN immediately followed by ATOMIC; never reset.
        boolean create;
        boolean lastWasBegin;
        boolean pgjdbcAtomic;

        void newStatement() {
            parenDepth = 0;
            leadingWords.clear();
            beginDepth = 0;
            create = false;
            lastWasBegin = false;
        }

        void word(String w) {
            String u = w.toUpperCase(Locale.ROOT);
            boolean first = leadingWords.isEmpty();
            if (leadingWords.size() < 4) {
                leadingWords.add(u);
            }
            if (first) {
                create = u.equals("CREATE");
            } else if (create) {
                if (lastWasBegin && u.equals("ATOMIC")) {
                    pgjdbcAtomic = true;
                }
                lastWasBegin = u.equals("BEGIN");
            }
            if (createsRoutine() && parenDepth == 0) {
                switch (u) {
                    case "BEGIN" -> beginDepth++;
                    case "CASE" -> beginDepth += beginDepth >= 1 ? 1 : 0;
                    case "END" -> beginDepth -= beginDepth > 0 ? 1 : 0;
                    default -> { }
                }
            }
        }

        private boolean createsRoutine() {
            if (leadingWords.size() < 2 || !leadingWords.get(0).equals("CREATE")) {
                return false;
            }
            String second = leadingWords.get(1);
            if (second.equals("FUNCTION") || second.equals("PROCEDURE")) {
                return true;
            }
            return leadingWords.size() >= 4 && second.equals("OR") && leadingWords.get(2).equals("REPLACE")
                    && (leadingWords.get(3).equals("FUNCTION") || leadingWords.get(3).equals("PROCEDURE"));
        }

        boolean splitsHere() {
            if (parenDepth != 0) {
                return false;
            }
            return !(beginDepth > 0 && pgjdbcAtomic);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Character classes (PostgreSQL's scan.l; every non-ASCII character counts as a letter)
    // ---------------------------------------------------------------------------------------

    static boolean isIdentStart(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    }

    static boolean isIdentCont(char c) {
        return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$';
    }

    static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\u000B';
    }

    private static boolean isHorizSpace(char c) {
        return c == ' ' || c == '\t' || c == '\f' || c == '\u000B';
    }

    private static boolean isNewline(char c) {
        return c == '\n' || c == '\r';
    }

    private static boolean isDollarTagStart(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    }

    private static boolean isDollarTagCont(char c) {
        return isDollarTagStart(c) || (c >= '0' && c <= '9');
    }

    /**
     * The dollar-quote delimiter (e.g. {@code $$} or {@code $fn$}) starting at {@code i}, or null
     * if the {@code $} there does not open one. The caller makes sure the {@code $} does not
     * continue an identifier.
     */
    static String dollarDelimiterAt(String s, int i) {
        int n = s.length();
        if (i + 1 >= n || s.charAt(i) != '$') {
            return null;
        }
        if (s.charAt(i + 1) == '$') {
            return "$$";
        }
        if (!isDollarTagStart(s.charAt(i + 1))) {
            return null;
        }
        int j = i + 2;
        while (j < n && isDollarTagCont(s.charAt(j))) {
            j++;
        }
        return j < n && s.charAt(j) == '$' ? s.substring(i, j + 1) : null;
    }

    /** Turns the text into regions. */
    private static final class Lexer {
        private final String s;
        private final int n;
        private final List<Region> out = new ArrayList<>();
        private int codeStart;

        Lexer(String s) {
            this.s = s;
            this.n = s.length();
        }

        List<Region> run() {
            int i = 0;
            while (i < n) {
                char c = s.charAt(i);
                char next = i + 1 < n ? s.charAt(i + 1) : '\0';
                if (c == '-' && next == '-') {
                    flushCode(i);
                    i = lineComment(i);
                } else if (c == '/' && next == '*') {
                    flushCode(i);
                    i = blockComment(i);
                } else if (c == '\'') {
                    flushCode(i);
                    i = quoted(Kind.STRING, i, i + 1);
                } else if (c == '"') {
                    flushCode(i);
                    i = identifier(Kind.IDENTIFIER, i, i + 1);
                } else if (c == '$' && dollarDelimiterAt(s, i) != null) {
                    flushCode(i);
                    i = dollar(i, dollarDelimiterAt(s, i));
                } else if (isIdentStart(c)) {
                    i = word(i);
                } else {
                    i++;
                }
            }
            flushCode(n);
            return out;
        }

        /** A name or keyword starting at i; a one-letter prefix may open a literal instead. */
        private int word(int i) {
            int j = i + 1;
            while (j < n && isIdentCont(s.charAt(j))) {
                j++;
            }
            if (j == i + 1 && j < n) {
                char p = Character.toUpperCase(s.charAt(i));
                char q = s.charAt(j);
                if (q == '\'') {
                    Kind kind = switch (p) {
                        case 'E' -> Kind.ESCAPE_STRING;
                        case 'B', 'X' -> Kind.BIT_STRING;
                        case 'N' -> Kind.STRING;
                        default -> null;
                    };
                    if (kind != null) {
                        flushCode(i);
                        return quoted(kind, i, j + 1);
                    }
                } else if (p == 'U' && q == '&' && j + 1 < n) {
                    if (s.charAt(j + 1) == '\'') {
                        flushCode(i);
                        return quoted(Kind.UNICODE_STRING, i, j + 2);
                    }
                    if (s.charAt(j + 1) == '"') {
                        flushCode(i);
                        return identifier(Kind.UNICODE_IDENTIFIER, i, j + 2);
                    }
                }
            }
            return j;
        }

        private void flushCode(int upTo) {
            if (upTo > codeStart) {
                out.add(new Region(Kind.CODE, codeStart, upTo, codeStart, upTo, null, true));
            }
            codeStart = upTo;
        }

        private void add(Region r) {
            out.add(r);
            codeStart = r.end();
        }

        private int lineComment(int i) {
            int j = i + 2;
            while (j < n && !isNewline(s.charAt(j))) {
                j++;
            }
            add(new Region(Kind.COMMENT, i, j, i, j, null, true));
            return j;
        }

        private int blockComment(int i) {
            int depth = 1;
            int j = i + 2;
            while (j < n && depth > 0) {
                if (s.charAt(j) == '/' && j + 1 < n && s.charAt(j + 1) == '*') {
                    depth++;
                    j += 2;
                } else if (s.charAt(j) == '*' && j + 1 < n && s.charAt(j + 1) == '/') {
                    depth--;
                    j += 2;
                } else {
                    j++;
                }
            }
            add(new Region(Kind.COMMENT, i, j, i, j, null, depth == 0));
            return j;
        }

        /** A quoted literal of the given kind whose content starts at contentStart, with continuations. */
        private int quoted(Kind kind, int start, int contentStart) {
            while (true) {
                int j = contentStart;
                int close = -1;
                while (j < n) {
                    char c = s.charAt(j);
                    if (c == '\\' && kind == Kind.ESCAPE_STRING) {
                        j += 2;
                    } else if (c == '\'') {
                        if (j + 1 < n && s.charAt(j + 1) == '\'') {
                            j += 2;
                        } else {
                            close = j;
                            break;
                        }
                    } else {
                        j++;
                    }
                }
                if (close < 0) {
                    add(new Region(kind, start, n, contentStart, n, null, false));
                    return n;
                }
                add(new Region(kind, start, close + 1, contentStart, close, null, true));
                int next = continuation(close + 1);
                if (next < 0) {
                    return close + 1;
                }
                start = next;
                contentStart = next + 1;
            }
        }

        /**
         * If the text at i is whitespace with a newline (line comments allowed) followed by a
         * quote, records the whitespace and comments as regions and returns the quote's index;
         * otherwise returns -1 and records nothing.
         */
        private int continuation(int i) {
            int j = i;
            boolean newline = false;
            while (j < n) {
                char c = s.charAt(j);
                if (isNewline(c)) {
                    newline = true;
                    j++;
                } else if (isHorizSpace(c)) {
                    j++;
                } else if (c == '-' && j + 1 < n && s.charAt(j + 1) == '-') {
                    int e = j + 2;
                    while (e < n && !isNewline(s.charAt(e))) {
                        e++;
                    }
                    if (e == n) {
                        return -1;
                    }
                    j = e;
                } else {
                    break;
                }
            }
            if (!newline || j >= n || s.charAt(j) != '\'') {
                return -1;
            }
            int k = i;
            while (k < j) {
                if (s.charAt(k) == '-' && k + 1 < j && s.charAt(k + 1) == '-') {
                    k = lineComment(k);
                } else {
                    int e = k;
                    while (e < j && !(s.charAt(e) == '-' && e + 1 < j && s.charAt(e + 1) == '-')) {
                        e++;
                    }
                    add(new Region(Kind.CODE, k, e, k, e, null, true));
                    k = e;
                }
            }
            return j;
        }

        private int identifier(Kind kind, int start, int contentStart) {
            int j = contentStart;
            while (j < n) {
                if (s.charAt(j) == '"') {
                    if (j + 1 < n && s.charAt(j + 1) == '"') {
                        j += 2;
                        continue;
                    }
                    add(new Region(kind, start, j + 1, contentStart, j, null, true));
                    return j + 1;
                }
                j++;
            }
            add(new Region(kind, start, n, contentStart, n, null, false));
            return n;
        }

        private int dollar(int start, String delimiter) {
            int contentStart = start + delimiter.length();
            int close = s.indexOf(delimiter, contentStart);
            if (close < 0) {
                add(new Region(Kind.DOLLAR_STRING, start, n, contentStart, n, delimiter, false));
                return n;
            }
            int end = close + delimiter.length();
            add(new Region(Kind.DOLLAR_STRING, start, end, contentStart, close, delimiter, true));
            return end;
        }
    }
}
