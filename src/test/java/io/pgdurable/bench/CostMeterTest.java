package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** How the benchmark reads CPU counters and prints what a step cost. */
class CostMeterTest {

    @Test
    void a_stat_line_gives_the_parent_and_the_own_and_the_reaped_childrens_ticks() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
        String line = "4242 (postgres: checkpointer (x) ) S 17 17 17 0 -1 4194560 120 0 0 0 30 12 700 55 20 0 1 0 99";

        Optional<long[]> stat = CostMeter.parseStat(line);

        assertThat(stat).hasValueSatisfying(s -> assertThat(s).containsExactly(17, 42, 755));
    }

    @Test
    void a_stat_line_that_is_cut_short_or_garbled_reads_as_no_process() {
        assertThat(CostMeter.parseStat("4242 (postgres) S 17 17")).isEmpty();
        assertThat(CostMeter.parseStat("no parenthesis here")).isEmpty();
        assertThat(CostMeter.parseStat("1 (x)")).isEmpty();
    }

    @Test
    void the_cost_line_prints_each_figure_or_says_why_it_was_skipped() {
        CostMeter.Cost measured = new CostMeter.Cost(8.84, 0.8512, 1.2, 0.9876, null, null, 0.4567);
        CostMeter.Cost skipped = new CostMeter.Cost(Double.NaN, Double.NaN, 1.2, Double.NaN,
                "skipped: pg_stat_statements is not in shared_preload_libraries",
                "skipped: the database does not run on this machine", Double.NaN);

        assertThat(measured.describe()).isEqualTo("statements/step 8.8  server ms/step 0.851  "
                + "worker JVM cpu ms/step 1.200  database cpu ms/step 0.988"
                + "  worker JIT compiler cpu ms/step 0.457");
        assertThat(skipped.describe()).isEqualTo("statements/step and server ms/step skipped: pg_stat_statements is"
                + " not in shared_preload_libraries  worker JVM cpu ms/step 1.200  database cpu ms/step skipped:"
                + " the database does not run on this machine");
    }
}
