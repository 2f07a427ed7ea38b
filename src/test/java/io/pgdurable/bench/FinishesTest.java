package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.engine.DurableException;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class FinishesTest {

    @Test
    void a_group_counts_the_ends_of_its_own_instances_only() throws InterruptedException {
        Finishes finishes = new Finishes();
        Finishes.Group group = finishes.group("bench.throughput-ab12cd34");

        finishes.accept("bench.throughput-ab12cd34-1");
        finishes.accept("bench.throughput-ffffffff-2");   // another run's
        finishes.accept("bench.warmup-ab12cd34-3");       // another group's
        finishes.accept("bench.throughput-ab12cd34-4");
        finishes.accept("no-dash-at-all".replace("-", ""));

        assertThat(group.await(2, 0)).isEqualTo(2);
    }

    @Test
    void a_group_of_members_counts_the_ends_of_exactly_its_instances_once_each() throws InterruptedException {
        Finishes finishes = new Finishes();
        Finishes.Group group = finishes.members(List.of("0a0a0a0a", "0b0b0b0b", "0c0c0c0c"));
        Finishes.Group other = finishes.members(List.of("0d0d0d0d"));

        finishes.accept("0a0a0a0a");
        finishes.accept("0a0a0a0a");          // reported again: counted once
        finishes.accept("0d0d0d0d");          // the other group's
        finishes.accept("0a0a0a0a::branch");  // a branch of a workflow, not the workflow
        finishes.accept("0c0c0c0c");

        assertThat(group.await(3, 0)).isEqualTo(2);
        assertThat(other.await(1, 0)).isEqualTo(1);
    }

    @Test
    void a_forgotten_group_of_members_counts_no_more_ends() throws InterruptedException {
        Finishes finishes = new Finishes();
        Finishes.Group group = finishes.members(List.of("0a0a0a0a", "0b0b0b0b"));
        finishes.accept("0a0a0a0a");

        finishes.forget(group);
        finishes.accept("0b0b0b0b");

        assertThat(group.await(2, 0)).isEqualTo(1);
    }

    @Test
    void a_single_opens_when_its_instance_is_reported_and_not_before() {
        Finishes finishes = new Finishes();
        CountDownLatch one = finishes.single("bench.latency-ab12cd34-7");

        finishes.accept("bench.latency-ab12cd34-8");
        assertThat(one.getCount()).isEqualTo(1);
        finishes.accept("bench.latency-ab12cd34-7");
        assertThat(one.getCount()).isZero();
    }

    @Test
    void a_forgotten_single_is_no_longer_watched() {
        Finishes finishes = new Finishes();
        CountDownLatch one = finishes.single("bench.latency-ab12cd34-9");

        finishes.forget("bench.latency-ab12cd34-9");
        finishes.accept("bench.latency-ab12cd34-9");

        assertThat(one.getCount()).isEqualTo(1);
    }

    @Test
    void an_end_the_worker_did_not_report_is_found_by_the_check_and_the_instance_is_no_longer_watched()
            throws Exception {
        Finishes finishes = new Finishes();
        CountDownLatch reported = finishes.single("bench.latency-ab12cd34-10");
        AtomicInteger checks = new AtomicInteger();

        finishes.awaitEnd("bench.latency-ab12cd34-10", reported, 0, Long.MAX_VALUE,
                () -> checks.incrementAndGet() == 3, () -> "late");

        assertThat(checks).hasValue(3);
        finishes.accept("bench.latency-ab12cd34-10");
        assertThat(reported.getCount()).as("forgotten, so a late report no longer reaches it").isEqualTo(1);
    }

    @Test
    void a_reported_end_returns_without_reading_the_database() throws Exception {
        Finishes finishes = new Finishes();
        CountDownLatch reported = finishes.single("bench.latency-ab12cd34-11");
        finishes.accept("bench.latency-ab12cd34-11");

        finishes.awaitEnd("bench.latency-ab12cd34-11", reported, 0, Long.MAX_VALUE, () -> {
            throw new AssertionError("read the database although the end was reported");
        }, () -> "late");
    }

    @Test
    void an_instance_that_does_not_end_by_the_deadline_fails_with_the_given_message() {
        Finishes finishes = new Finishes();
        CountDownLatch reported = finishes.single("bench.latency-ab12cd34-12");

        assertThatThrownBy(() -> finishes.awaitEnd("bench.latency-ab12cd34-12", reported, 0, System.nanoTime() - 1,
                () -> false, () -> "bench.latency-ab12cd34-12 did not finish"))
                .isInstanceOf(DurableException.class).hasMessage("bench.latency-ab12cd34-12 did not finish");
    }
}
