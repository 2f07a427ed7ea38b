package io.pgdurable.bench;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The completion scenario: what the database spends on a step on the short path, without a
 * worker, a network round trip or another session competing for the cores. One session drives one
 * orchestration through {@code df_engine.complete_and_advance} in a {@code DO} block: each call
 * completes the leased step with a turn (the step's completion, one event scheduling the next
 * step, the next step leased to the caller) and commits asynchronously; first with engine turns
 * like the throughput scenario's, then with df turns like the df scenario's (a SQL step's input,
 * three node statuses). The figure is the block's time per call, so changes to the function can be
 * measured where the full scenarios' noise hides them; the next call's lease comes from the last,
 * so every call must take the short path, and the history must have grown by three events per
 * call. Its rows are deleted afterwards.
 */
final class CompletionBenchmark {
    /** Unmeasured calls first, on an orchestration of their own: plans cached, pages in memory. */
    static final int WARMUP_CALLS = 2_000;

    /**
     * The loop, for either kind of turn ({@link Turn}): {@code %1$s} is the instance id (made here:
     * hexadecimal digits), {@code %2$d} the number of calls, {@code %3$d} the df instance's nodes,
     * and the rest the turn's own parts. Runs in autocommit, so the block may commit.
     */
    private static final String LOOP = """
            DO $bench$
            DECLARE
                v_item     bigint;
                v_token    uuid;
                v_expected integer := 1;
                r          record;
            %4$s
            BEGIN
            %5$s
                INSERT INTO df_engine.instances (id, name, status, partition_key)
                VALUES ('%1$s', 'bench.completion', 'Running', 'bench');
                INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)
                VALUES ('%1$s', 1, 1, 'ExecutionStarted', now());
                INSERT INTO df_engine.activity_queue
                    (instance_id, execution_id, task_id, name, input, partition_key, lease_owner, lease_token, attempts)
                VALUES ('%1$s', 1, 1, '%6$s', '1', 'bench', 'bench-completion', gen_random_uuid(), 1)
                RETURNING id, lease_token INTO v_item, v_token;
                COMMIT;
                FOR i IN 1..%2$d LOOP
                    SELECT * INTO r FROM df_engine.complete_and_advance(v_item, v_token, '%7$s', v_expected, now(),
                        %8$s,
                        'bench-completion', 3600);
                    IF NOT r.advanced THEN
                        RAISE EXCEPTION 'call %% of %2$d took the queue path', i;
                    END IF;
                    v_item := r.next_item;
                    v_token := r.next_token;
                    v_expected := v_expected + 3;
                    COMMIT;
                END LOOP;
            %9$s
            END
            $bench$""";

    /** The two kinds of turn the loop drives, as the parts of {@link #LOOP} that differ. */
    enum Turn {
        /** The throughput scenario's: the completion, one event scheduling the next step, no df writes. */
        ENGINE("engine", "", "", "bench.completion", "1", """
                '{"history":[{"t":"TaskScheduled","task":' || (i + 1)
                            || ',"name":"bench.completion","payload":"1"}],"activities":[{"task":' || (i + 1)
                            || ',"name":"bench.completion","input":"1"}],"timers":[]}'""", ""),
        /**
         * The df scenario's middle step: the engine instance belongs to a df instance of {@value
         * #DF_NODES} SQL nodes; the turn's history event and next step carry a SQL step's input, and
         * it writes three node statuses (two completed with the step's result, the next one
         * running), nodes taken round the ring. After the loop, the block checks that the writes
         * took effect.
         */
        DF("df", """
                    v_input    text := pg_catalog.to_json('{"instance_id":"%1$s","node_id":"00000001","role":"bench",'
                        || '"role_oid":10,"database":null,"sql":"INSERT INTO bench_df_rows (instance_id, step) VALUES (?, 1)",'
                        || '"params":[{"type":"LITERAL_TEXT","text":"%1$s"}]}'::text)::text;
                    v_result   text := pg_catalog.to_json('{"rows":[],"row_count":0}'::text)::text;
                    v_details  text := pg_catalog.to_json('{"execution_id":"%1$s::1"}'::text)::text;""", """
                    INSERT INTO df.instances (id, label, root_node, status)
                    VALUES ('%1$s', 'bench-completion', '00000000', 'running');
                    INSERT INTO df.nodes (id, instance_id, node_type, query)
                    SELECT lpad(to_hex(k), 8, '0'), '%1$s', 'SQL', 'SELECT 1' FROM generate_series(0, %3$d - 1) k;""",
                "df.sql", "{\"rows\":[],\"row_count\":0}", """
                '{"history":[{"t":"TaskScheduled","task":' || (i + 1) || ',"name":"df.sql","payload":' || v_input
                            || '}],"activities":[{"task":' || (i + 1) || ',"name":"df.sql","input":' || v_input
                            || ',"key":"bench"}],"timers":[],"writes":['
                            || '{"kind":"node_update","args":["completed",' || v_result || ',' || v_details
                            || ',"%1$s","' || lpad(to_hex(mod(i, %3$d)), 8, '0') || '"]},'
                            || '{"kind":"node_update","args":["completed",' || v_result || ',' || v_details
                            || ',"%1$s","' || lpad(to_hex(mod(i + %3$d / 2, %3$d)), 8, '0') || '"]},'
                            || '{"kind":"node_update","args":["running",null,' || v_details
                            || ',"%1$s","' || lpad(to_hex(mod(i + 1, %3$d)), 8, '0') || '"]}]}'""", """
                    IF (SELECT count(*) FROM df.nodes n
                         WHERE n.instance_id = '%1$s' AND n.status IN ('completed', 'running'))
                       <> LEAST(%2$d + 1, %3$d) THEN
                        RAISE EXCEPTION 'the df turns left node statuses unwritten';
                    END IF;""");

