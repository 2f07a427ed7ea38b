package io.pgdurable.graph.e2e;

import static io.pgdurable.testing.Jdbc.execute;
import static io.pgdurable.testing.Jdbc.single;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code df.start(..., transaction_mode => 'new')}: the start commits on a dblink session of its
 * own, as the calling role, so it survives the caller's rollback; it is refused inside a workflow,
 * without dblink, and beyond its limit, and leaves nothing behind when it fails.
 */
class StartInNewTransactionTest {
    private static final String LIMIT = "pg_durable.max_new_transaction_starts";
    private static final String TIMEOUT = "pg_durable.new_transaction_start_timeout";

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("df_txn_new");
        env.exec("CREATE EXTENSION dblink");
        env.exec("CREATE TABLE public.audit (message text)");
        env.exec("CREATE TABLE public.employees (id int)");
        env.exec("GRANT ALL ON public.audit, public.employees TO " + env.role());
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void a_new_transaction_start_survives_the_callers_rollback_and_a_worker_finishes_it() throws Exception {
        String id;
        try (Connection c = env.connectAsApp()) {
            c.setAutoCommit(false);
            execute(c, "INSERT INTO public.employees VALUES (999)");
            id = single(c, "SELECT df.start('INSERT INTO public.audit VALUES (''survived'')', 'audit',"
                    + " transaction_mode => 'new')");
            c.rollback();
        }
        assertThat(id).matches("[0-9a-f]{8}");
        assertThat(env.await(id, Duration.ofSeconds(30))).isEqualTo("completed");
        assertThat(env.queryAsApp("SELECT count(*) FROM public.employees WHERE id = 999")).isEqualTo("0");
        assertThat(env.queryAsApp("SELECT count(*) FROM public.audit WHERE message = 'survived'")).isEqualTo("1");
        assertThat(env.queryAsAdmin("SELECT submitted_by::text || '|' || label FROM df.instances WHERE id = ?", id))
                .isEqualTo(env.role() + "|audit");
    }

    @Test
    void the_start_is_submitted_by_the_calling_role_even_when_a_superuser_session_set_it() throws Exception {
        String id;
        try (Connection c = env.connectAsAdmin()) {
            execute(c, "SET ROLE " + env.role());
            id = single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')");
        }
        assertThat(env.queryAsAdmin("SELECT submitted_by::text FROM df.instances WHERE id = ?", id)).isEqualTo(env.role());
        assertThat(env.queryAsApp("SELECT df.status(?)", id)).isNotNull();
    }

