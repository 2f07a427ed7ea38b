package io.pgdurable.security;

import static io.pgdurable.security.HostileSubstitution.DO_TAGS;
import static io.pgdurable.security.HostileSubstitution.SELECT_POSITIONS;
import static io.pgdurable.security.HostileSubstitution.clipIdentifier;
import static io.pgdurable.security.HostileSubstitution.structure;
import static io.pgdurable.security.SecurityFixture.ALICE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.graph.sql.PreparedSql;
import io.pgdurable.graph.sql.Substitution;
import io.pgdurable.graph.sql.SubstitutionContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The hostile corpus ({@link HostileValues}) in every position a placeholder can stand, without a
 * worker: for each value and position the substituted statement has the structure it has with a
 * harmless value (checked by lexing, for every value one by one), and run against PostgreSQL as
 * alice, with every value of the corpus in one statement per position, each value arrives exactly
 * as it was. A {@code {var}} where a name stands becomes exactly one name: every value that can
 * be a name becomes exactly that table's or column's name, and the others (empty, over 63 bytes,
 * holding NUL) are refused. A value that would end its dollar quote is refused, as are
 * placeholders where no value may stand. The table canary, which alice owns, is never touched.
 */
class HostileSubstitutionCorpusTest {
    private static final List<String> VALUES = HostileValues.all();
    private static final ObjectMapper JSON = new ObjectMapper();

    private static SecurityFixture fx;
    private static SubstitutionContext hostile;
    private static SubstitutionContext harmless;
    private static Connection alice;

    @BeforeAll
    static void setUp() throws SQLException {
        fx = SecurityFixture.create("sec_corpus");
        fx.exec("CREATE TABLE public.received (k int NOT NULL, ctx text NOT NULL, v text);"
                + "ALTER TABLE public.received OWNER TO " + ALICE + "; CREATE SCHEMA idents AUTHORIZATION " + ALICE
                + "; CREATE SCHEMA idents_cols AUTHORIZATION " + ALICE);
        hostile = new SubstitutionContext(HostileSubstitution.vars(VALUES), "5ec0abcd", null,
                HostileSubstitution.results(VALUES));
        List<String> plain = Collections.nCopies(VALUES.size(), "x");
        harmless = new SubstitutionContext(HostileSubstitution.vars(plain), "5ec0abcd", null,
                HostileSubstitution.results(plain));
        alice = fx.connect(ALICE);
    }

    @AfterAll
    static void tearDown() throws SQLException {
        alice.close();
        fx.close();
    }

    @AfterEach
    void canaryUntouched() throws SQLException {
        fx.assertCanaryUntouched();
        try (Statement s = alice.createStatement()) {
            s.execute("TRUNCATE received");
        }
    }

    @Test
    void the_corpus_holds_at_least_a_hundred_distinct_values_of_every_kind() {
        assertThat(VALUES).hasSizeGreaterThanOrEqualTo(100).doesNotHaveDuplicates()
                .contains("'", "\\", "$$", "$q$", "--", "/*", "'); DROP TABLE canary; --", "E'\\''", "U&'\\0027'",
                        "\u0001", "1e400", "{\"a\":1}", "\"canary\"", "\\gexec", "line1\n'; DROP TABLE canary; --\nline3",
                        "{v1}", "$h1", "");
        assertThat(VALUES).anyMatch(v -> v.length() >= 65536);
        assertThat(VALUES).noneMatch(v -> v.indexOf('\0') >= 0);
    }

    // -------------------------------------------------------------------------------------------
    // Every value on its own: the structure of the statement
    // -------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @FieldSource("io.pgdurable.security.HostileSubstitution#SELECT_POSITIONS")
    void no_value_changes_the_structure_of_a_statement(HostileSubstitution.SelectPosition position) {
        SoftAssertions soft = new SoftAssertions();
        for (int k = 1; k <= VALUES.size(); k++) {
            String template = HostileSubstitution.select(position, List.of(k));
            PreparedSql prepared = Substitution.prepare(template, hostile);
            soft.assertThat(structure(prepared.sql())).as("%s with %s", template, HostileValues.describe(VALUES.get(k - 1)))
                    .isEqualTo(structure(Substitution.prepare(template, harmless).sql()));
            soft.assertThat(prepared.sql()).as("the comment of %s", template).endsWith(HostileSubstitution.comment(k));
        }
        soft.assertAll();
    }

