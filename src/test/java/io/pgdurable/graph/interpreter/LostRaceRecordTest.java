package io.pgdurable.graph.interpreter;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.TurnWrite;
import io.pgdurable.engine.store.TurnWrites;
import io.pgdurable.testing.Jdbc;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A loop branch that lost a RACE stays recorded failed with the reason, whatever order the
 * parent's record and the writes of the loop's own child orchestration reach {@code df.nodes}
 * in: the child's first turn (which marks the loop running) may come after the parent's turn
 * that decided the race, in a later batch or later in the same batch of turns. Each order is
 * forced here by applying the writes as the worker's turn batches apply them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LostRaceRecordTest {
    private static final String DF = "0000abcd";
    private static final String LOOP = "0000000b";
    private static final String BODY = "0000000c";
    /** The parent (the root, generation 1) and the losing branch's child orchestration. */
    private static final String PARENT = DF + "::1";
    private static final String CHILD = PARENT + "::" + LOOP;

    private final TestCluster cluster = TestCluster.get();
    private String db;

    @BeforeAll
    void database() {
        db = cluster.createDatabase("lost_race_record");
    }

    @BeforeEach
    void aLoopNodeRunning() throws SQLException {
        exec("DELETE FROM df.nodes; DELETE FROM df.instances");
        exec("INSERT INTO df.instances (id, root_node, status) VALUES ('" + DF + "', '" + LOOP + "', 'running')");
        exec("INSERT INTO df.nodes (id, instance_id, node_type, left_node, status) VALUES ('" + LOOP + "', '" + DF
                + "', 'LOOP', '" + BODY + "', 'pending')");
        exec("INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('" + BODY + "', '" + DF
                + "', 'SLEEP', '30')");
    }

    @Test
    void the_childs_first_turn_in_a_later_batch_does_not_undo_the_record() throws SQLException {
        apply(lostRace());
        apply(childRunning(CHILD + "::1"));

        assertThat(loop()).isEqualTo("failed Loop branch cancelled after losing RACE " + CHILD + "::1");
    }

    @Test
    void the_childs_first_turn_later_in_the_same_batch_does_not_undo_the_record() throws SQLException {
        apply(lostRace(), childRunning(CHILD + "::1"));

        assertThat(loop()).isEqualTo("failed Loop branch cancelled after losing RACE " + CHILD + "::1");
    }

    @Test
    void the_record_after_the_childs_first_turn_replaces_its_status() throws SQLException {
        apply(childRunning(CHILD + "::1"), lostRace());

        assertThat(loop()).isEqualTo("failed Loop branch cancelled after losing RACE " + CHILD + "::1");
    }

    @Test
    void later_generations_and_descendants_of_the_same_child_do_not_undo_it_either() throws SQLException {
        apply(lostRace());
        apply(childRunning(CHILD + "::12"));
        apply(GraphOrchestration.nodeStatus(DF, LOOP, "completed", "\"done\"", CHILD + "::1::" + LOOP + "::3"));

        assertThat(loop()).isEqualTo("failed Loop branch cancelled after losing RACE " + CHILD + "::1");
    }

    @Test
    void a_new_child_for_the_node_in_a_later_generation_of_an_enclosing_loop_writes_as_usual() throws SQLException {
        String enclosing = DF + "::1::0000000a";
        apply(GraphOrchestration.lostRace(DF, LOOP, enclosing + "::2::" + LOOP));
        apply(childRunning(enclosing + "::3::" + LOOP + "::1"));

        assertThat(loop()).isEqualTo("running null " + enclosing + "::3::" + LOOP + "::1");
    }

    @Test
    void the_guard_touches_only_a_lost_race_record() throws SQLException {
        apply(GraphOrchestration.nodeStatus(DF, LOOP, "failed", "\"another reason\"", CHILD + "::1"));
        apply(childRunning(CHILD + "::1"));
        apply(GraphOrchestration.nodeStatus(DF, BODY, "running", null, CHILD + "::1"));

        assertThat(loop()).isEqualTo("running null " + CHILD + "::1");
        assertThat(query("SELECT status FROM df.nodes WHERE id = '" + BODY + "'")).isEqualTo("running");
    }

    private static TurnWrite lostRace() {
        return GraphOrchestration.lostRace(DF, LOOP, CHILD);
    }

    private static TurnWrite childRunning(String stamp) {
        return GraphOrchestration.nodeStatus(DF, LOOP, "running", null, stamp);
    }

    /** Applies {@code writes} as one batch of turns, in one transaction. */
    private void apply(TurnWrite... writes) throws SQLException {
        try (Connection c = cluster.connect(db)) {
            c.setAutoCommit(false);
            TurnWrites.apply(c, List.of(writes));
            c.commit();
        }
    }

    private String loop() throws SQLException {
        return query("SELECT status || ' ' || coalesce(result #>> '{}', 'null') || ' ' || (status_details ->> 'execution_id')"
                + " FROM df.nodes WHERE id = '" + LOOP + "'");
    }

    private String query(String sql) throws SQLException {
        try (Connection c = cluster.connect(db)) {
            return Jdbc.single(c, sql);
        }
    }

    private void exec(String sql) throws SQLException {
        try (Connection c = cluster.connect(db)) {
            Jdbc.execute(c, sql);
        }
    }
}
