package io.pgdurable.worker;

import io.pgdurable.engine.store.ActivityItem;
import io.pgdurable.engine.store.TurnWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Hands the activities an orchestration turn schedules straight to this worker's activity pool:
 * the turn writes them leased to this worker (while it has a free slot and the partition key is
 * within its share), and once the turn commits they run without a claim's round trip and wake-up.
 * What the worker cannot take now stays in the queue for any worker's claim.
 */
final class LocalActivities {
    private final ActivityDispatcher dispatcher;
    private final WorkerConfig config;

    LocalActivities(ActivityDispatcher dispatcher, WorkerConfig config) {
        this.dispatcher = dispatcher;
        this.config = config;
    }

    /** A leaser for one batch of turns (see {@link TurnWriter.Leaser}). */
    TurnWriter.Leaser leaser() {
        return new TurnWriter.Leaser() {
            @Override
            public boolean reserve(String partitionKey) {
                return dispatcher.reserve(partitionKey);
            }

            @Override
            public String owner() {
                return config.workerId();
            }

            @Override
            public Duration lease() {
                return config.leaseDuration();
            }
        };
    }

    /**
     * After the turns of {@code writer} committed (or not, {@code committed} false): runs the
     * activities written leased to this worker, and gives back every other reservation.
     */
    void settle(TurnWriter writer, boolean committed) {
        List<String> unused = new ArrayList<>(writer.reservations());
        if (committed) {
            for (ActivityItem item : writer.leased()) {
                unused.remove(item.partitionKey());
                dispatcher.runLeased(item);
            }
        }
        unused.forEach(dispatcher::unreserve);
    }
}