    @ParameterizedTest(name = "DO {0} … {0}")
    @FieldSource("io.pgdurable.security.HostileSubstitution#DO_TAGS")
    void no_value_changes_the_structure_of_a_dollar_quoted_body_and_one_that_would_end_it_is_refused(String tag) {
        SoftAssertions soft = new SoftAssertions();
        int refused = 0;
        for (int k = 1; k <= VALUES.size(); k++) {
            String value = VALUES.get(k - 1);
            String template = HostileSubstitution.doBlock(tag, List.of(k));
            if (value.contains(tag)) {
                refused++;
                soft.assertThatThrownBy(() -> Substitution.prepare(template, hostile))
                        .as("%s with %s", template, HostileValues.describe(value))
                        .isInstanceOf(GraphException.class)
                        .hasMessage("Cannot substitute {v" + k + "} " + HostileSubstitution.dollarRefusal(tag));
                continue;
            }
            soft.assertThat(structure(Substitution.prepare(template, hostile).sql()))
                    .as("%s with %s", template, HostileValues.describe(value))
                    .isEqualTo(structure(Substitution.prepare(template, harmless).sql()));
        }
        soft.assertAll();
        assertThat(refused).as("values holding %s", tag).isPositive();
    }

    @Test
    void no_value_may_stand_inside_a_unicode_or_bit_string_or_glued_to_a_word() {
        SoftAssertions soft = new SoftAssertions();
        for (int k = 1; k <= VALUES.size(); k++) {
            String v = "{v" + k + "}";
            String h = "$h" + k;
            Map<String, String> refusals = new LinkedHashMap<>();
            refusals.put("SELECT U&'" + v + "'", v + " cannot be substituted inside a U&'…' string; use a plain '…' string or \"…\" identifier");
            refusals.put("SELECT U&'" + h + "'", h + " cannot be substituted inside a U&'…' string; use a plain '…' string or \"…\" identifier");
            refusals.put("SELECT 1 AS U&\"" + v + "\"", v + " cannot be substituted inside a U&\"…\" identifier; use a plain '…' string or \"…\" identifier");
            refusals.put("SELECT B'" + v + "'", v + " cannot be substituted inside a B'…' or X'…' bit string; use a plain '…' string or \"…\" identifier");
            refusals.put("SELECT X'" + h + "'", h + " cannot be substituted inside a B'…' or X'…' bit string; use a plain '…' string or \"…\" identifier");
            refusals.put("SELECT * FROM report_" + v, v + " cannot be substituted there: in SQL code a value stands on its own and cannot be part of a name or keyword.");
            refusals.put("SELECT " + v + "abc", v + " cannot be substituted there: in SQL code a value stands on its own and cannot be part of a name or keyword.");
            refusals.put("SELECT " + h + "?abc", h + " cannot be substituted there: in SQL code a value stands on its own and cannot be part of a name or keyword.");
            for (Map.Entry<String, String> r : refusals.entrySet()) {
                soft.assertThatThrownBy(() -> Substitution.prepare(r.getKey(), hostile))
                        .as("%s with %s", r.getKey(), HostileValues.describe(VALUES.get(k - 1)))
                        .isInstanceOf(GraphException.class)
                        .hasMessageStartingWith(r.getValue());
            }
        }
        soft.assertThatThrownBy(() -> Substitution.prepare("SELECT '$all.*'", hostile)).isInstanceOf(GraphException.class)
                .hasMessage("$all.* cannot be used inside a quoted string; a row set belongs in a FROM clause");
        soft.assertThatThrownBy(() -> Substitution.prepare("SELECT 1 AS \"$all.*\"", hostile))
                .isInstanceOf(GraphException.class)
                .hasMessage("$all.* cannot be used inside a quoted identifier; a row set belongs in a FROM clause");
        soft.assertAll();
    }

