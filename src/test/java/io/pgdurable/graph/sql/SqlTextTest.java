package io.pgdurable.graph.sql;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.sql.SqlText.Region;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SqlTextTest {

    /** "KIND:text" for each region, for compact assertions. */
    private static List<String> regions(String sql) {
        SqlText t = SqlText.of(sql);
        List<String> out = new ArrayList<>();
        for (Region r : t.regions()) {
            out.add(r.kind() + ":" + t.text(r));
        }
        return out;
    }

    @Test
    void regions_cover_the_text_in_order_without_gaps() {
        String sql = "SELECT 'a''b', E'c\\'d', \"x\"\"y\", $$z$$ -- c\n/* d */ FROM t";
        SqlText t = SqlText.of(sql);
        int at = 0;
        for (Region r : t.regions()) {
            assertThat(r.start()).isEqualTo(at);
            at = r.end();
        }
        assertThat(at).isEqualTo(sql.length());
    }

    @Test
    void standard_string_doubles_quotes_and_keeps_backslashes_literal() {
        assertThat(regions("SELECT 'it''s \\' x"))
                .containsExactly("CODE:SELECT ", "STRING:'it''s \\'", "CODE: x");
    }

    @Test
    void escape_string_lets_backslash_escape_a_quote() {
        assertThat(regions("SELECT E'it\\'s', e'\\\\' x"))
                .containsExactly("CODE:SELECT ", "ESCAPE_STRING:E'it\\'s'", "CODE:, ", "ESCAPE_STRING:e'\\\\'",
                        "CODE: x");
    }

    @Test
    void a_prefix_letter_opens_a_literal_only_at_the_start_of_a_token() {
        assertThat(regions("SELECT xE'a\\'")).containsExactly("CODE:SELECT xE", "STRING:'a\\'");
        assertThat(regions("SELECT _e'a'")).containsExactly("CODE:SELECT _e", "STRING:'a'");
    }

    @Test
    void unicode_bit_hex_and_national_literals_are_recognised() {
        assertThat(regions("SELECT U&'d\\0061t', u&\"x\", B'101', x'1F', N'n'")).containsExactly(
                "CODE:SELECT ", "UNICODE_STRING:U&'d\\0061t'", "CODE:, ", "UNICODE_IDENTIFIER:u&\"x\"", "CODE:, ",
                "BIT_STRING:B'101'", "CODE:, ", "BIT_STRING:x'1F'", "CODE:, ", "STRING:N'n'");
    }

    @Test
    void quoted_identifier_doubles_quotes() {
        assertThat(regions("SELECT 1 AS \"a\"\"b\", 2"))
                .containsExactly("CODE:SELECT 1 AS ", "IDENTIFIER:\"a\"\"b\"", "CODE:, 2");
    }

    @Test
    void dollar_quotes_with_and_without_tags() {
        SqlText t = SqlText.of("DO $body$ BEGIN PERFORM $$x$$; END $body$; SELECT $$a'b$$");
        assertThat(regions(t.sql())).containsExactly("CODE:DO ", "DOLLAR_STRING:$body$ BEGIN PERFORM $$x$$; END $body$",
                "CODE:; SELECT ", "DOLLAR_STRING:$$a'b$$");
        Region body = t.regions().get(1);
        assertThat(body.delimiter()).isEqualTo("$body$");
        assertThat(t.content(body)).isEqualTo(" BEGIN PERFORM $$x$$; END ");
    }

    @Test
    void dollar_after_an_identifier_character_is_part_of_the_identifier() {
        assertThat(regions("SELECT a$b$ FROM t")).containsExactly("CODE:SELECT a$b$ FROM t");
        assertThat(regions("SELECT $1, $n")).containsExactly("CODE:SELECT $1, $n");
    }

    @Test
    void comments_nest_and_line_comments_stop_at_newlines() {
        assertThat(regions("SELECT /* a /* b */ 'c' */ 1 -- x 'y'\n+ 2")).containsExactly(
                "CODE:SELECT ", "COMMENT:/* a /* b */ 'c' */", "CODE: 1 ", "COMMENT:-- x 'y'", "CODE:\n+ 2");
    }

    @Test
    void minus_and_slash_alone_are_operators() {
        assertThat(regions("SELECT 4-1/2 * 3")).containsExactly("CODE:SELECT 4-1/2 * 3");
    }

    @Test
    void unterminated_regions_run_to_the_end() {
        SqlText t = SqlText.of("SELECT 'abc");
        assertThat(regions(t.sql())).containsExactly("CODE:SELECT ", "STRING:'abc");
        assertThat(t.regions().get(1).terminated()).isFalse();
        assertThat(regions("SELECT $q$ x")).containsExactly("CODE:SELECT ", "DOLLAR_STRING:$q$ x");
        assertThat(regions("SELECT /* x")).containsExactly("CODE:SELECT ", "COMMENT:/* x");
        assertThat(regions("SELECT \"x")).containsExactly("CODE:SELECT ", "IDENTIFIER:\"x");
    }

    @Test
    void a_literal_continued_after_a_newline_keeps_its_kind() {
        // PostgreSQL reads E'a\\' '\\' across a newline as one E-string: the second part escapes too.
        assertThat(regions("SELECT E'a' -- c\n  '\\'' x")).containsExactly("CODE:SELECT ", "ESCAPE_STRING:E'a'",
                "CODE: ", "COMMENT:-- c", "CODE:\n  ", "ESCAPE_STRING:'\\''", "CODE: x");
        assertThat(regions("SELECT 'a'\n'b'")).containsExactly("CODE:SELECT ", "STRING:'a'", "CODE:\n", "STRING:'b'");
    }

    @Test
    void without_a_newline_or_with_a_block_comment_the_next_literal_is_new() {
        assertThat(regions("SELECT E'a' '\\'"))
                .containsExactly("CODE:SELECT ", "ESCAPE_STRING:E'a'", "CODE: ", "STRING:'\\'");
        assertThat(regions("SELECT E'a' /* c */\n'\\'")).containsExactly("CODE:SELECT ", "ESCAPE_STRING:E'a'",
                "CODE: ", "COMMENT:/* c */", "CODE:\n", "STRING:'\\'");
    }

    @Test
    void statements_split_on_bare_semicolons_only() {
        SqlText t = SqlText.of("SELECT ';'; SELECT \";\" -- ;\n; /* ; */ SELECT $$;$$;");
        assertThat(t.statementCount()).isEqualTo(3);
        assertThat(t.statements()).containsExactly("SELECT ';'", "SELECT \";\" -- ;", "/* ; */ SELECT $$;$$");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", ";", " ; ; ", "-- only a comment", "/* c */ ; -- d\n"})
    void empty_and_comment_only_text_has_no_statements(String sql) {
        assertThat(SqlText.of(sql).statementCount()).isZero();
        assertThat(SqlText.of(sql).firstKeyword()).isNull();
    }

    @Test
    void one_statement_with_a_trailing_semicolon_and_comment_counts_once() {
        assertThat(SqlText.of("SELECT 1; -- done").statementCount()).isEqualTo(1);
        assertThat(SqlText.of("SELECT 1;;").statementCount()).isEqualTo(1);
        assertThat(SqlText.of("SELECT 1; SELECT 2").statementCount()).isEqualTo(2);
    }

    @Test
    void semicolons_inside_parentheses_do_not_split() {
        String rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))";
        assertThat(SqlText.of(rule).statementCount()).isEqualTo(1);
        // An unbalanced closing parenthesis does not hide the next semicolon.
        assertThat(SqlText.of("SELECT 1); DROP TABLE x").statementCount()).isEqualTo(2);
    }

    @Test
    void begin_atomic_body_is_one_statement() {
        String fn = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\n"
                + "BEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT x + 1;\nEND";
        assertThat(SqlText.of(fn).statementCount()).isEqualTo(1);
        assertThat(SqlText.of(fn + ";").statementCount()).isEqualTo(1);
        assertThat(SqlText.of(fn + "; SELECT 2").statementCount()).isEqualTo(2);
        assertThat(SqlText.of("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END")
                .statementCount()).isEqualTo(1);
    }

    @Test
    void begin_without_atomic_still_splits_as_pgjdbc_would() {
        assertThat(SqlText.of("CREATE FUNCTION f() RETURNS int BEGIN; DROP TABLE x").statementCount()).isEqualTo(2);
        assertThat(SqlText.of("SELECT begin FROM t; SELECT 2").statementCount()).isEqualTo(2);
    }

    @Test
    void first_keyword_skips_whitespace_and_comments() {
        assertThat(SqlText.of("  /* x */ -- y\n  select 1").firstKeyword()).isEqualTo("SELECT");
        assertThat(SqlText.of("(SELECT 1)").firstKeyword()).isNull();
        assertThat(SqlText.of("WITH x AS (SELECT 1) SELECT * FROM x").firstKeyword()).isEqualTo("WITH");
    }

    @ParameterizedTest
    @ValueSource(strings = {"BEGIN", "begin transaction isolation level serializable", "START TRANSACTION",
            "COMMIT", "commit and chain", "END", "ROLLBACK", "rollback to savepoint s", "ABORT", "SAVEPOINT s",
            "RELEASE s", "release savepoint s", "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'",
            "ROLLBACK PREPARED 'x'", "  /* lead */ -- c\n commit", "SELECT 1; COMMIT", "BEGIN;"})
    void transaction_control_is_recognised(String sql) {
        assertThat(SqlText.isTransactionControl(sql)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"SELECT 1", "PREPARE p AS SELECT 1", "START", "SELECT 'BEGIN'", "-- COMMIT\nSELECT 1",
            "/* ROLLBACK */ SELECT 1", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "\"commit\"", "",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END", "DO $$BEGIN COMMIT; END$$",
            "committed", "VALUES (1)"})
    void other_statements_are_not_transaction_control(String sql) {
        assertThat(SqlText.isTransactionControl(sql)).isFalse();
    }

    @Test
    void a_text_is_lexed_once_and_its_analysis_shared() {
        String sql = "SELECT " + System.nanoTime() + " FROM playground.{table_name}";
        SqlText first = SqlText.of(sql);
        assertThat(SqlText.of(new String(sql))).isSameAs(first);
        assertThat(first.identifierPositions()).isEqualTo(IdentifierPositions.of(first))
                .isSameAs(first.identifierPositions()).isNotEmpty();
    }

    @Test
    void long_texts_are_lexed_each_time_and_the_cache_stays_bounded() {
        String longSql = "SELECT '" + "x".repeat(SqlText.CACHE_MAX_CHARS) + "'";
        assertThat(SqlText.of(longSql)).isNotSameAs(SqlText.of(longSql));
        for (int k = 0; k < SqlText.CACHE_MAX_ENTRIES + 10; k++) {
            assertThat(SqlText.of("SELECT " + k).statementCount()).isEqualTo(1);
        }
        assertThat(SqlText.cachedTexts()).isLessThanOrEqualTo(SqlText.CACHE_MAX_ENTRIES);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "INSERT INTO t VALUES (1)",
        "  /* note */ insert into t select * from s",
        "UPDATE t SET a = 'RETURNING b' WHERE c = ?",
        "DELETE FROM t WHERE \"returning\" = 1;",
        "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
        "INSERT INTO t VALUES ($$ returning $$) -- returning nothing",
        "insert into t values (1) -- a note at the end"})
    void a_write_without_returning_returns_no_rows(String sql) {
        assertThat(SqlText.of(sql).isWriteWithoutRows()).as(sql).isTrue();
        assertThat(SqlText.isWriteWithoutRows(sql + " ")).as("uncached: %s", sql).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "INSERT INTO t VALUES (1) RETURNING a",
        "delete from t returning *",
        "UPDATE t SET a = 1 WHERE b IN (SELECT b FROM s) Returning a",
        "WITH d AS (DELETE FROM s RETURNING a) INSERT INTO t SELECT a FROM d",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "SELECT 1",
        "CALL p()",
        "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)",
        "INSERT INTO t VALUES (1) /* never closed",
        "INSERT INTO t VALUES ('never closed",
        "\"INSERT\" INTO t VALUES (1)",
        ""})
    void anything_else_may_return_rows(String sql) {
        assertThat(SqlText.of(sql).isWriteWithoutRows()).as(sql).isFalse();
        assertThat(SqlText.isWriteWithoutRows(sql + " ")).as("uncached: %s", sql).isFalse();
    }

    @Test
    void telling_a_write_without_rows_by_its_text_leaves_the_cache_as_it_was() {
        String sql = "INSERT INTO t VALUES ('" + java.util.UUID.randomUUID() + "')";
        int before = SqlText.cachedTexts();

        assertThat(SqlText.isWriteWithoutRows(sql)).isTrue();

        assertThat(SqlText.cachedTexts()).isEqualTo(before);
    }

    @ParameterizedTest
    @ValueSource(strings = {"SELECT a FROM t ORDER BY a", "select a from t group\n  by a", "SELECT DISTINCT a FROM t",
        "SELECT DISTINCT ON (a) a FROM t", "SELECT a FROM t ORDER /* x */ BY a", "SELECT array_agg(a order by a) FROM t"})
    void a_sort_list_is_found_in_bare_sql(String sql) {
        assertThat(SqlText.of(sql).hasSortList()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"SELECT 'ORDER BY' FROM t", "SELECT a FROM t -- ORDER BY a\n", "SELECT \"order\" by_x FROM t",
        "SELECT a FROM t WHERE order_id = 1 AND by = 2", "SELECT $$ GROUP BY $$", "SELECT a FROM t ORDER x BY"})
    void words_in_strings_comments_names_or_apart_are_no_sort_list(String sql) {
        assertThat(SqlText.of(sql).hasSortList()).isFalse();
    }
}
