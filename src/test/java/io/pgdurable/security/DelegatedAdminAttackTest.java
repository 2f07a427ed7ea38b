package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ADMIN;
import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static io.pgdurable.security.SecurityFixture.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The delegated administrator, {@code df.grant_usage(role, with_grant => true)}, can do exactly
 * what USER_GUIDE 7.1 and 7.2 say: grant and revoke usage (as far as it granted it), read
 * df.metrics and df.workers, and use df for itself. It cannot see or control other roles'
 * instances, reach the engine or the reconciliation records, schedule the worker, or hand out the
 * HTTP functions it does not hold.
 */
class DelegatedAdminAttackTest {
    private static SecurityFixture fx;
    private static String alicesWaiting;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_admin").startWorker();
        alicesWaiting = fx.startAs(ALICE, "df.wait_for_signal('go') ~> 'SELECT 1 AS one'", "alice-job");
        DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df.signal_waits WHERE instance_id = ?",
                alicesWaiting) == 1, PATIENCE, "alice's instance to wait for its signal");
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    @AfterEach
    void mallorysUsageIsGone() {
        fx.exec("SET client_min_messages = warning; SELECT df.revoke_usage('" + MALLORY + "')");
        assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", alicesWaiting)).isEqualTo("running");
    }

    @Test
    void the_admin_grants_usage_and_revokes_it_again() {
        fx.execAs(ADMIN, "SELECT df.grant_usage(?)", MALLORY);
        assertThat(fx.resultOf(MALLORY, "'SELECT current_user AS who'"))
                .isEqualTo("{\"rows\": [{\"who\": \"" + MALLORY + "\"}], \"row_count\": 1}");

        fx.execAs(ADMIN, "SELECT df.revoke_usage(?)", MALLORY);
        fx.assertRefused(MALLORY, "SELECT df.start('SELECT 1')", "42501", "permission denied for schema df");
    }

    @Test
    void the_admin_reads_cluster_wide_metrics_and_the_workers() {
        assertThat(fx.countAs(ADMIN, "SELECT total_instances FROM df.metrics()")).isPositive();
        assertThat(fx.countAs(ADMIN, "SELECT running_instances FROM df.metrics()")).isPositive();
        assertThat(fx.countAs(ADMIN, "SELECT count(*) FROM df.workers WHERE last_seen_at > now() - interval '1 minute'"))
                .isPositive();
        assertThat(fx.countAs(ADMIN, "SELECT count(*) FROM df._usage_functions")).isPositive();
    }

    @Test
    void the_admin_sees_and_controls_none_of_alices_instances() {
        assertThat(fx.queryAs(ADMIN, "SELECT df.status(?)", alicesWaiting)).isNull();
        assertThat(fx.countAs(ADMIN, "SELECT count(*) FROM df.instances WHERE id = ?", alicesWaiting)).isZero();
        assertThat(fx.columnAs(ADMIN, "SELECT instance_id FROM df.list_instances(NULL, 100, 'alice-job')")).isEmpty();
        assertThat(fx.queryAs(ADMIN, "SELECT df.explain(?)", alicesWaiting)).isEqualTo("Instance '" + alicesWaiting + "' not found");
        fx.refusalAs(ADMIN, "SELECT df.cancel(?)", alicesWaiting)
                .is("42704", "Instance not found or access denied: " + alicesWaiting);
        fx.refusalAs(ADMIN, "SELECT df._cancel(?, 'admin', quote_ident(current_user)::regrole, df._caller_key())", alicesWaiting)
                .is("42704", "Instance not found or access denied: " + alicesWaiting);
        fx.refusalAs(ADMIN, "SELECT df.signal(?, 'go')", alicesWaiting)
                .is("42704", "Instance not found or access denied: " + alicesWaiting);
        fx.refusalAs(ADMIN, "SELECT df._signal(?, 'go', '{}'::jsonb, quote_ident(current_user)::regrole, df._caller_key())", alicesWaiting)
                .is("42704", "Instance not found or access denied: " + alicesWaiting);
    }

    @Test
    void the_admin_cannot_reach_the_engine_the_reconciliation_records_or_the_worker_schedule() {
        fx.assertRefused(ADMIN, "SELECT * FROM df_engine.instances", "42501", "permission denied for table instances");
        fx.assertRefused(ADMIN, "SELECT df_engine.cancel('" + alicesWaiting + "')", "42501",
                "permission denied for function cancel");
        fx.assertRefused(ADMIN, "SELECT * FROM df.reconcile_runs", "42501", "permission denied for table reconcile_runs");
        fx.assertRefused(ADMIN, "DELETE FROM df.reconcile_runs", "42501", "permission denied for table reconcile_runs");
        fx.assertRefused(ADMIN, "SELECT df.schedule_worker()", "42501", "permission denied for function schedule_worker");
        fx.assertRefused(ADMIN, "SELECT df.unschedule_worker()", "42501", "permission denied for function unschedule_worker");
        fx.assertRefused(ADMIN, "DELETE FROM df_engine.workers", "42501", "permission denied for table workers");
    }

    @Test
    void the_admin_cannot_hand_out_the_http_functions_and_grants_nothing_when_it_tries() {
        fx.refusalAs(ADMIN, "SELECT df.grant_usage(?, include_http => true)", MALLORY)
                .is("42501", "permission denied for function http");

        assertThat(fx.query("SELECT has_schema_privilege(?, 'df', 'USAGE')", MALLORY)).isEqualTo("f");
        assertThat(fx.query("SELECT has_function_privilege(?, 'df.http(text,text,text,jsonb,integer)', 'EXECUTE')",
                MALLORY)).isEqualTo("f");
    }

    @Test
    void revoking_usage_the_admin_did_not_grant_leaves_it_in_place() {
        fx.execAs(ADMIN, "SELECT df.revoke_usage(?)", ALICE);

        assertThat(fx.query("SELECT has_schema_privilege(?, 'df', 'USAGE')", ALICE)).isEqualTo("t");
        assertThat(fx.resultOf(ALICE, "'SELECT 2 AS two'")).isEqualTo("{\"rows\": [{\"two\": 2}], \"row_count\": 1}");
    }
}
