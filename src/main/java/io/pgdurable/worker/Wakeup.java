package io.pgdurable.worker;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A latch dispatchers sleep on between polls; a signal ends one current sleep, or the next one.
 * One loop woken per signal is enough: a loop that finds work keeps polling until it runs out, and
 * signals again when its work made more.
 */
final class Wakeup {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private boolean signalled;
    private boolean released;

    void signal() {
        lock.lock();
        try {
            signalled = true;
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends every current and future sleep at once: for stopping, when every loop must see it,
     * not just the one a signal would wake.
     */
    void releaseAll() {
        lock.lock();
        try {
            released = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Sleeps up to {@code millis} unless signalled since the last call (or released). */
    void await(long millis) throws InterruptedException {
        lock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
            while (!signalled && !released && nanos > 0) {
                nanos = changed.awaitNanos(nanos);
            }
            signalled = false;
        } finally {
            lock.unlock();
        }
    }
}
