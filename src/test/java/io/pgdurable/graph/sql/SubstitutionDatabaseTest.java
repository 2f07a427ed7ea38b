package io.pgdurable.graph.sql;

import static io.pgdurable.graph.sql.SubstitutionTest.json;
import static io.pgdurable.graph.sql.SubstitutionTest.row;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Substituted SQL run against PostgreSQL: values arrive as data wherever they stand, whatever they
 * contain, and the bind types let the server infer types as it would for the original's literals.
 */
class SubstitutionDatabaseTest {

    private static String db;
    private Connection conn;

    static List<String> hostileValues() {
        return List.of(
                "' OR true --",
                "'); DROP TABLE canary; --",
                "\"; DROP TABLE canary; --",
                "*/ DROP TABLE canary; /*",
                "-- comment",
                "\\",
                "\\'",
                "it's",
                "'",
                "''",
                "$$",
                "$q$",
                "$other",
                "{var}",
                "$1",
                "?",
                "??",
                "a ? b ?| c",
                "line1\n'; DROP TABLE canary; --\nline3",
                "E'\\''",
                "tab\there ünïcødé ✓",
                "NULL",
                "{sys_instance_id}",
                "$r.*");
    }

    @BeforeAll
    static void createDatabase() throws SQLException {
        db = TestCluster.get().createEmptyDatabase("graph_subst");
    }

    @BeforeEach
    void connect() throws SQLException {
        conn = TestCluster.get().connect(db);
        try (Statement st = conn.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS canary (id int)");
            st.execute("CREATE TABLE IF NOT EXISTS sink (v text)");
            st.execute("TRUNCATE sink");
        }
    }

