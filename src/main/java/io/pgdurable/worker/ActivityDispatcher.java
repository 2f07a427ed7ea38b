package io.pgdurable.worker;

import io.pgdurable.db.TransientErrors;
import io.pgdurable.engine.Activity;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.LeaseLostException;
import io.pgdurable.engine.store.ActivityItem;
import io.pgdurable.engine.store.ActivityQueue;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Claims activity items as slots free up and runs each on the activity pool. A result is
 * recorded with the item's lease token; an item whose worker dies is claimed again by anyone
 * once its lease runs out, which is why activities are at-least-once unless they complete
 * inside their own transaction.
 *
 * <p>An item's lease is checked again right before it starts (by the dispatcher, or by the
 * activity itself after it has waited for its resources), so an item whose instance was
 * cancelled after the claim never starts. The periodic lease renewal, also run at once when a
 * cancel is notified, finds the items whose lease is gone: one still waiting for a thread is
 * dropped, a running one is told to stop (a SQL step cancels its statement).
 *
 * <p>Claims are fair across partition keys (for df, submitting roles): this worker holds at most
 * {@link WorkerConfig#maxActivitiesPerRole()} items of one key at once, running or waiting for a
 * thread, and each claim deals items round-robin, the key holding fewest first (see
 * {@link ActivityQueue#claimActivities(Connection, String, int, Duration, int, Map)}).
 */
final class ActivityDispatcher implements Runnable {
    private static final Logger LOG = Logger.getLogger(ActivityDispatcher.class.getName());

    private final WorkerRuntime runtime;
    private final ThreadPoolExecutor pool;
    private final ActivityQueue queue = new ActivityQueue();
    private final Semaphore slots;
    private final Map<Long, Claimed> inFlight = new ConcurrentHashMap<>();
    /** Items held per partition key: claimed and not yet finished. */
    private final Map<String, Integer> heldPerKey = new ConcurrentHashMap<>();
    /** Whether the last claim was made with a key at its share (see {@link #wakeIfShareLimited}). */
    private volatile boolean shareLimited;
    private final Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));
    private final CompletionBatcher completions;
    private final LocalDispatch local;

    ActivityDispatcher(WorkerRuntime runtime, ThreadPoolExecutor pool, CompletionBatcher completions) {
        this.runtime = runtime;
        this.pool = pool;
        this.completions = completions;
        this.local = new LocalDispatch(runtime, queue);
        // Claim up to twice the pool size: items queued locally start the moment a thread frees
        // up, and claims are fewer and larger. Queued items' leases are renewed like running ones.
        this.slots = new Semaphore(2 * runtime.config().activityThreads());
    }

    /** A claimed item, queued on the activity pool or running there. */
    private final class Claimed implements Runnable {
        private final ActivityContextImpl ctx;

        Claimed(ActivityItem item) {
            this.ctx = new ActivityContextImpl(item, queue, local, runtime.config().faultInjector(),
                    runtime.config().limits(), runtime.dataSource());
        }

        ActivityItem item() {
            return ctx.item();
        }

        @Override
        public void run() {
            Claimed current = this;
            while (current != null) {
                ActivityItem next = execute(current.ctx);
                current = next == null ? null : adopt(next);
            }
        }
    }

    /**
     * Takes on an item the short path leased to this worker, in the slot of the one that just
     * finished. Runs it on the calling thread, unless claimed items wait for a thread: then it
     * queues behind them, so one instance's chain of steps cannot keep a thread from the others.
     */
    private Claimed adopt(ActivityItem next) {
        Claimed claimed = track(next);
        if (pool.getQueue().isEmpty()) {
            claimed.ctx.leaseJustGranted();
            return claimed;
        }
        submit(claimed);
        return null;
    }

    /** A leased item this worker now holds, its lease renewed with the others'. */
    private Claimed track(ActivityItem item) {
        Claimed claimed = new Claimed(item);
        inFlight.put(item.id(), claimed);
        return claimed;
    }

    /** Queues a held item on the pool; if the pool has stopped, gives the item back at once. */
    private void submit(Claimed claimed) {
        try {
            pool.execute(claimed);
        } catch (RejectedExecutionException stopping) {
            release(claimed.item(), Duration.ZERO);
            finished(claimed.item());
        }
    }

    @Override
    public void run() {
        while (!runtime.stopping()) {
            try {
                slots.acquire();
                int wanted = 1 + slots.drainPermits();
                Map<String, Integer> held = Map.copyOf(heldPerKey);
                boolean atShare = held.values().stream().anyMatch(n -> n >= runtime.config().maxActivitiesPerRole());
                if (atShare) {
                    // Set before the claim: an item that ends while it runs wakes this loop.
                    shareLimited = true;
                }
                List<ActivityItem> items;
                try {
                    items = claim(wanted, held);
                } catch (SQLException | RuntimeException e) {
                    slots.release(wanted);
                    throw e;
                }
                if (!atShare) {
                    shareLimited = false;
                }
                // The claim never returns more than asked (see ActivityQueue.claimActivities).
                slots.release(Math.max(0, wanted - items.size()));
                backoff.reset();
                for (ActivityItem item : items) {
                    heldPerKey.merge(item.partitionKey(), 1, Integer::sum);
                    pool.execute(track(item));
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

    private List<ActivityItem> claim(int limit, Map<String, Integer> held) throws SQLException {
        if (runtime.stopping()) {
            return List.of();
        }
        try (Connection c = runtime.dataSource().getConnection()) {
            return queue.claimActivities(c, runtime.config().workerId(), limit, runtime.config().leaseDuration(),
                    runtime.config().maxActivitiesPerRole(), held);
        }
    }

    /**
     * Takes a slot for an activity of {@code partitionKey} that a turn of this worker is about to
     * schedule, if one is free and the key is within its share; see {@link LocalActivities}.
     */
    boolean reserve(String partitionKey) {
        if (runtime.stopping() || !slots.tryAcquire()) {
            return false;
        }
        boolean[] taken = {false};
        heldPerKey.compute(partitionKey, (k, n) -> {
            int held = n == null ? 0 : n;
            if (held >= runtime.config().maxActivitiesPerRole()) {
                return n;
            }
            taken[0] = true;
            return held + 1;
        });
        if (!taken[0]) {
            slots.release();
        }
        return taken[0];
    }

    /** Gives back a reservation whose activity was not written leased to this worker. */
    void unreserve(String partitionKey) {
        uncount(partitionKey);
        slots.release();
        wakeIfShareLimited();
    }

    /** Takes one off {@code partitionKey}'s count. */
    private void uncount(String partitionKey) {
        heldPerKey.compute(partitionKey, (k, n) -> n == null || n <= 1 ? null : n - 1);
    }

    /**
     * A slot freed: if the last claim was made with a key at its share, it may have left that
     * key's items queued, so the claim loop claims again now. (Deciding by the key's count as the
     * slot frees missed wake-ups: a count read while another slot passes from one step to the next
     * is off by one either way, and the loop then slept a whole poll interval with threads free
     * and items waiting.)
     */
    private void wakeIfShareLimited() {
        if (shareLimited) {
            runtime.activityWakeup().signal();
        }
    }

    /**
     * Runs a reserved activity that a committed turn leased to this worker. When a thread is free
     * for it, it starts a moment after the lease was granted and skips its first lease check, as
     * the short path's next step does (see {@link io.pgdurable.engine.ActivityContext#checkLease});
     * one that waits behind claimed items checks as they do.
     */
    void runLeased(ActivityItem item) {
        Claimed claimed = track(item);
        if (pool.getQueue().isEmpty() && pool.getActiveCount() < pool.getMaximumPoolSize()) {
            claimed.ctx.leaseJustGranted();
        }
        submit(claimed);
    }

    /** Runs one item; returns the next one the short path leased to this worker, or {@code null}. */
    private ActivityItem execute(ActivityContextImpl ctx) {
        ActivityItem item = ctx.item();
        boolean crashed = false;
        try {
            runtime.config().faultInjector().at(FaultPoint.BEFORE_ACTIVITY_START, item.instanceId());
            Activity activity = runtime.registry().findActivity(item.name()).orElse(null);
            if (activity == null) {
                // Falls through to finished() below like every other outcome: the slot and the
                // partition key's share must come back, or unknown activities starve the worker.
                complete(item, new FailureDetails("NotRegistered", "no activity named '" + item.name()
                        + "' is registered on worker " + runtime.config().workerId()).toJson(), true);
            } else {
                if (!activity.checksLeaseItself()) {
                    ctx.checkLease();
                }
                Object result = activity.run(ctx);
                if (!ctx.completed() && !ctx.leaseLost()) {
                    // Over the limits, the activity fails (below) instead of storing what cannot be read back.
                    complete(item, runtime.config().limits().checkedJson(result, ctx.describeResult()), false);
                }
            }
        } catch (SimulatedCrashException e) {
            // A leased next item is abandoned too, as by a worker that died: its lease runs out.
            crashed = true;
            LOG.info(() -> "activity " + item.name() + " of " + item.instanceId() + " abandoned: " + e.getMessage());
        } catch (LeaseLostException e) {
            LOG.fine(e::getMessage);
        } catch (ShortPathRefusedException e) {
            LOG.log(Level.INFO, e.getMessage(), e.getCause());
            release(item, Duration.ZERO);
        } catch (Throwable t) {
            if (ctx.leaseLost()) {
                // Stopped because its instance was cancelled (or the item taken over): nothing to
                // record, nothing to retry.
                LOG.fine(() -> "activity " + item.name() + " of " + item.instanceId() + " stopped: its lease is gone ("
                        + t + ")");
            } else if (TransientErrors.isTransient(t)) {
                // Stopping: give the item back at once for another worker instead of failing it.
                Duration delay = runtime.stopping() ? Duration.ZERO
                        : Duration.ofMillis(Math.min(30_000, 200L << Math.min(item.attempt(), 7)));
                LOG.log(Level.INFO, "activity " + item.name() + " of " + item.instanceId() + " hit a transient error;"
                        + " retrying in " + delay.toMillis() + " ms", t);
                release(item, delay);
            } else {
                complete(item, FailureDetails.of(t).toJson(), true);
            }
        }
        ActivityItem next = crashed ? null : ctx.next();
        if (next != null) {
            // Counted for its key before the finished item is uncounted, so a claim never finds
            // the key below what runs.
            heldPerKey.merge(next.partitionKey(), 1, Integer::sum);
        }
        // A completion in the activity's transaction woke the orchestration loops itself if the
        // next turn is theirs to take (see LocalDispatch).
        finished(item, next != null);
        return next;
    }

    /** The item is done with, run or dropped: its slot takes other work. */
    private void finished(ActivityItem item) {
        finished(item, false);
    }

    /**
     * The item is done with; its slot takes other work, or, with {@code slotPassedOn}, the next
     * item the short path leased to this worker, which keeps the slot (and was counted for its
     * partition key already, in {@link #execute}).
     */
    private void finished(ActivityItem item, boolean slotPassedOn) {
        inFlight.remove(item.id());
        uncount(item.partitionKey());
        runtime.countActivities(1);
        if (slotPassedOn) {
            return;
        }
        slots.release();
        wakeIfShareLimited();
    }

    private void complete(ActivityItem item, String result, boolean failed) {
        completions.submit(new ActivityQueue.Completion(item, result, failed));
    }

    private void release(ActivityItem item, Duration delay) {
        try (Connection c = runtime.dataSource().getConnection()) {
            queue.releaseActivity(c, item, delay);
        } catch (SQLException e) {
            LOG.log(Level.WARNING, "could not release activity item " + item.id() + "; its lease will expire", e);
        }
    }

    /**
     * Keeps the leases of claimed items alive, and acts on the ones that are gone: an item still
     * waiting for a thread is dropped, a running one is told to stop. Runs periodically, and at
     * once when a cancel is notified.
     */
    void renewLeases() {
        List<Claimed> held = new ArrayList<>(inFlight.values());
        if (held.isEmpty()) {
            return;
        }
        Set<Long> stillHeld;
        try (Connection c = runtime.dataSource().getConnection()) {
            stillHeld = queue.renewLeases(c, held.stream().map(Claimed::item).toList(),
                    runtime.config().leaseDuration());
        } catch (SQLException e) {
            LOG.log(Level.WARNING, "lease renewal failed", e);
            return;
        }
        for (Claimed claimed : held) {
            if (!stillHeld.contains(claimed.item().id())) {
                leaseLost(claimed);
            }
        }
    }

    private void leaseLost(Claimed claimed) {
        ActivityItem item = claimed.item();
        if (pool.remove(claimed)) {
            // Never started, and now never will.
            finished(item);
            LOG.fine(() -> "dropped activity " + item.name() + " of " + item.instanceId()
                    + " before it started: its lease is gone (instance cancelled, or item taken over)");
        } else if (!claimed.ctx.completed()) {
            // Running. One whose completion has committed left the queue by completing: there
            // is nothing to stop (a SQL step would cancel its connection and lose it for nothing).
            claimed.ctx.markLeaseLost();
        }
    }

    /** Waits for running activities, then gives back the leases of those still running. */
    void drain(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        while (!inFlight.isEmpty() && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(20);
        }
        for (Claimed claimed : new ArrayList<>(inFlight.values())) {
            release(claimed.item(), Duration.ZERO);
        }
    }
}
