package io.pgdurable.graph.interpreter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.pgdurable.engine.EventWaitTimeoutException;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.JsonLimitException;
import io.pgdurable.engine.Orchestration;
import io.pgdurable.engine.OrchestrationContext;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.TaskFailedException;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.graph.cron.CronSchedule;
import io.pgdurable.graph.http.HttpStepActivity;
import io.pgdurable.graph.http.HttpStepInput;
import io.pgdurable.graph.http.HttpSteps;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.graph.model.GraphModel;
import io.pgdurable.graph.model.GraphModel.BreakNode;
import io.pgdurable.graph.model.GraphModel.ConditionNode;
import io.pgdurable.graph.model.GraphModel.HttpMultipartNode;
import io.pgdurable.graph.model.GraphModel.HttpNode;
import io.pgdurable.graph.model.GraphModel.IfNode;
import io.pgdurable.graph.model.GraphModel.InvalidNode;
import io.pgdurable.graph.model.GraphModel.JoinNode;
import io.pgdurable.graph.model.GraphModel.LoopNode;
import io.pgdurable.graph.model.GraphModel.Node;
import io.pgdurable.graph.model.GraphModel.NodeType;
import io.pgdurable.graph.model.GraphModel.RaceNode;
import io.pgdurable.graph.model.GraphModel.ResultHasRows;
import io.pgdurable.graph.model.GraphModel.SignalNode;
import io.pgdurable.graph.model.GraphModel.SleepNode;
import io.pgdurable.graph.model.GraphModel.SqlNode;
import io.pgdurable.graph.model.GraphModel.ThenNode;
import io.pgdurable.graph.model.GraphModel.WaitScheduleNode;
import io.pgdurable.graph.sql.PreparedSql;
import io.pgdurable.graph.sql.SqlText;
import io.pgdurable.graph.sql.Substitution;
import io.pgdurable.graph.sql.SubstitutionContext;
import io.pgdurable.graph.step.SqlStepActivity;
import io.pgdurable.graph.step.StepFailedException;
import io.pgdurable.graph.step.StepInput;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks a df graph. One engine orchestration runs the whole graph ({@value #ROOT}); each JOIN or
 * RACE branch and each loop that is not its orchestration's root runs as a child orchestration
 * ({@value #BRANCH}, {@value #LOOP}) with id {@code <parent>::<generation>::<node>}, so the work
 * before a loop is not repeated and branches run in parallel. A loop at an orchestration's root
 * runs inline, one continue-as-new generation per iteration, so its history stays bounded.
 *
 * <p>Node and instance statuses are turn writes: they commit with the engine turn that causes
 * them, and cost no extra round trip.
 */
public final class GraphOrchestration implements Orchestration {
    public static final String ROOT = "df.function_graph";
    public static final String BRANCH = "df.branch";
    public static final String LOOP = "df.loop";

    static final int MAX_LOOP_ITERATIONS = 100_000;
    static final Duration MIN_ITERATION = Duration.ofSeconds(1);
    /** The result of a loop node whose RACE branch lost (the original's wording). */
    static final String LOST_RACE_LOOP = "Loop branch cancelled after losing RACE";

    private static final JsonNodeFactory JSON = JsonCodec.nodes();
    /**
     * Node status changes, as rows of one statement per batch of turns (see
     * {@link TurnWrite#rows}): a node written twice in one batch (running, then completed) takes
     * its last row.
     *
     * <p>A loop that lost a RACE keeps that record ({@link #LOST_RACE}): its child orchestration
     * may still take a turn after the parent's, its first one included (it marks the loop
     * running), and all its stamps begin with the child's id, which the record's stamp ends
     * with {@code ::1} after. A later child for the same node (the RACE run again by an
     * enclosing loop) has another id and writes as usual.
     */
    private static final String NODE_UPDATE = """
            UPDATE df.nodes n
               SET status = v.status, result = v.result::jsonb, status_details = v.details::jsonb, updated_at = now()
              FROM (SELECT DISTINCT ON (u.instance_id, u.id) u.*
                      FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY
                           AS u(status, result, details, instance_id, id, ord)
                     ORDER BY u.instance_id, u.id, u.ord DESC) v
             WHERE n.instance_id = v.instance_id AND n.id = v.id
               AND NOT (n.status = 'failed'
                        AND n.result = to_jsonb('%s'::text)
                        AND starts_with(v.details::jsonb ->> 'execution_id',
                                        rtrim(n.status_details ->> 'execution_id', '0123456789')))
            """.formatted(LOST_RACE_LOOP.replace("'", "''"));
    /**
     * Records a losing loop branch failed. A statement of its own, not a row of
     * {@link #NODE_UPDATE}: in a batch of turns where the loop's child comes after its parent,
     * a shared statement would keep the child's row, the last. Apart, whichever runs second
     * leaves the record (see there). The short path never writes after it: the parent's turn
     * queues the child's cancellation in the same commit, and a queued message sends the
     * child's turns the queue way.
     */
    private static final String LOST_RACE = """
            UPDATE df.nodes
               SET status = 'failed', result = to_jsonb(?::text), status_details = ?::jsonb, updated_at = now()
             WHERE instance_id = ? AND id = ?
            """;
    /**
     * Marks the df instance running, if it is still pending. The status test names the statuses it
     * excludes rather than the one it wants: {@code status = 'pending'} matches the index
     * {@code idx_instances_status (status, created_at DESC, id)}, which PostgreSQL preferred to the
     * primary key whenever its statistics showed few pending rows, and which it then read through
     * every pending entry (dead ones included) to find the id: 276–404 buffers per call in a df
     * run, and a cost that grows with the backlog of pending workflows. No index serves this test,
     * so the primary key finds the row.
     */
    static final String INSTANCE_RUNNING = """
            UPDATE df.instances SET status = 'running', updated_at = now()
             WHERE id = ? AND status NOT IN ('running', 'completed', 'failed', 'cancelled')
            """;
    private static final String INSTANCE_DONE = """
            UPDATE df.instances
               SET status = v.status, completed_at = CASE WHEN v.status = 'completed' THEN now() END,
                   terminal_at = now(), updated_at = now()
              FROM (SELECT ?::text AS status) v
             WHERE id = ? AND df.instances.status NOT IN ('completed', 'failed', 'cancelled')
            """;

    private static final String RUNNING_NODES_FAILED = """
            UPDATE df.nodes SET status = 'failed', result = to_jsonb(?::text), updated_at = now()
             WHERE instance_id = ? AND status = 'running'
            """;

    /**
     * When the engine fails a root instance without this code running (a turn it could not
     * process or write), the df rows must not stay 'running': the instance and its running nodes
     * are marked failed. A branch's or loop's failure reaches its parent, whose code handles it.
     */
    @Override
    public List<TurnWrite> writesOnEngineFailure(String instanceId, String name, FailureDetails failure) {
        if (!ROOT.equals(name)) {
            return List.of();
        }
        String message = "the engine failed the instance: " + failure.message();
        return List.of(TurnWrite.sql(RUNNING_NODES_FAILED, message, instanceId),
                TurnWrite.sql(INSTANCE_DONE, "failed", instanceId));
    }

    @Override
    public Object run(OrchestrationContext ctx) {
        ObjectNode input = ctx.input(ObjectNode.class);
        return new Walk(ctx, input).run();
    }

    /** The state of one generation of one orchestration over its subgraph. */
    private static final class Walk {
        private final OrchestrationContext ctx;
        private final ObjectNode input;
        private final GraphModel graph;
        private final boolean isRoot;
        private final Map<String, JsonNode> scope = new LinkedHashMap<>();
        private final String stamp;
        private int signalWaits;

        Walk(OrchestrationContext ctx, ObjectNode input) {
            this.ctx = ctx;
            this.input = input;
            this.graph = GraphModel.parseUnchanging(input); // read for this walk alone, and never changed
            this.isRoot = !"child".equals(input.path("mode").asText());
            input.path("scope").fields().forEachRemaining(e -> scope.put(e.getKey(), e.getValue()));
            this.stamp = ctx.instanceId() + "::" + ctx.executionId();
        }

        Object run() {
            boolean firstGeneration = !input.has("loop");
            if (isRoot && firstGeneration) {
                write(TurnWrite.sql(INSTANCE_RUNNING, graph.instanceId()).named("instance_running"));
            }
            try {
                JsonNode result = exec(graph.root(), true);
                if (result == null) {
                    return null; // continued as new
                }
                if (isRoot) {
                    write(TurnWrite.sql(INSTANCE_DONE, "completed", graph.instanceId()).named("instance_done"));
                    return result;
                }
                return childResult(result, null);
            } catch (BreakSignal b) {
                if (isRoot) {
                    return fail(new StepFailedException("df.break() was called outside of a loop."
                            + " df.break() may only be used inside df.loop()."));
                }
                return childResult(null, b.value);
            } catch (RuntimeException f) {
                // Step failures, and anything unexpected: the df status must not stay 'running'.
                if (isRoot) {
                    write(TurnWrite.sql(INSTANCE_DONE, "failed", graph.instanceId()).named("instance_done"));
                }
                throw f;
            }
        }

        private Object fail(StepFailedException f) {
            if (isRoot) {
                write(TurnWrite.sql(INSTANCE_DONE, "failed", graph.instanceId()).named("instance_done"));
            }
            throw f;
        }

        private ObjectNode childResult(JsonNode result, JsonNode breakValue) {
            ObjectNode out = JSON.objectNode();
            out.set("result", result == null ? NullNode.getInstance() : result);
            ObjectNode names = out.putObject("scope");
            scope.forEach(names::set);
            if (breakValue != null) {
                out.putObject("break").set("value", breakValue);
            }
            checked(() -> ctx.limits().checkedJson(out, "the output of " + ctx.name() + " " + ctx.instanceId()
                    + " (its result and the named results it passes back)"));
            return out;
        }

        // -------------------------------------------------------------------------------------
        // Nodes
        // -------------------------------------------------------------------------------------

        /**
         * Runs a node and returns its result; null only when an inline loop continued as new.
         *
         * @param orchestrationRoot whether the node is this orchestration's root (loops run inline)
         */
        private JsonNode exec(String id, boolean orchestrationRoot) {
            Node node = graph.node(id);
            boolean inlineLoop = node instanceof LoopNode && orchestrationRoot;
            if (!(inlineLoop && input.has("loop"))) {
                mark(node, "running", null);
            }
            JsonNode result;
            String stored;
            try {
                result = run(node, inlineLoop);
                stored = result == null ? null : checked(() -> ctx.limits().checkedJson(result,
                        "the result of node " + node.id()));
            } catch (BreakSignal b) {
                mark(node, "completed", b.value);
                throw b;
            } catch (StepFailedException f) {
                mark(node, "failed", TextNode.valueOf(f.getMessage()));
                throw f;
            }
            if (result == null) {
                return null;
            }
            markJson(node, "completed", stored);
            if (node.resultName() != null && storesResult(node)) {
                scope.put(node.resultName(), result);
            }
            return result;
        }

        /**
         * Runs a node of each type; the cases cover every {@link Node} record. Returns null only
         * when an inline loop continued as new.
         */
        private JsonNode run(Node node, boolean inlineLoop) {
            if (node instanceof SqlNode sql) {
                return sql(sql);
            } else if (node instanceof ThenNode then) {
                exec(then.first(), false);
                return exec(then.second(), false);
            } else if (node instanceof IfNode iff) {
                return exec(condition(iff) ? iff.thenBranch() : iff.elseBranch(), false);
            } else if (node instanceof JoinNode join) {
                return join(join);
            } else if (node instanceof RaceNode race) {
                return race(race);
            } else if (node instanceof LoopNode loop) {
                return inlineLoop ? inlineLoop(loop) : loopChild(loop);
            } else if (node instanceof BreakNode brk) {
                throw new BreakSignal(breakValue(brk));
            } else if (node instanceof SleepNode sleep) {
                return sleep(sleep);
            } else if (node instanceof WaitScheduleNode schedule) {
                return waitForSchedule(schedule);
            } else if (node instanceof SignalNode signal) {
                return signal(signal);
            } else if (node instanceof HttpNode http) {
                return http(NodeType.HTTP, http.id(), http.config());
            } else if (node instanceof HttpMultipartNode multipart) {
                return http(NodeType.HTTP_MULTIPART, multipart.id(), multipart.config());
            } else if (node instanceof InvalidNode invalid) {
                throw invalid(invalid);
            }
            throw new IllegalStateException("no case runs " + node);
        }

        /**
         * The failure of a leaf whose config cannot be used, with the problem the model found as
         * its message. A WAIT_SCHEDULE fails as a step (its node is marked failed, like a bad cron
         * expression); a SLEEP or SIGNAL fails the orchestration.
         */
        private static RuntimeException invalid(InvalidNode node) {
            return node.type() == NodeType.WAIT_SCHEDULE
                    ? new StepFailedException(node.problem())
                    : new GraphException(node.problem());
        }

        /**
         * Runs a limit check; over a limit, the node fails (and the instance with it) with the
         * limit's message, before anything of the turn commits.
         */
        private static <T> T checked(java.util.function.Supplier<T> check) {
            try {
                return check.get();
            } catch (JsonLimitException e) {
                throw new StepFailedException(e.getMessage(), JsonLimitException.SQLSTATE, null);
            }
        }

        private JsonNode breakValue(BreakNode node) {
            JsonNode value = checked(node::result);
            return checked(() -> {
                ctx.limits().checkValue(value, "the df.break value of node " + node.id());
                return value;
            });
        }

        /** Whether the node's result is stored under its result name: not for SLEEP, WAIT_SCHEDULE, BREAK. */
        private static boolean storesResult(Node node) {
            return !(node instanceof SleepNode || node instanceof WaitScheduleNode || node instanceof BreakNode);
        }

        private JsonNode sql(SqlNode node) {
            String query = node.query();
            if (query.isBlank()) {
                throw new StepFailedException("SQL step " + node.id() + " has no query");
            }
            SqlText text = SqlText.of(query);
            if (text.statementCount() > 1) {
                throw new StepFailedException("a SQL step must be a single statement, but node " + node.id()
                        + " has " + text.statementCount() + "; split it into steps with ~>");
            }
            if (SqlText.isTransactionControl(query)) {
                throw new StepFailedException("SQL steps run in a transaction of their own;"
                        + " transaction control (" + text.firstKeyword() + ") is not allowed in node " + node.id());
            }
            PreparedSql prepared;
            try {
                prepared = Substitution.parameterized(query, substitutionContext());
            } catch (GraphException e) {
                throw new StepFailedException(e.getMessage());
            }
            StepInput step = new StepInput(graph.instanceId(), node.id(), graph.role(), graph.roleOid(),
                    graph.database(), prepared.sql(), StepInput.params(prepared));
            try {
                // Workers share their threads out by submitting role: one role's flood of steps
                // cannot hold them all or queue ahead of another role's step.
                return ctx.callActivity(SqlStepActivity.NAME, step, JsonNode.class, graph.role()).await();
            } catch (TaskFailedException e) {
                throw new StepFailedException(e.getMessage());
            }
        }

        /** An HTTP step: the request after substitution goes to the HTTP activity, queued like a SQL step. */
        private JsonNode http(NodeType type, String nodeId, String config) {
            HttpStepInput step;
            try {
                step = HttpSteps.prepare(type.name(), nodeId, config, substitutionContext(),
                        new HttpSteps.Submitter(graph.instanceId(), graph.role(), graph.roleOid()));
            } catch (GraphException e) {
                throw new StepFailedException(e.getMessage());
            }
            try {
                return ctx.callActivity(HttpStepActivity.NAME, step, JsonNode.class, graph.role()).await();
            } catch (TaskFailedException e) {
                throw new StepFailedException(e.getMessage());
            }
        }

        private SubstitutionContext substitutionContext() {
            return new SubstitutionContext(graph.vars(), graph.instanceId(), graph.label(), scope);
        }

        /** Whether an IF takes its then-branch: its condition node's result is truthy, or the named result has rows. */
        private boolean condition(IfNode node) {
            if (node.condition() instanceof ConditionNode condition) {
                return Truthiness.isTruthy(exec(condition.nodeId(), false));
            } else if (node.condition() instanceof ResultHasRows rows) {
                String name = rows.resultName();
                JsonNode named = scope.get(name);
                if (named == null) {
                    throw new StepFailedException("df.if_rows: result '" + name + "' not found");
                }
                if (!named.has("row_count")) {
                    throw new StepFailedException("df.if_rows: result '" + name + "' is not a SQL result (missing row_count)");
                }
                return named.path("row_count").asLong() > 0;
            }
            throw new IllegalStateException("no case decides " + node.condition());
        }

        private JsonNode join(JoinNode node) {
            List<String> branches = node.branches();
            List<Task<ObjectNode>> tasks = new ArrayList<>();
            for (String branch : branches) {
                tasks.add(child(BRANCH, branch));
            }
            List<ObjectNode> results = new ArrayList<>();
            for (int i = 0; i < tasks.size(); i++) {
                try {
                    results.add(tasks.get(i).await());
                } catch (TaskFailedException e) {
                    throw new StepFailedException("JOIN branch " + (i + 1) + " failed: " + e.getMessage());
                }
            }
            ArrayNode array = JSON.arrayNode();
            JsonNode breakValue = null;
            for (ObjectNode r : results) {
                mergeScope(r);
                if (r.has("break") && breakValue == null) {
                    breakValue = r.path("break").path("value");
                }
                array.add(r.path("result"));
            }
            if (breakValue != null) {
                throw new BreakSignal(breakValue);
            }
            return array;
        }

        private JsonNode race(RaceNode node) {
            Task<ObjectNode> left = child(BRANCH, node.left());
            Task<ObjectNode> right = child(BRANCH, node.right());
            Task<?> winner = ctx.anyOf(List.of(left, right)).await();
            Task<ObjectNode> loser = winner == left ? right : left;
            loser.cancel();
            markLosingLoop(winner == left ? node.right() : node.left());
            ObjectNode r;
            try {
                r = left == winner ? left.await() : right.await();
            } catch (TaskFailedException e) {
                throw new StepFailedException("RACE " + (winner == left ? "left" : "right") + " branch failed: "
                        + e.getMessage());
            }
            mergeScope(r);
            if (r.has("break")) {
                throw new BreakSignal(r.path("break").path("value"));
            }
            return r.path("result");
        }

        /**
         * A losing branch that is a loop would otherwise stay 'running' in df.nodes forever: its
         * child orchestration marked it running and will never write again. Like the original,
         * it is recorded failed, stamped with the child's first generation. The nodes inside a
         * losing branch, and a losing branch of any other type, keep their last status (the
         * monitoring functions infer them skipped).
         */
        private void markLosingLoop(String branchId) {
            Node branch = graph.node(branchId);
            if (!(branch instanceof LoopNode)) {
                return;
            }
            write(lostRace(graph.instanceId(), branchId, ctx.instanceId() + "::" + ctx.executionId() + "::" + branchId));
        }

        private JsonNode loopChild(LoopNode node) {
            ObjectNode r;
            try {
                r = child(LOOP, node.id()).await();
            } catch (TaskFailedException e) {
                throw new StepFailedException("Loop sub-orchestration failed: " + e.getMessage());
            }
            mergeScope(r);
            if (r.has("break")) {
                throw new BreakSignal(r.path("break").path("value"));
            }
            return r.path("result");
        }

        /** Starts a child orchestration over the subgraph rooted at {@code nodeId}. */
        private Task<ObjectNode> child(String name, String nodeId) {
            ObjectNode childInput = graph.subgraph(nodeId);
            childInput.put("mode", "child");
            ObjectNode names = childInput.putObject("scope");
            scope.forEach(names::set);
            String childId = ctx.instanceId() + "::" + ctx.executionId() + "::" + nodeId;
            checked(() -> ctx.limits().checkedJson(childInput, "the input of " + name + " " + childId
                    + " (its part of the graph and the named results it carries)"));
            return ctx.callSubOrchestration(name, childId, childInput, ObjectNode.class);
        }

        private void mergeScope(ObjectNode childResult) {
            childResult.path("scope").fields().forEachRemaining(e -> scope.put(e.getKey(), e.getValue()));
        }

        /**
         * One iteration of a loop at this orchestration's root; the next starts as a new generation.
         * Returns the loop's result when it ends, or null after continuing as new.
         */
        private JsonNode inlineLoop(LoopNode node) {
            JsonNode state = input.path("loop");
            long iteration = state.path("iteration").asLong(0);
            Instant started = ctx.currentInstant();
            JsonNode last;
            try {
                last = exec(node.body(), false);
                if (node.condition() != null && !Truthiness.isTruthy(exec(node.condition(), false))) {
                    return last;
                }
            } catch (BreakSignal b) {
                return b.value;
            }
            if (iteration + 1 >= MAX_LOOP_ITERATIONS) {
                throw new StepFailedException("Loop exceeded maximum iteration count of " + MAX_LOOP_ITERATIONS
                        + ". Use df.break() to exit the loop or restructure the workflow.");
            }
            // Guard against hot loops: an iteration lasts at least a second, waits included.
            Duration took = Duration.between(started, ctx.currentInstant());
            if (took.compareTo(MIN_ITERATION) < 0) {
                ctx.createTimer(MIN_ITERATION.minus(took)).await();
            }
            ObjectNode next = input.deepCopy();
            ObjectNode names = next.putObject("scope");
            scope.forEach(names::set);
            ObjectNode loop = next.putObject("loop");
            loop.put("iteration", iteration + 1);
            loop.set("last", last);
            checked(() -> ctx.limits().checkedJson(next, "the input of iteration " + (iteration + 2) + " of loop "
                    + node.id() + " (the graph, the named results and the last body result)"));
            ctx.continueAsNew(next);
            return null;
        }

        private JsonNode sleep(SleepNode node) {
            long seconds = node.seconds();
            ctx.createTimer(Duration.ofSeconds(seconds)).await();
            ObjectNode out = JSON.objectNode();
            out.put("slept", true);
            out.put("seconds", seconds);
            return out;
        }

        private JsonNode waitForSchedule(WaitScheduleNode node) {
            CronSchedule schedule;
            try {
                schedule = CronSchedule.parse(node.cronExpression());
            } catch (GraphException e) {
                throw new StepFailedException(e.getMessage());
            }
            Instant now = ctx.currentInstant();
            ctx.createTimer(schedule.next(now)).await();
            ObjectNode out = JSON.objectNode();
            out.put("scheduled", true);
            return out;
        }

        private JsonNode signal(SignalNode node) {
            String name = node.signalName();
            Long timeout = node.timeoutSeconds();
            String waitKey = stamp + "::" + node.id() + "::" + (signalWaits++);
            String event = "df.signal:" + waitKey;
            write(TurnWrite.sql("SELECT df._begin_signal_wait(?, ?, ?, ?, ?)", graph.instanceId(), waitKey, name,
                    ctx.instanceId(), event));
            Task<JsonNode> wait = timeout == null
                    ? ctx.waitForExternalEvent(event, JsonNode.class)
                    : ctx.waitForExternalEvent(event, Duration.ofSeconds(timeout), JsonNode.class);
            JsonNode data;
            boolean timedOut;
            try {
                data = wait.await();
                timedOut = false;
            } catch (EventWaitTimeoutException e) {
                data = NullNode.getInstance();
                timedOut = true;
            } catch (JsonLimitException e) {
                throw new StepFailedException("the data of signal '" + name + "' cannot be read: " + e.getMessage(),
                        JsonLimitException.SQLSTATE, null);
            }
            JsonNode received = data;
            checked(() -> {
                ctx.limits().checkValue(received, "the data of signal '" + name + "'");
                return received;
            });
            write(TurnWrite.sql("SELECT df._end_signal_wait(?, ?, ?)", graph.instanceId(), waitKey, timedOut));
            ObjectNode out = JSON.objectNode();
            out.put("signal_name", name);
            out.put("timed_out", timedOut);
            out.set("data", data == null ? NullNode.getInstance() : data);
            return out;
        }

        // -------------------------------------------------------------------------------------
        // Projections
        // -------------------------------------------------------------------------------------

        private void mark(Node node, String status, JsonNode result) {
            markJson(node, status, result == null ? null : JsonCodec.toJson(result));
        }

        private void markJson(Node node, String status, String result) {
            write(nodeStatus(graph.instanceId(), node.id(), status, result, stamp));
        }

        private void write(TurnWrite write) {
            ctx.addTurnWrite(write);
        }
    }

    /**
     * The write of a node's status by the orchestration stamped {@code stamp} (its id and
     * generation), with {@code result} as JSON text or {@code null}.
     */
    static TurnWrite nodeStatus(String dfInstance, String nodeId, String status, String result, String stamp) {
        ObjectNode details = JSON.objectNode().put("execution_id", stamp);
        return TurnWrite.rows(NODE_UPDATE, status, result, details.toString(), dfInstance, nodeId).named("node_update");
    }

    /**
     * The record of loop node {@code nodeId} losing a RACE, whose child orchestration is
     * {@code childId}: failed, stamped with the child's first generation, like the original.
     */
    static TurnWrite lostRace(String dfInstance, String nodeId, String childId) {
        ObjectNode details = JSON.objectNode().put("execution_id", childId + "::1");
        return TurnWrite.sql(LOST_RACE, LOST_RACE_LOOP, details.toString(), dfInstance, nodeId);
    }

    /** Leaves loops: carries the break value up to the innermost enclosing loop. */
    private static final class BreakSignal extends RuntimeException {
        final JsonNode value;

        BreakSignal(JsonNode value) {
            super(null, null, false, false);
            this.value = value == null ? NullNode.getInstance() : value;
        }
    }
}
