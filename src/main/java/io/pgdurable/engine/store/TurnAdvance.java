package io.pgdurable.engine.store;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.TurnResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * The short path's store side: commits an activity's completion together with the next turn of
 * its instance, in the activity's own transaction, through {@code df_engine.complete_and_advance}
 * (see {@code sql/functions/19_short_path.sql}). The turn goes as data of fixed kinds, never as
 * statement text, since the connection may be a SQL step's, the submitting role's.
 *
 * <p>A turn can go this way when it consists of what the function knows how to write:
 * history, new activities, timers, the end of the execution (completed or failed), and
 * orchestration writes that carry a {@linkplain TurnWrite.Sql#kind() kind}. Children,
 * cancellations and continue-as-new take the queue path ({@link #whyNot}).
 */
public final class TurnAdvance {
    private static final JsonNodeFactory JSON = JsonCodec.nodes();

    /**
     * What the call did.
     *
     * @param advanced whether the turn committed with the completion; if not, the completion was
     *                 queued for the orchestration dispatch, as without the short path
     * @param next     the turn's first new activity, leased to the caller, or {@code null}
     */
    public record Outcome(boolean advanced, ActivityItem next) {
    }

    private TurnAdvance() {
    }

    /**
     * Why {@code result}, the turn that follows the completion of {@code item}, cannot take the
     * short path, or {@code null} when it can. The turn must start with exactly its two inputs:
     * the orchestrator's start and this task's completion.
     */
    public static String whyNot(ActivityItem item, TurnResult result) {
        List<HistoryEvent> history = result.history();
        if (history.size() < 2 || history.get(0).type() != EventType.OrchestratorStarted
                || history.get(1).type() != EventType.TaskCompleted
                || !Integer.valueOf(item.taskId()).equals(history.get(1).taskId())) {
            return "the turn does not start with this task's completion";
        }
        for (Action action : result.actions()) {
            if (!(action instanceof Action.ScheduleActivity) && !(action instanceof Action.CreateTimer)) {
                return "the turn " + action.getClass().getSimpleName();
            }
        }
        if (result.completion() instanceof TurnResult.ContinuedAsNew) {
            return "the turn continues as new";
        }
        for (TurnWrite write : result.writes()) {
            if (kindOf(write) == null) {
                return "the turn has a write without a kind: " + write;
            }
        }
        return null;
    }

    /**
     * Records {@code item}'s result and, if the instance is as the caller's replay state knows
     * it ({@code expectedEvents} history events in the item's generation, nothing else waiting),
     * appends {@code result} as its next turn; then commits, in one round trip. As with
     * {@link ActivityQueue#completeAndCommit}, a refused completion raises SQLSTATE 55000 and
     * the server never reaches the {@code COMMIT}. Nothing here resolves through the
     * connection's search_path (see there): the turn goes as text, and the function reads it.
     *
     * @param leaseOwner   when not {@code null}, the turn's first new activity is leased to this
     *                     owner for {@code lease} and returned, so the caller runs it without a claim
     * @param beforeCommit a constant statement of the caller's run right before the {@code COMMIT},
     *                     or {@code null} (see {@link io.pgdurable.engine.ActivityContext})
     */
    public static Outcome completeAdvanceAndCommit(Connection c, ActivityItem item, String itemResult,
                                                   int expectedEvents, Instant turnTime, TurnResult result,
                                                   String leaseOwner, Duration lease, String beforeCommit)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM df_engine.complete_and_advance(?, ?, ?, ?, ?, ?, ?, ?); "
                + StoreSql.beforeCommit(beforeCommit))) {
            ps.setLong(1, item.id());
            ps.setObject(2, item.leaseToken());
            ps.setString(3, itemResult);
            ps.setInt(4, expectedEvents);
            ps.setTimestamp(5, Timestamp.from(turnTime));
            ps.setString(6, encode(result).toString());
            ps.setString(7, leaseOwner);
            ps.setDouble(8, lease.toMillis() / 1000.0);
            ps.execute();
            try (ResultSet rs = ps.getResultSet()) {
                rs.next();
                boolean advanced = rs.getBoolean(1);
                long nextId = rs.getLong(2);
                if (!advanced || rs.wasNull()) {
                    return new Outcome(advanced, null);
                }
                Action.ScheduleActivity first = (Action.ScheduleActivity) result.actions().stream()
                        .filter(Action.ScheduleActivity.class::isInstance).findFirst().orElseThrow();
                ActivityItem next = new ActivityItem(nextId, item.instanceId(), item.executionId(), first.taskId(),
                        first.name(), first.input(), (UUID) rs.getObject(3), rs.getInt(4), rs.getString(5));
                return new Outcome(true, next);
            }
        }
    }

    /** The turn as the function reads it. Its two inputs are not sent: the function writes them. */
    static ObjectNode encode(TurnResult result) {
        ObjectNode turn = JSON.objectNode();
        ArrayNode history = turn.putArray("history");
        for (HistoryEvent e : result.history().subList(2, result.history().size())) {
            ObjectNode h = history.addObject().put("t", e.type().name());
            if (e.taskId() != null) {
                h.put("task", e.taskId());
            }
            h.put("name", e.name()).put("payload", e.payload());
        }
        ArrayNode activities = turn.putArray("activities");
        ArrayNode timers = turn.putArray("timers");
        for (Action action : result.actions()) {
            if (action instanceof Action.ScheduleActivity a) {
                ObjectNode o = activities.addObject().put("task", a.taskId()).put("name", a.name()).put("input", a.input());
                if (a.partitionKey() != null) {
                    o.put("key", a.partitionKey());
                }
            } else if (action instanceof Action.CreateTimer t) {
                timers.addObject().put("task", t.taskId()).put("at", t.fireAt().toString());
            }
        }
        if (result.completion() instanceof TurnResult.Completed done) {
            turn.putObject("finish").put("status", "Completed").put("output", done.output());
        } else if (result.completion() instanceof TurnResult.Failed failed) {
            turn.putObject("finish").put("status", "Failed").put("output", failed.failure().toJson());
        }
        if (!result.writes().isEmpty()) {
            ArrayNode writes = turn.putArray("writes");
            for (TurnWrite write : result.writes()) {
                ObjectNode w = writes.addObject().put("kind", kindOf(write));
                ArrayNode args = w.putArray("args");
                if (write instanceof TurnWrite.Sql sql) {
                    for (int i = 0; i < sql.parameterCount(); i++) {
                        Object p = sql.parameter(i);
                        args.add(p == null ? null : p.toString());
                    }
                } else if (write instanceof TurnWrite.Rows rows) {
                    for (int i = 0; i < rows.width(); i++) {
                        args.add(rows.column(i));
                    }
                }
            }
        }
        return turn;
    }

    private static String kindOf(TurnWrite write) {
        if (write instanceof TurnWrite.Sql sql) {
            return sql.kind();
        }
        if (write instanceof TurnWrite.Rows rows) {
            return rows.kind();
        }
        return null;
    }
}
