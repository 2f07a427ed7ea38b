package io.pgdurable.security;

import static io.pgdurable.security.HostileSubstitution.DO_TAGS;
import static io.pgdurable.security.HostileSubstitution.SELECT_POSITIONS;
import static io.pgdurable.security.HostileSubstitution.clipIdentifier;
import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.literal;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
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

/**
 * The hostile corpus ({@link HostileValues}) through a running worker, as alice: the values come
 * from her variables, from named results of her steps and from her instances' labels, and reach
 * every position of {@link HostileSubstitution} in real steps, all values of a position in one
 * step. Every value arrives exactly as it was (as a JSON string in the step's result, as a row in
 * a table, as a column name), a {@code {var}} where a name stands becomes exactly that table's
 * name or, if it cannot be a name, fails its step with the documented message, a value that would
 * end its dollar quote fails its step with the documented message before anything runs, and the
 * table canary survives.
 */
class HostileSubstitutionWorkflowTest {
    /**
     * Labels longer than this are not tried here: df.start refuses them before anything is
     * written (the label is an index key; USER_GUIDE 7.9), so they never reach
     * {@code {sys_label}}. pgTAP 040 covers that refusal.
     */
    private static final int MAX_LABEL_CHARACTERS = 500;
    private static final List<String> VALUES = HostileValues.all();
    private static final ObjectMapper JSON = new ObjectMapper();

    private static SecurityFixture fx;

