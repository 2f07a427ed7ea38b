package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
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
        CostMeter.Cost measured = new CostMeter.Cost(8.84, 0.8512, 1.2, 0.9876, null, null, 0.4567,
                new CostMeter.Split(0.7104, 0.1372, 0.14));
        CostMeter.Cost skipped = new CostMeter.Cost(Double.NaN, Double.NaN, 1.2, Double.NaN,
                "skipped: pg_stat_statements is not in shared_preload_libraries",
                "skipped: the database does not run on this machine", Double.NaN, null);

        assertThat(measured.describe()).isEqualTo("statements/step 8.8  server ms/step 0.851  "
                + "worker JVM cpu ms/step 1.200  database cpu ms/step 0.988"
                + "  worker JIT compiler cpu ms/step 0.457"
                + "  database cpu ms/step on activity connections 0.710  on worker connections 0.137"
                + "  elsewhere 0.140");
        assertThat(skipped.describe()).isEqualTo("statements/step and server ms/step skipped: pg_stat_statements is"
                + " not in shared_preload_libraries  worker JVM cpu ms/step 1.200  database cpu ms/step skipped:"
                + " the database does not run on this machine");
    }

    @Test
    void backends_are_told_apart_by_their_application_name() {
        assertThat(CostMeter.Where.of("pg_durable:worker:workflow-sql")).isEqualTo(CostMeter.Where.ACTIVITIES);
        assertThat(CostMeter.Where.of(EngineBenchmark.ACTIVITY_CONNECTIONS)).isEqualTo(CostMeter.Where.ACTIVITIES);
        assertThat(CostMeter.Where.of("pg_durable worker")).isEqualTo(CostMeter.Where.WORKER);
        assertThat(CostMeter.Where.of("pg_durable listener")).isEqualTo(CostMeter.Where.WORKER);
        assertThat(CostMeter.Where.of(DfBenchmark.IN_DATABASE_HOST)).isEqualTo(CostMeter.Where.WORKER);
        assertThat(CostMeter.Where.of("pg-durable bench df client")).isEqualTo(CostMeter.Where.REST);
        assertThat(CostMeter.Where.of("")).isEqualTo(CostMeter.Where.REST);
        assertThat(CostMeter.Where.of(null)).isEqualTo(CostMeter.Where.REST);
    }

    @Test
    void a_backends_ticks_since_the_start_count_where_its_name_puts_it_and_a_new_one_counts_whole() {
        Map<Long, Long> before = Map.of(10L, 100L, 11L, 50L, 12L, 7L);
        Map<Long, Long> now = Map.of(10L, 160L, 11L, 58L, 12L, 9L, 13L, 30L, 14L, 4L);
        Map<Long, String> names = Map.of(10L, "pg_durable:worker:workflow-sql", 11L, "pg_durable worker",
                12L, "pg-durable bench", 13L, "pg_durable:worker:workflow-sql");

        long[] byWhere = CostMeter.split(before, now, names);

        assertThat(byWhere[CostMeter.Where.ACTIVITIES.ordinal()]).as("60 since the start + 30 of a new one")
                .isEqualTo(90);
        assertThat(byWhere[CostMeter.Where.WORKER.ordinal()]).isEqualTo(8);
        assertThat(byWhere[CostMeter.Where.REST.ordinal()]).as("a named client and an unnamed backend").isEqualTo(6);
    }
}
