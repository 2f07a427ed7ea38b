package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;

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
}
