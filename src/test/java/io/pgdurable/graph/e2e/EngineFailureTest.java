package io.pgdurable.graph.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * When the engine fails a graph instance itself, because a turn could not be written, the df
 * rows say so: the instance and its running nodes become 'failed' instead of staying 'running'.
 */
class EngineFailureTest {
    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("df_engine_failure");
        // A turn write the database refuses: marking this one step completed raises an error.
        env.exec("""
                CREATE FUNCTION public.refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.status = 'completed' AND NEW.query = 'SELECT ''poisoned'' AS p' THEN
                        RAISE EXCEPTION 'node % refused by a test trigger', NEW.id;
                    END IF;
                    RETURN NEW;
                END $$""");
        env.exec("CREATE TRIGGER refuse_poisoned BEFORE UPDATE ON df.nodes FOR EACH ROW"
                + " EXECUTE FUNCTION public.refuse_poisoned()");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void an_instance_whose_turn_cannot_be_written_is_failed_in_df_too() {
        String id = env.start("'SELECT 1 AS one' ~> 'SELECT ''poisoned'' AS p'");

        assertThat(env.await(id, Duration.ofSeconds(20))).isEqualTo("failed");
        assertThat(env.queryAsAdmin("SELECT status FROM df_engine.instances WHERE id = ?", id)).isEqualTo("Failed");
        assertThat(env.queryAsAdmin("SELECT result #>> '{}' FROM df.nodes WHERE instance_id = ? AND query = ?",
                id, "SELECT 'poisoned' AS p"))
                .startsWith("the engine failed the instance: ")
                .contains("refused by a test trigger");
        assertThat(env.queryAsAdmin("SELECT count(*) FROM df.nodes WHERE instance_id = ? AND status = 'running'", id))
                .isEqualTo("0");
        assertThat(env.queryAsAdmin("SELECT status FROM df.nodes WHERE instance_id = ? AND query = 'SELECT 1 AS one'",
                id)).isEqualTo("completed");
    }
}
