package io.pgdurable.graph.step;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.engine.ActivityContext;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.store.ActivityWrite;
import io.pgdurable.graph.sql.BindValue;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * How a SQL step hands its statement and result to the engine: a write that returns no rows
 * goes with its completion ({@code writeCompleteAndCommit}, one round trip), anything else runs
 * first and hands its result to {@code completeAndCommit}. The context here records the call and
 * does what the worker's would, without the queue.
 */
class SqlStepActivityTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final String ROLE = "sql_step_activity_role";
    private static String db;
    private static long oid;
    private static StepConnections connections;
    private static SqlStepActivity activity;

    @BeforeAll
    static void setUp() throws SQLException {
        db = CLUSTER.createDatabase("sql_step_activity");
        CLUSTER.createLoginRole(ROLE);
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.marks (n integer PRIMARY KEY, note text)");
            s.execute("GRANT SELECT, INSERT, UPDATE ON public.marks TO " + ROLE);
        }
        oid = CLUSTER.roleOid(ROLE);
        connections = new StepConnections(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER), 2, 2, Duration.ofSeconds(10));
        PGSimpleDataSource control = new PGSimpleDataSource();
        control.setUrl(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER));
        activity = new SqlStepActivity(connections, () -> control);
    }

    @AfterAll
    static void tearDown() {
        connections.close();
    }

    @Test
    void a_write_without_rows_goes_with_its_completion_and_the_reset_and_its_result_is_the_empty_one()
            throws Exception {
        // ?::text: a text cell is bound without a type, as the substitution binds one.
        RecordingContext ctx = new RecordingContext(step("INSERT INTO public.marks VALUES (?, ?::text)",
                List.of(new StepInput.Param(BindValue.Type.INTEGER, "1"),
                        new StepInput.Param(BindValue.Type.UNTYPED_TEXT, "one"))));

        Object result = activity.run(ctx);

        assertThat(ctx.calls).containsExactly("writeCompleteAndCommit");
        assertThat(ctx.sql).isEqualTo("INSERT INTO public.marks VALUES (?, ?::text)");
        assertThat(ctx.beforeCommit).isEqualTo(StepConnections.RESET_BEFORE_COMMIT);
        assertThat(JsonCodec.toJson(ctx.result)).isEqualTo("{\"rows\":[],\"row_count\":0}");
        assertThat(result).isEqualTo(ctx.result);
        assertThat(ctx.parameters).containsExactly(1, new ActivityContext.UntypedText("one"));
        assertThat(adminQuery("SELECT note FROM public.marks WHERE n = 1"))
                .as("the parameters were bound with their own types, the text one untyped").isEqualTo("one");
    }

    @Test
    void a_statement_that_may_return_rows_runs_first_and_hands_its_rows_to_the_completion() throws Exception {
        RecordingContext ctx = new RecordingContext(step(
                "INSERT INTO public.marks VALUES (2, 'two') RETURNING n", List.of()));

        activity.run(ctx);

        assertThat(ctx.calls).containsExactly("completeAndCommit");
        assertThat(JsonCodec.toJson(ctx.result)).isEqualTo("{\"rows\":[{\"n\":2}],\"row_count\":1}");
        assertThat(ctx.beforeCommit).isEqualTo(StepConnections.RESET_BEFORE_COMMIT);
    }

    @Test
    void a_failing_write_fails_the_step_with_its_own_error_and_leaves_nothing() throws Exception {
        activity.run(new RecordingContext(step("INSERT INTO public.marks VALUES (3, 'three')", List.of())));
        RecordingContext ctx = new RecordingContext(step("INSERT INTO public.marks VALUES (3, 'again'); ", List.of()));

        assertThatThrownBy(() -> activity.run(ctx))
                .isInstanceOf(StepFailedException.class)
                .hasMessageStartingWith("SQL execution failed: duplicate key value violates unique constraint");
        assertThat(ctx.calls).containsExactly("writeCompleteAndCommit");
        assertThat(adminQuery("SELECT count(*) || ' ' || min(note) FROM public.marks WHERE n = 3")).isEqualTo("1 three");
    }

    /**
     * The worker may learn that a lease is gone just as the step's round trip commits (its lease
     * renewal then finds the completed item deleted) and cancel the statement: the cancel request
     * may reach the server after the round trip, so the connection must not serve another step.
     */
    @Test
    void a_connection_a_cancel_was_sent_for_is_not_used_for_the_next_step() throws Exception {
        try (StepConnections one = new StepConnections(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER), 1, 1,
                Duration.ofSeconds(10))) {
            PGSimpleDataSource control = new PGSimpleDataSource();
            control.setUrl(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER));
            SqlStepActivity single = new SqlStepActivity(one, () -> control);

            RecordingContext quiet = new RecordingContext(step("INSERT INTO public.marks VALUES (10, 'a')", List.of()));
            single.run(quiet);
            RecordingContext same = new RecordingContext(step("INSERT INTO public.marks VALUES (11, 'b')", List.of()));
            single.run(same);
            assertThat(same.backend).as("without a cancel the pooled connection serves the next step")
                    .isEqualTo(quiet.backend);

            RecordingContext lost = new RecordingContext(step("INSERT INTO public.marks VALUES (12, 'c')", List.of()));
            lost.loseLeaseAfterCommit = true;
            single.run(lost);
            assertThat(lost.backend).isEqualTo(quiet.backend);
            RecordingContext next = new RecordingContext(step("INSERT INTO public.marks VALUES (13, 'd')", List.of()));
            single.run(next);

            assertThat(next.backend).as("a fresh connection after the one a cancel was sent for").isNotEqualTo(lost.backend);
            assertThat(adminQuery("SELECT string_agg(note, '' ORDER BY n) FROM public.marks WHERE n BETWEEN 10 AND 13"))
                    .isEqualTo("abcd");
        }
    }

    /**
     * A statement's literal parameters are described once and then sent as parameters; should the
     * server refuse them when the statement runs (what it calls was replaced since), the step runs
     * again with its literals, on the write path and on the path that reads rows alike.
     */
    @Test
    void literal_parameters_refused_when_the_statement_runs_are_written_back_and_the_step_runs_again()
            throws Exception {
        admin("CREATE FUNCTION public.bang(text, text) RETURNS text LANGUAGE sql AS 'SELECT format($1, $2)'");
        String write = "INSERT INTO public.marks VALUES (?, public.bang('%s!', ?))";
        String read = "SELECT public.bang('%s?', ?) AS note";

        RecordingContext once = new RecordingContext(step(write, List.of(number(39), literal("w"))));
        activity.run(once);
        assertThat(once.sql).as("a text's first time goes with literals").isEqualTo(
                "INSERT INTO public.marks VALUES (?, public.bang('%s!', 'w'))");
        RecordingContext first = new RecordingContext(step(write, List.of(number(40), literal("x"))));
        activity.run(first);
        assertThat(first.sql).isEqualTo(write);
        assertThat(first.parameters).containsExactly(40, new ActivityContext.UntypedText("x"));
        activity.run(new RecordingContext(step(read, List.of(literal("q")))));
        RecordingContext firstRead = new RecordingContext(step(read, List.of(literal("r"))));
        activity.run(firstRead);
        assertThat(JsonCodec.toJson(firstRead.result)).isEqualTo("{\"rows\":[{\"note\":\"r?\"}],\"row_count\":1}");

        // format itself under the same name: its "any" argument takes no type from a parameter.
        admin("DROP FUNCTION public.bang(text, text)");
        admin("CREATE FUNCTION public.bang(text, VARIADIC \"any\") RETURNS text LANGUAGE internal STABLE AS 'text_format'");

        RecordingContext refused = new RecordingContext(step(write, List.of(number(41), literal("y"))));
        activity.run(refused);
        assertThat(refused.calls).containsExactly("writeCompleteAndCommit", "writeCompleteAndCommit");
        assertThat(refused.sql).isEqualTo("INSERT INTO public.marks VALUES (?, public.bang('%s!', 'y'))");
        assertThat(refused.parameters).containsExactly(41);
        RecordingContext refusedRead = new RecordingContext(step(read, List.of(literal("s"))));
        activity.run(refusedRead);
        assertThat(JsonCodec.toJson(refusedRead.result)).isEqualTo("{\"rows\":[{\"note\":\"s?\"}],\"row_count\":1}");

        RecordingContext after = new RecordingContext(step(write, List.of(number(42), literal("z"))));
        activity.run(after);
        assertThat(after.calls).as("the refusal was remembered").containsExactly("writeCompleteAndCommit");
        assertThat(after.sql).isEqualTo("INSERT INTO public.marks VALUES (?, public.bang('%s!', 'z'))");
        assertThat(adminQuery("SELECT string_agg(note, ' ' ORDER BY n) FROM public.marks WHERE n BETWEEN 39 AND 42"))
                .isEqualTo("w! x! y! z!");
    }

    /**
     * A statement the step's connection keeps prepared fails once its table changes shape ("cached
     * plan must not change result type"): the step runs again at once, and the driver prepares
     * it afresh.
     */
    @Test
    void a_kept_statement_whose_table_changed_shape_runs_again() throws Exception {
        admin("CREATE TABLE public.shape (k text PRIMARY KEY, a integer)");
        admin("GRANT SELECT ON public.shape TO " + ROLE);
        admin("INSERT INTO public.shape VALUES ('x', 1)");
        try (StepConnections one = new StepConnections(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER), 1, 1,
                Duration.ofSeconds(10))) {
            PGSimpleDataSource control = new PGSimpleDataSource();
            control.setUrl(CLUSTER.jdbcUrl(db, TestCluster.SUPERUSER));
            SqlStepActivity single = new SqlStepActivity(one, () -> control);
            String read = "SELECT * FROM public.shape WHERE k = ?";
            for (int i = 0; i < 8; i++) {
                RecordingContext ctx = new RecordingContext(step(read, List.of(literal("x"))));
                single.run(ctx);
                assertThat(JsonCodec.toJson(ctx.result)).isEqualTo("{\"rows\":[{\"k\":\"x\",\"a\":1}],\"row_count\":1}");
            }
            admin("ALTER TABLE public.shape ADD COLUMN b text DEFAULT 'new'");

            RecordingContext changed = new RecordingContext(step(read, List.of(literal("x"))));
            single.run(changed);

            assertThat(JsonCodec.toJson(changed.result))
                    .isEqualTo("{\"rows\":[{\"k\":\"x\",\"a\":1,\"b\":\"new\"}],\"row_count\":1}");
        }
    }

    private static StepInput.Param number(int n) {
        return new StepInput.Param(BindValue.Type.INTEGER, Integer.toString(n));
    }

    private static StepInput.Param literal(String text) {
        return new StepInput.Param(BindValue.Type.LITERAL_TEXT, text);
    }

    private static void admin(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static StepInput step(String sql, List<StepInput.Param> params) {
        return new StepInput("sql-step-activity-test", "00000001", ROLE, oid, null, sql, params);
    }

    private static String adminQuery(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /**
     * An activity context that records which completion the step asked for, and runs what the
     * worker's would around it (the statement, the before-commit statement, the commit), with a
     * lease that is always held.
     */
    private static final class RecordingContext implements ActivityContext {
        private final StepInput input;
        final List<String> calls = new ArrayList<>();
        String sql;
        List<Object> parameters;
        String beforeCommit;
        Object result;
        /** The backend the step's statement ran on. */
        int backend;
        /** Whether the lease is found lost right after the commit, before the step returns. */
        boolean loseLeaseAfterCommit;
        private Runnable onLost;

        RecordingContext(StepInput input) {
            this.input = input;
        }

        @Override
        public void completeAndCommit(Connection connection, Object result, String beforeCommit) throws SQLException {
            calls.add("completeAndCommit");
            this.result = result;
            this.beforeCommit = beforeCommit;
            finish(connection, beforeCommit);
        }

        @Override
        public void writeCompleteAndCommit(Connection connection, String sql, List<?> parameters, Object result,
                                           String beforeCommit) throws SQLException {
            calls.add("writeCompleteAndCommit");
            this.sql = sql;
            this.parameters = new ArrayList<>(parameters);
            this.result = result;
            this.beforeCommit = beforeCommit;
            backend = backendOf(connection);
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ActivityWrite.of(sql, parameters).bind(ps); // as the worker's context binds them
                ps.execute();
            } catch (SQLException e) {
                connection.rollback();
                throw e;
            }
            finish(connection, beforeCommit);
            if (loseLeaseAfterCommit && onLost != null) {
                onLost.run(); // as the worker's lease renewal would, finding the item completed
            }
        }

        private static int backendOf(Connection connection) throws SQLException {
            try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                return rs.getInt(1);
            }
        }

        private static void finish(Connection connection, String beforeCommit) throws SQLException {
            if (beforeCommit != null) {
                try (Statement s = connection.createStatement()) {
                    s.execute(beforeCommit);
                }
            }
            connection.commit();
        }

        @Override
        public <T> T input(Class<T> type) {
            return type.cast(input);
        }

        @Override
        public String rawInput() {
            return JsonCodec.toJson(input);
        }

        @Override
        public String instanceId() {
            return input.instanceId();
        }

        @Override
        public int executionId() {
            return 1;
        }

        @Override
        public int taskId() {
            return 1;
        }

        @Override
        public String name() {
            return SqlStepActivity.NAME;
        }

        @Override
        public int attempt() {
            return 1;
        }

        @Override
        public void checkLease(Connection connection) {
        }

        @Override
        public void checkLease() {
        }

        @Override
        public boolean leaseLost() {
            return false;
        }

        @Override
        public Registration onLeaseLost(Runnable onLost) {
            this.onLost = onLost;
            return () -> this.onLost = null;
        }
    }
}