        final String label;
        private final String declarations;
        private final String setup;
        private final String stepName;
        private final String result;
        private final String turn;
        private final String check;

        Turn(String label, String declarations, String setup, String stepName, String result, String turn,
             String check) {
            this.label = label;
            this.declarations = declarations;
            this.setup = setup;
            this.stepName = stepName;
            this.result = result;
            this.turn = turn;
            this.check = check;
        }

        /** The loop of {@code calls} calls on the orchestration {@code id}. */
        String loop(String id, int calls) {
            // The turn's own parts go in first; they hold the loop's placeholders, filled in with it.
            String filled = LOOP.replace("%4$s", indented(declarations)).replace("%5$s", indented(setup))
                    .replace("%6$s", stepName).replace("%7$s", result).replace("%8$s", turn.strip())
                    .replace("%9$s", indented(check));
            return String.format(Locale.ROOT, filled, id, calls, DF_NODES);
        }

        /** A part's lines at the block's own indentation. */
        private static String indented(String part) {
            return part.isEmpty() ? "" : part.stripIndent().indent(4).stripTrailing();
        }
    }

    /** The df turn loop's nodes, whose statuses its turns write round the ring. */
    static final int DF_NODES = 30;
    private static final String COUNT = CostMeter.OWN_MARK + """
            SELECT (SELECT count(*) FROM df_engine.history WHERE instance_id = ?),
                   (SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?)""";
    /** Deletes the engine's rows of the orchestrations in the CTE {@code ids} (one array, {@code ids}). */
    private static final String DELETE_ENGINE_ROWS = """
                 history AS (DELETE FROM df_engine.history USING ids WHERE instance_id = ANY (ids)),
                 queue AS (DELETE FROM df_engine.activity_queue USING ids WHERE instance_id = ANY (ids)),
                 engine AS (DELETE FROM df_engine.instances USING ids WHERE id = ANY (ids))
            """;
    private static final String CLEAR = "WITH ids AS MATERIALIZED (SELECT ?::text[] AS ids),\n" + DELETE_ENGINE_ROWS
            + "DELETE FROM df.instances USING ids WHERE id = ANY (ids)";

    /** Rows an earlier run left when it was stopped mid-loop (a finished run deletes its own). */
    private static final String CLEAR_LEFTOVERS = """
            WITH ids AS MATERIALIZED (
                     SELECT array_agg(i.id) AS ids FROM df_engine.instances i WHERE i.name = 'bench.completion'),
            """ + DELETE_ENGINE_ROWS + "DELETE FROM df.instances WHERE label = 'bench-completion'";

    private final BenchmarkSettings settings;
    private final PrintWriter out;

    CompletionBenchmark(BenchmarkSettings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
    }

    /**
     * Both loops, the engine turn's first; each measured loop's cost goes to {@code costs} as
     * {@code completion} and {@code completion-df}, per call. Their rows are deleted whatever happens.
     */
    List<BenchmarkReport.Completion> run(Connection admin, CostMeter meter, Map<String, CostMeter.Cost> costs)
            throws SQLException {
        int calls = settings.completionCalls();
        out.printf(Locale.ROOT, "completion: one session calling df_engine.complete_and_advance %d times (after %d"
                + " unmeasured), each call a turn committed asynchronously: engine turns, then df turns ...%n",
                calls, WARMUP_CALLS);
        out.flush();
        try (Statement clear = admin.createStatement()) {
            clear.execute(CLEAR_LEFTOVERS);
        }
        List<String> ids = new ArrayList<>();
        try (Connection c = settings.connect("pg-durable bench completion");
             Statement s = c.createStatement()) {
            c.setAutoCommit(true);
            s.execute("SET synchronous_commit = off");
            List<BenchmarkReport.Completion> results = new ArrayList<>();
            for (Turn turn : Turn.values()) {
                s.execute(turn.loop(newId(ids), WARMUP_CALLS));
                String measured = newId(ids);
                String loop = turn.loop(measured, calls);
                CostMeter.Mark mark = meter.start(admin);
                long started = System.nanoTime();
                s.execute(loop);
                Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
                costs.put(turn == Turn.ENGINE ? "completion" : "completion-" + turn.label,
                        meter.stop(admin, mark, calls));
                BenchmarkReport.Completion result = check(admin, turn.label, measured, calls, elapsed);
                out.printf(Locale.ROOT, "completion: %d %s turns in %.2f s = %.1f us per call%n", calls, result.turn(),
                        BenchmarkReport.seconds(elapsed), result.microsPerCall());
                out.printf(Locale.ROOT, "completion: %s rows %s%n", result.turn(), result.describe());
                out.flush();
                results.add(result);
            }
            return results;
        } finally {
            try (PreparedStatement ps = admin.prepareStatement(CLEAR)) {
                ps.setArray(1, admin.createArrayOf("text", ids.toArray(String[]::new)));
                ps.execute();
            }
        }
    }

    /** A fresh id of 8 hexadecimal digits (the form of a df instance's id), added to {@code ids}. */
    private static String newId(List<String> ids) {
        String id = "b" + String.format(Locale.ROOT, "%07x", ThreadLocalRandom.current().nextInt(1 << 28));
        ids.add(id);
        return id;
    }

    private static BenchmarkReport.Completion check(Connection admin, String turn, String id, int calls,
                                                    Duration elapsed)
            throws SQLException {
        try (PreparedStatement ps = admin.prepareStatement(COUNT)) {
            ps.setString(1, id);
            ps.setString(2, id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new BenchmarkReport.Completion(turn, calls, elapsed, rs.getLong(1), rs.getLong(2));
            }
        }
    }
}
