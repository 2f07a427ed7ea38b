package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ADMIN;
import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.BOB;
import static io.pgdurable.security.SecurityFixture.DB_OWNER;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static io.pgdurable.security.SecurityFixture.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every role calls the engine's functions directly, against live instances of alice's, as if it
 * could drive the engine itself (USER_GUIDE 7.7 and 13): each call is {@code permission denied},
 * and the instances go on untouched. The only engine functions open to everyone are the activity
 * completions, guarded by the lease token: a wrong token completes nothing.
 */
class EngineFunctionAttackTest {
    private static final List<String> ROLES = List.of(ALICE, BOB, MALLORY, DB_OWNER, ADMIN);

    private static SecurityFixture fx;
    private static String running;
    private static String done;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_engine").startWorker();
        done = fx.startAs(ALICE, "'SELECT 42 AS answer'");
        assertThat(fx.awaitAs(ALICE, done)).isEqualTo("completed");
        running = fx.startAs(ALICE, "(df.wait_for_signal('go') |=> 'sig') ~> 'SELECT $sig.data AS got'");
        DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", running) == 1,
                PATIENCE, "alice's instance to wait for its signal");
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    /** The engine call, and the function name in its permission error. */
    static Stream<Arguments> engineCalls() {
        List<String[]> calls = List.of(
                new String[] {"SELECT df_engine.start_orchestration('5ec0f001', 'df.function_graph', '{}')", "start_orchestration"},
                new String[] {"SELECT df_engine.raise_event('%RUNNING%', 'go', '{\"forged\": true}')", "raise_event"},
                new String[] {"SELECT df_engine.cancel('%RUNNING%', 'forged')", "cancel"},
                new String[] {"SELECT * FROM df_engine.delete_instances(ARRAY['%DONE%', '%RUNNING%'])", "delete_instances"},
                new String[] {"SELECT * FROM df_engine.get_instance('%DONE%')", "get_instance"},
                new String[] {"SELECT * FROM df_engine.list_instances()", "list_instances"},
                new String[] {"SELECT df_engine.wake()", "wake"},
                new String[] {"SELECT df_engine.history_length('%RUNNING%', 1)", "history_length"});
        return ROLES.stream().flatMap(role -> calls.stream().map(c -> Arguments.of(role, c[0], c[1])));
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("engineCalls")
    void no_application_role_may_call_an_engine_function(String role, String call, String function) {
        String sql = call.replace("%RUNNING%", running).replace("%DONE%", done);

        fx.refusalAs(role, sql).is("42501", "permission denied for function " + function);

        assertThat(fx.query("SELECT status FROM df_engine.instances WHERE id = ?", running)).isEqualTo("Running");
        assertThat(fx.query("SELECT status FROM df_engine.instances WHERE id = ?", done)).isEqualTo("Completed");
        assertThat(fx.count("SELECT count(*) FROM df_engine.instances WHERE id = '5ec0f001'")).isZero();
        assertThat(fx.count("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?", running)).isZero();
    }

    @Test
    void the_engine_functions_application_roles_may_execute_are_only_the_token_guarded_completions() {
        for (String role : ROLES) {
            assertThat(fx.columnAs(SecurityFixture.SUPERUSER, """
                    SELECT p.proname::text FROM pg_proc p
                     WHERE p.pronamespace = 'df_engine'::regnamespace
                       AND has_function_privilege(?, p.oid, 'EXECUTE')
                     ORDER BY 1
                    """, role))
                    .as("df_engine functions %s may execute", role)
                    // is_terminal is a pure function of its argument; activity_lease_held, like the
                    // completions (complete_and_advance is the short path's), answers only for a
                    // caller holding the item's lease token; reset_step_session runs as its caller
                    // and only on the caller's own session.
                    .containsExactly("activity_lease_held", "complete_activity", "complete_activity_or_fail",
                            "complete_and_advance", "is_terminal", "reset_step_session");
        }
    }

    @Test
    void the_worker_side_signal_helpers_are_not_callable_by_application_roles() {
        for (String role : List.of(ALICE, BOB, ADMIN)) {
            fx.refusalAs(role, "SELECT df._route_signal(?, 'go', '{}'::jsonb, 1)", running)
                    .is("42501", "permission denied for function _route_signal");
            fx.refusalAs(role, "SELECT df._begin_signal_wait(?, 'k', 'go', ?, 'evt')", running, running)
                    .is("42501", "permission denied for function _begin_signal_wait");
            fx.refusalAs(role, "SELECT df._end_signal_wait(?, 'k', true)", running)
                    .is("42501", "permission denied for function _end_signal_wait");
        }
        for (String role : List.of(MALLORY, DB_OWNER)) {
            fx.refusalAs(role, "SELECT df._signal(?, 'go', '{}'::jsonb, NULL, NULL)", running)
                    .is("42501", "permission denied for schema df");
        }
        assertThat(fx.count("SELECT count(*) FROM df.signal_buffer WHERE instance_id = ?", running)).isZero();
        assertThat(fx.count("SELECT count(*) FROM df.signal_waits WHERE instance_id = ? AND routed_seq IS NULL",
                running)).isEqualTo(1);
    }

    @Test
    void a_wrong_lease_token_completes_nothing_and_the_step_finishes_with_its_own_result() throws SQLException {
        fx.exec("CREATE TABLE IF NOT EXISTS public.gate (n int); TRUNCATE public.gate; INSERT INTO public.gate VALUES (0);"
                + "GRANT ALL ON public.gate TO " + ALICE);
        try (Connection holder = fx.connect(SecurityFixture.SUPERUSER); Statement s = holder.createStatement()) {
            holder.setAutoCommit(false);
            s.execute("LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE");
            String id = fx.startAs(ALICE, "'UPDATE gate SET n = n + 1 RETURNING ''genuine'' AS result'");
            DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df_engine.activity_queue"
                    + " WHERE instance_id = ? AND lease_token IS NOT NULL", id) == 1, PATIENCE, "the step to be leased");
            long item = fx.count("SELECT id FROM df_engine.activity_queue WHERE instance_id = ?", id);

            for (String role : List.of(MALLORY, BOB, ALICE)) {
                for (String token : List.of(UUID.randomUUID().toString(), "00000000-0000-0000-0000-000000000000")) {
                    assertThat(fx.queryAs(role, "SELECT df_engine.complete_activity(?, ?::uuid, '\"forged\"')", item, token))
                            .as("%s completing item %d with token %s", role, item, token).isEqualTo("f");
                    assertThat(fx.queryAs(role, "SELECT df_engine.complete_activity(?, ?::uuid, '\"forged\"', true)",
                            item, token)).isEqualTo("f");
                    fx.refusalAs(role, "SELECT df_engine.complete_activity_or_fail(?, ?::uuid, '\"forged\"')", item, token)
                            .is("55000", "activity item " + item + " is no longer leased with this token");
                    fx.refusalAs(role, "SELECT * FROM df_engine.complete_and_advance(?, ?::uuid, '\"forged\"', 0, now(),"
                            + " '{\"history\": [], \"finish\": {\"status\": \"Completed\", \"output\": \"1\"}}', NULL, 1)",
                            item, token)
                            .is("55000", "activity item " + item + " is no longer leased with this token");
                }
                assertThat(fx.queryAs(role, "SELECT df_engine.complete_activity(?, NULL, '\"forged\"')", item)).isEqualTo("f");
            }
            assertThat(fx.count("SELECT count(*) FROM df_engine.activity_queue WHERE id = ?", item)).isEqualTo(1);
            assertThat(fx.count("SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?", id)).isZero();

            holder.rollback();
            assertThat(fx.awaitAs(ALICE, id)).isEqualTo("completed");
            assertThat(fx.queryAs(ALICE, "SELECT df.result(?)", id))
                    .isEqualTo("{\"rows\": [{\"result\": \"genuine\"}], \"row_count\": 1}");
        }
    }

    @Test
    void a_flood_of_notifications_on_the_engine_channel_only_wakes_the_worker() {
        StringBuilder flood = new StringBuilder("SELECT count(pg_notify('df_engine', p)) FROM (VALUES ");
        List<String> payloads = List.of("", "'; DROP TABLE canary; --", running, "{\"instance_id\":\"" + running + "\"}",
                "cancel " + running, "x".repeat(7000));
        for (int i = 0; i < payloads.size(); i++) {
            flood.append(i == 0 ? "" : ", ").append("(").append(SecurityFixture.literal(payloads.get(i))).append(")");
        }
        flood.append(") v(p), generate_series(1, 100)");
        fx.execAs(MALLORY, flood.toString());

        String after = fx.startAs(ALICE, "'SELECT 1 AS one'");
        assertThat(fx.awaitAs(ALICE, after)).isEqualTo("completed");
        assertThat(fx.query("SELECT status FROM df_engine.instances WHERE id = ?", running)).isEqualTo("Running");
        fx.assertCanaryUntouched();
    }
}
