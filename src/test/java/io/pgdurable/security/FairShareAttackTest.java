package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.bench.BenchmarkReport;
import io.pgdurable.bench.BenchmarkSettings;
import io.pgdurable.bench.FairnessBenchmark;
import io.pgdurable.bench.Scenario;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.testing.TestCluster;
import io.pgdurable.worker.WorkerConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Attack: one role floods the workers with thousands of workflows so that another role's
 * workflow waits behind all of them (first in, first out, it waited for the whole flood).
 * Expected: the other role's step runs after at most a few of the flood's steps per thread.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FairShareAttackTest {
    private static final int THREADS = 8;
    private static final int FLOOD = 400;
    private static final Duration FLOOD_STEP = Duration.ofMillis(50);

    /**
     * How many of the flood's steps may finish between the other role's df.start and its step.
     * The other role's start turn is dealt first in the next turn claim (each key's oldest message
     * ranks first), so it waits at most for the turn batches already in progress, one per
     * orchestration thread. Its step is then dealt first in the next activity claim (it holds
     * nothing, the flood holds its whole share) and starts at once on one of the threads the
     * flood's share leaves free. Meanwhile each of the flood's {@code THREADS - 1} threads (the
     * default share) finishes one {@code FLOOD_STEP} step per round. We allow 16 rounds (800 ms)
     * for those few batches and the claim, on a busy 2-core machine: {@code 16 * (THREADS - 1)}.
     * First in, first out, the figure is every flood step queued ahead of the other role's, over
     * {@code FLOOD - 2 * THREADS}.
     */
    private static final int BOUND = 16 * (THREADS - 1);

    private final DfTestEnvironment env = new DfTestEnvironment("fair_share");

    @AfterAll
    void stop() {
        env.close();
    }

    @Test
    void a_flood_of_one_roles_workflows_does_not_make_another_roles_workflow_wait_for_it() throws Exception {
        String url = env.cluster().jdbcUrl(env.database(), TestCluster.SUPERUSER);
        BenchmarkSettings settings = BenchmarkSettings.builder(url)
                .user(TestCluster.SUPERUSER)
                .scenarios(Set.of(Scenario.FAIRNESS))
                .activityThreads(THREADS)
                .fairnessFlood(FLOOD)
                .fairnessStep(FLOOD_STEP)
                .timeout(Duration.ofMinutes(2))
                .build();
        StringWriter printed = new StringWriter();
        BenchmarkReport.Fairness result;
        try (Connection admin = env.connectAsAdmin()) {
            result = new FairnessBenchmark(settings, new PrintWriter(printed)).run(admin);
        }
        System.out.print(printed);

        assertThat(result.verification().ok()).as(result.verification().describe()).isTrue();
        assertThat(result.perRole()).isEqualTo(WorkerConfig.defaultMaxActivitiesPerRole(THREADS)).isLessThan(THREADS);
        assertThat(result.floodStepsBeforeOther())
                .as("flood steps that finished between the other role's df.start and its step (bound %d)", BOUND)
                .isLessThanOrEqualTo(BOUND);
        // The flood was still running when the other role's workflow completed, or the figure says nothing.
        assertThat(result.floodStepsDone()).as("flood steps done when the other role's workflow completed")
                .isLessThan(FLOOD);
    }
}
