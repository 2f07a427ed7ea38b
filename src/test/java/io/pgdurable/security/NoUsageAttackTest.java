package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.DB_OWNER;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static io.pgdurable.security.SecurityFixture.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Roles that were never granted df usage (mallory, and the database's owner) call every function
 * of schema df and every operator built on one (but {@code ?>}, which only packs its operands
 * into a value), aimed at a live instance of alice's where an argument is text: each call is
 * refused with {@code permission denied} (42501), schema usage being the gate (USER_GUIDE 7.2),
 * and nothing changes. The functions and operators come from the
 * catalog, so one a later migration adds is tried too.
 */
class NoUsageAttackTest {
    private static SecurityFixture fx;
    private static String waiting;
    private static String done;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_nousage").startWorker();
        done = fx.startAs(ALICE, "'SELECT 1 AS one'");
        assertThat(fx.awaitAs(ALICE, done)).isEqualTo("completed");
        waiting = fx.startAs(ALICE, "df.wait_for_signal('go') ~> 'SELECT 2 AS two'");
        DfTestEnvironment.awaitTrue(() -> fx.count("SELECT count(*) FROM df.signal_waits WHERE instance_id = ?", waiting) == 1,
                PATIENCE, "alice's instance to wait for its signal");
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    /** A call of every df function: text arguments name alice's waiting instance, others are NULL. */
    private static List<String> functionCalls() {
        return fx.columnAs(SecurityFixture.SUPERUSER, """
                SELECT CASE p.prokind WHEN 'p' THEN 'CALL ' ELSE 'SELECT ' END
                       || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '('
                       || coalesce((SELECT string_agg(CASE WHEN t = 'text'::regtype THEN quote_literal(?)
                                                           ELSE 'NULL::' || format_type(t, NULL) END, ', ' ORDER BY i)
                                      FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, i)), '')
                       || ')'
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'df' AND p.prokind IN ('f', 'p')
                 ORDER BY p.proname, p.oid
                """, waiting);
    }

    /** A use of every operator whose function lives in df. */
    private static List<String> operatorUses() {
        return fx.columnAs(SecurityFixture.SUPERUSER, """
                SELECT 'SELECT ' || CASE WHEN o.oprleft = 0 THEN ''
                                         -- !> completes what ?> packed: give it that, so df is reached
                                         WHEN o.oprname = '!>' THEN quote_literal(jsonb_build_object('_partial_if', true,
                                             'condition', 'SELECT 1', 'then_branch', ?::text)) || '::text '
                                         ELSE quote_literal(?) || '::' || format_type(o.oprleft, NULL) || ' ' END
                       || 'OPERATOR(' || quote_ident(on_.nspname) || '.' || o.oprname || ') '
                       || quote_literal('SELECT 1') || '::' || format_type(o.oprright, NULL)
                  FROM pg_operator o
                  JOIN pg_namespace on_ ON on_.oid = o.oprnamespace
                  JOIN pg_proc p ON p.oid = o.oprcode
                 WHERE p.pronamespace = 'df'::regnamespace
                 ORDER BY o.oprname
                """, waiting, waiting);
    }

    @ParameterizedTest
    @ValueSource(strings = {MALLORY, DB_OWNER})
    void a_role_without_df_usage_can_call_no_df_function(String role) throws SQLException {
        List<String> calls = functionCalls();
        assertThat(calls).hasSizeGreaterThan(50)
                .contains("SELECT df.start('" + waiting + "', '" + waiting + "', '" + waiting + "', '" + waiting + "')",
                        "SELECT df.cancel('" + waiting + "', '" + waiting + "')",
                        "SELECT df.setvar('" + waiting + "', '" + waiting + "')",
                        "SELECT df.grant_usage('" + waiting + "', NULL::boolean, NULL::boolean)");

        SoftAssertions soft = new SoftAssertions();
        try (Connection c = fx.connect(role)) {
            for (String call : calls) {
                SecurityFixture.Refusal refusal = SecurityFixture.refusal(c, role, call);
                soft.assertThat(refusal.sqlState()).as("%s (%s)", call, refusal.message()).isEqualTo("42501");
                soft.assertThat(refusal.message()).as(call).isEqualTo("permission denied for schema df");
            }
        }
        soft.assertAll();
        assertNothingChanged(role);
    }

    @ParameterizedTest
    @ValueSource(strings = {MALLORY, DB_OWNER})
    void a_role_without_df_usage_can_use_no_df_operator(String role) throws SQLException {
        List<String> uses = operatorUses();
        assertThat(uses).hasSizeGreaterThanOrEqualTo(7);

        SoftAssertions soft = new SoftAssertions();
        try (Connection c = fx.connect(role)) {
            for (String use : uses) {
                if (use.contains("OPERATOR(pg_catalog.?>)")) {
                    // cond ?> then only packs its operands into a partial IF value, calling
                    // nothing in df; the !> that completes it is refused below.
                    continue;
                }
                SecurityFixture.Refusal refusal = SecurityFixture.refusal(c, role, use);
                soft.assertThat(refusal.sqlState()).as("%s (%s)", use, refusal.message()).isEqualTo("42501");
                soft.assertThat(refusal.message()).as(use).startsWith("permission denied for ");
            }
        }
        soft.assertAll();
        assertNothingChanged(role);
    }

    private static void assertNothingChanged(String role) {
        assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", waiting)).isEqualTo("running");
        assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", done)).isEqualTo("completed");
        assertThat(fx.count("SELECT count(*) FROM df.signal_buffer")).isZero();
        assertThat(fx.count("SELECT count(*) FROM df.instances WHERE submitted_by::text = ?", role)).isZero();
        assertThat(fx.count("SELECT count(*) FROM df.vars WHERE owner::text = ?", role)).isZero();
        assertThat(fx.query("SELECT has_schema_privilege(?, 'df', 'USAGE')", role)).isEqualTo("f");
        fx.assertCanaryUntouched();
    }
}
