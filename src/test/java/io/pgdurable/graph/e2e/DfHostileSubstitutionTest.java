package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.json;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Values that would break out of their place if pasted into SQL text, fed to real steps through
 * named results, variables and the label, in every position a placeholder can stand: bare,
 * inside {@code '…'}, {@code E'…'} and {@code "…"}, and inside a dollar-quoted DO body (and, left
 * alone, in comments). Each must arrive exactly as it was, and the table the injections aim at
 * must survive.
 */
class DfHostileSubstitutionTest {
    private static final List<String> HOSTILE = List.of(
            "' OR true --",
            "$$",
            "'); DROP TABLE victim; --",
            "back\\slash \\' and \\\\ two",
            "$other",
            "{greeting}",
            "\"; DROP TABLE victim; --",
            "what? ?? ?| $1 :name",
            "*/ -- /* \n; ünï ✓",
            "E'\\x27' $q$ U&'\\0061'",
            "'",
            "a trailing backslash \\");

    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() throws SQLException {
        env = new DfTestEnvironment("e2e_hostile");
        runs = new WorkflowRuns(env);
        env.exec("""
                CREATE TABLE hostile (k int PRIMARY KEY, v text NOT NULL);
                CREATE TABLE received (k int NOT NULL, context text NOT NULL, v text);
                CREATE TABLE victim (id int);
                INSERT INTO victim VALUES (1);
                """);
        env.exec("GRANT ALL ON hostile, received TO " + env.role() + "; ALTER TABLE victim OWNER TO " + env.role());
        try (Connection c = env.connectAsAdmin();
             PreparedStatement ps = c.prepareStatement("INSERT INTO hostile VALUES (?, ?)")) {
            for (int k = 0; k < HOSTILE.size(); k++) {
                ps.setInt(1, k + 1);
                ps.setString(2, HOSTILE.get(k));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        env.queryAsApp("SELECT df.setvar('greeting', 'hello')");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @AfterEach
    void victimSurvives() {
        assertThat(env.queryAsAdmin("SELECT to_regclass('public.victim') IS NOT NULL")).isEqualTo("t");
        assertThat(runs.count("SELECT count(*) FROM victim")).isEqualTo(1);
    }

    static Stream<Named<Integer>> hostileValues() {
        return Stream.iterate(1, k -> k + 1).limit(HOSTILE.size())
                .map(k -> Named.of(HOSTILE.get(k - 1).replace("\n", "\\n"), k));
    }

    /** context → value received for key k. */
    private static Map<String, String> received(int k) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Connection c = env.connectAsAdmin();
             PreparedStatement ps = c.prepareStatement("SELECT context, v FROM received WHERE k = ? ORDER BY context")) {
            ps.setInt(1, k);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("hostileValues")
    void a_hostile_value_arrives_unchanged_in_every_position(int k) throws SQLException {
        String value = HOSTILE.get(k - 1);
        env.queryAsApp("SELECT df.setvar(?, ?)", "hv" + k, value);
        String id = runs.start("(" + step("SELECT 'other value' AS v") + " |=> 'other') ~> ("
                + step("SELECT v FROM hostile WHERE k = " + k) + " |=> 'h') ~> "
                + step("INSERT INTO received (k, context, v) VALUES (" + k + ", 'bare', $h), (" + k + ", 'column', $h.v), ("
                        + k + ", 'quoted', '$h'), (" + k + ", 'escape string', E'$h'), (" + k + ", 'cast', $h::text), ("
                        + k + ", 'inside a literal', '<$h>'), (" + k + ", 'concatenated', '<' || $h || '>')"
                        + " /* $h */ -- $h")
                + " ~> " + step("DO $do$ BEGIN INSERT INTO received VALUES (" + k + ", 'do body', $h); END $do$")
                + " ~> " + step("INSERT INTO received SELECT " + k + ", 'identifier', (SELECT key FROM json_each(row_to_json(t)))"
                        + " FROM (SELECT 1 AS \"$h\") t")
                + " ~> " + step("INSERT INTO received VALUES (" + k + ", 'variable', {hv" + k + "}), (" + k
                        + ", 'variable quoted', '{hv" + k + "}')"));
        runs.assertCompleted(id);

        Map<String, String> expected = new LinkedHashMap<>();
        for (String context : List.of("bare", "column", "quoted", "escape string", "cast", "do body", "identifier",
                "variable", "variable quoted")) {
            expected.put(context, value);
        }
        expected.put("inside a literal", "<" + value + ">");
        expected.put("concatenated", "<" + value + ">");
        assertThat(received(k)).containsExactlyInAnyOrderEntriesOf(expected);
    }

    @Test
    void hostile_values_in_a_row_set_expansion_arrive_unchanged() {
        String result = runs.resultOf("(" + step("SELECT k, v FROM hostile ORDER BY k") + " |=> 'all') ~> "
                + step("SELECT count(*) AS matched, (SELECT count(*) FROM hostile) AS total FROM $all.*"
                        + " JOIN hostile h ON h.k = \"all\".k AND h.v = \"all\".v"));

        assertThat(json(result).at("/rows/0/matched").asInt()).isEqualTo(HOSTILE.size());
        assertThat(json(result).at("/rows/0/total").asInt()).isEqualTo(HOSTILE.size());
    }

    @Test
    void a_hostile_label_arrives_unchanged_through_sys_label() throws SQLException {
        String label = "'); DROP TABLE victim; -- $$ {greeting}";
        String id = runs.start(step("INSERT INTO received VALUES (100, 'label', {sys_label}), (100, 'label quoted', '{sys_label}')")
                + ", " + WorkflowRuns.literal(label));
        runs.assertCompleted(id);

        assertThat(received(100)).containsExactlyInAnyOrderEntriesOf(Map.of("label", label, "label quoted", label));
    }

    @Test
    void a_value_that_would_close_its_dollar_quote_fails_the_step_and_runs_nothing() throws SQLException {
        String id = runs.start("(" + step("SELECT 'x $do$; DROP TABLE victim; DO $do$ BEGIN' AS v") + " |=> 'h') ~> "
                + step("DO $do$ BEGIN INSERT INTO received VALUES (200, 'do body', $h); END $do$"));
        runs.assertFailed(id);

        assertThat(runs.rootError(id)).startsWith("Cannot substitute $h inside the dollar-quoted string $do$…$do$");
        assertThat(received(200)).isEmpty();
    }

    @Test
    void a_string_that_looks_like_a_number_or_boolean_stays_text() {
        String result = runs.resultOf("(" + step("SELECT '1 OR 1=1' AS a, 'true' AS b, '0x1F' AS c") + " |=> 'r') ~> "
                + step("SELECT $r.a AS a, $r.b = 'true' AS b_is_text, $r.c AS c"));

        assertThat(json(result).at("/rows/0/a").asText()).isEqualTo("1 OR 1=1");
        assertThat(json(result).at("/rows/0/b_is_text").asBoolean()).isTrue();
        assertThat(json(result).at("/rows/0/c").asText()).isEqualTo("0x1F");
    }
}
