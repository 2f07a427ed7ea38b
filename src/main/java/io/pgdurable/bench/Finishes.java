package io.pgdurable.bench;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

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

    /** Instances whose ids start with one prefix, counted as they end. */
    static final class Group {
        private int finished;

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

    /** The returned latch opens when instance {@code id} is reported ended; call before starting it. */
    CountDownLatch single(String id) {
        CountDownLatch latch = new CountDownLatch(1);
        singles.put(id, latch);
        return latch;
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
        int dash = instanceId.lastIndexOf('-');
        Group group = dash > 0 ? groups.get(instanceId.substring(0, dash)) : null;
        if (group != null) {
            group.add();
        }
    }
}
