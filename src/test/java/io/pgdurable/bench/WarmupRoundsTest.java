package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/** When the warm-up stops: the compiler's CPU time per round is scripted, not measured. */
class WarmupRoundsTest {
    /** Far more compiler time than any round's wall time. */
    private static final double BUSY = 1e12;

    @Test
    void rounds_repeat_while_the_compiler_is_busy_and_stop_once_it_is_idle() throws SQLException {
        Script compiler = new Script(0, BUSY, 2 * BUSY, 2 * BUSY);

        int rounds = run(compiler, 5);

        assertThat(rounds).isEqualTo(3);
        assertThat(compiler.printed).contains("test: warm-up round 1 took")
                .containsPattern("round 3 took \\d+\\.\\d\\d s, JIT compiler 0 ms; settled")
                .doesNotContain("round 4");
    }

    @Test
    void a_compiler_that_never_settles_gets_every_round_allowed() throws SQLException {
        Script compiler = new Script(0, BUSY, 2 * BUSY, 3 * BUSY);

        int rounds = run(compiler, 3);

        assertThat(rounds).isEqualTo(3);
        assertThat(compiler.printed).contains("; not settled after --warmup-rounds=3");
    }

    @Test
    void a_jvm_that_starts_during_the_first_round_counts_its_compiling_from_zero() throws SQLException {
        // PL/Java's JVM does not exist before the in-database worker's first call.
        Script compiler = new Script(-1, BUSY, BUSY, BUSY);

        int rounds = run(compiler, 5);

        assertThat(rounds).isEqualTo(2);
    }

    @Test
    void where_the_compiler_cannot_be_seen_one_round_is_run() throws SQLException {
        Script compiler = new Script(-1, -1, -1, -1);

        int rounds = run(compiler, 5);

        assertThat(rounds).isEqualTo(1);
        assertThat(compiler.printed).contains("JIT compiler time unknown; settled");
    }

    @Test
    void the_compiler_of_a_process_that_does_not_exist_is_unknown() {
        assertThat(CostMeter.compilerCpuMillis("999999999")).isEqualTo(-1);
    }

    private static int run(Script compiler, int maxRounds) throws SQLException {
        int[] rounds = {0};
        StringWriter printed = new StringWriter();
        WarmupRounds.repeat(new PrintWriter(printed, true), "test", maxRounds, compiler::next, () -> rounds[0]++);
        compiler.printed = printed.toString();
        return rounds[0];
    }

    /**
     * Compiler CPU readings: the first before round 1, each next one after a round and again
     * before the round that follows it; past the end, the last one.
     */
    private static final class Script {
        private final double[] values;
        private int calls;
        String printed;

        Script(double... values) {
            this.values = values;
        }

        double next() {
            int i = Math.min((calls + 1) / 2, values.length - 1);
            calls++;
            return values[i];
        }
    }
}
