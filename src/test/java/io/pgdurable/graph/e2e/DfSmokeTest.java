package io.pgdurable.graph.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DfSmokeTest {
    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("df_smoke");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void a_sequence_with_a_named_result_completes_with_the_last_steps_rows() {
        String id = env.start("('SELECT 41 + 1 AS answer' |=> 'a') ~> 'SELECT $a * 2 AS doubled'");
        assertThat(env.await(id, Duration.ofSeconds(20))).isEqualTo("completed");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"doubled\": 84}], \"row_count\": 1}");
    }
}
