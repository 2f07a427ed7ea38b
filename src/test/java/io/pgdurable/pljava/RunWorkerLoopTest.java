package io.pgdurable.pljava;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.testing.Poll;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code df.run_worker} as the deployment descriptor declares it (PL/pgSQL around three Java
 * functions), run against stand-ins for those functions that count their calls in sequences,
 * which a rolled-back transaction does not undo. Runs everywhere, with or without PL/Java; the
 * real thing is exercised by {@link PlJavaDeploymentTest}.
 */
class RunWorkerLoopTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static String db;

    @BeforeAll
    static void install() throws Exception {
        db = CLUSTER.createDatabase("run_worker_loop");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE SEQUENCE started");
            s.execute("CREATE SEQUENCE polled");
            s.execute("CREATE SEQUENCE stopped");
            s.execute("CREATE TABLE stand_in (fail_poll boolean NOT NULL)");
            s.execute("INSERT INTO stand_in VALUES (false)");
            s.execute("""
                    CREATE FUNCTION df._worker_start(seconds integer) RETURNS text LANGUAGE plpgsql AS $$
                    BEGIN PERFORM nextval('public.started'); RETURN 'stand-in'; END $$""");
            s.execute("""
                    CREATE FUNCTION df._worker_poll() RETURNS text[] LANGUAGE plpgsql AS $$
                    BEGIN
                        IF (SELECT fail_poll FROM public.stand_in) THEN RAISE EXCEPTION 'the worker died'; END IF;
                        RETURN CASE WHEN nextval('public.polled') = 1 THEN ARRAY['first warning'] ELSE ARRAY[]::text[] END;
                    END $$""");
            s.execute("""
                    CREATE FUNCTION df._worker_stop() RETURNS text LANGUAGE plpgsql AS $$
                    BEGIN PERFORM nextval('public.stopped'); RETURN '{"ran": true, "turns": 7}'; END $$""");
            s.execute(DescriptorCommands.installCommand("CREATE OR REPLACE FUNCTION df.run_worker("));
        }
    }

    @BeforeEach
    void reset() throws SQLException {
        exec("SELECT setval('started', 1, false), setval('polled', 1, false), setval('stopped', 1, false)");
        exec("UPDATE stand_in SET fail_poll = false");
    }

    @Test
    void runs_for_the_given_seconds_raising_the_workers_log_lines_and_returns_its_summary() throws SQLException {
        long began = System.nanoTime();
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT df.run_worker(1)::text")) {
            rs.next();
            JsonNode summary = JsonCodec.tree(rs.getString(1));
            assertThat(summary.path("turns").asInt()).isEqualTo(7);
            assertThat(warnings(s.getWarnings())).containsExactly("pg_durable worker: first warning");
        }
        assertThat(Duration.ofNanos(System.nanoTime() - began)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
        assertThat(calls("started")).isEqualTo(1);
        assertThat(calls("polled")).as("polled about every 100 ms").isBetween(5L, 12L);
        assertThat(calls("stopped")).isEqualTo(1);
    }

    @Test
    void rejects_seconds_out_of_range_naming_the_value_and_starts_nothing() throws SQLException {
        for (String seconds : List.of("0", "3601", "-5", "NULL")) {
            assertThatThrownBy(() -> exec("SELECT df.run_worker(" + seconds + ")"))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("seconds must be between 1 and 3600, got " + seconds)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("22023"));
        }
        assertThat(calls("started")).isZero();
    }

    @Test
    void a_cancel_stops_the_worker_before_the_error_returns() throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("SET statement_timeout = '700ms'");
            assertThatThrownBy(() -> s.executeQuery("SELECT df.run_worker(30)"))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("statement timeout");
        }
        assertThat(calls("started")).isEqualTo(1);
        assertThat(calls("stopped")).isEqualTo(1);
    }

    @Test
    void a_failing_worker_is_stopped_and_its_error_returned() throws SQLException {
        exec("UPDATE stand_in SET fail_poll = true");
        assertThatThrownBy(() -> exec("SELECT df.run_worker(5)"))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("the worker died");
        assertThat(calls("started")).isEqualTo(1);
        assertThat(calls("stopped")).isEqualTo(1);
    }

    @Test
    void a_second_call_while_one_runs_returns_at_once_without_starting() throws Exception {
        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
            try {
                exec("SELECT df.run_worker(3)");
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
        Poll.until(Duration.ofSeconds(10), "the first call to start the worker", () -> calls("started") > 0);
        assertThat(calls("started")).as("the first call started").isEqualTo(1);
        JsonNode second = JsonCodec.tree(query("SELECT df.run_worker(1)::text"));
        assertThat(second.path("ran").asBoolean(true)).isFalse();
        assertThat(second.path("reason").asText()).contains("another df.run_worker() is running");
        first.get();
        assertThat(calls("started")).isEqualTo(1);
        assertThat(calls("stopped")).isEqualTo(1);
    }

    private static long calls(String sequence) throws SQLException {
        // A sequence's last_value is 1 both before the first nextval and after it: is_called tells.
        return Long.parseLong(query("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM " + sequence));
    }

    private static List<String> warnings(SQLWarning w) {
        List<String> out = new ArrayList<>();
        for (; w != null; w = w.getNextWarning()) {
            out.add(w.getMessage());
        }
        return out;
    }

    private static String query(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static void exec(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
