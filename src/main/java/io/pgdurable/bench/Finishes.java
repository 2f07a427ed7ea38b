package io.pgdurable.bench;

import io.pgdurable.engine.DurableException;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * What the benchmark's in-process worker tells it about orchestrations that ended (see {@link
 * io.pgdurable.worker.WorkerConfig.Builder#onInstanceFinished}), so that waiting for them costs
 * no queries: polling the database every millisecond took as much CPU as the workflows it
 * measured on a two-core machine. The benchmark still reads the instances' status (rarely) to
 * confirm, and in case an instance ended without being reported.
 */
final class Finishes implements Consumer<String> {
    private final Map<String, CountDownLatch> singles = new ConcurrentHashMap<>();
    private final Map<String, Group> groups = new ConcurrentHashMap<>();
    /** Instances watched one by one, each counted in its group when it ends (see {@link #members}). */
    private final Map<String, Group> members = new ConcurrentHashMap<>();

    /** Instances counted as they end: those whose ids start with one prefix, or those of a list. */
    static final class Group {
        private int finished;
        /** The instances of a {@link #members} group; empty for a group by prefix. */
        private final List<String> ids;

        Group() {
            this(List.of());
        }

        private Group(List<String> ids) {
            this.ids = ids;
        }

        /** Waits until {@code count} have ended or {@code millis} have passed; returns how many have. */
        synchronized int await(int count, long millis) throws InterruptedException {
            long deadline = System.nanoTime() + millis * 1_000_000;
            while (finished < count) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    break;
                }
                wait(left);
            }
            return finished;
        }

        private synchronized void add() {
            finished++;
            notifyAll();
        }
    }

    /** Instances whose ids are {@code prefix + "-" + serial} from now on count in the returned group. */
    Group group(String prefix) {
        Group group = new Group();
        groups.put(prefix, group);
        return group;
    }

    /**
     * The returned group counts the ends of exactly these instances (df workflows, whose ids are
     * random), as the worker reports them from now on; register them before any can end (before
     * the transaction that started them commits), and {@link #forget(Group)} the group after.
     */
    Group members(Collection<String> ids) {
        Group group = new Group(List.copyOf(ids));
        for (String id : ids) {
            members.put(id, group);
        }
        return group;
    }

    /** Stops watching the instances of a {@link #members} group that have not been reported. */
    void forget(Group group) {
        group.ids.forEach(members::remove);
    }

    /** The returned latch opens when instance {@code id} is reported ended; call before starting it. */
    CountDownLatch single(String id) {
        CountDownLatch latch = new CountDownLatch(1);
        singles.put(id, latch);
        return latch;
    }

    /** Reads from the database whether an instance has ended (and may fail if its host stopped). */
    interface EndCheck {
        boolean ended() throws SQLException;
    }

    /**
     * Waits for instance {@code id}, watched since {@link #single} gave {@code reported}, to end:
     * until the worker reports it, or {@code check}, read every {@code pollMillis} meanwhile, finds
     * it ended. Returns {@link System#nanoTime()} at that moment; past {@code deadlineNanos} fails
     * with {@code late}'s message. Stops watching {@code id} either way.
     */
    long awaitEnd(String id, CountDownLatch reported, long pollMillis, long deadlineNanos, EndCheck check,
                  Supplier<String> late) throws SQLException {
        try {
            while (true) {
                if (reported.await(pollMillis, TimeUnit.MILLISECONDS)) {
                    return System.nanoTime();
                }
                if (check.ended()) {
                    return System.nanoTime();
                }
                if (System.nanoTime() > deadlineNanos) {
                    throw new DurableException(late.get());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DurableException("interrupted while waiting for bench instance " + id, e);
        } finally {
            forget(id);
        }
    }

    /** Stops watching for {@code id} (it was seen ended another way). */
    void forget(String id) {
        singles.remove(id);
    }

    @Override
    public void accept(String instanceId) {
        CountDownLatch latch = singles.remove(instanceId);
        if (latch != null) {
            latch.countDown();
        }
        Group member = members.remove(instanceId);
        if (member != null) {
            member.add();
        }
        int dash = instanceId.lastIndexOf('-');
        Group group = dash > 0 ? groups.get(instanceId.substring(0, dash)) : null;
        if (group != null) {
            group.add();
        }
    }
}
