package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.adminColumn;
import static io.pgdurable.graph.e2e.WorkflowRuns.step;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.Poll;
import io.pgdurable.testing.SettableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * WAIT_SCHEDULE run by a real worker whose clock the test sets. A turn's time comes from the
 * worker's clock and the node's timer is the next tick of its cron expression after that time,
 * read in UTC; the database makes the timer due when its own clock passes it. With the worker's
 * clock set just before a tick in the past, the timer is due at once, so no test waits for a real
 * minute. The cron arithmetic itself is covered by {@code CronScheduleTest}.
 */
class WaitForScheduleTest {
    private static final Duration DONE = Duration.ofSeconds(30);

    private static DfTestEnvironment env;
    private static WorkflowRuns runs;
    private static final SettableClock CLOCK = new SettableClock(Instant.parse("2024-01-01T00:00:00Z"));

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("e2e_wait_schedule");
        runs = new WorkflowRuns(env);
        env.startWorker(CLOCK);
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void the_wait_ends_at_the_next_tick_of_the_cron_expression_in_utc_and_the_next_step_runs() {
        // Midnight UTC on 29 February 2024, two seconds ahead. Read in any other zone, the next
        // match would be hours away or in 2028, and the timer would name that instant.
        CLOCK.set(Instant.parse("2024-02-28T23:59:58Z"));
        String id = runs.start("df.wait_for_schedule('0 0 29 2 *') ~> " + step("SELECT 'after the tick' AS s"));

        assertThat(env.await(id, DONE)).as("nodes:%n%s", runs.nodes(id)).isEqualTo("completed");
        assertThat(runs.nodeResult(id, "WAIT_SCHEDULE")).isEqualTo("{\"scheduled\": true}");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"s\": \"after the tick\"}], \"row_count\": 1}");
        assertThat(timers(id)).containsExactly("\"2024-02-29T00:00:00Z\"");
    }

    @Test
    void a_turn_exactly_at_a_tick_waits_for_the_next_one_not_the_current_one() {
        CLOCK.set(Instant.parse("2024-02-29T00:00:00Z"));
        String id = runs.start("df.wait_for_schedule('0 0 29 2 *') ~> " + step("SELECT 'too early' AS s"));

        List<String> timers = Poll.until(DONE, "the schedule's timer of " + id, () -> timers(id), t -> !t.isEmpty());

        assertThat(timers).containsExactly("\"2028-02-29T00:00:00Z\"");
        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isEqualTo("running");
        env.queryAsApp("SELECT df.cancel(?)", id);
    }

    /** The fire times of the timers the instance and its children created, as recorded in history. */
    private static List<String> timers(String id) {
        return adminColumn(env, "SELECT payload FROM df_engine.history WHERE (instance_id = ? OR instance_id LIKE ? || '::%')"
                + " AND event_type = 'TimerCreated' ORDER BY event_time, instance_id, seq", id, id);
    }
}
