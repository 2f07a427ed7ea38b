package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.WorkflowRuns.json;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Node types nested in one another, and the shapes of JOIN and RACE results when they are: a
 * JOIN inside an IF inside a THEN, a RACE inside a JOIN, nested JOINs as nested arrays, an IF
 * whose condition is itself a composition.
 */
class DfCompositionTest {
    private static DfTestEnvironment env;
    private static WorkflowRuns runs;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_composition");
        runs = new WorkflowRuns(env);
        env.exec("CREATE TABLE visits (what text NOT NULL)");
        env.exec("GRANT ALL ON ALL TABLES IN SCHEMA public TO " + env.role());
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    private static String rows(String column, String value) {
        return "{\"rows\": [{\"" + column + "\": " + value + "}], \"row_count\": 1}";
    }

    @Test
    void a_join_inside_the_taken_arm_of_an_if_after_a_step_returns_the_join_array() {
        String id = runs.start("(" + step("SELECT 1 AS x") + " |=> 'x') ~> (" + step("SELECT $x = 1") + " ?> ("
                + step("SELECT 'l' AS a") + " & " + step("SELECT 'r' AS b") + ") !> "
                + step("INSERT INTO visits VALUES ('untaken else') RETURNING what") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[" + rows("a", "\"l\"") + ", " + rows("b", "\"r\"") + "]");
        assertThat(runs.count("SELECT count(*) FROM visits WHERE what = 'untaken else'")).isZero();
    }

    @Test
    void nested_joins_give_nested_arrays_in_branch_order() {
        String id = runs.start("(" + step("SELECT 1 AS a") + " & " + step("SELECT 2 AS b") + ") & "
                + "df.join3(" + step("SELECT 3 AS c") + ", (" + step("SELECT 4 AS d") + " & " + step("SELECT 5 AS e")
                + "), " + step("SELECT 6 AS f") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[[" + rows("a", "1") + ", " + rows("b", "2") + "], ["
                + rows("c", "3") + ", [" + rows("d", "4") + ", " + rows("e", "5") + "], " + rows("f", "6") + "]]");
    }

    @Test
    void a_race_inside_a_join_contributes_only_its_winners_result() {
        String id = runs.start("(df.sleep(30) | " + step("SELECT 'fast' AS w") + ") & " + step("SELECT 'other' AS o"));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[" + rows("w", "\"fast\"") + ", " + rows("o", "\"other\"") + "]");
    }

    @Test
    void a_join_inside_a_race_branch_wins_as_a_whole() {
        String id = runs.start("(" + step("SELECT 1 AS a") + " & " + step("SELECT 2 AS b") + ") | df.sleep(30)");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[" + rows("a", "1") + ", " + rows("b", "2") + "]");
    }

    @Test
    void a_race_between_sequences_returns_the_last_result_of_the_faster_sequence() {
        String id = runs.start("(" + step("SELECT 'slow 1'") + " ~> df.sleep(30) ~> " + step("SELECT 'slow 2' AS v") + ") | ("
                + step("SELECT 'fast 1'") + " ~> " + step("SELECT 'fast 2' AS v") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo(rows("v", "\"fast 2\""));
    }

    @Test
    void an_if_condition_may_be_a_join_and_is_true_when_its_array_is_not_empty() {
        String id = runs.start("((" + step("SELECT false") + " & " + step("SELECT false") + ") ?> "
                + step("SELECT 'then' AS arm") + " !> " + step("SELECT 'else' AS arm") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo(rows("arm", "\"then\""));
    }

    @Test
    void an_if_inside_a_join_branch_inside_a_then_takes_its_arm_in_the_branch() {
        String id = runs.start(step("INSERT INTO visits VALUES ('before join')") + " ~> (("
                + step("SELECT count(*) = 1 FROM visits WHERE what = 'before join'") + " ?> " + step("SELECT 'seen' AS s")
                + " !> " + step("SELECT 'missed' AS s") + ") & (" + step("SELECT false") + " ?> " + step("SELECT 'no' AS t")
                + " !> " + step("SELECT 'yes' AS t") + ")) ~> " + step("SELECT 'after join' AS done"));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo(rows("done", "\"after join\""));
        JsonNode join = json(runs.nodeResult(id, "JOIN"));
        assertThat(join.at("/0/rows/0/s").asText()).isEqualTo("seen");
        assertThat(join.at("/1/rows/0/t").asText()).isEqualTo("yes");
    }

    @Test
    void cancelling_a_race_loser_also_cancels_the_branches_it_started() {
        String id = runs.start("(df.sleep(30) & (" + step("SELECT 1") + " ~> df.sleep(30))) | (" + step("SELECT 'fast' AS w FROM pg_sleep(0.5)") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo(rows("w", "\"fast\""));
        String loser = id + "::1::" + runs.nodeId(id, "JOIN");
        DfTestEnvironment.awaitTrue(() -> runs.count("""
                SELECT count(*) FROM df_engine.instances WHERE id LIKE ? || '::%' AND status <> 'Cancelled'
                """, loser) == 0 && "Cancelled".equals(runs.engineStatus(loser)), Duration.ofSeconds(10),
                "the losing JOIN " + loser + " and its branches to be cancelled");
        assertThat(runs.count("SELECT count(*) FROM df_engine.instances WHERE id LIKE ? || '::%'", loser)).isEqualTo(2);
    }

    @Test
    void a_hand_written_join_with_four_branches_returns_four_results_in_order() {
        String graph = "{\"node_type\":\"JOIN\",\"left_node\":{\"node_type\":\"SQL\",\"query\":\"SELECT 1 AS n\"},"
                + "\"right_node\":{\"node_type\":\"SQL\",\"query\":\"SELECT 2 AS n\"},\"extra_nodes\":["
                + "{\"node_type\":\"SQL\",\"query\":\"SELECT 3 AS n\"},{\"node_type\":\"SQL\",\"query\":\"SELECT 4 AS n\"}]}";
        String id = runs.start(WorkflowRuns.literal(graph));
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[" + rows("n", "1") + ", " + rows("n", "2") + ", " + rows("n", "3") + ", "
                + rows("n", "4") + "]");
    }

    @Test
    void a_race_winner_may_be_a_deeper_composition_than_the_loser() {
        String id = runs.start("(df.sleep(30) ~> " + step("INSERT INTO visits VALUES ('race loser ran')") + ") | ("
                + step("SELECT true") + " ?> (" + step("SELECT 'deep' AS d") + " & df.sleep(0)) !> " + step("SELECT 0") + ")");
        runs.assertCompleted(id);

        assertThat(env.result(id)).isEqualTo("[" + rows("d", "\"deep\"") + ", {\"slept\": true, \"seconds\": 0}]");
        String race = runs.nodeId(id, "RACE");
        String loser = env.queryAsApp("SELECT left_node FROM df.nodes WHERE instance_id = ? AND id = ?", id, race);
        DfTestEnvironment.awaitTrue(() -> "Cancelled".equals(runs.engineStatus(id + "::1::" + loser)),
                Duration.ofSeconds(10), "the losing branch to be cancelled");
        assertThat(runs.count("SELECT count(*) FROM visits WHERE what = 'race loser ran'")).isZero();
    }
}
