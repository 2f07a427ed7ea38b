package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The per-role share of the activity threads: its default and its limits. */
class WorkerConfigTest {
    private static final String URL = "jdbc:postgresql://127.0.0.1:5432/app";

    @Test
    void by_default_one_role_may_hold_all_activity_threads_but_one_and_at_least_one() {
        assertThat(WorkerConfig.builder(URL).activityThreads(8).build().maxActivitiesPerRole()).isEqualTo(7);
        assertThat(WorkerConfig.builder(URL).activityThreads(5).build().maxActivitiesPerRole()).isEqualTo(4);
        assertThat(WorkerConfig.builder(URL).activityThreads(2).build().maxActivitiesPerRole()).isEqualTo(1);
        assertThat(WorkerConfig.builder(URL).activityThreads(1).build().maxActivitiesPerRole()).isEqualTo(1);
    }

    @Test
    void a_share_below_the_thread_count_is_taken_as_given() {
        assertThat(WorkerConfig.builder(URL).activityThreads(8).maxActivitiesPerRole(7).build()
                .maxActivitiesPerRole()).isEqualTo(7);
        assertThat(WorkerConfig.builder(URL).activityThreads(8).maxActivitiesPerRole(1).build()
                .maxActivitiesPerRole()).isEqualTo(1);
    }

    @Test
    void a_share_of_every_thread_is_refused_naming_the_option_and_the_limit() {
        assertThatThrownBy(() -> WorkerConfig.builder(URL).activityThreads(8).maxActivitiesPerRole(8).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--max-activities-per-role must be between 1 and 7, below the 8 activity threads"
                        + " (--threads) so that one role always leaves a thread to the others, got 8");
    }

    @Test
    void a_negative_share_is_refused() {
        assertThatThrownBy(() -> WorkerConfig.builder(URL).activityThreads(4).maxActivitiesPerRole(-1).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--max-activities-per-role must be between 1 and 3")
                .hasMessageEndingWith("got -1");
    }

    @Test
    void with_one_thread_the_share_is_that_thread() {
        assertThatThrownBy(() -> WorkerConfig.builder(URL).activityThreads(1).maxActivitiesPerRole(2).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--max-activities-per-role must be between 1 and 1 with 1 activity thread (--threads),"
                        + " got 2");
    }
}
