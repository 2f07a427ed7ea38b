package io.pgdurable.worker;

import java.time.Duration;

/** What a worker did: turns committed and activities run, over how long. */
public record WorkerStats(String workerId, long turns, long activities, Duration uptime) {
}
