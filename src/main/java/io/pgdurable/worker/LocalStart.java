package io.pgdurable.worker;

import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.Orchestration;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.ReplaySession;
import io.pgdurable.engine.replay.TurnResult;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceRow;
import io.pgdurable.engine.store.TurnWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A start that runs the new instance's first turn in the starting thread ({@link
 * Worker#startOrchestration(String, String, Object)}): the turn is decided before anything is
 * written, from the input alone (a new instance has no history and no other message), and the
 * instance, its first turn and the activities it schedules, leased to this worker, are written
 * and committed in one round trip. The activities then start at once, without the start message, the
 * notification, a dispatch loop's claim and its separate commit that a plain start goes through.
 *
 * <p>Anything the round trip does not take (an orchestration not registered here, a first turn
 * that ends the instance, starts children, sets a timer or sends messages, one that fails, a
 * worker stopping or without the short path) falls back to a plain start: the dispatch loops
 * then run the same first turn, deterministically, as for any start.
 */
final class LocalStart {
    private static final Logger LOG = Logger.getLogger(LocalStart.class.getName());

    private final WorkerRuntime runtime;
    private final EngineClient client;
    /** The pool's login role, the partition key a start on it gives its instance (read once). */
    private volatile String sessionUser;

    LocalStart(WorkerRuntime runtime, EngineClient client) {
        this.runtime = runtime;
        this.client = client;
    }

    String start(String name, String instanceId, Object input) throws SQLException {
        String id = instanceId != null ? instanceId : UUID.randomUUID().toString();
        String json = JsonCodec.toJson(input);
        Optional<Orchestration> orchestration = name == null ? Optional.empty()
                : runtime.registry().findOrchestration(name);
        LocalActivities local = runtime.localActivities();
        try (Connection c = runtime.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                if (orchestration.isPresent() && local != null && !runtime.stopping() && !id.isEmpty()
                        && startRunning(c, orchestration.get(), name, id, json, local)) {
                    return id;
                }
                plainStart(c, name, id, input);
                return id;
            } catch (SQLException | RuntimeException e) {
                OrchestrationDispatcher.rollbackQuietly(c);
                throw e;
            }
        }
    }

    /** A new instance's first turn, run from its input alone, and the replay state that ran it. */
    record FirstTurn(ReplaySession session, TurnResult result) {
    }

    /**
     * Runs new instance {@code id}'s first turn from its input alone, at {@code now}; {@code null}
     * (the session closed) when the turn fails or ends the instance, which the dispatch loops then
     * run and record the usual way.
     */
    static FirstTurn firstTurn(WorkerRuntime runtime, Orchestration orchestration, String name, String id, String json,
                               Instant now) {
        ReplaySession session = new ReplaySession(id, 1, name, orchestration, ReplaySession.DEFAULT_YIELD_TIMEOUT,
                runtime.config().limits());
        TurnResult result;
        try {
            result = session.replayAndRun(List.of(), List.of(HistoryEvent.orchestratorStarted(now),
                    HistoryEvent.executionStarted(name, json, now)));
            OrchestrationDispatcher.checkLimits(runtime.config().limits(), id, result);
        } catch (RuntimeException e) {
            // The dispatch loop's turn fails the instance the usual way, naming the cause.
            LOG.log(Level.FINE, "first turn of " + id + " not run at its start", e);
            session.close();
            return null;
        }
        if (result.isTerminal()) {
            session.close();
            return null;
        }
        return new FirstTurn(session, result);
    }

    /** Runs the first turn and writes it with the instance; false (nothing written) to start plainly. */
    private boolean startRunning(Connection c, Orchestration orchestration, String name, String id, String json,
                                 LocalActivities local) throws SQLException {
        Instant now = runtime.config().clock().instant();
        FirstTurn first = firstTurn(runtime, orchestration, name, id, json, now);
        if (first == null) {
            return false;
        }
        ReplaySession session = first.session();
        TurnResult result = first.result();
        TurnWriter writer = new TurnWriter(local.leaser());
        writer.add(new InstanceRow(id, name, "Running", 1, 0, null, null, null, sessionUser(c)), result, now);
        boolean committed = false;
        try {
            committed = writer.startFlushAndCommit(c, id, name, json);
        } finally {
            OrchestrationDispatcher.settle(runtime, writer, List.of(session), List.of(result), committed, 1);
        }
        return committed;
    }

    /**
     * The start a client makes, committed with the database's own {@code synchronous_commit}, as
     * a client's is (the pool's connections commit asynchronously).
     */
    private void plainStart(Connection c, String name, String id, Object input) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("SET LOCAL synchronous_commit TO DEFAULT");
        }
        client.start(c, name, id, input);
        c.commit();
    }

    private String sessionUser(Connection c) throws SQLException {
        String user = sessionUser;
        if (user == null) {
            try (PreparedStatement ps = c.prepareStatement("SELECT session_user");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                user = rs.getString(1);
            }
            sessionUser = user;
        }
        return user;
    }
}
