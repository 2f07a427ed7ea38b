package io.pgdurable.worker;

import io.pgdurable.db.TransientErrors;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.Limits;
import io.pgdurable.engine.Orchestration;
import io.pgdurable.engine.Registry;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.ReplaySession;
import io.pgdurable.engine.replay.TurnResult;
import io.pgdurable.engine.store.ClaimedTurn;
import io.pgdurable.engine.store.InstanceRow;
import io.pgdurable.engine.store.Message;
import io.pgdurable.engine.store.TurnStore;
import io.pgdurable.engine.store.TurnWriter;
import io.pgdurable.engine.store.TurnWrites;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * One orchestration dispatch loop: lock a batch of instances with pending messages, run a turn
 * for each, write every decision, commit once. Several loops run side by side; row locks keep
 * them (and other workers) off each other's instances.
 */
final class OrchestrationDispatcher implements Runnable {
    private static final Logger LOG = Logger.getLogger(OrchestrationDispatcher.class.getName());

    private final WorkerRuntime runtime;
    private final TurnStore store = new TurnStore();
    private final Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));
    private int isolateTurns;
    /**
     * Whether the current poll's batch of turns has committed: from then on a failure (of the
     * bookkeeping after the commit, or of the look at what is due next) is no turn's failure.
     */
    private boolean batchCommitted;

    OrchestrationDispatcher(WorkerRuntime runtime) {
        this.runtime = runtime;
    }

    @Override
    public void run() {
        while (!runtime.stopping()) {
            try {
                long idle = pollOnce();
                backoff.reset();
                if (idle > 0) {
                    runtime.orchestrationWakeup().await(idle);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (SimulatedCrashException e) {
                LOG.info(() -> "orchestration turn abandoned: " + e.getMessage());
            } catch (Exception e) {
                long delay = backoff.nextDelayMillis();
                LOG.log(TransientErrors.isTransient(e) ? Level.INFO : Level.WARNING,
                        "orchestration dispatch failed; retrying in " + delay + " ms", e);
                sleepQuietly(delay);
            }
        }
    }

    /** Runs one batch; returns 0 if it did work, else how long to idle (ms). */
    long pollOnce() throws SQLException {
        DataSource ds = runtime.dataSource();
        int limit = isolateTurns > 0 ? 1 : runtime.config().turnBatchSize();
        try (Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            List<ClaimedTurn> turns = List.of();
            batchCommitted = false;
            try {
                // The claim sets a savepoint right after its locks, in its round trip; a turn
                // claimed alone uses it if it fails (see failClaimedInstance).
                turns = store.claimTurns(c, limit, true);
                if (turns.isEmpty()) {
                    return idleMillis(store.nextMessageDueAndCommit(c));
                }
                boolean queued = processBatch(c, turns);
                runtime.config().faultInjector().at(FaultPoint.AFTER_TURN_COMMIT, turns.get(0).row().id());
                if (isolateTurns > 0) {
                    isolateTurns--;
                    return 0;
                }
                if (turns.size() >= limit || queued) {
                    return 0; // more may be waiting already
                }
                // Whatever arrives from now on signals this loop; only what was due while the
                // batch ran needs a look, and the cheap one does.
                Instant due = store.nextMessageDueAndCommit(c);
                return due != null && !due.isAfter(runtime.config().clock().instant()) ? 0 : idleMillis(due);
            } catch (SQLException | RuntimeException e) {
                // Once the batch has committed, what fails after it is no turn's failure: the
                // instances stay as their turns left them.
                if (batchCommitted || e instanceof SimulatedCrashException || TransientErrors.isTransient(e)
                        || turns.isEmpty()) {
                    rollbackQuietly(c);
                    throw e;
                }
                if (turns.size() > 1) {
                    // Retry the batch one instance at a time to find the one that fails.
                    rollbackQuietly(c);
                    isolateTurns = turns.size();
                    LOG.log(Level.INFO, "a batch of " + turns.size() + " turns failed; isolating them", e);
                    return 0;
                }
                failClaimedInstance(c, turns.get(0).row(), e);
                return 0;
            }
        }
    }

    /**
     * Fails the instance of a turn claimed alone that failed for good, in the turn's own
     * transaction: undoing the turn's writes back to the savepoint its claim set keeps the claim
     * (the row lock; the messages it took are back in the queue, under that lock), so no other
     * dispatch loop can take the same failing turn in between and the instance fails exactly
     * once. Only when the transaction itself is gone (its commit failed) is the instance failed in
     * a new one.
     */
    private void failClaimedInstance(Connection c, InstanceRow row, Exception cause) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("ROLLBACK TO SAVEPOINT " + TurnStore.CLAIMED_SAVEPOINT);
        } catch (SQLException transactionGone) {
            rollbackQuietly(c);
            failInstance(row.id(), cause);
            return;
        }
        try {
            writeFailure(c, row, cause);
            c.commit();
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(c);
            throw e;
        }
    }

    /** Runs and commits a batch of turns; returns whether they queued messages (for any instance). */
    private boolean processBatch(Connection c, List<ClaimedTurn> turns) throws SQLException {
        Instant now = runtime.config().clock().instant();
        LocalActivities local = runtime.localActivities();
        TurnWriter writer = new TurnWriter(local == null ? null : local.leaser());
        List<ReplaySession> sessions = new ArrayList<>();
        List<TurnResult> results = new ArrayList<>();
        List<LocalStart.FirstTurn> children = new ArrayList<>();
        boolean committed = false;
        try {
            for (ClaimedTurn turn : turns) {
                InstanceRow row = turn.row();
                if (row.isTerminal()) {
                    continue; // messages for a finished instance are dropped with the turn
                }
                Optional<Orchestration> orchestration = runtime.registry().findOrchestration(row.name());
                if (orchestration.isEmpty()) {
                    writer.fail(row, new FailureDetails("NotRegistered", "no orchestration named '" + row.name()
                            + "' is registered on worker " + runtime.config().workerId()), now);
                    continue;
                }
                List<HistoryEvent> fresh = freshEvents(row, turn.messages(), now);
                if (fresh.size() == 1) {
                    continue; // nothing but stale messages from an earlier generation
                }
                ReplaySession session = sessionFor(row, orchestration.get());
                List<HistoryEvent> past = session.eventsApplied() < row.eventCount()
                        ? store.loadHistory(c, row.id(), row.executionId(), session.eventsApplied())
                        : List.of();
                sessions.add(session);
                TurnResult result = session.replayAndRun(past, fresh);
                checkLimits(runtime.config().limits(), row.id(), result);
                results.add(result);
                writer.add(row, result, now);
                if (local != null && !runtime.stopping()) {
                    startChildren(writer, result, now, children);
                }
            }
            runtime.config().faultInjector().at(FaultPoint.BEFORE_TURN_COMMIT, turns.get(0).row().id());
            writer.flushAndCommit(c);
            committed = true;
            batchCommitted = true;
        } finally {
            settleChildren(writer, children, committed);
            settle(runtime, writer, sessions, results, committed, turns.size());
        }
        return writer.queuedMessages();
    }

    /**
     * The children {@code result} creates whose orchestrations this worker runs: each one's first
     * turn is run now, from its input alone, and written with the parent's turn (the child starts
     * running, its first activities leased to this worker), so the child needs no start message,
     * claim and turn of its own. A child whose first turn fails, ends it or does more than
     * schedule activities is started the usual way, and a dispatch loop runs that turn.
     */
    private void startChildren(TurnWriter writer, TurnResult result, Instant now, List<LocalStart.FirstTurn> children) {
        for (Action action : result.actions()) {
            if (!(action instanceof Action.CreateSubOrchestration child)) {
                continue;
            }
            Optional<Orchestration> orchestration = runtime.registry().findOrchestration(child.name());
            LocalStart.FirstTurn first = orchestration.isEmpty() || child.instanceId().isEmpty() ? null
                    : LocalStart.firstTurn(runtime, orchestration.get(), child.name(), child.instanceId(), child.input(),
                            now);
            if (first == null) {
                continue;
            }
            if (TurnWriter.canStartWith(first.result())
                    && writer.addFirstTurnOfChild(child.instanceId(), first.result(), now)) {
                children.add(first);
            } else {
                first.session().close();
            }
        }
    }

    /** The replay state of each child started with its first turn goes to the cache if it was created and committed. */
    private void settleChildren(TurnWriter writer, List<LocalStart.FirstTurn> children, boolean committed) {
        int started = 0;
        for (LocalStart.FirstTurn child : children) {
            ReplaySession session = child.session();
            if (committed && writer.startedWithFirstTurn().contains(session.instanceId())) {
                session.committed(child.result());
                runtime.sessions().put(session);
                started++;
            } else {
                session.close();
            }
        }
        if (started > 0) {
            runtime.countTurns(started);
        }
    }

    /**
     * After the turns {@code writer} wrote committed, or did not ({@code committed} false): each
     * session whose turn committed takes in its result and goes back to the cache (its instance
     * reported if the turn ended it), the others are closed; the activities leased to this worker
     * run and the other reservations come back; and the loops are woken for what the turns left
     * queued. {@code results} may be shorter than {@code sessions} (a turn failed midway); {@code
     * turns} is how many turns the batch counts for. Used by the dispatch loops and by a start in
     * the worker's JVM ({@link LocalStart}).
     */
    static void settle(WorkerRuntime runtime, TurnWriter writer, List<ReplaySession> sessions,
                       List<TurnResult> results, boolean committed, int turns) {
        for (int i = 0; i < sessions.size(); i++) {
            ReplaySession session = sessions.get(i);
            if (committed && i < results.size()) {
                session.committed(results.get(i));
                if (results.get(i).isTerminal()) {
                    runtime.config().onInstanceFinished().accept(session.instanceId());
                }
                runtime.sessions().put(session);
            } else {
                session.close();
            }
        }
        // After the sessions are back: an activity run at once may complete on the short path.
        LocalActivities local = runtime.localActivities();
        if (local != null) {
            local.settle(writer, committed);
        }
        if (committed) {
            runtime.countTurns(turns);
            if (writer.scheduled() > writer.leased().size()) {
                runtime.activityWakeup().signal();
            }
            if (writer.queuedMessages()) {
                runtime.orchestrationWakeup().signal(); // children or continue-as-new may be ready
            }
        }
    }

    /**
     * What a turn decided to store must be readable by the next turn: activity and child inputs,
     * the next generation's input and the output are checked against the worker's limits before
     * anything commits. Over them the turn fails, and with it the instance, naming the limit.
     */
    static void checkLimits(Limits limits, String instanceId, TurnResult result) {
        String of = " of instance " + instanceId;
        for (Action action : result.actions()) {
            if (action instanceof Action.ScheduleActivity a) {
                limits.checkDocument(a.input(), "the input of activity '" + a.name() + "' (task " + a.taskId() + ")" + of);
            } else if (action instanceof Action.CreateSubOrchestration s) {
                limits.checkDocument(s.input(), "the input of sub-orchestration " + s.instanceId());
            }
        }
        TurnResult.Completion completion = result.completion();
        if (completion instanceof TurnResult.Completed done) {
            limits.checkDocument(done.output(), "the output" + of);
        } else if (completion instanceof TurnResult.ContinuedAsNew next) {
            limits.checkDocument(next.input(), "the input of the next generation" + of);
        }
    }

    private ReplaySession sessionFor(InstanceRow row, Orchestration orchestration) {
        ReplaySession cached = runtime.sessions().take(row.id());
        if (cached != null && cached.executionId() == row.executionId() && cached.isReusable()
                && cached.eventsApplied() <= row.eventCount()) {
            return cached;
        }
        if (cached != null) {
            cached.close();
        }
        return new ReplaySession(row.id(), row.executionId(), row.name(), orchestration,
                ReplaySession.DEFAULT_YIELD_TIMEOUT, runtime.config().limits());
    }

    private static List<HistoryEvent> freshEvents(InstanceRow row, List<Message> messages, Instant now) {
        List<HistoryEvent> events = new ArrayList<>(messages.size() + 1);
        events.add(HistoryEvent.orchestratorStarted(now));
        for (Message m : messages) {
            if (m.executionId() != null && m.executionId() != row.executionId()) {
                continue; // result for a generation that has since continued as new
            }
            EventType type = EventType.valueOf(m.kind());
            if (type == EventType.ExecutionStarted && row.eventCount() > 0) {
                continue;
            }
            events.add(new HistoryEvent(type, m.taskId(), m.name(), m.payload(), now));
        }
        return events;
    }

    /**
     * Fails an instance in a transaction of its own, waiting for any other dispatch loop that
     * holds it to finish its turn first (that turn fails the same way, or completes the instance).
     */
    private void failInstance(String instanceId, Exception cause) throws SQLException {
        try (Connection c = runtime.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                List<InstanceRow> rows = store.lockInstanceWaiting(c, instanceId);
                if (!rows.isEmpty()) {
                    writeFailure(c, rows.get(0), cause);
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly(c);
                throw e;
            }
        }
    }

    /**
     * A turn that fails for reasons other than the database fails its instance, not the worker:
     * writes the failure of the locked instance {@code row} (nothing if it is already finished).
     */
    private void writeFailure(Connection c, InstanceRow row, Exception cause) throws SQLException {
        if (row.isTerminal()) {
            return;
        }
        LOG.log(Level.WARNING, "orchestration turn of " + row.id() + " failed; failing the instance", cause);
        runtime.config().faultInjector().at(FaultPoint.FAILING_INSTANCE, row.id());
        FailureDetails failure = FailureDetails.of(cause);
        store.takeMessages(c, List.of(row.id()));
        TurnWriter writer = new TurnWriter();
        writer.fail(row, failure, runtime.config().clock().instant());
        writer.flush(c);
        applyFailureWrites(c, row, failure);
    }

    /**
     * The orchestration's own writes for a failure it did not see; if they fail, the instance is
     * still failed in the engine (a savepoint keeps the two apart) and the error logged.
     */
    private void applyFailureWrites(Connection c, InstanceRow row, FailureDetails failure) throws SQLException {
        Optional<Orchestration> orchestration = runtime.registry().findOrchestration(row.name());
        if (orchestration.isEmpty()) {
            return;
        }
        List<TurnWrite> writes = orchestration.get().writesOnEngineFailure(row.id(), row.name(), failure);
        if (writes.isEmpty()) {
            return;
        }
        Savepoint before = c.setSavepoint();
        try {
            TurnWrites.apply(c, writes);
            c.releaseSavepoint(before);
        } catch (SQLException | RuntimeException e) {
            c.rollback(before);
            LOG.log(Level.WARNING, "the failure writes of orchestration " + row.name() + " for " + row.id()
                    + " failed; the instance is failed in the engine only", e);
        }
    }

    private long idleMillis(Instant nextDue) {
        long poll = runtime.config().pollInterval().toMillis();
        if (nextDue == null) {
            return poll;
        }
        long untilDue = Duration.between(runtime.config().clock().instant(), nextDue).toMillis();
        return Math.max(1, Math.min(poll, untilDue));
    }

    static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException e) {
            LOG.log(Level.FINE, "rollback failed", e);
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
