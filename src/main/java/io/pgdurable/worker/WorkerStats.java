package io.pgdurable.worker;

import java.time.Duration;

/**
 * What a worker did: turns committed and activities run, over how long.
 *
 * @param turns          orchestration turns committed, on either path
 * @param shortPathTurns of those, the turns committed in the transaction of the step before them
 */
public record WorkerStats(String workerId, long turns, long activities, Duration uptime, long shortPathTurns) {
}
