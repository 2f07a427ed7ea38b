package io.pgdurable.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class LatencyStatsTest {

    @Test
    void percentiles_use_the_nearest_rank_of_the_sorted_samples() {
        long[] shuffled = LongStream.rangeClosed(1, 100).map(i -> (i * 37) % 100 + 1).toArray();

        LatencyStats stats = LatencyStats.ofNanos(shuffled);

        assertThat(stats.count()).isEqualTo(100);
        assertThat(stats.p50Nanos()).isEqualTo(50);
        assertThat(stats.p99Nanos()).isEqualTo(99);
        assertThat(stats.percentileNanos(100)).isEqualTo(100);
        assertThat(stats.minNanos()).isEqualTo(1);
        assertThat(stats.maxNanos()).isEqualTo(100);
        assertThat(stats.meanNanos()).isEqualTo(50.5);
    }

    @Test
    void a_single_sample_is_every_percentile() {
        LatencyStats stats = LatencyStats.ofNanos(new long[] {7});

        assertThat(stats.p50Nanos()).isEqualTo(7);
        assertThat(stats.p99Nanos()).isEqualTo(7);
        assertThat(stats.maxNanos()).isEqualTo(7);
    }

    @Test
    void the_median_of_three_is_the_middle_one() {
        assertThat(LatencyStats.ofNanos(new long[] {30, 10, 20}).p50Nanos()).isEqualTo(20);
    }

    @Test
    void no_samples_is_an_error() {
        assertThatThrownBy(() -> LatencyStats.ofNanos(new long[0])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void millis_scales_its_precision_with_the_value() {
        assertThat(LatencyStats.millis(3_421_000)).isEqualTo("3.42 ms");
        assertThat(LatencyStats.millis(42_160_000)).isEqualTo("42.2 ms");
        assertThat(LatencyStats.millis(812_400_000)).isEqualTo("812 ms");
    }
}
