package io.pgdurable.graph.sql;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Decides which {@code {name}} placeholders of a SQL text stand where a name (of a table, schema,
 * column, role, ...) stands, so that {@link Substitution} inserts their value as one quoted
 * identifier rather than as a string literal.
 *
 * <p>The text is read as tokens of bare SQL ({@link SqlText} has already set apart string
 * literals, quoted identifiers, dollar-quoted strings and comments; comments are skipped, a quoted
 * identifier is a name, every literal is a value). A {@code {name}} in bare SQL is in
 * <em>identifier position</em> when one of these holds, and nowhere else:
 * <ol>
 *   <li><b>qualified name:</b> the token before it is {@code .} after a name ({@code s.{t}},
 *       {@code "s".{t}}, {@code {s}.{t}}), or the token after it is {@code .} followed by a name or
 *       {@code *} ({@code {t}.col}, {@code {t}.*}); a number is not a name, so {@code 1.{x}} and
 *       {@code {x}.5} do not count;</li>
 *   <li><b>after a keyword that a name follows:</b> the token before it is {@code JOIN},
 *       {@code INTO}, {@code UPDATE}, {@code TABLE}, {@code TRUNCATE}, or {@code FROM} — FROM
 *       only where it introduces tables or roles: not in {@code IS [NOT] DISTINCT FROM}, not
 *       inside parentheses that do not start with SELECT, WITH, VALUES, TABLE, INSERT, UPDATE,
 *       DELETE or MERGE (so not in {@code extract(… FROM …)}, {@code substring(… FROM …)},
 *       {@code trim(… FROM …)}), and not at the top level of a COPY statement, where a file name
 *       follows; {@code ONLY} may stand between ({@code FROM ONLY {t}}); or the token
 *       before it is the {@code EXISTS} of {@code IF EXISTS} or {@code IF NOT EXISTS}
 *       ({@code DROP TABLE IF EXISTS {t}}, {@code CREATE SCHEMA IF NOT EXISTS {s}});</li>
 *   <li><b>after USING</b> where it names tables: in a FROM list ({@code DELETE FROM t USING {u}})
 *       and in MERGE ({@code MERGE INTO t USING {s}}), not in {@code EXECUTE … USING {value}};</li>
 *   <li><b>later items of a FROM list:</b> right after a comma at the parenthesis level of such
 *       a FROM, until the clause ends (WHERE, GROUP, HAVING, WINDOW, ORDER, LIMIT, OFFSET, FETCH,
 *       FOR, UNION, INTERSECT, EXCEPT, RETURNING, SET, CONFLICT, INTO, LOOP, THEN, or the closing
 *       parenthesis) — {@code FROM {a}, {b}}, {@code REVOKE … FROM {r1}, {r2}};</li>
 *   <li><b>a column list:</b> right after {@code (} or a comma in the parentheses that
 *       directly follow the target of {@code INSERT INTO} ({@code INSERT INTO t ({a}, {b})},
 *       also after {@code AS alias}), {@code INSERT} in MERGE or GRANT, or {@code USING} in a
 *       FROM list ({@code JOIN u USING ({a})});</li>
 *   <li><b>an UPDATE SET target:</b> right after {@code SET}, or after a comma at SET's level,
 *       in a statement (or parenthesised query) that has an UPDATE before the SET, until FROM,
 *       WHERE, RETURNING or WHEN ({@code UPDATE t SET {c} = 1, {d} = 2}); also in the
 *       parentheses of {@code SET ({a}, {b}) = …}.</li>
 * </ol>
 * Everything else is a value position, including the select list, WHERE, ORDER BY, after
 * {@code AS}, {@code ON}, {@code TO}, any other {@code USING} and {@code ::}. The rules are applied the
 * same way inside a dollar-quoted body, which {@link Substitution} lexes as SQL. They are
 * conservative: where a value could legitimately stand, the placeholder is a value.
 */
public final class IdentifierPositions {

    private enum TokenKind { WORD, QUOTED_NAME, PLACEHOLDER, NUMBER, LITERAL, PARAM, PUNCT }

    /** One token: for WORD its upper-cased text, for PUNCT the character, for PLACEHOLDER the offset of '{'. */
    private record Token(TokenKind kind, String text, int start) {
        boolean isWord(String w) {
            return kind == TokenKind.WORD && text.equals(w);
        }

        boolean isPunct(char c) {
            return kind == TokenKind.PUNCT && text.charAt(0) == c;
        }

        /** A token that can be (part of) a name: a word, a quoted identifier or a placeholder. */
        boolean isName() {
            return kind == TokenKind.WORD || kind == TokenKind.QUOTED_NAME || kind == TokenKind.PLACEHOLDER;
        }
    }

    private static final Set<String> NAME_KEYWORDS = Set.of("JOIN", "INTO", "UPDATE", "TABLE", "TRUNCATE");

    private static final Set<String> QUERY_STARTS =
            Set.of("SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE");

    private static final Set<String> FROM_LIST_ENDS = Set.of("WHERE", "GROUP", "HAVING", "WINDOW", "ORDER",
            "LIMIT", "OFFSET", "FETCH", "FOR", "UNION", "INTERSECT", "EXCEPT", "RETURNING", "SET", "CONFLICT",
            "INTO", "LOOP", "THEN");

    private static final Set<String> SET_LIST_ENDS = Set.of("FROM", "WHERE", "RETURNING", "WHEN");

    private IdentifierPositions() {
    }

    /** The offsets (of the opening {@code {}) of the placeholders of {@code text} that stand in identifier position. */
    public static Set<Integer> of(SqlText text) {
        return new Classifier(tokens(text)).run();
    }

    // ---------------------------------------------------------------------------------------
    // Tokens
    // ---------------------------------------------------------------------------------------

    private static List<Token> tokens(SqlText text) {
        String s = text.sql();
        List<Token> out = new ArrayList<>();
        for (SqlText.Region r : text.regions()) {
            switch (r.kind()) {
                case COMMENT -> { }
                case CODE -> codeTokens(s, r.start(), r.end(), out);
                case IDENTIFIER, UNICODE_IDENTIFIER -> out.add(new Token(TokenKind.QUOTED_NAME, null, r.start()));
                default -> out.add(new Token(TokenKind.LITERAL, null, r.start()));
            }
        }
        return out;
    }

    private static void codeTokens(String s, int from, int to, List<Token> out) {
        int i = from;
        while (i < to) {
            char c = s.charAt(i);
            if (SqlText.isSpace(c)) {
                i++;
            } else if (c == '{' && placeholderEnd(s, i, to) > 0) {
                out.add(new Token(TokenKind.PLACEHOLDER, null, i));
                i = placeholderEnd(s, i, to);
            } else if (SqlText.isIdentStart(c)) {
                int j = i + 1;
                while (j < to && SqlText.isIdentCont(s.charAt(j))) {
                    j++;
                }
                out.add(new Token(TokenKind.WORD, s.substring(i, j).toUpperCase(Locale.ROOT), i));
                i = j;
            } else if (isDigit(c) || (c == '.' && i + 1 < to && isDigit(s.charAt(i + 1)))) {
                i = numberEnd(s, i, to);
                out.add(new Token(TokenKind.NUMBER, null, i));
            } else if (c == '$' && i + 1 < to && SqlText.isIdentCont(s.charAt(i + 1))) {
                int j = i + 1;
                while (j < to && SqlText.isIdentCont(s.charAt(j)) && s.charAt(j) != '$') {
                    j++;
                }
                out.add(new Token(TokenKind.PARAM, null, i));
                i = j;
            } else {
                out.add(new Token(TokenKind.PUNCT, String.valueOf(c), i));
                i++;
            }
        }
    }

    /** The end of a {@code {name}} placeholder (ASCII name) starting at i, or -1. */
    private static int placeholderEnd(String s, int i, int to) {
        int j = i + 1;
        if (j >= to || !isAsciiIdentStart(s.charAt(j))) {
            return -1;
        }
        j++;
        while (j < to && (isAsciiIdentStart(s.charAt(j)) || isDigit(s.charAt(j)))) {
            j++;
        }
        return j < to && s.charAt(j) == '}' ? j + 1 : -1;
    }

    /** A numeric literal as PostgreSQL reads it: digits, an optional fraction, an optional exponent. */
    private static int numberEnd(String s, int i, int to) {
        int j = i;
        while (j < to && isDigit(s.charAt(j))) {
            j++;
        }
        if (j < to && s.charAt(j) == '.' && !(j + 1 < to && s.charAt(j + 1) == '.')) {
            j++;
            while (j < to && isDigit(s.charAt(j))) {
                j++;
            }
        }
        if (j < to && (s.charAt(j) == 'e' || s.charAt(j) == 'E')) {
            int k = j + 1;
            if (k < to && (s.charAt(k) == '+' || s.charAt(k) == '-')) {
                k++;
            }
            if (k < to && isDigit(s.charAt(k))) {
                j = k;
                while (j < to && isDigit(s.charAt(j))) {
                    j++;
                }
            }
        }
        return j;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static boolean isAsciiIdentStart(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }

    // ---------------------------------------------------------------------------------------
    // Classification
    // ---------------------------------------------------------------------------------------

    /** Where an INSERT target is in its reading: after INTO, after a name, after '.', after AS, after the alias. */
    private enum Target { NONE, NAME_EXPECTED, AFTER_NAME, ALIAS_EXPECTED, AFTER_ALIAS }

    /** A parenthesis (or bracket) level, or the statement itself at the bottom. */
    private static final class Level {
        /** True for the statement level and parentheses whose first token starts a query. */
        boolean query;
        /** The parentheses of an INSERT column list or of SET (a, b). */
        boolean columnList;
        boolean copy;
        boolean merge;
        boolean fromList;
        boolean sawUpdate;
        boolean setList;
        Target target = Target.NONE;
        int tokens;

        static Level statement() {
            Level l = new Level();
            l.query = true;
            return l;
        }
    }

    private static final class Classifier {
        private final List<Token> tokens;
        private final Set<Integer> out = new HashSet<>();
        private final Deque<Level> levels = new ArrayDeque<>();
        /** For each token index: true if the token is a keyword after which a name stands. */
        private final boolean[] namesFollow;

        Classifier(List<Token> tokens) {
            this.tokens = tokens;
            this.namesFollow = new boolean[tokens.size()];
        }

        Set<Integer> run() {
            levels.push(Level.statement());
            for (int i = 0; i < tokens.size(); i++) {
                Token t = tokens.get(i);
                Level level = levels.peek();
                boolean first = level.tokens == 0;
                level.tokens++;
                if (t.kind() == TokenKind.PLACEHOLDER && isIdentifier(i, level)) {
                    out.add(t.start());
                }
                if (t.isPunct(';')) {
                    levels.clear();
                    levels.push(Level.statement());
                    continue;
                }
                if (t.isPunct('(') || t.isPunct('[')) {
                    Level inner = new Level();
                    inner.columnList = t.isPunct('(') && opensColumnList(i, level);
                    level.target = Target.NONE;
                    levels.push(inner);
                    continue;
                }
                if (t.isPunct(')') || t.isPunct(']')) {
                    if (levels.size() > 1) {
                        levels.pop();
                    }
                    continue;
                }
                if (first && t.kind() == TokenKind.WORD) {
                    level.merge = t.text().equals("MERGE");
                    if (levels.size() == 1) {
                        level.copy = t.text().equals("COPY");
                    } else if (QUERY_STARTS.contains(t.text())) {
                        // INSERT INTO t (SELECT ...): a query, not a column list
                        level.query = true;
                        level.columnList = false;
                    }
                }
                advanceTarget(i, t, level);
                if (t.kind() == TokenKind.WORD) {
                    word(i, t.text(), level);
                }
            }
            return out;
        }

        private Token at(int i) {
            return i >= 0 && i < tokens.size() ? tokens.get(i) : null;
        }

        private boolean isWord(int i, String w) {
            Token t = at(i);
            return t != null && t.isWord(w);
        }

        private boolean isPunct(int i, char c) {
            Token t = at(i);
            return t != null && t.isPunct(c);
        }

        private void word(int i, String w, Level level) {
            if (w.equals("FROM")) {
                boolean tables = level.query && !(level.copy && levels.size() == 1) && !isWord(i - 1, "DISTINCT");
                namesFollow[i] = tables;
                if (tables) {
                    level.fromList = true;
                }
            } else if (NAME_KEYWORDS.contains(w)) {
                namesFollow[i] = true;
            } else if (w.equals("USING")) {
                // DELETE FROM t USING {u}, MERGE INTO t USING {s}; not EXECUTE ... USING {value}
                namesFollow[i] = level.fromList || level.merge;
            }
            if (FROM_LIST_ENDS.contains(w)) {
                level.fromList = false;
            }
            if (SET_LIST_ENDS.contains(w)) {
                level.setList = false;
            }
            if (w.equals("UPDATE")) {
                level.sawUpdate = true;
            } else if (w.equals("SET") && level.sawUpdate) {
                level.setList = true;
            } else if (w.equals("INTO") && isWord(i - 1, "INSERT")) {
                level.target = Target.NAME_EXPECTED;
            }
        }

        /** Follows the target name of INSERT INTO, so that the parenthesis after it is known. */
        private void advanceTarget(int i, Token t, Level level) {
            if (level.target == Target.NONE) {
                return;
            }
            level.target = switch (level.target) {
                case NAME_EXPECTED -> t.isName() ? Target.AFTER_NAME : Target.NONE;
                case AFTER_NAME -> t.isPunct('.') ? Target.NAME_EXPECTED
                        : t.isWord("AS") ? Target.ALIAS_EXPECTED : Target.NONE;
                case ALIAS_EXPECTED -> t.isName() ? Target.AFTER_ALIAS : Target.NONE;
                default -> Target.NONE;
            };
        }

        /** True if the '(' at i opens an INSERT column list, the column list of SET (a, b) or of JOIN ... USING (a, b). */
        private boolean opensColumnList(int i, Level level) {
            if (level.target == Target.AFTER_NAME || level.target == Target.AFTER_ALIAS) {
                return true;
            }
            if (isWord(i - 1, "INSERT") || (isWord(i - 1, "USING") && level.fromList)) {
                return true;
            }
            return level.setList && (isWord(i - 1, "SET") || isPunct(i - 1, ','));
        }

        private boolean isIdentifier(int i, Level level) {
            Token prev = at(i - 1);
            Token next = at(i + 1);
            if (prev == null) {
                return false;
            }
            // 1. qualified names
            if (prev.isPunct('.') && at(i - 2) != null && at(i - 2).isName()) {
                return true;
            }
            if (next != null && next.isPunct('.')) {
                Token after = at(i + 2);
                if (after != null && (after.isName() || after.isPunct('*'))) {
                    return true;
                }
            }
            // 2. after a keyword a name follows, also with ONLY between; after IF [NOT] EXISTS
            if (namesFollow[i - 1] || (prev.isWord("ONLY") && i >= 2 && namesFollow[i - 2])) {
                return true;
            }
            if (prev.isWord("EXISTS") && (isWord(i - 2, "IF") || (isWord(i - 2, "NOT") && isWord(i - 3, "IF")))) {
                return true;
            }
            // 3.-5. lists
            if (prev.isPunct(',') && (level.fromList || level.setList || level.columnList)) {
                return true;
            }
            if (prev.isPunct('(') && level.columnList && level.tokens == 1) {
                return true;
            }
            return prev.isWord("SET") && level.setList;
        }
    }
}
