package io.pgdurable.bench;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The completion scenario: what the database spends on a step on the short path, without a
 * worker, a network round trip or another session competing for the cores. One session drives one
 * orchestration through {@code df_engine.complete_and_advance} in a {@code DO} block: each call
 * completes the leased step with an engine turn (the step's completion, one event scheduling the
 * next step, the next step leased to the caller, as the throughput scenario's turns) and commits
 * asynchronously. The figure is the block's time per call, so changes to the function can be
 * measured where the full scenarios' noise hides them; the next call's lease comes from the last,
 * so every call must take the short path, and the history must have grown by three events per
 * call. Its rows are deleted afterwards.
 */
final class CompletionBenchmark {
    /** Unmeasured calls first, on an orchestration of their own: plans cached, pages in memory. */
    static final int WARMUP_CALLS = 2_000;

    /**
     * The loop; {@code %1$s} is the instance id (made here, a quoted literal), {@code %2$d} the
     * number of calls. Runs in autocommit, so the block may commit.
     */
    private static final String LOOP = """
            DO $bench$
            DECLARE
                v_item     bigint;
                v_token    uuid;
                v_expected integer := 1;
                r          record;
            BEGIN
                INSERT INTO df_engine.instances (id, name, status, partition_key)
                VALUES (%1$s, 'bench.completion', 'Running', %1$s);
                INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)
                VALUES (%1$s, 1, 1, 'ExecutionStarted', now());
                INSERT INTO df_engine.activity_queue
                    (instance_id, execution_id, task_id, name, input, partition_key, lease_owner, lease_token, attempts)
                VALUES (%1$s, 1, 1, 'bench.completion', '1', %1$s, 'bench-completion', gen_random_uuid(), 1)
                RETURNING id, lease_token INTO v_item, v_token;
                COMMIT;
                FOR i IN 1..%2$d LOOP
                    SELECT * INTO r FROM df_engine.complete_and_advance(v_item, v_token, '1', v_expected, now(),
                        '{"history":[{"t":"TaskScheduled","task":' || (i + 1)
                            || ',"name":"bench.completion","payload":"1"}],"activities":[{"task":' || (i + 1)
                            || ',"name":"bench.completion","input":"1"}],"timers":[]}',
                        'bench-completion', 3600);
                    IF NOT r.advanced THEN
                        RAISE EXCEPTION 'call %% of %2$d took the queue path', i;
                    END IF;
                    v_item := r.next_item;
                    v_token := r.next_token;
                    v_expected := v_expected + 3;
                    COMMIT;
                END LOOP;
            END
            $bench$""";
    private static final String COUNT = CostMeter.OWN_MARK + """
            SELECT (SELECT count(*) FROM df_engine.history WHERE instance_id = ?),
                   (SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?)""";
    private static final String CLEAR = """
            WITH ids AS MATERIALIZED (SELECT ?::text[] AS ids),
                 history AS (DELETE FROM df_engine.history USING ids WHERE instance_id = ANY (ids)),
                 queue AS (DELETE FROM df_engine.activity_queue USING ids WHERE instance_id = ANY (ids))
            DELETE FROM df_engine.instances USING ids WHERE id = ANY (ids)""";

    private final BenchmarkSettings settings;
    private final PrintWriter out;

    CompletionBenchmark(BenchmarkSettings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
    }

    BenchmarkReport.Completion run(Connection admin) throws SQLException {
        int calls = settings.completionCalls();
        String tag = Long.toHexString(ThreadLocalRandom.current().nextLong());
        String warm = "bench.completion-warmup-" + tag;
        String measured = "bench.completion-" + tag;
        out.printf(Locale.ROOT, "completion: one session calling df_engine.complete_and_advance %d times (after %d"
                + " unmeasured), each call an engine turn committed asynchronously ...%n", calls, WARMUP_CALLS);
        out.flush();
        try (Connection c = settings.connect("pg-durable bench completion");
             Statement s = c.createStatement()) {
            c.setAutoCommit(true);
            s.execute("SET synchronous_commit = off");
            s.execute(loop(warm, WARMUP_CALLS));
            long started = System.nanoTime();
            s.execute(loop(measured, calls));
            Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
            BenchmarkReport.Completion result = check(admin, measured, calls, elapsed);
            out.printf(Locale.ROOT, "completion: %d calls in %.2f s = %.1f us per call%n", calls,
                    BenchmarkReport.seconds(elapsed), result.microsPerCall());
            out.printf(Locale.ROOT, "completion: rows %s%n", result.describe());
            out.flush();
            return result;
        } finally {
            try (PreparedStatement ps = admin.prepareStatement(CLEAR)) {
                ps.setArray(1, admin.createArrayOf("text", new String[] {warm, measured}));
                ps.execute();
            }
        }
    }

    private static String loop(String instanceId, int calls) {
        return String.format(Locale.ROOT, LOOP, "'" + instanceId.replace("'", "''") + "'", calls);
    }

    private static BenchmarkReport.Completion check(Connection admin, String id, int calls, Duration elapsed)
            throws SQLException {
        try (PreparedStatement ps = admin.prepareStatement(COUNT)) {
            ps.setString(1, id);
            ps.setString(2, id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new BenchmarkReport.Completion(calls, elapsed, rs.getLong(1), rs.getLong(2));
            }
        }
    }
}
