package io.pgdurable.worker;

import io.pgdurable.db.TransientErrors;
import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.ReplaySession;
import io.pgdurable.engine.replay.TurnResult;
import io.pgdurable.engine.store.ActivityItem;
import io.pgdurable.engine.store.ActivityQueue;
import io.pgdurable.engine.store.ActivityWrite;
import io.pgdurable.engine.store.TurnAdvance;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The short path: when an activity completes inside its own transaction and this worker holds
 * its instance's replay state, the worker decides the instance's next turn right there and
 * commits it with the activity's work and completion, in one round trip; the turn's first new
 * activity comes back leased to this worker, which runs it without a claim. Three transactions
 * and two queue hops per step become one commit.
 *
 * <p>Safe against anything that happens meanwhile: the function that writes the turn checks,
 * under the instance's row lock, that the history still has the length this replay state was
 * built from and that no message waits, and otherwise queues the completion as the queue path
 * does (see {@code sql/functions/19_short_path.sql}). The replay state is taken out of the
 * session cache for the attempt, so no orchestration turn uses it meanwhile, and goes back only
 * if the turn committed; in every other case it is dropped, and the next turn rebuilds it by
 * replaying the stored history.
 */
final class LocalDispatch {
    private static final Logger LOG = Logger.getLogger(LocalDispatch.class.getName());

    /** Instances whose short path the database refused, kept from it from then on (a few, at most). */
    private static final int REFUSED_KEPT = 1024;

    private final WorkerRuntime runtime;
    private final ActivityQueue queue;
    private final Set<String> refused = Collections.newSetFromMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > REFUSED_KEPT;
        }
    });

    LocalDispatch(WorkerRuntime runtime, ActivityQueue queue) {
        this.runtime = runtime;
        this.queue = queue;
    }

    /**
     * Records {@code item}'s result in {@code c}'s open transaction, with the next turn when it
     * can, runs {@code beforeCommit} (see {@link io.pgdurable.engine.ActivityContext#completeAndCommit(Connection,
     * Object, String)}), and commits. Returns the next activity, leased to this worker, or {@code null}.
     */
    ActivityItem completeAndCommit(Connection c, ActivityItem item, String result, String beforeCommit)
            throws SQLException {
        return completeAndCommit(c, item, result, beforeCommit, null);
    }

    /**
     * {@link #completeAndCommit(Connection, ActivityItem, String, String)} with the activity's own
     * {@code write} (or {@code null}) ahead of the completion, in the same round trip. A failure of
     * that statement is the activity's own: it is thrown as it came, and says nothing about the
     * short path.
     */
    ActivityItem completeAndCommit(Connection c, ActivityItem item, String result, String beforeCommit,
                                   ActivityWrite write) throws SQLException {
        ReplaySession session = runtime.config().shortPath() && !wasRefused(item.instanceId())
                ? runtime.sessions().take(item.instanceId()) : null;
        if (session == null) {
            return queued(c, item, result, beforeCommit, write);
        }
        if (session.executionId() != item.executionId() || !session.isReusable()) {
            session.close();
            return queued(c, item, result, beforeCommit, write);
        }
        Instant now = runtime.config().clock().instant();
        int expected = session.eventsApplied();
        TurnResult turn;
        try {
            turn = session.run(List.of(HistoryEvent.orchestratorStarted(now),
                    new HistoryEvent(EventType.TaskCompleted, item.taskId(), null, result, now)));
            OrchestrationDispatcher.checkLimits(runtime.config().limits(), item.instanceId(), turn);
        } catch (RuntimeException e) {
            // The queue path takes the turn again and fails the instance the usual way.
            LOG.log(Level.FINE, "short path of " + item.instanceId() + " not taken: the turn failed", e);
            session.close();
            return queued(c, item, result, beforeCommit, write);
        }
        String why = TurnAdvance.whyNot(item, turn);
        if (why != null) {
            LOG.finer(() -> "short path of " + item.instanceId() + " not taken: " + why);
            session.close();
            return queued(c, item, result, beforeCommit, write);
        }
        long scheduled = turn.actions().stream().filter(Action.ScheduleActivity.class::isInstance).count();
        boolean lease = scheduled > 0 && !runtime.stopping();
        TurnAdvance.Outcome outcome;
        try {
            runtime.config().faultInjector().at(FaultPoint.SHORT_PATH_DECIDED, item.instanceId());
            outcome = TurnAdvance.completeAdvanceAndCommit(c, item, result, expected, now, turn,
                    lease ? runtime.config().workerId() : null, runtime.config().leaseDuration(), beforeCommit, write);
        } catch (SQLException e) {
            session.close();
            if ("55000".equals(e.getSQLState()) || TransientErrors.isTransient(e)
                    || (write != null && !ActivityWrite.raisedByCompletion(e))) {
                throw e;
            }
            synchronized (refused) {
                refused.add(item.instanceId());
            }
            throw new ShortPathRefusedException(item.instanceId(), e);
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
        if (!outcome.advanced()) {
            session.close();
            runtime.orchestrationWakeup().signal(); // the completion was queued
            return null;
        }
        session.committed(turn);
        runtime.sessions().put(session);
        runtime.countShortPathTurn();
        if (turn.isTerminal()) {
            runtime.config().onInstanceFinished().accept(item.instanceId());
        }
        if (scheduled > (outcome.next() != null ? 1 : 0)) {
            runtime.activityWakeup().signal();
        }
        if (turn.actions().stream().anyMatch(Action.CreateTimer.class::isInstance)) {
            // A timer may fall due before the loops' idle wait ends. (A finished child's result
            // for its parent is announced by the function's NOTIFY, which reaches this worker's
            // listener too: waking a loop for every finished instance cost a claim that found
            // nothing.)
            runtime.orchestrationWakeup().signal();
        }
        return outcome.next();
    }

    private boolean wasRefused(String instanceId) {
        synchronized (refused) {
            return refused.contains(instanceId);
        }
    }

    /** The queue path: the completion is queued for an orchestration turn, which is woken. */
    private ActivityItem queued(Connection c, ActivityItem item, String result, String beforeCommit,
                                ActivityWrite write) throws SQLException {
        queue.completeAndCommit(c, item, result, beforeCommit, write);
        runtime.orchestrationWakeup().signal();
        return null;
    }
}
