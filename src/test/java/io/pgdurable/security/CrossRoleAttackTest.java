package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.ALICE_SECRET;
import static io.pgdurable.security.SecurityFixture.BOB;
import static io.pgdurable.security.SecurityFixture.DB_OWNER;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static io.pgdurable.security.SecurityFixture.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bob (and roles with no df usage at all) attack alice's instances on a running worker: every
 * read gives NULL or nothing, every control call the documented "not found" error, and alice's
 * instances go on as if nothing happened. USER_GUIDE 7.3: another role's instance id behaves
 * like an unknown one.
 */
class CrossRoleAttackTest {
    /** The role and key arguments of a helper: the caller's own, as the df functions pass them. */
    private static final String AS_ITSELF = "quote_ident(current_user)::regrole, df._caller_key()";
    /** ... and a claim to act as alice, with a key guessed at random. */
    private static final String AS_ALICE = "'" + ALICE + "'::regrole, gen_random_uuid()";
    private static SecurityFixture fx;
    /** Alice's completed instance; its result holds her secret. */
    private static String done;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_cross").startWorker();
        done = fx.startAs(ALICE, "'SELECT secret FROM alice_only' |=> 'payroll'", "alice-payroll");
        assertThat(fx.awaitAs(ALICE, done)).isEqualTo("completed");
        assertThat(fx.queryAs(ALICE, "SELECT df.result(?)", done)).contains(ALICE_SECRET);
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    /** An instance of alice's that waits for signal 'go', then returns the signal's data. */
    private static String aliceWaiting() {
        String id = fx.startAs(ALICE, "(df.wait_for_signal('go') |=> 'sig') ~> 'SELECT $sig.data AS got'");
        DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", id) == 1,
                PATIENCE, "alice's instance to wait for its signal");
        return id;
    }

    @Test
    void bob_reads_none_of_alices_rows_from_the_df_tables() {
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.instances WHERE id = ?", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.nodes WHERE instance_id = ?", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.instances WHERE submitted_by = ?::regrole", ALICE)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.nodes WHERE result::text LIKE '%secret%'")).isZero();
    }

    @Test
    void df_status_and_df_result_of_alices_instance_are_null_for_bob() {
        assertThat(fx.queryAs(BOB, "SELECT df.status(?)", done)).isNull();
        assertThat(fx.queryAs(BOB, "SELECT df.result(?)", done)).isNull();
        // The same calls as alice, for contrast.
        assertThat(fx.queryAs(ALICE, "SELECT df.status(?)", done)).isEqualTo("completed");
    }

    @Test
    void df_list_instances_shows_bob_none_of_alices_instances_whatever_the_filter() {
        String bobs = fx.startAs(BOB, "'SELECT 1'", "alice-payroll");
        assertThat(fx.awaitAs(BOB, bobs)).isEqualTo("completed");

        assertThat(fx.columnAs(BOB, "SELECT instance_id FROM df.list_instances()")).doesNotContain(done).contains(bobs);
        assertThat(fx.columnAs(BOB, "SELECT instance_id FROM df.list_instances('completed', 1000)")).doesNotContain(done);
        assertThat(fx.columnAs(BOB, "SELECT instance_id FROM df.list_instances(NULL, 1000, 'alice-payroll')"))
                .containsExactly(bobs);
        assertThat(fx.columnAs(BOB, "SELECT coalesce(output, '') FROM df.list_instances()"))
                .noneMatch(o -> o.contains(ALICE_SECRET));
    }

    @Test
    void a_cursor_taken_from_alices_listing_pages_only_through_bobs_instances() {
        String second = fx.startAs(ALICE, "'SELECT 2'");
        assertThat(fx.awaitAs(ALICE, second)).isEqualTo("completed");
        String cursor = fx.queryAs(ALICE, "SELECT next_cursor FROM df.list_instances(NULL, 1, NULL)");
        assertThat(cursor).isNotNull();

        assertThat(fx.columnAs(BOB, "SELECT instance_id FROM df.list_instances(NULL, 1000, NULL, ?)", cursor))
                .doesNotContain(done, second);
    }

    @Test
    void instance_info_executions_and_nodes_of_alices_instance_are_empty_for_bob() {
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.instance_info(?)", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.instance_executions(?, 100)", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.instance_nodes(?)", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df.instance_nodes(?, 10)", done)).isZero();
        // The SECURITY DEFINER helpers behind them check the caller too.
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df._engine_info(ARRAY[?], " + AS_ITSELF + ")", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df._engine_executions(?, 100, " + AS_ITSELF + ")", done)).isZero();
        // ... also when bob claims to act as alice, with a guessed key.
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df._engine_info(ARRAY[?], " + AS_ALICE + ")", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df._engine_executions(?, 100, " + AS_ALICE + ")", done)).isZero();
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df._node_statuses(?)", done)).isZero();
        // ... and show alice what they hide from bob.
        assertThat(fx.countAs(ALICE, "SELECT count(*) FROM df.instance_info(?)", done)).isEqualTo(1);
        assertThat(fx.countAs(ALICE, "SELECT count(*) FROM df.instance_nodes(?)", done)).isEqualTo(1);
    }

    @Test
    void df_explain_of_alices_instance_says_not_found_to_bob() {
        assertThat(fx.queryAs(BOB, "SELECT df.explain(?)", done)).isEqualTo("Instance '" + done + "' not found");
        assertThat(fx.queryAs(ALICE, "SELECT df.explain(?)", done)).contains("alice_only");
    }

    @Test
    void bob_cannot_await_alices_instance() {
        fx.refusalAs(BOB, "SELECT df.await_instance(?, 1)", done).is("42704", "Instance not found: " + done);
    }

    @Test
    void bob_cannot_cancel_alices_running_instance_and_it_runs_on() {
        String waiting = aliceWaiting();

        fx.refusalAs(BOB, "SELECT df.cancel(?)", waiting).is("42704", "Instance not found or access denied: " + waiting);
        fx.refusalAs(BOB, "SELECT df.cancel(?, 'by bob')", waiting).is("42704", "Instance not found or access denied: " + waiting);
        // The SECURITY DEFINER helper behind df.cancel, called directly.
        fx.refusalAs(BOB, "SELECT df._cancel(?, 'by bob', " + AS_ITSELF + ")", waiting)
                .is("42704", "Instance not found or access denied: " + waiting);
        fx.refusalAs(BOB, "SELECT df._cancel(?, 'by bob', " + AS_ALICE + ")", waiting)
                .is("42704", "Instance not found or access denied: " + waiting);

        assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", waiting)).isEqualTo("running");
        assertThat(fx.query("SELECT status FROM df_engine.instances WHERE id = ?", waiting)).isEqualTo("Running");
        fx.execAs(ALICE, "SELECT df.signal(?, 'go', '{\"from\": \"alice\"}')", waiting);
        assertThat(fx.awaitAs(ALICE, waiting)).isEqualTo("completed");
        assertThat(fx.queryAs(ALICE, "SELECT df.result(?)::jsonb #>> '{rows,0,got}'", waiting))
                .isEqualTo("{\"from\":\"alice\"}");
    }

    @Test
    void bob_cannot_signal_alices_waiting_instance_and_nothing_of_his_is_buffered() {
        String waiting = aliceWaiting();

        fx.refusalAs(BOB, "SELECT df.signal(?, 'go', '{\"from\": \"bob\"}')", waiting)
                .is("42704", "Instance not found or access denied: " + waiting);
        // The SECURITY DEFINER helper behind df.signal, called directly.
        fx.refusalAs(BOB, "SELECT df._signal(?, 'go', '{\"from\": \"bob\"}'::jsonb, " + AS_ITSELF + ")", waiting)
                .is("42704", "Instance not found or access denied: " + waiting);
        fx.refusalAs(BOB, "SELECT df._signal(?, 'go', '{\"from\": \"bob\"}'::jsonb, " + AS_ALICE + ")", waiting)
                .is("42704", "Instance not found or access denied: " + waiting);

        assertThat(fx.count("SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", waiting)).isZero();
        assertThat(fx.count("SELECT count(*) FROM df.signal_waits WHERE instance_id = ? AND routed_seq IS NOT NULL",
                waiting)).isZero();
        fx.execAs(ALICE, "SELECT df.signal(?, 'go', '{\"from\": \"alice\"}')", waiting);
        assertThat(fx.awaitAs(ALICE, waiting)).isEqualTo("completed");
        assertThat(fx.queryAs(ALICE, "SELECT df.result(?)::jsonb #>> '{rows,0,got}'", waiting))
                .isEqualTo("{\"from\":\"alice\"}");
    }

    @Test
    void a_security_definer_wrapper_of_bobs_acts_as_bob_for_alice_and_gives_her_nothing_of_bobs_beyond_it() {
        fx.exec("CREATE SCHEMA IF NOT EXISTS bob_api AUTHORIZATION " + BOB);
        fx.execAs(BOB, """
                CREATE OR REPLACE FUNCTION bob_api.start_report() RETURNS text
                LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
                AS $$ SELECT df.start('SELECT current_user AS who, secret FROM public.bob_only', 'bob-api') $$""");
        fx.execAs(BOB, "GRANT USAGE ON SCHEMA bob_api TO " + ALICE);
        fx.execAs(BOB, "GRANT EXECUTE ON FUNCTION bob_api.start_report() TO " + ALICE);

        String id = fx.queryAs(ALICE, "SELECT bob_api.start_report()");

        assertThat(fx.query("SELECT submitted_by::text FROM df.instances WHERE id = ?", id)).isEqualTo(BOB);
        assertThat(fx.awaitAs(BOB, id)).isEqualTo("completed");
        assertThat(fx.queryAs(BOB, "SELECT df.result(?)::jsonb #>> '{rows,0,who}'", id)).isEqualTo(BOB);
        // Outside the wrapper alice is alice: the instance is bob's, not hers.
        assertThat(fx.queryAs(ALICE, "SELECT df.result(?)", id)).isNull();
        assertThat(fx.countAs(ALICE, "SELECT count(*) FROM df.list_instances() WHERE instance_id = ?", id)).isZero();
        fx.refusalAs(ALICE, "SELECT df.cancel(?)", id).is("42704", "Instance not found or access denied: " + id);
    }

    @Test
    void each_role_reads_its_own_key_and_never_another_roles() {
        fx.queryAs(ALICE, "SELECT df.getvar('anything')");
        fx.queryAs(BOB, "SELECT df.getvar('anything')");

        assertThat(fx.countAs(ALICE, "SELECT count(*) FROM df._own_role_key")).isEqualTo(1);
        assertThat(fx.countAs(BOB, "SELECT count(*) FROM df._own_role_key k WHERE k.role = quote_ident(?)::regrole", ALICE))
                .isZero();
        fx.refusalAs(ALICE, "SELECT count(*) FROM df.role_keys").is("42501", "permission denied for table role_keys");
        assertThat(fx.count("SELECT count(*) FROM df.role_keys k WHERE k.role IN (quote_ident(?)::regrole,"
                + " quote_ident(?)::regrole)", ALICE, BOB)).isEqualTo(2);
    }

    @Test
    void a_role_that_bypasses_row_level_security_still_reads_only_its_own_key() throws SQLException {
        String reader = "sec_bypassrls";
        fx.environment().cluster().createLoginRole(reader);
        fx.exec("ALTER ROLE " + reader + " BYPASSRLS");
        fx.exec("SELECT df.grant_usage('" + reader + "')");
        fx.queryAs(ALICE, "SELECT df.getvar('anything')");
        fx.queryAs(reader, "SELECT df.getvar('anything')");

        assertThat(fx.countAs(reader, "SELECT count(*) FROM df._own_role_key")).isEqualTo(1);
        assertThat(fx.countAs(reader, "SELECT count(*) FROM df._own_role_key k WHERE k.role = quote_ident(?)::regrole",
                ALICE)).isZero();
        fx.refusalAs(reader, "SELECT count(*) FROM df.role_keys").is("42501", "permission denied for table role_keys");
    }

    @Test
    void a_roles_first_calls_in_two_sessions_at_once_do_not_wait_for_each_other() throws SQLException {
        String role = "sec_first_key";
        fx.environment().cluster().createLoginRole(role);
        fx.exec("SELECT df.grant_usage('" + role + "')");
        try (Connection first = fx.connect(role); Connection second = fx.connect(role)) {
            first.setAutoCommit(false);
            try (Statement s = first.createStatement()) {
                s.execute("SELECT df.getvar('anything')"); // creates the role's key, not committed yet
            }
            try (Statement s = second.createStatement()) {
                s.execute("SET statement_timeout = '5s'");
                s.execute("SELECT df.setvar('second', 'session')");
                try (ResultSet rs = s.executeQuery("SELECT df.getvar('second')")) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString(1)).isEqualTo("session");
                }
            }
            first.commit();
        }
        assertThat(fx.count("SELECT count(*) FROM df.role_keys k WHERE k.role = quote_ident(?)::regrole", role))
                .isEqualTo(1);
    }

    @Test
    void bobs_step_sees_only_bobs_rows_of_the_df_tables() {
        String result = fx.resultOf(BOB, SecurityFixture.literal("SELECT (SELECT count(*) FROM df.instances WHERE id = '"
                + done + "') AS instances, (SELECT count(*) FROM df.nodes WHERE instance_id = '" + done
                + "') AS nodes, (SELECT count(*) FROM df.instances WHERE submitted_by <> current_user::regrole) AS others"));

        assertThat(result).isEqualTo("{\"rows\": [{\"nodes\": 0, \"others\": 0, \"instances\": 0}], \"row_count\": 1}");
    }

    @Test
    void a_variable_of_bobs_is_never_substituted_into_alices_step() {
        fx.execAs(BOB, "SELECT df.setvar('bobs_secret', 'bob''s value')");

        String result = fx.resultOf(ALICE, "'SELECT ''{bobs_secret}'' AS v'");

        assertThat(result).isEqualTo("{\"rows\": [{\"v\": \"{bobs_secret}\"}], \"row_count\": 1}");
        assertThat(fx.queryAs(ALICE, "SELECT df.getvar('bobs_secret')")).isNull();
        assertThat(fx.countAs(ALICE, "SELECT count(*) FROM df.vars WHERE name = 'bobs_secret'")).isZero();
    }

    @Test
    void roles_without_df_usage_cannot_read_or_control_any_instance() {
        for (String role : List.of(MALLORY, DB_OWNER)) {
            fx.refusalAs(role, "SELECT df.status(?)", done).is("42501", "permission denied for schema df");
            fx.refusalAs(role, "SELECT df.result(?)", done).is("42501", "permission denied for schema df");
            fx.refusalAs(role, "SELECT * FROM df.list_instances()").is("42501", "permission denied for schema df");
            fx.refusalAs(role, "SELECT * FROM df.instance_info(?)", done).is("42501", "permission denied for schema df");
            fx.refusalAs(role, "SELECT df.explain(?)", done).is("42501", "permission denied for schema df");
            fx.refusalAs(role, "SELECT df.cancel(?)", done).is("42501", "permission denied for schema df");
            fx.refusalAs(role, "SELECT df.signal(?, 'go')", done).is("42501", "permission denied for schema df");
            fx.refusalAs(role, "SELECT * FROM df.instances").is("42501", "permission denied for schema df");
        }
    }
}
