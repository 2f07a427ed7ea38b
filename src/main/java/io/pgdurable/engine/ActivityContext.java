package io.pgdurable.engine;

import java.sql.Connection;
import java.sql.SQLException;

/** What an activity knows about itself, and the exactly-once completion hook. */
public interface ActivityContext {

    String instanceId();

    int executionId();

    int taskId();

    String name();

    /** 1 on the first try; higher when an earlier worker died or a transient error recurred. */
    int attempt();

    <T> T input(Class<T> type);

    String rawInput();

    /**
     * Records this activity's result inside the open transaction of {@code connection} and
     * commits it, so the activity's own writes on that connection and its completion commit
     * together or not at all. The connection must be to the engine's database with autocommit
     * off; any role may use it. If the lease was lost (another worker took the item over, the
     * instance was cancelled, or the result was already recorded) the transaction is rolled
     * back and {@link LeaseLostException} is thrown. A result over the worker's {@link #limits()}
     * rolls the transaction back and throws {@link JsonLimitException}.
     */
    void completeAndCommit(Connection connection, Object result) throws SQLException;

    /**
     * The worker's limits on results. {@link #completeAndCommit} checks the result against them
     * before it commits; an activity producing a large result should check while it builds it.
     */
    default Limits limits() {
        return Limits.defaults();
    }
}
