package io.pgdurable.engine.store;

import com.fasterxml.jackson.core.JsonGenerator;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.TurnResult;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.postgresql.util.PGobject;

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
    private static final StoreSql.Completion COMPLETE_AND_ADVANCE =
            new StoreSql.Completion("SELECT * FROM df_engine.complete_and_advance(?, ?, ?, ?, ?, ?, ?, ?)");

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
        return completeAdvanceAndCommit(c, item, itemResult, expectedEvents, turnTime, result, leaseOwner, lease,
                beforeCommit, null);
    }

    /**
     * {@link #completeAdvanceAndCommit(Connection, ActivityItem, String, int, Instant, TurnResult, String,
     * Duration, String)} with the activity's own {@code write} (or {@code null}) ahead of the
     * completion, in the same round trip.
     */
    public static Outcome completeAdvanceAndCommit(Connection c, ActivityItem item, String itemResult,
                                                   int expectedEvents, Instant turnTime, TurnResult result,
                                                   String leaseOwner, Duration lease, String beforeCommit,
                                                   ActivityWrite write) throws SQLException {
        try (PreparedStatement ps = COMPLETE_AND_ADVANCE.prepare(c, beforeCommit, write, item, itemResult)) {
            int p = StoreSql.Completion.next(write);
            ps.setInt(p, expectedEvents);
            ps.setObject(p + 1, timestamptz(turnTime));
            ps.setString(p + 2, encode(result));
            ps.setString(p + 3, leaseOwner);
            ps.setDouble(p + 4, lease.toMillis() / 1000.0);
            ps.execute();
            if (write != null) {
                ps.getMoreResults(); // past the activity's statement to the completion's row
            }
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

    /**
     * {@code instant} as a parameter declared {@code timestamptz}, in ISO-8601 text with an
     * explicit offset (neither DateStyle nor TimeZone matters). pgjdbc's own timestamp binding
     * builds formatting state for every new statement (a tenth of the completion's CPU in a
     * profile); and a parameter of no declared type, as this one was until 2026-12-05, makes
     * pgjdbc describe the statement, after which it knows the result row has a text column, cannot
     * bound the reply's size, and so sends a Sync and waits for the reply before it sends the
     * statements that follow in the same execute: the step's reset and {@code COMMIT} went in a
     * round trip of their own. With every parameter's type declared, the three go in one.
     */
    static PGobject timestamptz(Instant instant) throws SQLException {
        PGobject value = new PGobject();
        value.setType("timestamptz");
        value.setValue(instant.toString());
        return value;
    }

    /**
     * The turn as the function reads it. Its two inputs are not sent: the function writes them.
     * Written straight to text (a tree built first and then serialized cost about a third of
     * this method's caller's CPU in a profile of the engine's throughput scenario).
     */
    static String encode(TurnResult result) {
        StringWriter text = new StringWriter(512);
        try (JsonGenerator out = JsonCodec.mapper().getFactory().createGenerator(text)) {
            out.writeStartObject();
            out.writeArrayFieldStart("history");
            for (HistoryEvent e : result.history().subList(2, result.history().size())) {
                out.writeStartObject();
                out.writeStringField("t", e.type().name());
                if (e.taskId() != null) {
                    out.writeNumberField("task", e.taskId());
                }
                out.writeStringField("name", e.name());
                out.writeStringField("payload", e.payload());
                out.writeEndObject();
            }
            out.writeEndArray();
            out.writeArrayFieldStart("activities");
            for (Action action : result.actions()) {
                if (action instanceof Action.ScheduleActivity a) {
                    out.writeStartObject();
                    out.writeNumberField("task", a.taskId());
                    out.writeStringField("name", a.name());
                    out.writeStringField("input", a.input());
                    if (a.partitionKey() != null) {
                        out.writeStringField("key", a.partitionKey());
                    }
                    out.writeEndObject();
                }
            }
            out.writeEndArray();
            out.writeArrayFieldStart("timers");
            for (Action action : result.actions()) {
                if (action instanceof Action.CreateTimer t) {
                    out.writeStartObject();
                    out.writeNumberField("task", t.taskId());
                    out.writeStringField("at", t.fireAt().toString());
                    out.writeEndObject();
                }
            }
            out.writeEndArray();
            if (result.completion() instanceof TurnResult.Completed done) {
                writeFinish(out, "Completed", done.output());
            } else if (result.completion() instanceof TurnResult.Failed failed) {
                writeFinish(out, "Failed", failed.failure().toJson());
            }
            if (!result.writes().isEmpty()) {
                out.writeArrayFieldStart("writes");
                for (TurnWrite write : result.writes()) {
                    out.writeStartObject();
                    out.writeStringField("kind", kindOf(write));
                    out.writeArrayFieldStart("args");
                    if (write instanceof TurnWrite.Sql sql) {
                        for (int i = 0; i < sql.parameterCount(); i++) {
                            Object p = sql.parameter(i);
                            out.writeString(p == null ? null : p.toString());
                        }
                    } else if (write instanceof TurnWrite.Rows rows) {
                        for (int i = 0; i < rows.width(); i++) {
                            out.writeString(rows.column(i));
                        }
                    }
                    out.writeEndArray();
                    out.writeEndObject();
                }
                out.writeEndArray();
            }
            out.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        return text.toString();
    }

    private static void writeFinish(JsonGenerator out, String status, String output) throws IOException {
        out.writeObjectFieldStart("finish");
        out.writeStringField("status", status);
        out.writeStringField("output", output);
        out.writeEndObject();
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
