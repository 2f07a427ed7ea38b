package io.pgdurable.engine.store;

import static io.pgdurable.engine.store.StoreSql.batch;
import static io.pgdurable.engine.store.StoreSql.bind;
import static io.pgdurable.engine.store.StoreSql.ts;

import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.TurnResult;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Accumulates the results of several turns and writes them with each kind as one batched
 * statement, so a batch of turns costs a handful of round trips: the history, new activities,
 * timers and messages, sub-orchestrations, cancellations and status changes, then the
 * orchestrations' own {@link TurnWrite}s in the order they were made (see {@link TurnWrites}).
 * {@link #flush(Connection)} writes them all on the caller's connection and never commits.
 */
public final class TurnWriter {
    /** Generations whose executions row survives continue-as-new; older ones are deleted. */
    static final int KEPT_GENERATIONS = 100;

    /**
     * Lets the worker writing the turns take the activities they schedule at once: each one it
     * reserves is written leased to it, and comes back from {@link #leased()} after the flush, to
     * run without a claim.
     */
    public interface Leaser {
        /** Whether the worker takes an activity of this partition key now; it then holds a slot for it. */
        boolean reserve(String partitionKey);

        /** The lease owner written on the items taken. */
        String owner();

        /** How long their leases last before another worker may claim them. */
        Duration lease();
    }

    private final Leaser leaser;
    private final List<String> reserved = new ArrayList<>();
    private final List<ActivityItem> leased = new ArrayList<>();

    private final List<Object[]> history = new ArrayList<>();
    private final List<Object[]> activities = new ArrayList<>();
    private final List<Object[]> messages = new ArrayList<>();
    private final List<Object[]> children = new ArrayList<>();
    private final List<Object[]> cancels = new ArrayList<>();
    private final List<Object[]> started = new ArrayList<>();
    private final List<Object[]> finished = new ArrayList<>();
    private final List<Object[]> continued = new ArrayList<>();
    private final List<TurnWrite> writes = new ArrayList<>();
    /** How many times the added turns create each child id. */
    private final Map<String, Integer> childIds = new HashMap<>();
    /** Children created with their first turn ({@link #addFirstTurnOfChild}), by id. */
    private final Map<String, ChildTurn> firstTurns = new HashMap<>();
    /** The children of {@link #firstTurns} that the flush created, with those turns. */
    private final Set<String> startedWithFirstTurn = new HashSet<>();
    /** Writes the first turns of {@link #startedWithFirstTurn}; {@code null} until there are any. */
    private TurnWriter childTurns;

    /** A writer that leaves every activity in the queue for a claim. */
    public TurnWriter() {
        this(null);
    }

    /** A writer that offers each new activity to {@code leaser} first; {@code null} for none. */
    public TurnWriter(Leaser leaser) {
        this.leaser = leaser;
    }

    /**
     * The partition keys of the activities reserved so far, one per reservation, whether or not
     * they came back {@linkplain #leased() leased}: the caller gives back those that did not, and
     * all of them when the turns do not commit.
     */
    public List<String> reservations() {
        return reserved;
    }

    /** The activities written leased to the caller, after {@link #flush}; valid once it commits. */
    public List<ActivityItem> leased() {
        return leased;
    }

    /** Records what {@code result} decided for the locked instance {@code row}. */
    public void add(InstanceRow row, TurnResult result, Instant now) {
        writes.addAll(result.writes());
        int seq = row.eventCount();
        for (HistoryEvent e : result.history()) {
            history.add(new Object[] {row.id(), row.executionId(), ++seq, e.type().name(), e.taskId(), e.name(),
                    e.payload(), ts(e.timestamp())});
        }
        for (Action action : result.actions()) {
            if (action instanceof Action.ScheduleActivity a) {
                String key = a.partitionKey() != null ? a.partitionKey() : row.partitionKey();
                UUID token = null;
                if (leaser != null && leaser.reserve(key)) {
                    reserved.add(key);
                    token = UUID.randomUUID();
                }
                activities.add(new Object[] {row.id(), row.executionId(), a.taskId(), a.name(), a.input(), key, token});
            } else if (action instanceof Action.CreateTimer t) {
                messages.add(new Object[] {row.id(), row.executionId(), EventType.TimerFired.name(), t.taskId(),
                        null, null, ts(t.fireAt())});
            } else if (action instanceof Action.CreateSubOrchestration s) {
                children.add(new Object[] {s.instanceId(), s.name(), s.input(), row.id(), row.executionId(),
                        s.taskId(), row.partitionKey()});
                childIds.merge(s.instanceId(), 1, Integer::sum);
            } else if (action instanceof Action.CancelSubOrchestration k) {
                cancels.add(new Object[] {k.instanceId(), k.reason()});
            }
        }
        int eventCount = seq;
        TurnResult.Completion completion = result.completion();
        if (completion == null) {
            if ("Pending".equals(row.status())) {
                started.add(new Object[] {row.id(), row.executionId()});
            }
        } else if (completion instanceof TurnResult.ContinuedAsNew next) {
            continued.add(new Object[] {row.id(), row.executionId(), eventCount, next.input()});
            int nextExecution = row.executionId() + 1;
            messages.add(new Object[] {row.id(), nextExecution, EventType.ExecutionStarted.name(), null, row.name(),
                    next.input(), null});
            for (HistoryEvent carried : next.carriedEvents()) {
                messages.add(new Object[] {row.id(), nextExecution, EventType.EventRaised.name(), null,
                        carried.name(), carried.payload(), null});
            }
        } else {
            boolean ok = completion instanceof TurnResult.Completed;
            String output = ok ? ((TurnResult.Completed) completion).output()
                    : ((TurnResult.Failed) completion).failure().toJson();
            finished.add(new Object[] {row.id(), row.executionId(), eventCount, ok ? "Completed" : "Failed",
                    output});
            if (row.parentId() != null) {
                messages.add(new Object[] {row.parentId(), row.parentExecutionId(),
                        ok ? EventType.SubOrchestrationCompleted.name() : EventType.SubOrchestrationFailed.name(),
                        row.parentTaskId(), null, output, null});
            }
        }
    }

    /**
     * Writes child {@code childId}'s first turn with the turn that creates it (added before this
     * call): the child is created running, with {@code firstTurn} as its history and its
     * activities (leased to the caller where the {@link Leaser} takes them), and without the start
     * message a dispatch loop would otherwise claim to run that same turn. A child whose id
     * already exists is not created, and its first turn is not written: the parent's task fails,
     * as for any child. The turn may only schedule activities and write statuses: one that ends
     * the child, starts children of its own, sets timers or sends messages is refused. Returns
     * false, taking nothing, when a turn of this batch creates a child of that id a second time:
     * one of the two is created and the other fails its parent's task, as without first turns.
     */
    public boolean addFirstTurnOfChild(String childId, TurnResult firstTurn, Instant now) {
        int created = childIds.getOrDefault(childId, 0);
        if (created == 0) {
            throw new IllegalArgumentException("child " + childId + " is not created by a turn added to this writer");
        }
        if (created > 1 || firstTurns.containsKey(childId)) {
            return false;
        }
        if (!canStartWith(firstTurn)) {
            throw new IllegalArgumentException("the first turn of child " + childId
                    + " ends it or does more than schedule activities");
        }
        firstTurns.put(childId, new ChildTurn(firstTurn, now));
        return true;
    }

    /**
     * Whether a child can be created with {@code firstTurn} written along
     * ({@link #addFirstTurnOfChild}): the turn does not end the child and does nothing but
     * schedule activities.
     */
    public static boolean canStartWith(TurnResult firstTurn) {
        return !firstTurn.isFinished() && firstTurn.actions().stream().allMatch(Action.ScheduleActivity.class::isInstance);
    }

    /** A child's first turn, decided at {@code now}. */
    private record ChildTurn(TurnResult result, Instant now) {
    }

    /** The children created with their first turns by the flush; valid once it commits. */
    public Set<String> startedWithFirstTurn() {
        return startedWithFirstTurn;
    }

    /** How many activities the turns schedule, leased or not. */
    public int scheduled() {
        return activities.size() + (childTurns == null ? 0 : childTurns.activities.size());
    }

    /** Fails an instance outright, e.g. when no orchestration of its name is registered. */
    public void fail(InstanceRow row, FailureDetails failure, Instant now) {
        HistoryEvent event = new HistoryEvent(EventType.ExecutionFailed, null, null, failure.toJson(), now);
        add(row, new TurnResult(List.of(event), List.of(), List.of(), new TurnResult.Failed(failure)), now);
    }

    /** Whether the turns queued messages or children (for any instance) or cancelled instances. */
    public boolean queuedMessages() {
        return !messages.isEmpty() || children.size() > firstTurns.size() || !cancels.isEmpty();
    }

    public boolean isEmpty() {
        return history.isEmpty() && started.isEmpty() && finished.isEmpty() && continued.isEmpty();
    }

    public void flush(Connection c) throws SQLException {
        List<StatementChain.Link> chained = chain(c);
        if (chained != null) {
            writeTurnsCore(c, List.of(), chained);
            return;
        }
        flushInOrder(c);
    }

    /**
     * {@link #flush} and commits the caller's transaction. In the common batch the {@code COMMIT}
     * goes in the writes' own round trip; a failure of any statement before it leaves the
     * transaction open and failed, as a failing write of {@link #flush} does, and a failing commit
     * leaves no transaction, as {@link Connection#commit} does.
     */
    public void flushAndCommit(Connection c) throws SQLException {
        if (!chainAndCommit(c, List.of())) {
            flushInOrder(c);
            c.commit();
        }
    }

    /**
     * Creates instance {@code instanceId} and writes its first turn, the only one added, in one
     * round trip: {@code df_engine.create_instance} creates the instance running (with the checks
     * and errors of a plain start, and no start message to claim), the turn's writes follow, and
     * the transaction commits with the database's own {@code synchronous_commit} (the level a
     * client's start commits with, not the worker pool's asynchronous one), so a start is as
     * durable once the call returns as a client's. Returns false, sending nothing, when the turn is
     * not one this round trip takes (it ends the instance, starts children, sets timers or sends
     * messages); the caller then starts the instance plainly.
     */
    public boolean startFlushAndCommit(Connection c, String instanceId, String name, String input)
            throws SQLException {
        return chainAndCommit(c, List.of(
                new StatementChain.Link("SET LOCAL synchronous_commit TO DEFAULT", (ps, first) -> first, true),
                new StatementChain.Link("SELECT df_engine.create_instance(?, ?, ?, 'Running')", (ps, first) -> {
                    ps.setString(first, instanceId);
                    ps.setString(first + 1, name);
                    ps.setString(first + 2, input);
                    return first + 3;
                }, true)));
    }

    /**
     * The common batch ({@link #chain}) with {@code before} ahead of it and the {@code COMMIT}
     * behind it, in one round trip; false, sending nothing, for any other batch.
     */
    private boolean chainAndCommit(Connection c, List<StatementChain.Link> before) throws SQLException {
        List<StatementChain.Link> chained = chain(c);
        if (chained == null) {
            return false;
        }
        List<StatementChain.Link> links = new ArrayList<>(chained);
        links.add(StatementChain.COMMIT);
        writeTurnsCore(c, before, links);
        c.commit(); // sends nothing: the server reported the transaction ended
        return true;
    }

    /**
     * The common batch (turns that append, schedule and write their statuses, nothing else) goes
     * in one round trip: the orchestrations' statement writes ride behind the core statement.
     * {@code null} for any other batch, which {@link #flushInOrder} writes.
     */
    private List<StatementChain.Link> chain(Connection c) {
        if (!children.isEmpty() || !finished.isEmpty() || !continued.isEmpty() || !messages.isEmpty()
                || !cancels.isEmpty() || history.isEmpty()) {
            return null;
        }
        return TurnWrites.chained(c, writes);
    }

    private void flushInOrder(Connection c) throws SQLException {
        writeTurnsCore(c, List.of(), List.of());
        createChildren(c);
        finishExecutions(c);
        continueExecutions(c);
        batch(c, """
                INSERT INTO df_engine.orchestrator_queue
                    (instance_id, execution_id, kind, task_id, name, payload, visible_at)
                VALUES (?, ?, ?, ?, ?, ?, coalesce(?, now()))
                """, messages);
        for (Object[] cancel : cancels) {
            try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.cancel(?, ?)")) {
                ps.setString(1, (String) cancel[0]);
                ps.setString(2, (String) cancel[1]);
                ps.execute();
            }
        }
        if (!messages.isEmpty() || !cancels.isEmpty()) {
            // Other workers may be idle: wake them. Workers wake themselves locally.
            try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.wake()")) {
                ps.execute();
            }
        }
        TurnWrites.apply(c, writes);
        if (childTurns != null) {
            // After the parents' own status writes, as when the children's turns came later.
            TurnWrites.apply(c, childTurns.writes);
        }
    }

    /**
     * What every turn writes, in one statement, whatever the number of turns: the history rows,
     * the instances that started running, and the new activities. Those with a token are leased to
     * this worker at once, which counts as their first attempt, as a claim would. (Three
     * statements before, each a round trip of its own; nothing here reads what another part
     * writes, so they can share a statement's snapshot.)
     *
     * <p>The status test is written so no index on status can serve it: the planner otherwise
     * picks (status, created_at, id), which reads every 'Pending' entry, dead ones included, to
     * find the id; the primary key finds it at once.
     */
    private void writeTurnsCore(Connection c, List<StatementChain.Link> before, List<StatementChain.Link> after)
            throws SQLException {
        if (history.isEmpty() && started.isEmpty() && activities.isEmpty()) {
            return;
        }
        String sql = """
                WITH appended AS (
                    INSERT INTO df_engine.history
                        (instance_id, execution_id, seq, event_type, task_id, name, payload, event_time)
                    SELECT * FROM unnest(?::text[], ?::integer[], ?::integer[], ?::text[], ?::integer[], ?::text[],
                                         ?::text[], ?::text[]::timestamptz[])),
                running AS (
                    UPDATE df_engine.instances i
                       SET status = 'Running', updated_at = clock_timestamp()
                      FROM unnest(?::text[], ?::integer[]) AS s(id, execution_id)
                     WHERE i.id = s.id AND i.execution_id = s.execution_id
                       AND i.status NOT IN ('Running', 'Completed', 'Failed', 'Cancelled')),
                added AS (
                    INSERT INTO df_engine.activity_queue
                        (instance_id, execution_id, task_id, name, input, partition_key, lease_owner, lease_token,
                         visible_at, attempts)
                    SELECT a.instance_id, a.execution_id, a.task_id, a.name, a.input, a.partition_key,
                           CASE WHEN a.token IS NOT NULL THEN ? END, a.token,
                           CASE WHEN a.token IS NOT NULL THEN clock_timestamp() + make_interval(secs => ?)
                                ELSE now() END,
                           CASE WHEN a.token IS NOT NULL THEN 1 ELSE 0 END
                      FROM unnest(?::text[], ?::integer[], ?::integer[], ?::text[], ?::text[], ?::text[], ?::uuid[])
                           AS a(instance_id, execution_id, task_id, name, input, partition_key, token)
                    ON CONFLICT (instance_id, execution_id, task_id) DO NOTHING
                    RETURNING id, lease_token)
                SELECT id, lease_token FROM added
                """;
        Map<UUID, Object[]> byToken = new HashMap<>();
        for (Object[] row : activities) {
            if (row[6] != null) {
                byToken.put((UUID) row[6], row);
            }
        }
        try (PreparedStatement ps = c.prepareStatement(StatementChain.text(before, sql, after))) {
            int p = StatementChain.bind(ps, 1, before);
            // Timestamps travel as ISO-8601 text with their offset: an array of java.sql.Timestamp
            // would go as local times, read in the session's time zone.
            p = bindColumns(c, ps, p, history, new String[] {"text", "integer", "integer", "text", "integer", "text",
                    "text", "text"}, 7);
            p = bindColumns(c, ps, p, started, new String[] {"text", "integer"}, -1);
            ps.setString(p++, leaser == null ? null : leaser.owner());
            ps.setDouble(p++, leaser == null ? 0 : leaser.lease().toMillis() / 1000.0);
            p = bindColumns(c, ps, p, activities, new String[] {"text", "integer", "integer", "text", "text", "text",
                    "uuid"}, -1);
            StatementChain.bind(ps, p, after);
            ps.execute();
            for (int i = 0; i <= before.size(); i++) {
                ps.getMoreResults(); // past the plan setting's result and those of the statements before
            }
            try (ResultSet rs = ps.getResultSet()) {
                while (rs.next()) {
                    UUID token = (UUID) rs.getObject(2);
                    Object[] row = token == null ? null : byToken.get(token);
                    if (row != null) {
                        leased.add(new ActivityItem(rs.getLong(1), (String) row[0], (Integer) row[1], (Integer) row[2],
                                (String) row[3], (String) row[4], token, 1, (String) row[5]));
                    }
                }
            }
            StatementChain.drain(ps);
        }
    }

    /**
     * Binds {@code rows} column by column as arrays of {@code types}, from parameter {@code first};
     * the column at {@code timestampColumn} (a {@link Timestamp}) as ISO-8601 text. Returns the
     * next parameter's index.
     */
    private static int bindColumns(Connection c, PreparedStatement ps, int first, List<Object[]> rows,
                                   String[] types, int timestampColumn) throws SQLException {
        for (int col = 0; col < types.length; col++) {
            Object[] column = new Object[rows.size()];
            for (int r = 0; r < rows.size(); r++) {
                Object v = rows.get(r)[col];
                column[r] = col == timestampColumn && v != null ? ((Timestamp) v).toInstant().toString() : v;
            }
            ps.setArray(first + col, c.createArrayOf(types[col], column));
        }
        return first + types.length;
    }

    private void createChildren(Connection c) throws SQLException {
        if (children.isEmpty()) {
            return;
        }
        List<Object[]> queued = new ArrayList<>();
        List<Object[]> running = new ArrayList<>();
        for (Object[] child : children) {
            (firstTurns.containsKey((String) child[0]) ? running : queued).add(child);
        }
        // A child shares its parent's fairness key; its start message carries it explicitly,
        // since the message trigger cannot see a row inserted by the same statement.
        createChildren(c, queued, """
                WITH ins AS (
                    INSERT INTO df_engine.instances
                        (id, name, input, parent_id, parent_execution_id, parent_task_id, partition_key)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING
                    RETURNING id, input, partition_key),
                ex AS (
                    INSERT INTO df_engine.executions (instance_id, execution_id, input)
                    SELECT id, 1, input FROM ins)
                INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name, payload, partition_key)
                SELECT id, 1, 'ExecutionStarted', ?, input, partition_key FROM ins
                """, true);
        // A child whose first turn is written here starts running, with no message to claim.
        boolean[] created = createChildren(c, running, """
                WITH ins AS (
                    INSERT INTO df_engine.instances
                        (id, name, input, status, parent_id, parent_execution_id, parent_task_id, partition_key)
                    VALUES (?, ?, ?, 'Running', ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING
                    RETURNING id, input)
                INSERT INTO df_engine.executions (instance_id, execution_id, input)
                SELECT id, 1, input FROM ins
                """, false);
        for (int i = 0; i < running.size(); i++) {
            if (!created[i]) {
                continue;
            }
            Object[] child = running.get(i);
            ChildTurn turn = firstTurns.get((String) child[0]);
            if (childTurns == null) {
                childTurns = new TurnWriter(leaser);
            }
            int reservedBefore = childTurns.reserved.size();
            childTurns.add(new InstanceRow((String) child[0], (String) child[1], "Running", 1, 0, (String) child[3],
                    (Integer) child[4], (Integer) child[5], (String) child[6]), turn.result(), turn.now());
            reserved.addAll(childTurns.reserved.subList(reservedBefore, childTurns.reserved.size()));
            startedWithFirstTurn.add((String) child[0]);
        }
        if (childTurns != null) {
            childTurns.writeTurnsCore(c, List.of(), List.of());
            leased.addAll(childTurns.leased);
        }
    }

    /**
     * Creates {@code batch}'s children with {@code sql}, the name of each a second time for its
     * start message when {@code named}; returns which were created. A child id that already
     * exists fails the parent's task rather than the whole turn.
     */
    private boolean[] createChildren(Connection c, List<Object[]> batch, String sql, boolean named)
            throws SQLException {
        boolean[] created = new boolean[batch.size()];
        if (batch.isEmpty()) {
            return created;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (Object[] child : batch) {
                bind(ps, child);
                if (named) {
                    ps.setString(8, (String) child[1]);
                }
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            for (int i = 0; i < counts.length; i++) {
                Object[] child = batch.get(i);
                created[i] = counts[i] != 0;
                if (!created[i]) {
                    FailureDetails dup = new FailureDetails("DuplicateInstance",
                            "sub-orchestration instance '" + child[0] + "' already exists");
                    messages.add(new Object[] {child[3], child[4], EventType.SubOrchestrationFailed.name(),
                            child[5], null, dup.toJson(), null});
                }
            }
        }
        return created;
    }

    private void finishExecutions(Connection c) throws SQLException {
        if (finished.isEmpty()) {
            return;
        }
        batch(c, """
                UPDATE df_engine.instances
                   SET status = ?, output = ?, updated_at = clock_timestamp(), completed_at = clock_timestamp()
                 WHERE id = ? AND execution_id = ?
                """, project(finished, 3, 4, 0, 1));
        batch(c, """
                UPDATE df_engine.executions
                   SET status = ?, output = ?, event_count = ?, ended_at = clock_timestamp()
                 WHERE instance_id = ? AND execution_id = ?
                """, project(finished, 3, 4, 2, 0, 1));
        // Leftover timers and queued activities of a finished instance will never matter.
        String[] ids = finished.stream().map(f -> (String) f[0]).toArray(String[]::new);
        deleteQueued(c, ids, false);
    }

    private void continueExecutions(Connection c) throws SQLException {
        if (continued.isEmpty()) {
            return;
        }
        // The next generation's input is its own row's input; no need to store it twice.
        batch(c, """
                UPDATE df_engine.executions
                   SET status = 'ContinuedAsNew', event_count = ?, ended_at = clock_timestamp()
                 WHERE instance_id = ? AND execution_id = ?
                """, project(continued, 2, 0, 1));
        // Likewise only the latest generations' rows are kept, so a loop of any length stays bounded.
        batch(c, "DELETE FROM df_engine.executions WHERE instance_id = ? AND execution_id <= ? - "
                + KEPT_GENERATIONS, project(continued, 0, 1));
        // The finished generation's history is dropped: it can never be replayed again, and
        // keeping it would let a long-running loop grow its history without bound.
        batch(c, "DELETE FROM df_engine.history WHERE instance_id = ? AND execution_id = ?",
                project(continued, 0, 1));
        batch(c, """
                UPDATE df_engine.instances
                   SET execution_id = execution_id + 1, input = ?, status = 'Running',
                       updated_at = clock_timestamp()
                 WHERE id = ? AND execution_id = ?
                """, project(continued, 3, 0, 1));
        batch(c, """
                INSERT INTO df_engine.executions (instance_id, execution_id, input)
                VALUES (?, ? + 1, ?)
                """, project(continued, 0, 1, 3));
        String[] ids = continued.stream().map(f -> (String) f[0]).toArray(String[]::new);
        deleteQueued(c, ids, true);
    }

    private static void deleteQueued(Connection c, String[] ids, boolean keepInstanceScoped) throws SQLException {
        Array array = c.createArrayOf("text", ids);
        String messagesSql = keepInstanceScoped
                ? "DELETE FROM df_engine.orchestrator_queue WHERE instance_id = ANY (?) AND execution_id IS NOT NULL"
                : "DELETE FROM df_engine.orchestrator_queue WHERE instance_id = ANY (?)";
        try (PreparedStatement ps = c.prepareStatement(messagesSql)) {
            ps.setArray(1, array);
            ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement(
                "DELETE FROM df_engine.activity_queue WHERE instance_id = ANY (?)")) {
            ps.setArray(1, array);
            ps.executeUpdate();
        }
    }

    private static List<Object[]> project(List<Object[]> rows, int... columns) {
        List<Object[]> out = new ArrayList<>(rows.size());
        for (Object[] row : rows) {
            Object[] p = new Object[columns.length];
            for (int i = 0; i < columns.length; i++) {
                p[i] = row[columns[i]];
            }
            out.add(p);
        }
        return out;
    }
}
