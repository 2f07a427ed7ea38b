package io.pgdurable.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PollTest {

    @Test
    void returns_the_first_value_the_condition_accepts() {
        AtomicInteger probes = new AtomicInteger();

        int seen = Poll.until(Duration.ofSeconds(5), "the third probe", probes::incrementAndGet, v -> v >= 3);

        assertThat(seen).isEqualTo(3);
        assertThat(probes).hasValue(3);
    }

    @Test
    void a_condition_that_never_holds_fails_naming_what_was_awaited_and_the_last_value_seen() {
        AtomicInteger probes = new AtomicInteger();

        assertThatThrownBy(() -> Poll.until(Duration.ofMillis(100), "the count to reach 1000",
                probes::incrementAndGet, v -> v >= 1000))
                .isInstanceOf(AssertionError.class)
                .hasMessageStartingWith("timed out after PT0.1S waiting: the count to reach 1000; last value seen: ")
                .hasMessageEndingWith(": " + probes.get());
        assertThat(probes.get()).isGreaterThan(1);
    }

    @Test
    void a_boolean_condition_fails_with_its_description() {
        assertThatThrownBy(() -> Poll.until(Duration.ofMillis(20), "never", () -> false))
                .isInstanceOf(AssertionError.class)
                .hasMessage("timed out after PT0.02S waiting: never; last value seen: false");
    }

    @Test
    void a_probe_that_throws_fails_the_wait_at_once_with_its_cause() {
        SQLException cause = new SQLException("relation \"t\" does not exist");

        assertThatThrownBy(() -> Poll.until(Duration.ofSeconds(30), "the table", () -> {
            throw cause;
        })).isInstanceOf(AssertionError.class)
                .hasMessage("the probe failed waiting: the table: " + cause)
                .hasCause(cause);
    }
}
