package io.pgdurable.worker;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/** Exponential backoff with full jitter, for loops that hit errors. */
final class Backoff {
    private final long baseMillis;
    private final long maxMillis;
    private int failures;

    Backoff(Duration base, Duration max) {
        this.baseMillis = base.toMillis();
        this.maxMillis = max.toMillis();
    }

    long nextDelayMillis() {
        failures = Math.min(failures + 1, 20);
        long ceiling = Math.min(maxMillis, baseMillis << Math.min(failures, 16));
        return ThreadLocalRandom.current().nextLong(baseMillis, Math.max(baseMillis + 1, ceiling + 1));
    }

    void reset() {
        failures = 0;
    }
}