    // -------------------------------------------------------------------------------------------
    // The whole corpus at once, against PostgreSQL, as alice
    // -------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @FieldSource("io.pgdurable.security.HostileSubstitution#SELECT_POSITIONS")
    void every_value_arrives_unchanged(HostileSubstitution.SelectPosition position) throws SQLException {
        List<Integer> ks = HostileSubstitution.indexes(VALUES);
        PreparedSql prepared = Substitution.prepare(HostileSubstitution.select(position, ks), hostile);

        SoftAssertions soft = new SoftAssertions();
        try (PreparedStatement ps = alice.prepareStatement(prepared.sql())) {
            prepared.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getMetaData().getColumnCount()).isEqualTo(VALUES.size());
                for (int k = 1; k <= VALUES.size(); k++) {
                    String value = VALUES.get(k - 1);
                    String actual = position.identifier() ? rs.getMetaData().getColumnLabel(k) : rs.getString(k);
                    soft.assertThat(actual).as("%s: %s", position, HostileValues.describe(value))
                            .isEqualTo(position.expectedFor(k, value));
                }
            }
        }
        soft.assertAll();
    }

    @ParameterizedTest(name = "DO {0} … {0}")
    @FieldSource("io.pgdurable.security.HostileSubstitution#DO_TAGS")
    void every_value_arrives_unchanged_inside_a_dollar_quoted_body(String tag) throws SQLException {
        List<Integer> ks = HostileSubstitution.indexes(VALUES).stream().filter(k -> !VALUES.get(k - 1).contains(tag)).toList();
        PreparedSql prepared = Substitution.prepare(HostileSubstitution.doBlock(tag, ks), hostile);
        try (PreparedStatement ps = alice.prepareStatement(prepared.sql())) {
            prepared.bind(ps);
            ps.execute();
        }

        Map<Integer, Map<String, String>> received = received();
        SoftAssertions soft = new SoftAssertions();
        for (int k : ks) {
            soft.assertThat(received.get(k)).as("DO %s: %s", tag, HostileValues.describe(VALUES.get(k - 1)))
                    .isEqualTo(HostileSubstitution.expectedDoRows(tag, VALUES.get(k - 1)));
        }
        soft.assertThat(received.keySet()).containsExactlyInAnyOrderElementsOf(ks);
        soft.assertAll();
    }

    @Test
    void every_value_arrives_unchanged_through_a_row_set() throws SQLException {
        PreparedSql prepared = Substitution.prepare(HostileSubstitution.ROW_SET, hostile);
        try (PreparedStatement ps = alice.prepareStatement(prepared.sql())) {
            prepared.bind(ps);
            ps.execute();
        }

        Map<Integer, Map<String, String>> received = received();
        assertThat(received).hasSize(VALUES.size());
        for (int k = 1; k <= VALUES.size(); k++) {
            assertThat(received.get(k)).as(HostileValues.describe(VALUES.get(k - 1)))
                    .containsExactly(Map.entry("$name.*", VALUES.get(k - 1)));
        }
    }

    @Test
    void every_value_arrives_unchanged_as_a_row_sets_column_name() throws Exception {
        ObjectNode names = JsonNodeFactory.instance.objectNode();
        ObjectNode row = names.putArray("rows").addObject();
        for (int k = 1; k <= VALUES.size(); k++) {
            row.put(k + ":" + VALUES.get(k - 1), VALUES.get(k - 1));
        }
        names.put("row_count", 1);
        Map<String, JsonNode> results = new HashMap<>(hostile.results());
        results.put("names", names);
        PreparedSql prepared = Substitution.prepare("SELECT row_to_json(names)::text FROM $names.*",
                hostile.withResults(results));

        JsonNode json;
        try (PreparedStatement ps = alice.prepareStatement(prepared.sql())) {
            prepared.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                json = JSON.readTree(rs.getString(1));
            }
        }
        SoftAssertions soft = new SoftAssertions();
        soft.assertThat(json.size()).isEqualTo(VALUES.size());
        for (int k = 1; k <= VALUES.size(); k++) {
            String value = VALUES.get(k - 1);
            soft.assertThat(json.path(clipIdentifier(k + ":" + value)).asText(null)).as(HostileValues.describe(value))
                    .isEqualTo(value);
        }
        soft.assertAll();
    }

    @Test
    void every_value_arrives_unchanged_as_the_label() throws SQLException {
        SoftAssertions soft = new SoftAssertions();
        for (String value : VALUES) {
            SubstitutionContext labelled = new SubstitutionContext(Map.of(), "5ec0abcd", value, Map.of());
            PreparedSql prepared = Substitution.prepare(HostileSubstitution.LABEL_SELECT, labelled);
            soft.assertThat(structure(prepared.sql())).as(HostileValues.describe(value)).isEqualTo(structure(
                    Substitution.prepare(HostileSubstitution.LABEL_SELECT,
                            new SubstitutionContext(Map.of(), "5ec0abcd", "x", Map.of())).sql()));
            try (PreparedStatement ps = alice.prepareStatement(prepared.sql())) {
                prepared.bind(ps);
                try (ResultSet rs = ps.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    soft.assertThat(List.of(rs.getString(1), rs.getString(2), rs.getString(3),
                                    rs.getMetaData().getColumnLabel(4)))
                            .as(HostileValues.describe(value))
                            .containsExactly(value, "<" + value + ">", "<" + value + ">", clipIdentifier("L:" + value));
                }
            }
        }
        soft.assertAll();
    }

    // -------------------------------------------------------------------------------------------
    // {var} where a name stands
    // -------------------------------------------------------------------------------------------

    @Test
    void no_value_changes_the_structure_of_a_statement_where_it_stands_as_a_name_and_one_that_cannot_be_a_name_is_refused() {
        SoftAssertions soft = new SoftAssertions();
        int refused = 0;
        for (int k = 1; k <= VALUES.size(); k++) {
            String value = VALUES.get(k - 1);
            String template = HostileSubstitution.namePositions(k);
            if (!HostileSubstitution.nameable(value)) {
                refused++;
                soft.assertThatThrownBy(() -> Substitution.prepare(template, hostile))
                        .as("%s with %s", template, HostileValues.describe(value))
                        .isInstanceOf(GraphException.class)
                        .hasMessageStartingWith(HostileSubstitution.nameRefusal(k, value));
                continue;
            }
            String sql = Substitution.prepare(template, hostile).sql();
            soft.assertThat(structure(sql)).as("%s with %s", template, HostileValues.describe(value))
                    .isEqualTo(structure(Substitution.prepare(template, harmless).sql()));
            soft.assertThat(sql).as("%s with %s", template, HostileValues.describe(value))
                    .contains("idents." + quoteIdent(value) + " JOIN idents." + quoteIdent(value) + " AS b")
                    .endsWith(HostileSubstitution.comment(k));
        }
        soft.assertAll();
        assertThat(refused).as("values that cannot be a name: the empty one and the long ones").isGreaterThanOrEqualTo(2);
    }

    @Test
    void every_value_that_can_be_a_name_becomes_exactly_that_table_and_column_name() throws SQLException {
        List<Integer> ks = HostileSubstitution.indexes(VALUES).stream()
                .filter(k -> HostileSubstitution.nameable(VALUES.get(k - 1))).toList();
        assertThat(ks).hasSizeGreaterThanOrEqualTo(100);
        SoftAssertions soft = new SoftAssertions();
        alice.setAutoCommit(false);
        try (Statement s = alice.createStatement()) {
            s.execute("SET LOCAL search_path = idents");
            for (int k : ks) {
                run("CREATE TABLE idents.{v" + k + "} (k int)");
                run("INSERT INTO idents.{v" + k + "} (k) VALUES (" + k + ")");
            }
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT relname FROM pg_class WHERE relnamespace = 'idents'::regnamespace"
                    + " AND relkind = 'r'")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            soft.assertThat(tables).as("the tables created").containsExactlyInAnyOrderElementsOf(
                    ks.stream().map(k -> VALUES.get(k - 1)).toList());
            for (int k : ks) {
                PreparedSql prepared = Substitution.prepare(HostileSubstitution.namePositions(k), hostile);
                try (PreparedStatement ps = alice.prepareStatement(prepared.sql())) {
                    prepared.bind(ps);
                    try (ResultSet rs = ps.executeQuery()) {
                        soft.assertThat(rs.next()).as(HostileValues.describe(VALUES.get(k - 1))).isTrue();
                        soft.assertThat(List.of(rs.getString(1), rs.getString(2))).as(HostileValues.describe(VALUES.get(k - 1)))
                                .containsExactly(String.valueOf(k), VALUES.get(k - 1));
                    }
                }
            }

            // Column names: an INSERT column list and UPDATE SET targets, every value in one statement.
            s.execute("CREATE TABLE idents_cols.cols (" + ks.stream().map(k -> quoteIdent(VALUES.get(k - 1)) + " int")
                    .collect(Collectors.joining(", ")) + ")");
            run("INSERT INTO idents_cols.cols (" + ks.stream().map(k -> "{v" + k + "}").collect(Collectors.joining(", "))
                    + ") VALUES (" + ks.stream().map(String::valueOf).collect(Collectors.joining(", ")) + ")");
            run("UPDATE idents_cols.cols SET " + ks.stream().map(k -> "{v" + k + "} = -" + k)
                    .collect(Collectors.joining(", ")));
            JsonNode row;
            try (ResultSet rs = s.executeQuery("SELECT row_to_json(c)::text FROM idents_cols.cols c")) {
                assertThat(rs.next()).isTrue();
                row = readJson(rs.getString(1));
            }
            soft.assertThat(row.size()).isEqualTo(ks.size());
            for (int k : ks) {
                soft.assertThat(row.path(VALUES.get(k - 1)).asInt()).as("column %s", HostileValues.describe(VALUES.get(k - 1)))
                        .isEqualTo(-k);
            }
        } finally {
            alice.rollback();
            alice.setAutoCommit(true);
        }
        soft.assertAll();
    }

    @Test
    void a_name_that_is_empty_holds_a_nul_or_is_too_long_is_refused_and_an_unset_variable_stays_as_written()
            throws SQLException {
        SubstitutionContext odd = new SubstitutionContext(Map.of("nul", "a\u0000b; DROP TABLE canary"), "5ec0abcd", null, Map.of());
        assertThatThrownBy(() -> Substitution.prepare("DROP TABLE IF EXISTS {nul}", odd)).isInstanceOf(GraphException.class)
                .hasMessage("{nul} cannot be substituted as a name: its value 'a\\0b; DROP TABLE canary' contains a NUL character");
        for (int k = 1; k <= VALUES.size(); k++) {
            String value = VALUES.get(k - 1);
            if (value.getBytes(StandardCharsets.UTF_8).length > 63) {
                String sql = "TRUNCATE {v" + k + "}";
                assertThatThrownBy(() -> Substitution.prepare(sql, hostile)).as(HostileValues.describe(value))
                        .hasMessageStartingWith("{v" + k + "} cannot be substituted as a name: its value '")
                        .hasMessageEndingWith(" is " + value.getBytes(StandardCharsets.UTF_8).length
                                + " bytes long; a PostgreSQL name is at most 63 bytes (NAMEDATALEN - 1)");
            }
        }

        PreparedSql unset = Substitution.prepare("DELETE FROM {unset_var}", hostile);
        assertThat(unset.sql()).isEqualTo("DELETE FROM {unset_var}");
        try (PreparedStatement ps = alice.prepareStatement(unset.sql())) {
            assertThatThrownBy(ps::execute).isInstanceOf(SQLException.class)
                    .hasMessageContaining("syntax error at or near \"{\"");
        }
    }

    private static void run(String template) throws SQLException {
        PreparedSql prepared = Substitution.prepare(template, hostile);
        try (PreparedStatement ps = alice.prepareStatement(prepared.sql())) {
            prepared.bind(ps);
            ps.execute();
        }
    }

    private static String quoteIdent(String name) {
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }

    private static JsonNode readJson(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new AssertionError(text, e);
        }
    }

    @Test
    void a_value_holding_a_nul_character_is_refused_where_it_would_be_stored() {
        fx.refusalAs(ALICE, "SELECT df.setvar('nul', ?)", "a\u0000b").is("22021", "invalid byte sequence");
        assertThat(fx.countAs(ALICE, "SELECT count(*) FROM df.vars WHERE name = 'nul'")).isZero();
    }

    /** received as k → (ctx → v). */
    private static Map<Integer, Map<String, String>> received() throws SQLException {
        Map<Integer, Map<String, String>> out = new HashMap<>();
        try (Statement s = alice.createStatement(); ResultSet rs = s.executeQuery("SELECT k, ctx, v FROM received")) {
            while (rs.next()) {
                Map<String, String> byContext = out.computeIfAbsent(rs.getInt(1), k -> new LinkedHashMap<>());
                assertThat(byContext.put(rs.getString(2), rs.getString(3))).as("a second row for %s", rs.getString(2)).isNull();
            }
        }
        return out;
    }
}
