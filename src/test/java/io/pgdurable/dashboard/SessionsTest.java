package io.pgdurable.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.testing.SettableClock;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Sessions end when idle, at their hard limit and when asked, and close their connection then. */
class SessionsTest {

    private final SettableClock clock = new SettableClock(Instant.parse("2026-12-03T08:00:00Z"));
    private final AtomicInteger closed = new AtomicInteger();

    private Connection connection() {
        return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("close")) {
                        closed.incrementAndGet();
                    }
                    return null;
                });
    }

    @Test
    void a_session_lives_while_used_and_ends_after_idling() {
        Sessions sessions = new Sessions(clock, Duration.ofMinutes(30), Duration.ofHours(12), 5);
        Sessions.Session s = sessions.open("alice", false, connection());
        clock.advance(Duration.ofMinutes(29));
        assertThat(sessions.find(s.id)).isSameAs(s);
        clock.advance(Duration.ofMinutes(29));
        assertThat(sessions.find(s.id)).as("used 29 minutes ago").isSameAs(s);
        clock.advance(Duration.ofMinutes(30));
        assertThat(sessions.find(s.id)).isNull();
        assertThat(closed).hasValue(1);
        assertThat(sessions.size()).isZero();
    }

    @Test
    void a_session_ends_at_its_hard_limit_however_busy() {
        Sessions sessions = new Sessions(clock, Duration.ofMinutes(30), Duration.ofHours(1), 5);
        Sessions.Session s = sessions.open("alice", false, connection());
        for (int k = 0; k < 5; k++) {
            clock.advance(Duration.ofMinutes(11));
            assertThat(sessions.find(s.id)).isSameAs(s);
        }
        assertThat(sessions.expiresAt(s)).isEqualTo(Instant.parse("2026-12-03T09:00:00Z"));
        clock.advance(Duration.ofMinutes(5));
        assertThat(sessions.find(s.id)).isNull();
        assertThat(closed).hasValue(1);
    }

    @Test
    void the_sweep_closes_expired_sessions_nobody_asks_for() {
        Sessions sessions = new Sessions(clock, Duration.ofMinutes(30), Duration.ofHours(12), 5);
        sessions.open("alice", false, connection());
        sessions.open("bob", false, connection());
        clock.advance(Duration.ofMinutes(31));
        assertThat(sessions.expire()).isEqualTo(2);
        assertThat(closed).hasValue(2);
    }

    @Test
    void no_more_than_the_limit_are_open_and_a_refused_ones_connection_is_closed() {
        Sessions sessions = new Sessions(clock, Duration.ofMinutes(30), Duration.ofHours(12), 2);
        Sessions.Session first = sessions.open("alice", false, connection());
        sessions.open("bob", false, connection());
        assertThatThrownBy(() -> sessions.open("carol", false, connection()))
                .isInstanceOf(DashboardException.class).hasMessageContaining("--max-sessions").hasMessageContaining("2");
        assertThat(closed).hasValue(1);
        sessions.end(first);
        assertThat(sessions.open("carol", false, connection()).role).isEqualTo("carol");
    }

    @Test
    void ids_and_tokens_are_random_and_tokens_compare_exactly() {
        Sessions sessions = new Sessions(clock, Duration.ofMinutes(30), Duration.ofHours(12), 5);
        Sessions.Session a = sessions.open("alice", false, connection());
        Sessions.Session b = sessions.open("alice", false, connection());
        assertThat(a.id).hasSize(64).isNotEqualTo(b.id).isNotEqualTo(a.csrf);
        assertThat(a.csrfMatches(a.csrf)).isTrue();
        assertThat(a.csrfMatches(b.csrf)).isFalse();
        assertThat(a.csrfMatches(null)).isFalse();
        assertThat(a.csrfMatches(a.csrf.substring(1))).isFalse();
        assertThat(sessions.find("unknown")).isNull();
        assertThat(sessions.find(null)).isNull();
    }
}