    @AfterEach
    void canaryStillThereAndClose() throws SQLException {
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT to_regclass('canary') IS NOT NULL")) {
            rs.next();
            assertThat(rs.getBoolean(1)).as("table canary survived").isTrue();
        }
        conn.close();
    }

    private static SubstitutionContext context(String value) {
        Map<String, String> vars = Map.of("v", value, "var", "VAR");
        Map<String, JsonNode> results = new LinkedHashMap<>();
        ObjectNode r = JsonNodeFactory.instance.objectNode();
        r.putArray("rows").addObject().put("c", value);
        r.put("row_count", 1);
        results.put("r", r);
        results.put("other", row("c", "\"OTHER\""));
        return new SubstitutionContext(vars, "ab12cd34", null, results);
    }

    /** Runs the substituted statement and returns the first row's columns as text. */
    private List<String> run(String sql, SubstitutionContext ctx) throws SQLException {
        PreparedSql p = Substitution.prepare(sql, ctx);
        try (PreparedStatement ps = conn.prepareStatement(p.sql())) {
            p.bind(ps);
            if (!ps.execute()) {
                return List.of();
            }
            try (ResultSet rs = ps.getResultSet()) {
                List<String> out = new ArrayList<>();
                if (rs.next()) {
                    for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                        out.add(rs.getString(i));
                    }
                }
                return out;
            }
        }
    }

    private String one(String sql, SubstitutionContext ctx) throws SQLException {
        return run(sql, ctx).get(0);
    }

    private String label(String sql, SubstitutionContext ctx) throws SQLException {
        PreparedSql p = Substitution.prepare(sql, ctx);
        try (PreparedStatement ps = conn.prepareStatement(p.sql())) {
            p.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.getMetaData().getColumnLabel(1);
            }
        }
    }

    private List<String> sink() throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT v FROM sink ORDER BY v")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_in_bare_sql_arrives_unchanged(String value) throws SQLException {
        SubstitutionContext ctx = context(value);
        assertThat(one("SELECT {v}", ctx)).isEqualTo(value);
        assertThat(one("SELECT $r", ctx)).isEqualTo(value);
        assertThat(one("SELECT $r.c", ctx)).isEqualTo(value);
        assertThat(run("SELECT {v} = $r, length({v}), '{\"k\":1}'::jsonb ? {v}, {v} || '-' || $r?", ctx))
                .containsExactly("t", Integer.toString(value.length()), value.equals("k") ? "t" : "f",
                        value + "-" + value);
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_inside_a_quoted_string_stays_inside_it(String value) throws SQLException {
        SubstitutionContext ctx = context(value);
        assertThat(one("SELECT 'x' || '{v}' || 'y'", ctx)).isEqualTo("x" + value + "y");
        assertThat(one("SELECT '<$r>'", ctx)).isEqualTo("<" + value + ">");
        assertThat(one("SELECT '<{v}>'\n  '<$r.c>'", ctx)).isEqualTo("<" + value + "><" + value + ">");
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_inside_an_escape_string_stays_inside_it(String value) throws SQLException {
        SubstitutionContext ctx = context(value);
        assertThat(one("SELECT E'\\t[{v}]'", ctx)).isEqualTo("\t[" + value + "]");
        assertThat(one("SELECT E'[$r]' -- continued\n '[{v}]'", ctx)).isEqualTo("[" + value + "][" + value + "]");
        assertThat(one("SELECT E'\\\\{v}\\{v}'", ctx)).isEqualTo("\\" + value + "{v}");
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_inside_a_quoted_identifier_stays_inside_it(String value) throws SQLException {
        assertThat(label("SELECT 1 AS \"{v}\"", context(value))).isEqualTo(value);
        assertThat(label("SELECT 1 AS \"$r\"", context(value))).isEqualTo(value);
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_inside_a_dollar_quoted_body_is_data_there(String value) throws SQLException {
        SubstitutionContext ctx = context(value);
        String body = "DO $body$ BEGIN INSERT INTO sink VALUES ({v}), ('{v}'), ($r), (E'{v}'); END $body$";
        if (value.contains("$body$")) {
            return;
        }
        run(body, ctx);
        assertThat(sink()).containsExactly(value, value, value, value);
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_in_a_comment_is_not_substituted(String value) throws SQLException {
        assertThat(run("SELECT 1 /* {v} $r */ -- {v} $r\n", context(value))).containsExactly("1");
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_in_a_row_set_and_its_column_names_arrives_unchanged(String value) throws SQLException {
        ObjectNode rs = JsonNodeFactory.instance.objectNode();
        rs.putArray("rows").addObject().put(value, value).put("n", 1);
        Map<String, JsonNode> results = Map.of("rs", rs);
        SubstitutionContext ctx = new SubstitutionContext(Map.of(), "id", null, results);
        PreparedSql p = Substitution.prepare("SELECT * FROM $rs.*", ctx);
        try (PreparedStatement ps = conn.prepareStatement(p.sql())) {
            p.bind(ps);
            try (ResultSet r = ps.executeQuery()) {
                assertThat(r.next()).isTrue();
                assertThat(r.getMetaData().getColumnLabel(1)).isEqualTo(value);
                assertThat(r.getString(1)).isEqualTo(value);
                assertThat(r.getInt(2)).isEqualTo(1);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void with_positional_parameters_a_hostile_value_is_an_escaped_literal(String value) throws SQLException {
        SubstitutionContext ctx = context(value);
        run("CREATE OR REPLACE FUNCTION pos_fn(int) RETURNS text LANGUAGE sql RETURN {v} || $1::text || $r", ctx);
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT pos_fn(5)")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo(value + "5" + value);
        }
    }

    @Test
    void a_value_that_would_close_the_dollar_quote_is_refused_and_nothing_runs() throws SQLException {
        SubstitutionContext ctx = context("$$); DROP TABLE canary; --");
        assertThatThrownBy(() -> run("DO $$ BEGIN INSERT INTO sink VALUES ('{v}'); END $$", ctx))
                .isInstanceOf(GraphException.class);
        assertThat(sink()).isEmpty();
    }

    @Test
    void bind_types_let_postgresql_infer_as_for_literals() throws SQLException {
        Map<String, JsonNode> results = new LinkedHashMap<>();
        results.put("i", row("n", "41"));
        results.put("big", row("n", "9000000000"));
        results.put("d", row("n", "1.25"));
        results.put("b", row("n", "false"));
        results.put("s", row("n", "\"2024-06-15\""));
        results.put("o", row("n", "{\"a\":{\"b\":[1,2]}}"));
        results.put("z", json("{\"rows\":[],\"row_count\":0}"));
        results.put("sig", json("{\"signal_name\":\"go\",\"timed_out\":false,\"data\":{\"k\":\"v\"}}"));
        Map<String, String> vars = Map.of("n", "41", "day", "2024-06-15");
        SubstitutionContext ctx = new SubstitutionContext(vars, "ab12cd34", "lbl", results);
        assertThat(run("SELECT $i + 1, {n} + 1, repeat('x', $i - 38), $big + 1, $d * 2, NOT $b", ctx))
                .containsExactly("42", "42", "xxx", "9000000001", "2.50", "t");
        assertThat(run("SELECT $s::date + 1, {day} < now(), $o::jsonb #>> '{a,b,1}',"
                + " $sig::jsonb -> 'data' ->> 'k'", ctx))
                .containsExactly("2024-06-16", "t", "2", "v");
        assertThat(run("SELECT $z? IS NULL, coalesce($z?, 7) + 1, pg_typeof($i), pg_typeof($big), pg_typeof($d)", ctx))
                .containsExactly("t", "8", "integer", "bigint", "numeric");
        assertThat(run("SELECT {sys_instance_id} || '/' || {sys_label}", ctx)).containsExactly("ab12cd34/lbl");
    }

    @Test
    void strings_and_null_work_where_an_untyped_parameter_would_not() throws SQLException {
        Map<String, JsonNode> results = Map.of("s", row("c", "\"x\""), "z", json("{\"rows\":[],\"row_count\":0}"));
        SubstitutionContext ctx = new SubstitutionContext(Map.of("v", "y"), "id", null, results);
        assertThat(run("SELECT json_build_object('k', $s)::text, concat({v}, '!'), format('%s/%s', $s, {v}),"
                + " $z? IS NULL, {v} IS NULL, pg_typeof($s), jsonb_build_array($s, $z?)::text", ctx))
                .containsExactly("{\"k\" : \"x\"}", "y!", "x/y", "t", "f", "unknown", "[\"x\", null]");
    }

    @Test
    void row_set_types_follow_the_original_and_work_in_joins() throws SQLException {
        Map<String, JsonNode> results = Map.of("n", json("{\"rows\":["
                + "{\"id\":1,\"name\":\"a\",\"ok\":true,\"j\":{\"x\":1}},"
                + "{\"id\":2,\"name\":\"b\",\"ok\":false,\"j\":null}],\"row_count\":2}"));
        SubstitutionContext ctx = new SubstitutionContext(Map.of(), "id", null, results);
        assertThat(run("SELECT string_agg(id || name || ok || coalesce(j, '-'), ',' ORDER BY id),"
                + " pg_typeof(min(name)), pg_typeof(min(id)) FROM $n.*", ctx))
                .containsExactly("1atrue{\"x\":1},2bfalse-", "text", "integer");
        assertThat(run("SELECT count(*) FROM generate_series(1, 3) g JOIN $n.* ON n.id = g", ctx)).containsExactly("2");
    }

    @Test
    void literal_question_marks_reach_postgresql_as_operators() throws SQLException {
        SubstitutionContext ctx = new SubstitutionContext(Map.of("k", "a"), "id", null, Map.of());
        assertThat(run("SELECT '{\"a\":1}'::jsonb ? {k}, '{\"a\":1}'::jsonb ?| array['b', {k}],"
                + " '{\"a\":1}'::jsonb ?& array['a','b'], '?' || {k} || '??'", ctx))
                .containsExactly("t", "t", "f", "?a??");
    }

    @Test
    void large_row_set_written_as_literals_runs() throws SQLException {
        ObjectNode res = JsonNodeFactory.instance.objectNode();
        var rows = res.putArray("rows");
        for (int i = 0; i < 10_000; i++) {
            rows.addObject().put("i", i).put("s", "v'" + i).put("neg", -i).put("f", i / 4.0);
        }
        SubstitutionContext ctx = new SubstitutionContext(Map.of(), "id", null, Map.of("n", res));
        PreparedSql p = Substitution.prepare("SELECT count(*), sum(i), sum(neg), max(s), sum(f) FROM $n.*", ctx);
        assertThat(p.params()).isEmpty();
        assertThat(run("SELECT count(*), sum(i), sum(neg), max(s), sum(f) FROM $n.*", ctx))
                .containsExactly("10000", "49995000", "-49995000", "v'9999", "12498750.00");
    }

    @Test
    void bind_refuses_a_connection_without_standard_conforming_strings() throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.execute("SET standard_conforming_strings = off");
        }
        PreparedSql p = Substitution.prepare("SELECT E'x'", context("x"));
        try (PreparedStatement ps = conn.prepareStatement(p.sql())) {
            assertThatThrownBy(() -> p.bind(ps)).isInstanceOf(GraphException.class)
                    .hasMessageContaining("standard_conforming_strings");
        }
        try (Statement st = conn.createStatement()) {
            st.execute("RESET standard_conforming_strings");
        }
    }
}
