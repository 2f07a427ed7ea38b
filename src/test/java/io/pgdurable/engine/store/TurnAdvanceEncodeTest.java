package io.pgdurable.engine.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.TurnWrite;
import io.pgdurable.engine.replay.Action;
import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.TurnResult;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The turn {@code df_engine.complete_and_advance} reads, as {@link TurnAdvance#encode} writes it. */
class TurnAdvanceEncodeTest {
    private static final Instant AT = Instant.parse("2026-12-04T10:15:30.123456Z");

    @Test
    void a_turn_is_written_with_its_decisions_and_without_its_two_inputs() {
        TurnResult turn = new TurnResult(
                List.of(HistoryEvent.orchestratorStarted(AT), HistoryEvent.taskCompleted(3, "\"r\"", AT),
                        new HistoryEvent(EventType.TaskScheduled, 4, "step", "{\"n\":\"é\\u0001\"}", AT),
                        new HistoryEvent(EventType.TimerCreated, 5, null, null, AT)),
                List.of(new Action.ScheduleActivity(4, "step", "{\"n\":\"é\\u0001\"}", "alice"),
                        new Action.ScheduleActivity(6, "other", null, null),
                        new Action.CreateTimer(5, AT.plusSeconds(60))),
                List.of(TurnWrite.sql("UPDATE t SET a = ? WHERE b = ?", "done", null).named("node_update"),
                        TurnWrite.rows("UPDATE t FROM unnest(?::text[])", "x", null).named("instance_running")),
                null);

        JsonNode json = JsonCodec.tree(TurnAdvance.encode(turn));

        assertThat(json.get("history")).hasSize(2);
        assertThat(json.at("/history/0/t").asText()).isEqualTo("TaskScheduled");
        assertThat(json.at("/history/0/task").asInt()).isEqualTo(4);
        assertThat(json.at("/history/0/name").asText()).isEqualTo("step");
        assertThat(json.at("/history/0/payload").asText()).isEqualTo("{\"n\":\"é\\u0001\"}");
        assertThat(json.at("/history/1/t").asText()).isEqualTo("TimerCreated");
        assertThat(json.at("/history/1/name").isNull()).isTrue();
        assertThat(json.at("/history/1/payload").isNull()).isTrue();

        assertThat(json.get("activities")).hasSize(2);
        assertThat(json.at("/activities/0/task").asInt()).isEqualTo(4);
        assertThat(json.at("/activities/0/input").asText()).isEqualTo("{\"n\":\"é\\u0001\"}");
        assertThat(json.at("/activities/0/key").asText()).isEqualTo("alice");
        assertThat(json.at("/activities/1/name").asText()).isEqualTo("other");
        assertThat(json.at("/activities/1/input").isNull()).isTrue();
        assertThat(json.at("/activities/1").has("key")).isFalse();

        assertThat(json.get("timers")).hasSize(1);
        assertThat(json.at("/timers/0/task").asInt()).isEqualTo(5);
        assertThat(json.at("/timers/0/at").asText()).isEqualTo("2026-12-04T10:16:30.123456Z");

        assertThat(json.has("finish")).isFalse();
        assertThat(json.at("/writes/0/kind").asText()).isEqualTo("node_update");
        assertThat(json.at("/writes/0/args/0").asText()).isEqualTo("done");
        assertThat(json.at("/writes/0/args/1").isNull()).isTrue();
        assertThat(json.at("/writes/1/kind").asText()).isEqualTo("instance_running");
        assertThat(json.at("/writes/1/args")).hasSize(2);
        assertThat(json.at("/writes/1/args/1").isNull()).isTrue();
    }

    @Test
    void an_ending_turn_carries_its_status_and_output_and_a_turn_without_writes_has_none() {
        List<HistoryEvent> inputs = List.of(HistoryEvent.orchestratorStarted(AT), HistoryEvent.taskCompleted(1, "1", AT));
        JsonNode done = JsonCodec.tree(TurnAdvance.encode(
                new TurnResult(inputs, List.of(), List.of(), new TurnResult.Completed("[1,2]"))));
        assertThat(done.at("/finish/status").asText()).isEqualTo("Completed");
        assertThat(done.at("/finish/output").asText()).isEqualTo("[1,2]");
        assertThat(done.has("writes")).isFalse();
        assertThat(done.get("history")).isEmpty();

        FailureDetails failure = new FailureDetails("Boom", "it failed");
        JsonNode failed = JsonCodec.tree(TurnAdvance.encode(
                new TurnResult(inputs, List.of(), List.of(), new TurnResult.Failed(failure))));
        assertThat(failed.at("/finish/status").asText()).isEqualTo("Failed");
        assertThat(failed.at("/finish/output").asText()).isEqualTo(failure.toJson());
    }
}
