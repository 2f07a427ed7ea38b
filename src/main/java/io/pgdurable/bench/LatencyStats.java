package io.pgdurable.bench;

import java.util.Arrays;
import java.util.Locale;

/** Order statistics of a set of durations, kept in nanoseconds. Immutable. */
public final class LatencyStats {
    private final long[] sortedNanos;

    private LatencyStats(long[] sortedNanos) {
        this.sortedNanos = sortedNanos;
    }

    /** Statistics of {@code nanos}; the array is copied. */
    public static LatencyStats ofNanos(long[] nanos) {
        if (nanos.length == 0) {
            throw new IllegalArgumentException("latency statistics need at least one sample");
        }
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return new LatencyStats(sorted);
    }

    public int count() {
        return sortedNanos.length;
    }

    /**
     * The nearest-rank percentile: the smallest sample that at least {@code p} percent of the
     * samples do not exceed.
     *
     * @param p in (0, 100]
     */
    public long percentileNanos(double p) {
        if (!(p > 0 && p <= 100)) {
            throw new IllegalArgumentException("percentile must be in (0, 100], got " + p);
        }
        int rank = (int) Math.ceil(p / 100.0 * sortedNanos.length);
        return sortedNanos[Math.max(rank, 1) - 1];
    }

    public long p50Nanos() {
        return percentileNanos(50);
    }

    public long p99Nanos() {
        return percentileNanos(99);
    }

    public long minNanos() {
        return sortedNanos[0];
    }

    public long maxNanos() {
        return sortedNanos[sortedNanos.length - 1];
    }

    public double meanNanos() {
        double sum = 0;
        for (long n : sortedNanos) {
            sum += n;
        }
        return sum / sortedNanos.length;
    }

    /** Nanoseconds as milliseconds with precision that suits the size, e.g. {@code 3.42 ms}, {@code 812 ms}. */
    public static String millis(double nanos) {
        double ms = nanos / 1_000_000.0;
        if (ms < 10) {
            return String.format(Locale.ROOT, "%.2f ms", ms);
        }
        if (ms < 100) {
            return String.format(Locale.ROOT, "%.1f ms", ms);
        }
        return String.format(Locale.ROOT, "%.0f ms", ms);
    }

    @Override
    public String toString() {
        return "p50 " + millis(p50Nanos()) + "  p99 " + millis(p99Nanos()) + "  max " + millis(maxNanos());
    }
}
