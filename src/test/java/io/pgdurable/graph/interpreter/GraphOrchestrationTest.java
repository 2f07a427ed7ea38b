package io.pgdurable.graph.interpreter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.OrchestrationContext;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.graph.step.StepFailedException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The walk over single-leaf graphs, with a context that records turn writes and timers and fires
 * every timer at once: how a leaf with an unusable config fails when it runs, and that a good one
 * runs. (Graphs that run steps are covered end to end in graph.e2e.)
 */
class GraphOrchestrationTest {

    /** A context for instance i0000001 whose input is a graph of the one node {@code nodeJson}. */
    private static final class Context {
        final List<TurnWrite> writes = new ArrayList<>();
        final List<Duration> timers = new ArrayList<>();
        final OrchestrationContext ctx;

        Context(String nodeJson) {
            ObjectNode input = (ObjectNode) JsonCodec.tree(("{'instance_id': 'i0000001', 'role': 'alice',"
                    + " 'root': 'n0000001', 'nodes': {'n0000001': " + nodeJson + "}}").replace('\'', '"'));
            Task<?> fired = (Task<?>) Proxy.newProxyInstance(Task.class.getClassLoader(), new Class<?>[] {Task.class},
                    (proxy, method, args) -> switch (method.getName()) {
                        case "await" -> null;
                        case "isDone" -> true;
                        case "isFailed" -> false;
                        default -> throw new UnsupportedOperationException(method.getName());
                    });
            ctx = (OrchestrationContext) Proxy.newProxyInstance(OrchestrationContext.class.getClassLoader(),
                    new Class<?>[] {OrchestrationContext.class}, (proxy, method, args) -> {
                        if (method.isDefault()) {
                            return InvocationHandler.invokeDefault(proxy, method, args);
                        }
                        return switch (method.getName()) {
                            case "input" -> input.deepCopy();
                            case "instanceId" -> "i0000001";
                            case "executionId" -> 1;
                            case "name" -> GraphOrchestration.ROOT;
                            case "isReplaying" -> false;
                            case "addTurnWrite" -> writes.add((TurnWrite) args[0]);
                            case "createTimer" -> {
                                timers.add((Duration) args[0]);
                                yield fired;
                            }
                            default -> throw new UnsupportedOperationException(method.getName());
                        };
                    });
        }

        /** The statuses the walk wrote for the node, in order. */
        List<String> nodeStatuses() {
            return writes.stream().filter(w -> w instanceof TurnWrite.Rows)
                    .map(w -> ((TurnWrite.Rows) w).column(0)).toList();
        }

        /** The result written with the node's last status. */
        String lastNodeResult() {
            List<TurnWrite.Rows> rows = writes.stream().filter(w -> w instanceof TurnWrite.Rows)
                    .map(w -> (TurnWrite.Rows) w).toList();
            return rows.get(rows.size() - 1).column(1);
        }

        /** The status the walk gave the instance at the end, or null. */
        Object instanceOutcome() {
            return writes.stream().filter(w -> w instanceof TurnWrite.Sql s && s.text().contains("completed_at"))
                    .map(w -> ((TurnWrite.Sql) w).parameter(0)).reduce((a, b) -> b).orElse(null);
        }
    }

    @Test
    void a_sleep_runs_a_timer_of_its_seconds_and_completes() {
        Context c = new Context("{'type': 'SLEEP', 'query': '5'}");

        Object result = new GraphOrchestration().run(c.ctx);

        assertThat(c.timers).containsExactly(Duration.ofSeconds(5));
        assertThat(JsonCodec.toJson(result)).isEqualTo("{\"slept\":true,\"seconds\":5}");
        assertThat(c.nodeStatuses()).containsExactly("running", "completed");
        assertThat(c.instanceOutcome()).isEqualTo("completed");
    }

    @Test
    void a_sleep_without_a_usable_duration_fails_the_instance_when_it_runs_with_the_models_message() {
        Context c = new Context("{'type': 'SLEEP', 'query': 'soon'}");

        assertThatThrownBy(() -> new GraphOrchestration().run(c.ctx)).isExactlyInstanceOf(GraphException.class)
                .hasMessage("SLEEP node n0000001: invalid sleep duration 'soon'"
                        + " (expected a whole number of seconds, 0 or more)");
        assertThat(c.timers).isEmpty();
        assertThat(c.nodeStatuses()).containsExactly("running");
        assertThat(c.instanceOutcome()).isEqualTo("failed");
    }

    @Test
    void a_signal_without_a_usable_config_fails_the_instance_when_it_runs_with_the_models_message() {
        Context c = new Context("{'type': 'SIGNAL', 'query': '{\\'signal_name\\': \\'go\\', \\'timeout_seconds\\': -1}'}");

        assertThatThrownBy(() -> new GraphOrchestration().run(c.ctx)).isExactlyInstanceOf(GraphException.class)
                .hasMessage("SIGNAL node n0000001: timeout_seconds must be a positive whole number, got -1");
        assertThat(c.nodeStatuses()).containsExactly("running");
        assertThat(c.instanceOutcome()).isEqualTo("failed");
    }

    @Test
    void a_wait_schedule_without_a_cron_expression_fails_as_a_step_naming_the_problem() {
        Context c = new Context("{'type': 'WAIT_SCHEDULE', 'query': '{}'}");

        assertThatThrownBy(() -> new GraphOrchestration().run(c.ctx)).isExactlyInstanceOf(StepFailedException.class)
                .hasMessage("WAIT_SCHEDULE node n0000001: config has no cron_expr");
        assertThat(c.timers).isEmpty();
        assertThat(c.nodeStatuses()).containsExactly("running", "failed");
        assertThat(c.lastNodeResult()).isEqualTo("\"WAIT_SCHEDULE node n0000001: config has no cron_expr\"");
        assertThat(c.instanceOutcome()).isEqualTo("failed");
    }
}
