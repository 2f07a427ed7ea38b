package io.pgdurable.worker;

import io.pgdurable.engine.Activity;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.LeaseLostException;
import io.pgdurable.engine.store.ActivityItem;
import io.pgdurable.engine.store.EngineStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Claims activity items as slots free up and runs each on the activity pool. A result is
 * recorded with the item's lease token; an item whose worker dies is claimed again by anyone
 * once its lease runs out, which is why activities are at-least-once unless they complete
 * inside their own transaction.
 *
 * <p>Claims are fair across partition keys (for df, submitting roles): this worker holds at most
 * {@link WorkerConfig#maxActivitiesPerRole()} items of one key at once, running or waiting for a
 * thread, and each claim deals items round-robin, the key holding fewest first (see
 * {@link EngineStore#claimActivities(Connection, String, int, Duration, int, Map)}).
 */
final class ActivityDispatcher implements Runnable {
    private static final Logger LOG = Logger.getLogger(ActivityDispatcher.class.getName());

    private final WorkerRuntime runtime;
    private final ExecutorService pool;
    private final EngineStore store = new EngineStore();
    private final Semaphore slots;
    private final Map<Long, ActivityItem> inFlight = new ConcurrentHashMap<>();
    /** Items held per partition key: claimed and not yet finished. */
    private final Map<String, Integer> heldPerKey = new ConcurrentHashMap<>();
    private final Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));
    private final CompletionBatcher completions;

    ActivityDispatcher(WorkerRuntime runtime, ExecutorService pool, CompletionBatcher completions) {
        this.runtime = runtime;
        this.pool = pool;
        this.completions = completions;
        // Claim up to twice the pool size: items queued locally start the moment a thread frees
        // up, and claims are fewer and larger. Queued items' leases are renewed like running ones.
        this.slots = new Semaphore(2 * runtime.config().activityThreads());
    }

    Collection<ActivityItem> inFlight() {
        return inFlight.values();
    }

    @Override
    public void run() {
        while (!runtime.stopping()) {
            try {
                slots.acquire();
                int wanted = 1 + slots.drainPermits();
                List<ActivityItem> items;
                try {
                    items = claim(wanted);
                } catch (SQLException | RuntimeException e) {
                    slots.release(wanted);
                    throw e;
                }
                // The claim never returns more than asked (see EngineStore.claimActivities).
                slots.release(Math.max(0, wanted - items.size()));
                backoff.reset();
                for (ActivityItem item : items) {
                    inFlight.put(item.id(), item);
                    heldPerKey.merge(item.partitionKey(), 1, Integer::sum);
                    pool.execute(() -> execute(item));
                }
                if (items.isEmpty()) {
                    runtime.activityWakeup().await(runtime.config().pollInterval().toMillis());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                long delay = backoff.nextDelayMillis();
                LOG.log(TransientErrors.isTransient(e) ? Level.INFO : Level.WARNING,
                        "activity dispatch failed; retrying in " + delay + " ms", e);
                try {
                    Thread.sleep(delay);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private List<ActivityItem> claim(int limit) throws SQLException {
        if (runtime.stopping()) {
            return List.of();
        }
        try (Connection c = runtime.dataSource().getConnection()) {
            return store.claimActivities(c, runtime.config().workerId(), limit, runtime.config().leaseDuration(),
                    runtime.config().maxActivitiesPerRole(), Map.copyOf(heldPerKey));
        }
    }

    private void execute(ActivityItem item) {
        ActivityContextImpl ctx = new ActivityContextImpl(item, store, runtime.config().faultInjector());
        try {
            Activity activity = runtime.registry().findActivity(item.name()).orElse(null);
            if (activity == null) {
                complete(item, new FailureDetails("NotRegistered", "no activity named '" + item.name()
                        + "' is registered on worker " + runtime.config().workerId()).toJson(), true);
                return;
            }
            Object result = activity.run(ctx);
            if (!ctx.completed()) {
                complete(item, JsonCodec.toJson(result), false);
            }
        } catch (SimulatedCrashException e) {
            LOG.info(() -> "activity " + item.name() + " of " + item.instanceId() + " abandoned: " + e.getMessage());
        } catch (LeaseLostException e) {
            LOG.fine(e::getMessage);
        } catch (Throwable t) {
            if (TransientErrors.isTransient(t)) {
                // Stopping: give the item back at once for another worker instead of failing it.
                Duration delay = runtime.stopping() ? Duration.ZERO
                        : Duration.ofMillis(Math.min(30_000, 200L << Math.min(item.attempt(), 7)));
                LOG.log(Level.INFO, "activity " + item.name() + " of " + item.instanceId() + " hit a transient error;"
                        + " retrying in " + delay.toMillis() + " ms", t);
                release(item, delay);
            } else {
                complete(item, FailureDetails.of(t).toJson(), true);
            }
        } finally {
            inFlight.remove(item.id());
            int[] before = new int[1];
            heldPerKey.compute(item.partitionKey(), (k, n) -> {
                before[0] = n == null ? 0 : n;
                return n == null || n <= 1 ? null : n - 1;
            });
            slots.release();
            if (before[0] >= runtime.config().maxActivitiesPerRole()) {
                // The key was at its share, so the last claim may have left its items queued: claim again now.
                runtime.activityWakeup().signal();
            }
            runtime.countActivities(1);
            if (ctx.completed()) {
                runtime.orchestrationWakeup().signal();
            }
        }
    }

    private void complete(ActivityItem item, String result, boolean failed) {
        completions.submit(new EngineStore.Completion(item, result, failed));
    }

    private void release(ActivityItem item, Duration delay) {
        try (Connection c = runtime.dataSource().getConnection()) {
            store.releaseActivity(c, item, delay);
        } catch (SQLException e) {
            LOG.log(Level.WARNING, "could not release activity item " + item.id() + "; its lease will expire", e);
        }
    }

    /** Keeps the leases of running activities alive. */
    void renewLeases() {
        List<ActivityItem> held = new ArrayList<>(inFlight.values());
        if (held.isEmpty()) {
            return;
        }
        try (Connection c = runtime.dataSource().getConnection()) {
            store.renewLeases(c, held, runtime.config().leaseDuration());
        } catch (SQLException e) {
            LOG.log(Level.WARNING, "lease renewal failed", e);
        }
    }

    /** Waits for running activities, then gives back the leases of those still running. */
    void drain(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        while (!inFlight.isEmpty() && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(20);
        }
        for (ActivityItem item : new ArrayList<>(inFlight.values())) {
            release(item, Duration.ZERO);
        }
    }
}