    @BeforeAll
    static void setUp() throws SQLException {
        fx = SecurityFixture.create("sec_hostile").startWorker();
        fx.exec("CREATE TABLE public.hostile (k int PRIMARY KEY, v text NOT NULL);"
                + "CREATE TABLE public.received (k int NOT NULL, ctx text NOT NULL, v text);"
                + "GRANT SELECT ON public.hostile TO " + ALICE + "; GRANT SELECT, INSERT ON public.received TO " + ALICE);
        try (Connection c = fx.connect(SecurityFixture.SUPERUSER);
             PreparedStatement ps = c.prepareStatement("INSERT INTO public.hostile VALUES (?, ?)")) {
            for (int k = 1; k <= VALUES.size(); k++) {
                ps.setInt(1, k);
                ps.setString(2, VALUES.get(k - 1));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        try (Connection c = fx.connect(ALICE); PreparedStatement ps = c.prepareStatement("SELECT df.setvar(?, ?)")) {
            for (int k = 1; k <= VALUES.size(); k++) {
                ps.setString(1, "v" + k);
                ps.setString(2, VALUES.get(k - 1));
                ps.execute();
            }
        }
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    @AfterEach
    void canaryUntouched() {
        fx.assertCanaryUntouched();
        fx.exec("TRUNCATE public.received");
    }

    /** {@code (a) ~> (b)} over the steps, as a balanced tree so that a long sequence stays shallow. */
    private static String sequence(List<String> steps) {
        if (steps.size() == 1) {
            return steps.get(0);
        }
        int half = steps.size() / 2;
        return "(" + sequence(steps.subList(0, half)) + ") ~> (" + sequence(steps.subList(half, steps.size())) + ")";
    }

    /** The steps that name every value: $hk, $wide.ck and $all. */
    private static List<String> namingSteps() {
        List<String> steps = new ArrayList<>();
        steps.add(literal("SELECT k, v FROM hostile ORDER BY k") + " |=> 'all'");
        steps.add(literal("SELECT " + HostileSubstitution.indexes(VALUES).stream()
                .map(k -> "max(v) FILTER (WHERE k = " + k + ") AS c" + k).collect(Collectors.joining(", "))
                + " FROM hostile") + " |=> 'wide'");
        for (int k = 1; k <= VALUES.size(); k++) {
            steps.add(literal("SELECT v FROM hostile WHERE k = " + k) + " |=> 'h" + k + "'");
        }
        return steps;
    }

    @Test
    void every_value_arrives_unchanged_in_every_position_of_a_running_workflow() throws Exception {
        List<Integer> ks = HostileSubstitution.indexes(VALUES);
        List<String> steps = namingSteps();
        Map<HostileSubstitution.SelectPosition, String> selects = new LinkedHashMap<>();
        for (HostileSubstitution.SelectPosition p : SELECT_POSITIONS) {
            selects.put(p, HostileSubstitution.select(p, ks));
            steps.add(literal(selects.get(p)));
        }
        Map<String, List<Integer>> doIndexes = new LinkedHashMap<>();
        for (String tag : DO_TAGS) {
            doIndexes.put(tag, ks.stream().filter(k -> !VALUES.get(k - 1).contains(tag)).toList());
            steps.add(literal(HostileSubstitution.doBlock(tag, doIndexes.get(tag))));
        }
        steps.add(literal(HostileSubstitution.ROW_SET));
        String identRows = "SELECT row_to_json(idents)::text AS j FROM $idents.*";
        steps.add(literal(HostileSubstitution.select(identifierPosition(), ks)) + " |=> 'idents'");
        steps.add(literal(identRows));

        String id = fx.startAs(ALICE, sequence(steps));
        // Some two hundred steps, one after the other: allow a second each.
        assertThat(fx.awaitAs(ALICE, id, Duration.ofSeconds(steps.size()))).isEqualTo("completed");

        SoftAssertions soft = new SoftAssertions();
        for (Map.Entry<HostileSubstitution.SelectPosition, String> select : selects.entrySet()) {
            HostileSubstitution.SelectPosition p = select.getKey();
            JsonNode row = stepResult(id, select.getValue()).path("rows").path(0);
            for (int k : ks) {
                String value = VALUES.get(k - 1);
                if (p.identifier()) {
                    String column = clipIdentifier(k + ":" + value);
                    soft.assertThat(row.has(column)).as("%s: column named %s", p, HostileValues.describe(value)).isTrue();
                } else {
                    JsonNode cell = row.path("c" + k);
                    soft.assertThat(cell.isTextual()).as("%s: %s arrives as a string", p, HostileValues.describe(value))
                            .isTrue();
                    soft.assertThat(cell.asText()).as("%s: %s", p, HostileValues.describe(value))
                            .isEqualTo(p.expectedFor(k, value));
                }
            }
            soft.assertThat(row.size()).as("%s: one column per value", p).isEqualTo(VALUES.size());
        }
        Map<Integer, Map<String, String>> received = received();
        for (int k : ks) {
            String value = VALUES.get(k - 1);
            Map<String, String> expected = new HashMap<>();
            for (String tag : DO_TAGS) {
                if (doIndexes.get(tag).contains(k)) {
                    expected.putAll(HostileSubstitution.expectedDoRows(tag, value));
                }
            }
            expected.put("$name.*", value);
            soft.assertThat(received.getOrDefault(k, Map.of())).as("received for %s", HostileValues.describe(value)).isEqualTo(expected);
        }
        JsonNode idents = JSON.readTree(stepResult(id, identRows).path("rows").path(0)
                .path("j").asText());
        for (int k : ks) {
            soft.assertThat(idents.has(clipIdentifier(k + ":" + VALUES.get(k - 1))))
                    .as("row set column named %s", HostileValues.describe(VALUES.get(k - 1))).isTrue();
        }
        soft.assertAll();
    }

    @Test
    void a_value_that_would_end_its_dollar_quote_fails_the_step_before_anything_runs() {
        Map<String, String> instances = new LinkedHashMap<>();
        Map<String, String> expected = new LinkedHashMap<>();
        for (String tag : DO_TAGS) {
            for (int k = 1; k <= VALUES.size(); k++) {
                if (VALUES.get(k - 1).contains(tag)) {
                    String step = "DO " + tag + " BEGIN INSERT INTO received VALUES (" + k + ", 'refused', {v" + k + "}); END " + tag;
                    String id = fx.startAs(ALICE, literal("INSERT INTO received VALUES (" + k + ", 'before', 'x')")
                            + " ~> " + literal(step));
                    instances.put(id, HostileValues.describe(VALUES.get(k - 1)));
                    expected.put(id, "Cannot substitute {v" + k + "} " + HostileSubstitution.dollarRefusal(tag));
                }
            }
        }
        assertThat(instances).hasSizeGreaterThanOrEqualTo(DO_TAGS.size());
        fx.awaitAll(instances.keySet());

        SoftAssertions soft = new SoftAssertions();
        for (String id : instances.keySet()) {
            soft.assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", id)).as(instances.get(id)).isEqualTo("failed");
            soft.assertThat(fx.rootError(id)).as(instances.get(id)).isEqualTo(expected.get(id));
        }
        soft.assertAll();
        assertThat(fx.count("SELECT count(*) FROM received WHERE ctx = 'refused'")).isZero();
        assertThat(fx.count("SELECT count(*) FROM received WHERE ctx = 'before'")).isEqualTo(instances.size());
    }

    @Test
    void every_value_that_can_be_a_name_becomes_exactly_that_table_in_a_running_workflow_and_the_others_fail_their_step()
            throws Exception {
        fx.exec("CREATE SCHEMA wf_idents AUTHORIZATION " + ALICE);
        List<Integer> ks = HostileSubstitution.indexes(VALUES).stream()
                .filter(k -> HostileSubstitution.nameable(VALUES.get(k - 1)) && !VALUES.get(k - 1).contains("$q$")).toList();
        assertThat(ks).hasSizeGreaterThanOrEqualTo(100);
        String create = "DO $q$ BEGIN " + ks.stream()
                .map(k -> "CREATE TABLE wf_idents.{v" + k + "} (k int); INSERT INTO wf_idents.{v" + k + "} (k) VALUES (" + k + ");")
                .collect(Collectors.joining(" ")) + " END $q$";
        String read = "SELECT array_agg(k ORDER BY k)::text AS ks FROM (" + ks.stream()
                .map(k -> "SELECT k FROM wf_idents.{v" + k + "}").collect(Collectors.joining(" UNION ALL ")) + ") u";
        String id = fx.startAs(ALICE, literal(create) + " ~> " + literal(read));

        Map<String, String> refused = new LinkedHashMap<>();
        Map<String, String> expected = new LinkedHashMap<>();
        for (int k = 1; k <= VALUES.size(); k++) {
            String value = VALUES.get(k - 1);
            if (!HostileSubstitution.nameable(value)) {
                String refusedId = fx.startAs(ALICE, literal("INSERT INTO received VALUES (" + k + ", 'before', 'x')")
                        + " ~> " + literal("CREATE TABLE wf_idents.{v" + k + "} (k int)"));
                refused.put(refusedId, HostileValues.describe(value));
                expected.put(refusedId, HostileSubstitution.nameRefusal(k, value));
            }
        }
        assertThat(refused).hasSizeGreaterThanOrEqualTo(2);
        assertThat(fx.awaitAs(ALICE, id)).isEqualTo("completed");
        fx.awaitAll(refused.keySet());

        SoftAssertions soft = new SoftAssertions();
        soft.assertThat(fx.columnAs(SecurityFixture.SUPERUSER,
                        "SELECT relname FROM pg_class WHERE relnamespace = 'wf_idents'::regnamespace AND relkind = 'r'"))
                .as("the tables the workflow created")
                .containsExactlyInAnyOrderElementsOf(ks.stream().map(k -> VALUES.get(k - 1)).toList());
        soft.assertThat(stepResult(id, read).path("rows").path(0).path("ks").asText())
                .isEqualTo(ks.stream().map(String::valueOf).collect(Collectors.joining(",", "{", "}")));
        for (String refusedId : refused.keySet()) {
            soft.assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", refusedId)).as(refused.get(refusedId))
                    .isEqualTo("failed");
            soft.assertThat(fx.rootError(refusedId)).as(refused.get(refusedId)).startsWith(expected.get(refusedId));
        }
        soft.assertAll();
        assertThat(fx.count("SELECT count(*) FROM received WHERE ctx = 'before'")).isEqualTo(refused.size());
    }

    @Test
    void a_placeholder_inside_a_unicode_string_fails_the_step() {
        assertThat(fx.failureOf(ALICE, literal("SELECT U&'{v1}' AS v")))
                .isEqualTo("{v1} cannot be substituted inside a U&'…' string; use a plain '…' string or \"…\" identifier");
    }

    @Test
    void every_value_arrives_unchanged_as_the_label() throws Exception {
        List<String> labels = VALUES.stream()
                .filter(v -> v.codePointCount(0, v.length()) <= MAX_LABEL_CHARACTERS).toList();
        assertThat(labels).hasSizeGreaterThanOrEqualTo(100);
        List<String> ids = new ArrayList<>();
        try (Connection c = fx.connect(ALICE); PreparedStatement ps = c.prepareStatement(
                "SELECT df.start(" + literal(HostileSubstitution.LABEL_SELECT) + ", label => ?)")) {
            c.setAutoCommit(false);
            for (String label : labels) {
                ps.setString(1, label);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    ids.add(rs.getString(1));
                }
            }
            c.commit();
        }
        fx.awaitAll(ids);

        SoftAssertions soft = new SoftAssertions();
        for (int i = 0; i < ids.size(); i++) {
            String label = labels.get(i);
            String result = fx.queryAs(ALICE, "SELECT df.result(?)", ids.get(i));
            soft.assertThat(result).as("result for label %s", HostileValues.describe(label)).isNotNull();
            if (result == null) {
                continue;
            }
            JsonNode row = JSON.readTree(result).path("rows").path(0);
            soft.assertThat(List.of(row.path("bare").asText(), row.path("quoted").asText(), row.path("escaped").asText()))
                    .as(HostileValues.describe(label)).containsExactly(label, "<" + label + ">", "<" + label + ">");
            soft.assertThat(row.has(clipIdentifier("L:" + label))).as("column named %s", HostileValues.describe(label))
                    .isTrue();
        }
        soft.assertAll();
    }

    private static HostileSubstitution.SelectPosition identifierPosition() {
        return SELECT_POSITIONS.stream().filter(p -> p.name().equals("$name in \"…\"")).findFirst().orElseThrow();
    }

    /** The stored result of the instance's step whose SQL is exactly {@code query}. */
    private static JsonNode stepResult(String id, String query) throws Exception {
        String result = fx.queryAs(ALICE, "SELECT result::text FROM df.nodes WHERE instance_id = ? AND query = ?", id, query);
        assertThat(result).as("result of step %s", query.substring(0, Math.min(80, query.length()))).isNotNull();
        return JSON.readTree(result);
    }

    /** received as k → (ctx → v). */
    private static Map<Integer, Map<String, String>> received() throws SQLException {
        Map<Integer, Map<String, String>> out = new HashMap<>();
        try (Connection c = fx.connect(SecurityFixture.SUPERUSER);
             PreparedStatement ps = c.prepareStatement("SELECT k, ctx, v FROM received");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Map<String, String> byContext = out.computeIfAbsent(rs.getInt(1), k -> new LinkedHashMap<>());
                assertThat(byContext.put(rs.getString(2), rs.getString(3))).as("a second row for %s", rs.getString(2)).isNull();
            }
        }
        return out;
    }
}
