package io.pgdurable.graph;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * Hands signals that {@code df.signal} buffered to the waits open for them. {@code df.signal}
 * only inserts into {@code df.signal_buffer} and takes no lock, so a sender that keeps its
 * transaction open holds up nothing; once it commits, this loop routes the signal in a short
 * transaction of the worker's own ({@code df._route_signals}), under the instance row lock that
 * only worker transactions take. An instance whose row a turn holds is skipped and retried
 * shortly. A wait that starts takes buffered signals itself, so this loop matters only for
 * signals sent while a wait is already open.
 */
final class SignalRouter implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(SignalRouter.class.getName());
    /** Instances routed per transaction. */
    private static final int BATCH = 100;
    private static final long RETRY_MIN_MILLIS = 20;

    private final DataSource dataSource;
    private final long idleMillis;
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition woken = lock.newCondition();
    private boolean wakeRequested;
    private volatile boolean closed;

    /**
     * @param dataSource the worker's pool
     * @param idle       how long to wait between polls when nothing is waiting to be routed
     */
    SignalRouter(DataSource dataSource, Duration idle) {
        this.dataSource = dataSource;
        this.idleMillis = Math.max(1, idle.toMillis());
        this.thread = new Thread(this::loop, "pg_durable-signal-router");
        this.thread.setDaemon(true);
    }

    SignalRouter start() {
        thread.start();
        return this;
    }

    /** Polls now rather than at the end of the current wait. */
    void wake() {
        lock.lock();
        try {
            wakeRequested = true;
            woken.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void loop() {
        long retry = RETRY_MIN_MILLIS;
        while (!closed) {
            long pause;
            try {
                int[] result = routeOnce();
                if (result[1] == 0) {
                    pause = idleMillis;
                    retry = RETRY_MIN_MILLIS;
                } else if (result[0] > 0) {
                    pause = 0; // more to do, and progress was made
                    retry = RETRY_MIN_MILLIS;
                } else {
                    pause = retry; // every pending instance is locked by a turn: retry shortly
                    retry = Math.min(idleMillis, retry * 2);
                }
            } catch (SQLException | RuntimeException e) {
                if (closed) {
                    return;
                }
                LOG.log(Level.INFO, "routing signals failed; retrying in " + retry + " ms", e);
                pause = retry;
                retry = Math.min(Math.max(idleMillis, 1000), retry * 2);
            }
            if (pause > 0 && !await(pause)) {
                return;
            }
        }
    }

    /** One routing transaction; returns {instances routed, instances still waiting}. */
    int[] routeOnce() throws SQLException {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT routed, remaining FROM df._route_signals(?)")) {
            if (!c.getAutoCommit()) {
                c.setAutoCommit(true);
            }
            ps.setInt(1, BATCH);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new int[] {rs.getInt(1), rs.getInt(2)};
            }
        }
    }

    /** Waits up to {@code millis} or until woken; false when interrupted. */
    private boolean await(long millis) {
        lock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
            while (!wakeRequested && !closed && nanos > 0) {
                nanos = woken.awaitNanos(nanos);
            }
            wakeRequested = false;
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        closed = true;
        wake();
        try {
            thread.join(Duration.ofSeconds(10).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
