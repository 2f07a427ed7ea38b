package io.pgdurable.engine;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

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
    default void completeAndCommit(Connection connection, Object result) throws SQLException {
        completeAndCommit(connection, result, null);
    }

    /**
     * Like {@link #completeAndCommit(Connection, Object)}, and runs {@code beforeCommit} (one
     * statement of the caller's own, without parameters, every name in it schema-qualified; or
     * {@code null}) in the same transaction right after the completion and before the
     * {@code COMMIT}, in the same round trip: a pooled connection's owner resets the session there
     * instead of in a round trip of its own. If anything fails, nothing of it commits.
     */
    void completeAndCommit(Connection connection, Object result, String beforeCommit) throws SQLException;

    /**
     * Runs {@code sql}, one statement of the activity's own with its {@code ?} parameters bound
     * from {@code parameters} in order, and records this activity's result in the same
     * transaction of {@code connection}, then commits: the statement, the completion and the
     * {@code COMMIT} go to the database in one round trip, where running the statement and then
     * calling {@link #completeAndCommit(Connection, Object)} takes two. For the activity's last
     * write when it needs no answer from it (an INSERT or UPDATE; rows it returns are discarded).
     * The connection, the lease and the result follow {@code completeAndCommit}'s rules, and any
     * work already done in the open transaction commits with it. If the statement fails, nothing
     * commits and its {@link SQLException} is thrown as it came, as if the activity had run the
     * statement itself. A {@code null} parameter has no type the driver can declare, so it makes
     * the driver describe the statement first, in a round trip of its own: bind typed values, or
     * write {@code NULL} in the text. An {@link UntypedText} parameter is sent without a type.
     */
    default void writeCompleteAndCommit(Connection connection, String sql, List<?> parameters, Object result)
            throws SQLException {
        writeCompleteAndCommit(connection, sql, parameters, result, null);
    }

    /**
     * Like {@link #writeCompleteAndCommit(Connection, String, List, Object)}, and runs
     * {@code beforeCommit} as {@link #completeAndCommit(Connection, Object, String)} does: right
     * after the completion, before the {@code COMMIT}, in the same round trip.
     */
    void writeCompleteAndCommit(Connection connection, String sql, List<?> parameters, Object result,
                                String beforeCommit) throws SQLException;

    /**
     * A text parameter of {@link #writeCompleteAndCommit} sent without a type, for the server to
     * type from the statement as it types a quoted literal ({@code '2026-03-04'} compared with a
     * date column is a date); a {@code String} is sent as {@code varchar}.
     */
    record UntypedText(String text) {
        public UntypedText {
            java.util.Objects.requireNonNull(text, "text");
        }
    }

    /**
     * The worker's limits on results. {@link #completeAndCommit} checks the result against them
     * before it commits; an activity producing a large result should check while it builds it.
     */
    default Limits limits() {
        return Limits.defaults();
    }

    /**
     * Checks, with one statement on {@code connection}, that this activity still holds its lease,
     * and throws {@link LeaseLostException} if not: its instance was cancelled, another worker took
     * the item over, or its result was recorded already. Call it right before the side effect, on
     * the connection that will make it when that is a connection to the engine's database (any
     * role may use it, inside the open transaction or not), so the check costs no extra connection.
     *
     * <p>An activity the worker starts the moment its lease was granted (the short path's next
     * step, run at once on the thread of the step before it, or an activity a turn of this worker
     * leased to it, started on a free thread as soon as the turn committed) skips its first
     * check: the lease is as fresh as a check would make it. A cancel that comes after still reaches it as for any
     * running activity ({@link #onLeaseLost}), and its completion is refused.
     */
    void checkLease(Connection connection) throws SQLException;

    /**
     * Like {@link #checkLease(Connection)}, on a connection of the worker's own: for activities
     * whose side effect happens elsewhere (another database, another system).
     */
    void checkLease() throws SQLException;

    /**
     * Whether the worker has learned that this activity's lease is gone (its instance was
     * cancelled, or the item was taken over). An activity that sees it should stop: nothing it
     * returns or throws any more is recorded.
     */
    boolean leaseLost();

    /**
     * Runs {@code onLost} (from another thread) when the worker learns, while the registration is
     * open, that this activity's lease is gone, so that the activity can stop its work: a SQL
     * step cancels its running statement. The action may run more than once, and must be quick
     * and safe to call at any moment. Throws {@link LeaseLostException} at once if the lease is
     * already known to be gone.
     */
    Registration onLeaseLost(Runnable onLost);

    /** An open {@link #onLeaseLost(Runnable)} registration; closing it ends it. */
    interface Registration extends AutoCloseable {
        @Override
        void close();
    }
}
