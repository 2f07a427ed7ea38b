package io.pgdurable.worker;

import io.pgdurable.engine.ActivityContext;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.LeaseLostException;
import io.pgdurable.engine.Limits;
import io.pgdurable.engine.store.ActivityItem;
import io.pgdurable.engine.store.EngineStore;
import java.sql.Connection;
import java.sql.SQLException;

final class ActivityContextImpl implements ActivityContext {
    private final ActivityItem item;
    private final EngineStore store;
    private final FaultInjector faults;
    private final Limits limits;
    private volatile boolean completed;

    ActivityContextImpl(ActivityItem item, EngineStore store, FaultInjector faults, Limits limits) {
        this.item = item;
        this.store = store;
        this.faults = faults;
        this.limits = limits;
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

    @Override
    public void completeAndCommit(Connection connection, Object result) throws SQLException {
        if (connection.getAutoCommit()) {
            throw new IllegalStateException("completeAndCommit needs a connection with autocommit off,"
                    + " holding the activity's uncommitted work");
        }
        try {
            String json = limits.checkedJson(result, describeResult());
            faults.at(FaultPoint.BEFORE_ACTIVITY_COMMIT, item.instanceId());
            store.completeAndCommit(connection, item, json);
        } catch (SQLException e) {
            OrchestrationDispatcher.rollbackQuietly(connection);
            if ("55000".equals(e.getSQLState())) {
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
}
