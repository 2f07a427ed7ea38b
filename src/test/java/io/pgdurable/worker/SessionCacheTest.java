package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.Orchestration;
import io.pgdurable.engine.replay.HistoryEvent;
import io.pgdurable.engine.replay.ReplaySession;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class SessionCacheTest {
    private static final Instant T0 = Instant.parse("2001-02-03T04:05:06Z");

    @Test
    void keeps_a_session_waiting_for_an_activity() {
        SessionCache cache = new SessionCache(10);
        ReplaySession session = suspended("busy", ctx -> ctx.callActivity("a", null, String.class).await());

        cache.put(session);

        assertThat(cache.take("busy")).isSameAs(session);
        session.close();
    }

    @Test
    void closes_a_session_waiting_only_for_a_signal_instead_of_keeping_its_thread() {
        SessionCache cache = new SessionCache(10);
        ReplaySession session = suspended("idle", ctx -> ctx.waitForExternalEvent("approve", String.class).await());

        cache.put(session);

        assertThat(cache.size()).isZero();
        assertThat(cache.take("idle")).isNull();
        assertThat(session.isReusable()).as("closed").isFalse();
    }

    @Test
    void keeps_a_session_whose_timer_fires_within_the_horizon_and_not_one_whose_timer_fires_later() {
        SessionCache cache = new SessionCache(10);
        Duration soon = SessionCache.KEEP_HORIZON.minusSeconds(1);
        Duration later = SessionCache.KEEP_HORIZON.plusSeconds(1);
        ReplaySession near = suspended("near", ctx -> ctx.createTimer(soon).await());
        ReplaySession far = suspended("far", ctx -> ctx.createTimer(later).await());

        cache.put(near);
        cache.put(far);

        assertThat(cache.take("near")).isSameAs(near);
        assertThat(cache.take("far")).isNull();
        near.close();
    }

    /** A session that ran its orchestration's first turn and is suspended where the code waits. */
    private static ReplaySession suspended(String instanceId, Orchestration flow) {
        ReplaySession session = new ReplaySession(instanceId, 1, "flow", flow, Duration.ofSeconds(10));
        session.committed(session.run(List.of(HistoryEvent.orchestratorStarted(T0),
                HistoryEvent.executionStarted("flow", "null", T0))));
        return session;
    }
}