    @Test
    void hostile_text_reaches_the_other_session_as_data() throws Exception {
        String label = "it's \\ $$ $q$ '); SELECT pg_sleep(100); -- \u00e9";
        String step = "SELECT 'a''b\\c' AS v, $$x$$ AS w";
        String id;
        try (Connection c = env.connectAsApp(); PreparedStatement ps = c.prepareStatement(
                "SELECT df.start(?, ?, transaction_mode => 'new')")) {
            c.setAutoCommit(false);
            ps.setString(1, step);
            ps.setString(2, label);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                id = rs.getString(1);
            }
            c.rollback();
        }
        assertThat(env.queryAsApp("SELECT label FROM df.instances WHERE id = ?", id)).isEqualTo(label);
        assertThat(env.await(id, Duration.ofSeconds(30))).isEqualTo("completed");
        assertThat(env.result(id)).isEqualTo("{\"rows\": [{\"v\": \"a'b\\\\c\", \"w\": \"x\"}], \"row_count\": 1}");
    }

    @Test
    void a_caller_mode_start_that_is_rolled_back_leaves_nothing() throws Exception {
        String id;
        try (Connection c = env.connectAsApp()) {
            c.setAutoCommit(false);
            id = single(c, "SELECT df.start('SELECT 1', transaction_mode => 'caller')");
            c.rollback();
        }
        assertThat(env.queryAsAdmin("SELECT count(*) FROM df.instances WHERE id = ?", id)).isEqualTo("0");
        assertThat(env.queryAsAdmin("SELECT count(*) FROM df_engine.instances WHERE id = ?", id)).isEqualTo("0");
    }

    @Test
    void only_committed_variables_are_captured() throws Exception {
        String id;
        try (Connection c = env.connectAsApp()) {
            execute(c, "SELECT df.setvar('committed_var', 'kept')");
            c.setAutoCommit(false);
            execute(c, "SELECT df.setvar('open_var', 'unseen')");
            id = single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')");
            c.rollback();
            c.setAutoCommit(true);
            execute(c, "SELECT df.clearvars()");
        }
        assertThat(env.queryAsAdmin("SELECT input::jsonb -> 'vars' FROM df_engine.instances WHERE id = ?", id))
                .isEqualTo("{\"committed_var\": \"kept\"}");
    }

    @Test
    void inside_a_workflow_step_new_is_refused() {
        String id = env.start("'SELECT df.start(''SELECT 1'', transaction_mode => ''new'')'");
        assertThat(env.await(id, Duration.ofSeconds(30))).isEqualTo("failed");
        assertThat(env.queryAsApp("SELECT output FROM df.list_instances() WHERE instance_id = ?", id))
                .contains("df.start(): transaction_mode 'new' cannot be used inside a workflow");
    }

    @Test
    void without_dblink_the_start_fails_naming_the_statement_to_run_and_writes_nothing() throws Exception {
        long before = instanceCount();
        env.exec("DROP EXTENSION dblink");
        try (Connection c = env.connectAsApp()) {
            assertThatThrownBy(() -> single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("55000");
                        assertThat(e.getMessage()).contains(
                                "df.start(): transaction_mode 'new' needs the dblink extension, which is not created in database \""
                                        + env.database() + "\"",
                                "Hint: A superuser runs, in database \"" + env.database() + "\": CREATE EXTENSION dblink;");
                    });
        } finally {
            env.exec("CREATE EXTENSION dblink");
        }
        assertThat(instanceCount()).isEqualTo(before);
    }

    @Test
    void dblink_in_a_schema_that_an_ordinary_role_controls_is_not_used() throws Exception {
        env.exec("CREATE SCHEMA app_owned AUTHORIZATION " + env.role());
        env.exec("ALTER EXTENSION dblink SET SCHEMA app_owned");
        try (Connection c = env.connectAsApp()) {
            assertThatThrownBy(() -> single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("55000");
                        assertThat(e.getMessage()).contains("will not use dblink from schema \"app_owned\": it is"
                                + " controlled by role \"" + env.role() + "\", which is not a superuser");
                    });
        } finally {
            env.exec("ALTER EXTENSION dblink SET SCHEMA public");
            env.exec("DROP SCHEMA app_owned");
        }
    }

    @Test
    void beyond_the_limit_a_start_waits_then_fails_naming_both_settings_and_a_session_cannot_raise_it()
            throws Exception {
        env.exec("ALTER DATABASE " + env.database() + " SET " + LIMIT + " = 1");
        env.exec("ALTER DATABASE " + env.database() + " SET " + TIMEOUT + " = 1");
        long before = instanceCount();
        try (Connection holder = env.connectAsAdmin(); Connection c = env.connectAsApp()) {
            // An owner's transaction holds the only slot, as a start in progress would.
            holder.setAutoCommit(false);
            assertThat(single(holder, "SELECT name FROM df_engine.locks WHERE name = 'new_transaction_start:1' FOR UPDATE"))
                    .isEqualTo("new_transaction_start:1");
            execute(c, "SET " + LIMIT + " = 100");
            execute(c, "SET " + TIMEOUT + " = 0");
            long started = System.nanoTime();
            assertThatThrownBy(() -> single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("53300");
                        assertThat(e.getMessage()).contains("df.start(): transaction_mode 'new' is at its limit of 1"
                                + " concurrent starts (" + LIMIT + "); none ended within 1 s (" + TIMEOUT + ")");
                    });
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(900));
            holder.rollback();
            assertThat(single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')")).matches("[0-9a-f]{8}");
        } finally {
            env.exec("ALTER DATABASE " + env.database() + " RESET " + LIMIT);
            env.exec("ALTER DATABASE " + env.database() + " RESET " + TIMEOUT);
        }
        assertThat(instanceCount()).isEqualTo(before + 1);
    }

    @Test
    void a_limit_of_zero_turns_new_off_and_a_malformed_limit_is_named() throws Exception {
        try (Connection c = env.connectAsApp()) {
            env.exec("ALTER DATABASE " + env.database() + " SET " + LIMIT + " = 0");
            assertThatThrownBy(() -> single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("55000");
                        assertThat(e.getMessage()).contains("transaction_mode 'new' is turned off on this server: "
                                + LIMIT + " is 0");
                    });
            env.exec("ALTER DATABASE " + env.database() + " SET " + LIMIT + " = 'many'");
            assertThatThrownBy(() -> single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("22023");
                        assertThat(e.getMessage()).contains(LIMIT
                                + " must be a whole number of concurrent starts between 0 and 100, got 'many'");
                    });
        } finally {
            env.exec("ALTER DATABASE " + env.database() + " RESET " + LIMIT);
        }
    }

    @Test
    void new_is_refused_in_a_read_only_transaction() throws Exception {
        try (Connection c = env.connectAsApp()) {
            c.setAutoCommit(false);
            execute(c, "SET TRANSACTION READ ONLY");
            assertThatThrownBy(() -> single(c, "SELECT df.start('SELECT 1', transaction_mode => 'new')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("25006");
                        assertThat(e.getMessage()).contains("cannot be used in a read-only transaction");
                    });
            c.rollback();
        }
    }

    private static long instanceCount() {
        return Long.parseLong(env.queryAsAdmin("SELECT count(*) FROM df.instances"));
    }
}
