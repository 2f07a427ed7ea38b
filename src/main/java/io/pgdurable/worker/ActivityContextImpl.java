package io.pgdurable.worker;

import io.pgdurable.engine.ActivityContext;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.LeaseLostException;
import io.pgdurable.engine.Limits;
import io.pgdurable.engine.store.ActivityItem;
import io.pgdurable.engine.store.ActivityQueue;
import io.pgdurable.engine.store.ActivityWrite;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;

final class ActivityContextImpl implements ActivityContext {
    private static final Logger LOG = Logger.getLogger(ActivityContextImpl.class.getName());

    private final ActivityItem item;
    private final ActivityQueue queue;
    private final FaultInjector faults;
    private final Limits limits;
    private final DataSource engine;
    private final LocalDispatch local;
    private volatile boolean completed;
    private volatile ActivityItem next;
    /** Leased a moment ago and started at once: the first lease check has nothing to find. */
    private volatile boolean leaseJustGranted;
    private volatile boolean leaseLost;
    private volatile Runnable onLost;

    ActivityContextImpl(ActivityItem item, ActivityQueue queue, LocalDispatch local, FaultInjector faults,
                        Limits limits, DataSource engine) {
        this.item = item;
        this.queue = queue;
        this.local = local;
        this.faults = faults;
        this.limits = limits;
        this.engine = engine;
    }

    @Override
    public Limits limits() {
        return limits;
    }

    /** What errors call this activity's result. */
    String describeResult() {
        return "the result of activity '" + item.name() + "' (task " + item.taskId() + " of instance "
                + item.instanceId() + ")";
    }

    ActivityItem item() {
        return item;
    }

    @Override
    public String instanceId() {
        return item.instanceId();
    }

    @Override
    public int executionId() {
        return item.executionId();
    }

    @Override
    public int taskId() {
        return item.taskId();
    }

    @Override
    public String name() {
        return item.name();
    }

    @Override
    public int attempt() {
        return item.attempt();
    }

    @Override
    public <T> T input(Class<T> type) {
        return JsonCodec.fromJson(item.input(), type);
    }

    @Override
    public String rawInput() {
        return item.input();
    }

    boolean completed() {
        return completed;
    }

    /** The instance's next activity, leased to this worker by the short path, or {@code null}. */
    ActivityItem next() {
        return next;
    }

    @Override
    public void completeAndCommit(Connection connection, Object result, String beforeCommit) throws SQLException {
        complete(connection, result, beforeCommit, null);
    }

    @Override
    public void writeCompleteAndCommit(Connection connection, String sql, List<?> parameters, Object result,
                                       String beforeCommit) throws SQLException {
        complete(connection, result, beforeCommit, ActivityWrite.of(sql, parameters));
    }

    private void complete(Connection connection, Object result, String beforeCommit, ActivityWrite write)
            throws SQLException {
        if (connection.getAutoCommit()) {
            throw new IllegalStateException("completeAndCommit needs a connection with autocommit off,"
                    + " holding the activity's uncommitted work");
        }
        try {
            String json = limits.checkedJson(result, describeResult());
            faults.at(FaultPoint.BEFORE_ACTIVITY_COMMIT, item.instanceId());
            next = local.completeAndCommit(connection, item, json, beforeCommit, write);
        } catch (SQLException e) {
            OrchestrationDispatcher.rollbackQuietly(connection);
            if ("55000".equals(e.getSQLState()) && (write == null || ActivityWrite.raisedByCompletion(e))) {
                throw new LeaseLostException("activity '" + item.name() + "' (task " + item.taskId() + " of instance "
                        + item.instanceId() + ") no longer holds its lease: it was completed already, taken over"
                        + " after the lease expired, or its instance was cancelled; its work was rolled back");
            }
            throw e;
        } catch (RuntimeException e) {
            OrchestrationDispatcher.rollbackQuietly(connection);
            throw e;
        }
        completed = true;
        faults.at(FaultPoint.AFTER_ACTIVITY_COMMIT, item.instanceId());
    }

    /** Marks this activity as started the moment its lease was granted (see ActivityContext#checkLease). */
    void leaseJustGranted() {
        leaseJustGranted = true;
    }

    @Override
    public void checkLease(Connection connection) throws SQLException {
        if (leaseFresh()) {
            return;
        }
        if (!queue.leaseHeld(connection, item)) {
            markLeaseLost();
            throw notStarted();
        }
    }

    @Override
    public void checkLease() throws SQLException {
        if (leaseFresh()) {
            return;
        }
        try (Connection c = engine.getConnection()) {
            checkLease(c);
        }
    }

    @Override
    public boolean leaseLost() {
        return leaseLost;
    }

    @Override
    public Registration onLeaseLost(Runnable action) {
        onLost = action;
        // Set before the flag is read: a loss marked in between runs the action itself.
        if (leaseLost) {
            onLost = null;
            throw notStarted();
        }
        return () -> onLost = null;
    }

    /**
     * The worker learned that the lease is gone: remember it, and let a running activity stop its
     * work. Called again on every lease check while the activity is still running, so an action
     * that came too early to take effect (a statement cancelled just before it was sent) is
     * repeated.
     */
    void markLeaseLost() {
        leaseLost = true;
        Runnable action = onLost;
        if (action != null) {
            try {
                action.run();
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "stopping activity " + item.name() + " of " + item.instanceId(), e);
            }
        }
    }

    /**
     * Throws if the lease is known lost; otherwise whether this is the first check of a lease
     * granted a moment ago, which has nothing to find (see ActivityContext#checkLease).
     */
    private boolean leaseFresh() {
        throwIfLost();
        if (leaseJustGranted) {
            leaseJustGranted = false;
            return true;
        }
        return false;
    }

    private void throwIfLost() {
        if (leaseLost) {
            throw notStarted();
        }
    }

    private LeaseLostException notStarted() {
        return new LeaseLostException("activity '" + item.name() + "' (task " + item.taskId() + " of instance "
                + item.instanceId() + ") no longer holds its lease: its instance was cancelled, or the item was"
                + " taken over or completed already; it was not started");
    }
}
