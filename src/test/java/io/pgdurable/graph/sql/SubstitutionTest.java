package io.pgdurable.graph.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.graph.sql.BindValue.Type;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

public class SubstitutionTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    public static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (Exception e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    /** A SQL result with one row whose columns are given as alternating names and JSON texts. */
    static JsonNode row(String... namesAndJson) {
        ObjectNode r = JSON.createObjectNode();
        for (int i = 0; i < namesAndJson.length; i += 2) {
            r.set(namesAndJson[i], json(namesAndJson[i + 1]));
        }
        ObjectNode out = JSON.createObjectNode();
        out.putArray("rows").add(r);
        out.put("row_count", 1);
        return out;
    }

    static JsonNode noRows() {
        return json("{\"rows\":[],\"row_count\":0}");
    }

    private final Map<String, String> vars = new LinkedHashMap<>();
    private final Map<String, JsonNode> results = new LinkedHashMap<>();
    private String label = "nightly";

    private PreparedSql prepare(String sql) {
        return Substitution.prepare(sql, new SubstitutionContext(vars, "ab12cd34", label, results));
    }

    private static List<Object> values(PreparedSql p) {
        return p.params().stream().map(BindValue::value).toList();
    }

    @Test
    void numbers_and_booleans_are_typed_parameters_as_literals_would_be_typed() {
        results.put("n", row("a", "2147483647", "b", "2147483648", "c", "-1", "d", "1e3", "e", "false"));
        PreparedSql p = prepare("SELECT $n.a, $n.b, $n.c, $n.d, $n.e");
        assertThat(p.sql()).isEqualTo("SELECT ?, ?, ?, ?, ?");
        assertThat(p.params()).containsExactly(new BindValue(Type.INTEGER, Integer.MAX_VALUE),
                new BindValue(Type.BIGINT, 2147483648L), new BindValue(Type.INTEGER, -1),
                new BindValue(Type.NUMERIC, new BigDecimal("1000.0")), new BindValue(Type.BOOLEAN, false));
    }

    // ---------------------------------------------------------------------------------------
    // Plain SQL and question marks
    // ---------------------------------------------------------------------------------------

    @Test
    void sql_without_placeholders_is_unchanged() {
        PreparedSql p = prepare("SELECT a, 'b', \"c\" FROM t WHERE x = 1 -- note\n");
        assertThat(p.sql()).isEqualTo("SELECT a, 'b', \"c\" FROM t WHERE x = 1 -- note\n");
        assertThat(p.params()).isEmpty();
    }

    @Test
    void question_marks_in_bare_sql_are_escaped_for_pgjdbc_but_nowhere_else() {
        PreparedSql p = prepare("SELECT d ? 'k', d ?| array['a'], d ?& b, '?', \"?\", $$?$$ /* ? */ -- ?\n");
        assertThat(p.sql()).isEqualTo("SELECT d ?? 'k', d ??| array['a'], d ??& b, '?', \"?\", $$?$$ /* ? */ -- ?\n");
    }

    @Test
    void a_parameter_next_to_a_question_mark_stays_a_separate_parameter() {
        results.put("a", row("c", "1"));
        results.put("b", row("c", "2"));
        assertThat(prepare("SELECT d ?$a").sql()).isEqualTo("SELECT d ?? ?");
        assertThat(prepare("SELECT ($a?$b)").sql()).isEqualTo("SELECT (? ?)");
        vars.put("v", "x");
        assertThat(prepare("SELECT {v}?'k', d ?{v}").sql()).isEqualTo("SELECT 'x'??'k', d ??'x'");
    }

    // ---------------------------------------------------------------------------------------
    // {name} and sys values
    // ---------------------------------------------------------------------------------------

    @Test
    void variable_in_bare_sql_becomes_an_escaped_literal() {
        vars.put("batch_size", "100");
        vars.put("name", "O'Brien");
        PreparedSql p = prepare("SELECT * FROM t WHERE name = {name} LIMIT {batch_size}::int");
        assertThat(p.sql()).isEqualTo("SELECT * FROM t WHERE name = 'O''Brien' LIMIT '100'::int");
        assertThat(p.params()).isEmpty();
    }

    @Test
    void unknown_or_malformed_braces_stay_verbatim() {
        vars.put("known", "k");
        PreparedSql p = prepare("SELECT '{unknown} {1x} { known} {known } {known', '{known}'");
        assertThat(p.sql()).isEqualTo("SELECT '{unknown} {1x} { known} {known } {known', 'k'");
    }

    @Test
    void sys_values_and_a_missing_label() {
        PreparedSql p = prepare("SELECT {sys_instance_id}, '{sys_label}'");
        assertThat(p.sql()).isEqualTo("SELECT 'ab12cd34', 'nightly'");
        label = null;
        assertThat(prepare("SELECT {sys_label}").sql()).isEqualTo("SELECT ''");
        assertThat(prepare("SELECT 'x{sys_label}y'").sql()).isEqualTo("SELECT 'xy'");
    }

    @Test
    void sys_names_win_over_user_variables_of_the_same_name() {
        vars.put("sys_instance_id", "spoofed");
        assertThat(prepare("SELECT {sys_instance_id}").sql()).isEqualTo("SELECT 'ab12cd34'");
    }

    @Test
    void values_are_escaped_for_the_quotes_they_stand_in() {
        vars.put("v", "it's a \\ \"q\"");
        assertThat(prepare("SELECT '{v}'").sql()).isEqualTo("SELECT 'it''s a \\ \"q\"'");
        assertThat(prepare("SELECT E'{v}'").sql()).isEqualTo("SELECT E'it''s a \\\\ \"q\"'");
        assertThat(prepare("SELECT 1 AS \"{v}\"").sql()).isEqualTo("SELECT 1 AS \"it's a \\ \"\"q\"\"\"");
        assertThat(prepare("SELECT 1 AS N'{v}'").sql()).isEqualTo("SELECT 1 AS N'it''s a \\ \"q\"'");
    }

    @Test
    void a_backslash_escaped_character_in_an_escape_string_does_not_start_a_placeholder() {
        vars.put("v", "'; DROP TABLE x; --");
        assertThat(prepare("SELECT E'\\{v}', E'\\\\{v}', E'\\$'").sql())
                .isEqualTo("SELECT E'\\{v}', E'\\\\''; DROP TABLE x; --', E'\\$'");
    }

    @Test
    void continued_escape_string_segments_escape_backslashes_too() {
        vars.put("v", "\\'");
        assertThat(prepare("SELECT E'a'\n'{v}'").sql()).isEqualTo("SELECT E'a'\n'\\\\'''");
        assertThat(prepare("SELECT 'a'\n'{v}'").sql()).isEqualTo("SELECT 'a'\n'\\'''");
    }

    @Test
    void comments_are_never_substituted() {
        vars.put("v", "x");
        results.put("n", noRows());
        PreparedSql p = prepare("SELECT 1 -- {v} $n\n/* {v} $n */");
        assertThat(p.sql()).isEqualTo("SELECT 1 -- {v} $n\n/* {v} $n */");
        assertThat(p.params()).isEmpty();
    }

    @Test
    void a_variable_glued_to_a_name_is_refused() {
        vars.put("suffix", "2024");
        assertThatThrownBy(() -> prepare("SELECT * FROM report_{suffix}"))
                .isInstanceOf(GraphException.class)
                .hasMessageStartingWith("{suffix} cannot be substituted there: in SQL code a value stands on its own");
        assertThatThrownBy(() -> prepare("SELECT {suffix}abc")).isInstanceOf(GraphException.class);
        assertThat(prepare("SELECT * FROM \"report_{suffix}\"").sql()).isEqualTo("SELECT * FROM \"report_2024\"");
        assertThatThrownBy(() -> prepare("SELECT * FROM {suffix}_archive"))
                .hasMessageStartingWith("{suffix} cannot be substituted there: in SQL code a value stands on its own");
    }

    // ---------------------------------------------------------------------------------------
    // {name} where a name stands
    // ---------------------------------------------------------------------------------------

    @Test
    void a_variable_where_a_name_stands_becomes_one_quoted_identifier_and_elsewhere_stays_a_value() {
        vars.put("table_name", "users");
        vars.put("limit_val", "5");
        PreparedSql p = prepare("SELECT name FROM playground.{table_name} LIMIT {limit_val}::int");
        assertThat(p.sql()).isEqualTo("SELECT name FROM playground.\"users\" LIMIT '5'::int");
        assertThat(p.params()).isEmpty();
        assertThat(prepare("INSERT INTO playground.logs (msg) VALUES ('Fetched from {table_name}')").sql())
                .isEqualTo("INSERT INTO playground.logs (msg) VALUES ('Fetched from users')");
        assertThat(prepare("SELECT {table_name}.id, {table_name} FROM {table_name} WHERE name = {table_name}").sql())
                .isEqualTo("SELECT \"users\".id, 'users' FROM \"users\" WHERE name = 'users'");
    }

    @Test
    void a_name_keeps_its_case_and_every_character_with_double_quotes_doubled() {
        vars.put("t", "Odd \"Name\"; DROP TABLE x; --");
        vars.put("c", "Größe");
        assertThat(prepare("UPDATE {t} SET {c} = 1").sql())
                .isEqualTo("UPDATE \"Odd \"\"Name\"\"; DROP TABLE x; --\" SET \"Größe\" = 1");
        assertThat(prepare("INSERT INTO t ({c}) VALUES ({c})").sql())
                .isEqualTo("INSERT INTO t (\"Größe\") VALUES ('Größe')");
    }

    @Test
    void a_variable_inside_a_quoted_identifier_is_text_of_that_identifier_as_before() {
        vars.put("t", "a\"b");
        assertThat(prepare("SELECT * FROM \"{t}\", \"x_{t}\"").sql()).isEqualTo("SELECT * FROM \"a\"\"b\", \"x_a\"\"b\"");
    }

    @Test
    void a_name_is_kept_apart_from_a_following_quoted_identifier() {
        vars.put("t", "users");
        assertThat(prepare("SELECT * FROM {t}\"u\"").sql()).isEqualTo("SELECT * FROM \"users\" \"u\"");
    }

    @Test
    void names_are_found_inside_a_dollar_quoted_body_too() {
        vars.put("t", "logs");
        vars.put("c", "msg");
        assertThat(prepare("DO $$ BEGIN INSERT INTO {t} ({c}) VALUES ({c}); END $$").sql())
                .isEqualTo("DO $$ BEGIN INSERT INTO \"logs\" (\"msg\") VALUES ('msg'); END $$");
    }

    @Test
    void result_references_and_unknown_variables_are_never_names() {
        vars.put("t", "users");
        results.put("r", row("v", "\"users\""));
        assertThat(prepare("SELECT * FROM $r, {nope}, {t}").sql()).isEqualTo("SELECT * FROM 'users', {nope}, \"users\"");
    }

    @Test
    void a_value_that_cannot_be_a_name_is_refused_with_the_variable_and_the_value() {
        vars.put("empty", "");
        vars.put("nul", "a\0b");
        vars.put("long", "x".repeat(64));
        vars.put("longest", "x".repeat(63));
        vars.put("wide", "ä".repeat(32));
        assertThatThrownBy(() -> prepare("SELECT * FROM {empty}")).isInstanceOf(GraphException.class)
                .hasMessage("{empty} cannot be substituted as a name: its value is empty");
        assertThatThrownBy(() -> prepare("SELECT * FROM s.{nul}")).isInstanceOf(GraphException.class)
                .hasMessage("{nul} cannot be substituted as a name: its value 'a\\0b' contains a NUL character");
        assertThatThrownBy(() -> prepare("SELECT * FROM {long}")).isInstanceOf(GraphException.class)
                .hasMessage("{long} cannot be substituted as a name: its value '" + "x".repeat(40) + "…' is 64 bytes long;"
                        + " a PostgreSQL name is at most 63 bytes (NAMEDATALEN - 1)");
        assertThatThrownBy(() -> prepare("SELECT * FROM {wide}")).isInstanceOf(GraphException.class)
                .hasMessageEndingWith("is 64 bytes long; a PostgreSQL name is at most 63 bytes (NAMEDATALEN - 1)");
        assertThat(prepare("SELECT * FROM {longest}").sql()).isEqualTo("SELECT * FROM \"" + "x".repeat(63) + "\"");
        label = "";
        assertThatThrownBy(() -> prepare("SELECT * FROM {sys_label}"))
                .hasMessage("{sys_label} cannot be substituted as a name: its value is empty");
        assertThat(prepare("SELECT {empty}, '{long}'").sql()).isEqualTo("SELECT '', '" + "x".repeat(64) + "'");
    }

    // ---------------------------------------------------------------------------------------
    // $name
    // ---------------------------------------------------------------------------------------

    @Test
    void scalar_takes_the_first_column_of_the_first_row_with_its_json_type() {
        results.put("s", row("name", "\"Ada\"", "other", "1"));
        results.put("i", row("n", "42"));
        results.put("l", row("n", "10000000000"));
        results.put("big", row("n", "123456789012345678901234567890"));
        results.put("d", row("n", "1.50"));
        results.put("b", row("n", "true"));
        results.put("o", row("n", "{\"a\":[1,2]}"));
        PreparedSql p = prepare("SELECT $s, $i, $l, $big, $d, $b, $o");
        assertThat(p.sql()).isEqualTo("SELECT 'Ada', ?, ?, ?, ?, ?, '{\"a\":[1,2]}'");
        assertThat(p.params()).containsExactly(
                new BindValue(Type.INTEGER, 42),
                new BindValue(Type.BIGINT, 10_000_000_000L),
                new BindValue(Type.NUMERIC, new BigDecimal("123456789012345678901234567890")),
                new BindValue(Type.NUMERIC, new BigDecimal("1.5")),
                new BindValue(Type.BOOLEAN, true));
    }

    @Test
    void a_result_without_rows_is_used_whole_as_json_text() {
        results.put("sig", json("{\"signal_name\":\"go\",\"timed_out\":false,\"data\":{\"k\":1}}"));
        results.put("lr", json("\"done\""));
        results.put("j", json("[{\"rows\":[],\"row_count\":0}]"));
        PreparedSql p = prepare("SELECT $sig::jsonb, $lr, $j");
        assertThat(p.sql()).isEqualTo("SELECT '{\"signal_name\":\"go\",\"timed_out\":false,\"data\":{\"k\":1}}'::jsonb,"
                + " '\"done\"', '[{\"rows\":[],\"row_count\":0}]'");
    }

    @Test
    void strict_scalar_fails_on_no_rows_and_null() {
        results.put("n", noRows());
        results.put("z", row("c", "null"));
        assertThatThrownBy(() -> prepare("SELECT $n")).isInstanceOf(GraphException.class)
                .hasMessage("$n has no rows — query returned zero results");
        assertThatThrownBy(() -> prepare("SELECT $z")).isInstanceOf(GraphException.class)
                .hasMessage("$z is NULL — first column of first row is NULL");
    }

    @Test
    void null_safe_scalar_gives_sql_null() {
        results.put("n", noRows());
        results.put("z", row("c", "null"));
        PreparedSql p = prepare("SELECT $n?, $z?");
        assertThat(p.sql()).isEqualTo("SELECT NULL, NULL");
        assertThat(p.params()).isEmpty();
    }

    @Test
    void malformed_rows_are_reported() {
        results.put("a", json("{\"rows\":[1]}"));
        results.put("b", json("{\"rows\":[{}]}"));
        assertThatThrownBy(() -> prepare("SELECT $a")).hasMessage("$a: first row is not an object");
        assertThatThrownBy(() -> prepare("SELECT $b")).hasMessage("$b: first row has no columns");
    }

    @Test
    void column_reference_reads_the_first_row_or_a_plain_object() {
        results.put("u", row("id", "7", "email", "\"a@b\""));
        results.put("resp", json("{\"status\":200,\"ok\":true,\"body\":\"hi\"}"));
        PreparedSql p = prepare("SELECT $u.email, $u.id, $resp.ok, $resp.body");
        assertThat(p.sql()).isEqualTo("SELECT 'a@b', ?, ?, 'hi'");
        assertThat(p.params()).containsExactly(new BindValue(Type.INTEGER, 7), new BindValue(Type.BOOLEAN, true));
    }

    @Test
    void column_reference_strictness() {
        results.put("u", row("id", "null"));
        results.put("n", noRows());
        results.put("arr", json("[1,2]"));
        assertThatThrownBy(() -> prepare("SELECT $u.id")).hasMessage("$u.id is NULL");
        assertThatThrownBy(() -> prepare("SELECT $n.id")).hasMessage("$n has no rows — query returned zero results");
        assertThatThrownBy(() -> prepare("SELECT $arr.x"))
                .hasMessage("$arr.x: result is neither a row set nor a JSON object");
        assertThat(prepare("SELECT $u.id?, $n.id?").sql()).isEqualTo("SELECT NULL, NULL");
    }

    @Test
    void a_missing_column_is_left_for_postgresql_to_report() {
        results.put("u", row("id", "1"));
        PreparedSql p = prepare("SELECT $u.nope, $u.nope?, '$u.nope'");
        assertThat(p.sql()).isEqualTo("SELECT $u.nope, $u.nope??, '$u.nope'");
        assertThat(p.params()).isEmpty();
    }

    @Test
    void names_are_matched_longest_first_and_need_a_word_boundary() {
        results.put("doc", row("c", "\"short\""));
        results.put("document", row("c", "\"long\""));
        PreparedSql p = prepare("SELECT $document, $doc, $doc2, $docs");
        assertThat(p.sql()).isEqualTo("SELECT 'long', 'short', $doc2, $docs");
    }

    @Test
    void a_dollar_inside_a_name_is_not_a_reference() {
        results.put("n", row("c", "1"));
        assertThat(prepare("SELECT a$n FROM t").sql()).isEqualTo("SELECT a$n FROM t");
    }

    @Test
    void dot_without_a_column_falls_back_to_the_scalar() {
        results.put("n", row("c", "5"));
        PreparedSql p = prepare("SELECT $n.");
        assertThat(p.sql()).isEqualTo("SELECT ?.");
    }

    @Test
    void substitution_is_one_pass_and_never_rescans_inserted_values() {
        vars.put("v", "$other {w}");
        vars.put("w", "W");
        results.put("other", row("c", "\"{w} $other\""));
        PreparedSql p = prepare("SELECT {v}, $other, '{v}', '$other'");
        assertThat(p.sql()).isEqualTo("SELECT '$other {w}', '{w} $other', '$other {w}', '{w} $other'");
    }

    // ---------------------------------------------------------------------------------------
    // $name.*
    // ---------------------------------------------------------------------------------------

    @Test
    void row_set_becomes_values_with_parameters() {
        results.put("n", json("{\"rows\":[{\"id\":1,\"val\":\"a\",\"ok\":true,\"j\":{\"x\":1},\"z\":null},"
                + "{\"id\":2,\"val\":\"b\",\"ok\":false,\"j\":[1],\"z\":null}],\"row_count\":2}"));
        PreparedSql p = prepare("SELECT * FROM $n.* WHERE id > 0");
        assertThat(p.sql()).isEqualTo("SELECT * FROM (VALUES (?, ?::text, ?, ?::text, NULL),"
                + " (?, ?::text, ?, ?::text, NULL)) AS \"n\"(\"id\", \"val\", \"ok\", \"j\", \"z\") WHERE id > 0");
        assertThat(values(p)).containsExactly(1, "a", true, "{\"x\":1}", 2, "b", false, "[1]");
    }

    @Test
    void row_set_columns_come_from_the_first_row_and_are_quoted() {
        results.put("n", json("{\"rows\":[{\"a\\\"b\":1},{\"other\":2}]}"));
        PreparedSql p = prepare("SELECT * FROM $n.*");
        assertThat(p.sql()).isEqualTo("SELECT * FROM (VALUES (?), (NULL)) AS \"n\"(\"a\"\"b\")");
    }

    @Test
    void empty_row_set() {
        results.put("n", noRows());
        assertThat(prepare("SELECT * FROM $n.*").sql()).isEqualTo("SELECT * FROM (SELECT NULL WHERE false) AS \"n\"");
    }

    @Test
    void row_set_errors() {
        results.put("s", json("{\"slept\":true}"));
        results.put("bad", json("{\"rows\":[1]}"));
        ArrayNode many = JSON.createArrayNode();
        for (int i = 0; i <= Substitution.MAX_ROWSET_ROWS; i++) {
            many.addObject().put("i", i);
        }
        ObjectNode big = JSON.createObjectNode();
        big.set("rows", many);
        results.put("big", big);
        assertThatThrownBy(() -> prepare("SELECT * FROM $s.*")).hasMessage("$s.* — invalid result format");
        assertThatThrownBy(() -> prepare("SELECT * FROM $bad.*")).hasMessage("$bad.* — row is not an object");
        assertThatThrownBy(() -> prepare("SELECT * FROM $big.*")).hasMessage("$big.* — result has 10001 rows,"
                + " exceeding the maximum of 10000 for row-set expansion. Use pagination or intermediate tables for"
                + " large result sets.");
        results.put("n", row("c", "1"));
        assertThatThrownBy(() -> prepare("SELECT '$n.*'")).isInstanceOf(GraphException.class)
                .hasMessageContaining("cannot be used inside a quoted string");
    }

    @Test
    void large_row_sets_switch_to_escaped_literals_beyond_the_parameter_budget() {
        ArrayNode rows = JSON.createArrayNode();
        for (int i = 0; i < 8_000; i++) {
            rows.addObject().put("id", i).put("name", "o'" + i).put("neg", -i).put("x", 1.5);
        }
        ObjectNode res = JSON.createObjectNode();
        res.set("rows", rows);
        results.put("n", res);
        PreparedSql p = prepare("SELECT count(*) FROM $n.*");
        assertThat(p.params()).isEmpty();
        assertThat(p.sql()).startsWith("SELECT count(*) FROM (VALUES (0, 'o''0'::text, 0, 1.5),"
                + " (1, 'o''1'::text, (-1), 1.5)");
    }

    // ---------------------------------------------------------------------------------------
    // Dollar quotes, positional parameters, unsupported literals
    // ---------------------------------------------------------------------------------------

    @Test
    void dollar_quoted_bodies_get_escaped_literals_in_code_and_escaped_text_in_strings() {
        vars.put("v", "it's");
        results.put("n", row("c", "-5"));
        results.put("z", noRows());
        PreparedSql p = prepare("DO $$BEGIN PERFORM {v}, '{v}', $n, 1-$n, $z?; END$$");
        assertThat(p.sql()).isEqualTo("DO $$BEGIN PERFORM 'it''s', 'it''s', (-5), 1-(-5), NULL; END$$");
        assertThat(p.params()).isEmpty();
    }

    @Test
    void nested_dollar_quotes_are_substituted_by_the_same_rules() {
        vars.put("v", "x'y");
        PreparedSql p = prepare("SELECT $a$ $b$ {v} '{v}' $b$ -- {v}\n $a$");
        assertThat(p.sql()).isEqualTo("SELECT $a$ $b$ 'x''y' 'x''y' $b$ -- {v}\n $a$");
    }

    @Test
    void a_value_that_would_close_its_dollar_quote_is_refused() {
        vars.put("v", "$$; DROP TABLE x; --");
        assertThatThrownBy(() -> prepare("SELECT $$'{v}'$$")).isInstanceOf(GraphException.class)
                .hasMessage("Cannot substitute {v} inside the dollar-quoted string $$…$$: the result would contain $$"
                        + " and end the quote early; use a different tag, e.g. $q$…$q$");
        assertThat(prepare("SELECT $q$'{v}'$q$").sql()).isEqualTo("SELECT $q$'$$; DROP TABLE x; --'$q$");
        // The closing tag can also be completed by what follows the value ...
        vars.put("tail", "$");
        assertThatThrownBy(() -> prepare("SELECT $$ '{tail}$$")).hasMessageStartingWith("Cannot substitute {tail}");
        // ... or by what precedes it.
        vars.put("t", "q$");
        assertThatThrownBy(() -> prepare("SELECT $q$ '${t}' $q$")).hasMessageStartingWith("Cannot substitute {t}");
        assertThat(prepare("SELECT $$ '{tail}'$$").sql()).isEqualTo("SELECT $$ '$'$$");
    }

    @Test
    void a_statement_with_positional_parameters_gets_literals_instead_of_binds() {
        vars.put("v", "a'b");
        results.put("n", row("c", "3"));
        PreparedSql p = prepare("PREPARE p(int) AS SELECT $1 + $n, {v}, '{v}' WHERE x ? 'k'");
        assertThat(p.sql()).isEqualTo("PREPARE p(int) AS SELECT $1 + 3, 'a''b', 'a''b' WHERE x ?? 'k'");
        assertThat(p.params()).isEmpty();
    }

    @Test
    void literals_never_fuse_with_a_neighbouring_quote_or_prefix() {
        vars.put("v", "x");
        assertThat(prepare("SELECT 'a'{v}'b', U&{v}").sql()).isEqualTo("SELECT 'a' 'x' 'b', U& 'x'");
    }

    @Test
    void placeholders_in_unicode_and_bit_literals_are_refused() {
        vars.put("v", "x");
        assertThatThrownBy(() -> prepare("SELECT U&'{v}'")).isInstanceOf(GraphException.class)
                .hasMessage("{v} cannot be substituted inside a U&'…' string;"
                        + " use a plain '…' string or \"…\" identifier");
        assertThatThrownBy(() -> prepare("SELECT 1 AS U&\"{v}\"")).hasMessageContaining("U&\"…\" identifier");
        assertThatThrownBy(() -> prepare("SELECT B'{v}'")).hasMessageContaining("bit string");
        assertThat(prepare("SELECT U&'{nope}', X'1F'").sql()).isEqualTo("SELECT U&'{nope}', X'1F'");
    }

    @Test
    void context_is_copied_and_null_values_are_handled() {
        Map<String, String> v = new HashMap<>();
        v.put("a", "1");
        v.put("gone", null);
        Map<String, JsonNode> r = new HashMap<>();
        r.put("n", null);
        SubstitutionContext ctx = new SubstitutionContext(v, "id", null, r);
        v.put("b", "2");
        assertThat(ctx.vars()).containsOnlyKeys("a");
        assertThat(ctx.results().get("n").isNull()).isTrue();
        assertThat(Substitution.prepare("SELECT $n, {b}", ctx).sql()).isEqualTo("SELECT 'null', {b}");
    }

    // ---------------------------------------------------------------------------------------
    // Literal parameters: the same text for every instance
    // ---------------------------------------------------------------------------------------

    private PreparedSql parameterized(String sql) {
        return Substitution.parameterized(sql, new SubstitutionContext(vars, "ab12cd34", label, results));
    }

    @Test
    void a_string_holding_only_a_placeholder_and_a_bare_string_become_literal_parameters() {
        vars.put("who", "O'Brien");
        results.put("r", row("c", "\"x\"", "n", "7"));
        PreparedSql p = parameterized("INSERT INTO t (a, b, c, d, e) VALUES ('{sys_instance_id}', {who}, '$r.c', $r.n, 'x')");
        assertThat(p.sql()).isEqualTo("INSERT INTO t (a, b, c, d, e) VALUES (?, ?, ?, ?, 'x')");
        assertThat(p.params()).containsExactly(BindValue.literalText("ab12cd34"), BindValue.literalText("O'Brien"),
                BindValue.literalText("x"), new BindValue(Type.INTEGER, 7));
        assertThat(p.withLiterals()).isEqualTo(prepare("INSERT INTO t (a, b, c, d, e) VALUES ('{sys_instance_id}',"
                + " {who}, '$r.c', $r.n, 'x')"));
    }

    @Test
    void a_statement_with_a_value_written_into_its_text_takes_no_literal_parameters() {
        vars.put("who", "O'Brien");
        vars.put("t", "people");
        results.put("rs", json("{\"rows\":[{\"a\":\"x\"}],\"row_count\":1}"));
        for (String sql : List.of(
                "INSERT INTO t VALUES ('{sys_instance_id}', '{who}-x')",
                "INSERT INTO {t} VALUES ('{sys_instance_id}')",
                "SELECT '{sys_instance_id}', \"{who}\"",
                "SELECT '{sys_instance_id}', a FROM $rs.*",
                "SELECT '{sys_instance_id}', E'{who}'")) {
            assertThat(parameterized(sql)).as(sql).isEqualTo(prepare(sql));
        }
    }

    @Test
    void the_text_is_the_same_for_every_instance() {
        String sql = "UPDATE t SET done = true WHERE id = '{sys_instance_id}' AND label = {sys_label}";
        PreparedSql a = Substitution.parameterized(sql, new SubstitutionContext(Map.of(), "aaaa1111", "x", Map.of()));
        PreparedSql b = Substitution.parameterized(sql, new SubstitutionContext(Map.of(), "bbbb2222", "y", Map.of()));
        assertThat(a.sql()).isEqualTo(b.sql()).isEqualTo("UPDATE t SET done = true WHERE id = ? AND label = ?");
        assertThat(values(a)).containsExactly("aaaa1111", "x");
        assertThat(values(b)).containsExactly("bbbb2222", "y");
    }

    @Test
    void other_literals_and_values_stay_as_prepare_writes_them() {
        vars.put("v", "a");
        results.put("z", noRows());
        results.put("o", row("j", "{\"k\":1}"));
        for (String sql : List.of(
                "SELECT E'{v}'",
                "SELECT N'{v}'",
                "SELECT '{v}{v}', ' {v}'",
                "SELECT 1 -- '{v}'\n",
                "DO $$ BEGIN PERFORM '{v}'; END $$",
                "CREATE TABLE t (c text DEFAULT '{v}')",
                "SELECT '{v}'; SELECT '{v}'",
                "PREPARE p(int) AS SELECT $1 || '{v}'")) {
            assertThat(parameterized(sql)).as(sql).isEqualTo(prepare(sql));
        }
        // '$z?' has no rows: NULL's text inside quotes, a whole literal all the same.
        assertThat(parameterized("SELECT '$z?', '{unknown}'").sql()).isEqualTo("SELECT ?, '{unknown}'");
        assertThat(parameterized("SELECT '$z?'").params()).containsExactly(BindValue.literalText("NULL"));
        assertThat(parameterized("SELECT $o.j").params()).containsExactly(BindValue.literalText("{\"k\":1}"));
    }

    @Test
    void with_a_sort_list_only_a_value_right_after_an_operator_becomes_a_parameter() {
        vars.put("v", "a");
        // A string constant in ORDER BY, GROUP BY or DISTINCT ON is an error, a parameter an expression.
        PreparedSql p = parameterized("SELECT DISTINCT x FROM t WHERE x = '{v}' AND y <> {v} GROUP BY x ORDER BY x || {v}");
        assertThat(p.sql()).isEqualTo("SELECT DISTINCT x FROM t WHERE x = ? AND y <> ? GROUP BY x ORDER BY x || ?");
        assertThat(values(p)).containsExactly("a", "a", "a");
        assertThat(parameterized("SELECT x FROM t ORDER /* c */ BY x = /* c */ '{v}'").sql())
                .isEqualTo("SELECT x FROM t ORDER /* c */ BY x = /* c */ ?");
        for (String sql : List.of(
                "SELECT x FROM t WHERE y IN ('{v}') ORDER BY 1",
                "SELECT x FROM t WHERE x = '{v}' ORDER BY '{v}'",
                "SELECT x FROM t WHERE x = '{v}' GROUP BY x, {v}",
                "SELECT DISTINCT ON ('{v}') x FROM t WHERE x = '{v}'")) {
            assertThat(parameterized(sql)).as(sql).isEqualTo(prepare(sql));
        }
    }

    @Test
    void a_literal_parameter_keeps_apart_from_question_marks_and_quotes() {
        vars.put("k", "a");
        PreparedSql p = parameterized("SELECT j ?'{k}', j ?{k}?'x', '{k}'?'y'");
        assertThat(p.sql()).isEqualTo("SELECT j ?? ?, j ?? ? ??'x', ? ??'y'");
        assertThat(p.withLiterals().sql()).isEqualTo("SELECT j ?? 'a', j ?? 'a' ??'x', 'a' ??'y'");
        assertThat(p.withLiterals().params()).isEmpty();
    }

    @Test
    void with_literals_keeps_the_other_parameters_in_their_order() {
        vars.put("v", "it's");
        results.put("n", row("i", "5", "b", "true"));
        PreparedSql p = parameterized("SELECT $n.i, '{v}', $n.b FROM t WHERE t.s = '?' AND t.i = $n.i AND t.a <> {v}");
        assertThat(values(p)).containsExactly(5, "it's", true, 5, "it's");
        PreparedSql literal = p.withLiterals();
        assertThat(literal.sql()).isEqualTo("SELECT ?, 'it''s', ? FROM t WHERE t.s = '?' AND t.i = ? AND t.a <> 'it''s'");
        assertThat(values(literal)).containsExactly(5, true, 5);
        assertThat(literal).isEqualTo(prepare("SELECT $n.i, '{v}', $n.b FROM t WHERE t.s = '?' AND t.i = $n.i AND t.a <> {v}"));
        PreparedSql rows = new PreparedSql("SELECT ?, a FROM (VALUES (?::text)) AS r(a)",
                List.of(BindValue.literalText("x"), BindValue.text("y")));
        assertThat(rows.withLiterals()).isEqualTo(new PreparedSql("SELECT 'x', a FROM (VALUES (?::text)) AS r(a)",
                List.of(BindValue.text("y"))));
    }
}
