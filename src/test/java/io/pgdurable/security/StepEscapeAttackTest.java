package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.BOB;
import static io.pgdurable.security.SecurityFixture.BOB_SECRET;
import static io.pgdurable.security.SecurityFixture.literal;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Alice's steps try to become someone else, or to act with the worker's (superuser) rights, or
 * to leave the transaction that makes a step exactly-once. A step runs on a connection that
 * authenticates as its submitter (USER_GUIDE 5.11, 7.4): nothing the step's SQL does changes
 * that, and transaction control is refused before anything runs.
 */
class StepEscapeAttackTest {
    private static SecurityFixture fx;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_escape").startWorker();
        fx.exec("CREATE TABLE public.identity_log (step text NOT NULL, cur text NOT NULL, sess text NOT NULL);"
                + "GRANT INSERT, SELECT ON public.identity_log TO " + ALICE + ";"
                + "CREATE PROCEDURE public.commit_inside() LANGUAGE plpgsql AS $$"
                + " BEGIN INSERT INTO public.canary VALUES (99, 'committed'); COMMIT; END $$;"
                + "GRANT EXECUTE ON PROCEDURE public.commit_inside() TO " + ALICE);
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    private static String failureOf(String sql) {
        return fx.failureOf(ALICE, literal(sql));
    }

    @Test
    void set_role_to_another_role_fails_the_step() {
        assertThat(failureOf("SET ROLE " + BOB)).isEqualTo("SQL execution failed: permission denied to set role \"" + BOB + "\"");
        assertThat(failureOf("SET ROLE postgres")).isEqualTo("SQL execution failed: permission denied to set role \"postgres\"");
        assertThat(failureOf("SELECT set_config('role', 'postgres', false)"))
                .isEqualTo("SQL execution failed: permission denied to set role \"postgres\"");
    }

    @Test
    void set_session_authorization_fails_the_step() {
        assertThat(failureOf("SET SESSION AUTHORIZATION postgres"))
                .isEqualTo("SQL execution failed: permission denied to set session authorization \"postgres\"");
        assertThat(failureOf("SET SESSION AUTHORIZATION " + BOB))
                .isEqualTo("SQL execution failed: permission denied to set session authorization \"" + BOB + "\"");
    }

    @Test
    void reset_role_inside_a_step_leaves_it_the_submitter() {
        // Each form of "back to who I really am" inside a step, then who the step is.
        String id = fx.startAs(ALICE, literal("RESET ROLE") + " ~> " + literal("SET ROLE NONE") + " ~> "
                + literal("SET SESSION AUTHORIZATION DEFAULT") + " ~> " + literal("RESET SESSION AUTHORIZATION")
                + " ~> " + literal("DO $$ BEGIN RESET ROLE; SET SESSION AUTHORIZATION DEFAULT;"
                        + " INSERT INTO identity_log VALUES ('do', current_user, session_user); END $$")
                + " ~> " + literal("INSERT INTO identity_log SELECT 'after', current_user, session_user"));
        assertThat(fx.awaitAs(ALICE, id)).isEqualTo("completed");

        assertThat(fx.columnAs(ALICE, "SELECT step || ':' || cur || ':' || sess FROM identity_log ORDER BY step"))
                .containsExactly("after:" + ALICE + ":" + ALICE, "do:" + ALICE + ":" + ALICE);
    }

    @Test
    void a_step_cannot_read_a_table_only_bob_may_read() {
        assertThat(failureOf("SELECT secret FROM bob_only"))
                .isEqualTo("SQL execution failed: permission denied for table bob_only");
        // The same step submitted by bob reads it: the step has its submitter's rights, no more.
        assertThat(fx.resultOf(BOB, literal("SELECT secret FROM bob_only")))
                .isEqualTo("{\"rows\": [{\"secret\": \"" + BOB_SECRET + "\"}], \"row_count\": 1}");
    }

    @Test
    void a_step_cannot_reach_the_engine_tables_or_the_lease_tokens() {
        assertThat(failureOf("SELECT lease_token FROM df_engine.activity_queue"))
                .isEqualTo("SQL execution failed: permission denied for table activity_queue");
        assertThat(failureOf("UPDATE df_engine.instances SET status = 'Completed'"))
                .isEqualTo("SQL execution failed: permission denied for table instances");
    }

    @Test
    void a_step_has_none_of_the_workers_superuser_rights() {
        Map<String, String> attempts = new LinkedHashMap<>();
        attempts.put("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres'"
                + " AND pid <> pg_backend_pid()", "must be a superuser to terminate superuser process");
        attempts.put("SELECT pg_read_file('/etc/hostname')", "permission denied for function pg_read_file");
        attempts.put("COPY (SELECT 1) TO PROGRAM 'true'",
                "must be superuser or have privileges of the pg_execute_server_program role to COPY to or from an external program");
        attempts.put("CREATE ROLE sec_escape_new SUPERUSER", "must be superuser to create superusers");
        attempts.put("ALTER ROLE " + ALICE + " SUPERUSER",
                "must be superuser to alter superuser roles or change superuser attribute");
        // Refused inside a transaction block first, then run again in autocommit, still as alice.
        attempts.put("ALTER SYSTEM SET work_mem = '1MB'", "permission denied to set parameter \"work_mem\"");
        attempts.put("CREATE DATABASE sec_escape_db", "permission denied to create database");
        List<String> ids = new ArrayList<>();
        for (String sql : attempts.keySet()) {
            ids.add(fx.startAs(ALICE, literal(sql)));
        }
        fx.awaitAll(ids);

        int i = 0;
        for (Map.Entry<String, String> attempt : attempts.entrySet()) {
            String id = ids.get(i++);
            assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", id)).as(attempt.getKey()).isEqualTo("failed");
            assertThat(fx.rootError(id)).as(attempt.getKey()).startsWith("SQL execution failed: " + attempt.getValue());
        }
        assertThat(fx.query("SELECT rolsuper FROM pg_roles WHERE rolname = ?", ALICE)).isEqualTo("f");
        assertThat(fx.count("SELECT count(*) FROM pg_roles WHERE rolname = 'sec_escape_new'")).isZero();
        assertThat(fx.count("SELECT count(*) FROM pg_database WHERE datname = 'sec_escape_db'")).isZero();
    }

    @Test
    void a_step_cannot_read_the_workers_statements_from_pg_stat_activity() {
        String result = fx.resultOf(ALICE, literal("SELECT count(*) FILTER (WHERE usename = 'postgres') > 0 AS sees_worker,"
                + " count(*) FILTER (WHERE usename = 'postgres' AND query <> '<insufficient privilege>') AS readable"
                + " FROM pg_stat_activity"));

        assertThat(result).isEqualTo("{\"rows\": [{\"readable\": 0, \"sees_worker\": true}], \"row_count\": 1}");
    }

    @Test
    void every_transaction_control_statement_is_refused_before_it_runs() {
        List<String> statements = List.of("BEGIN", "begin isolation level serializable", "START TRANSACTION", "COMMIT",
                "commit and chain", "END", "ROLLBACK", "ABORT", "SAVEPOINT s", "RELEASE SAVEPOINT s", "RELEASE s",
                "ROLLBACK TO SAVEPOINT s", "PREPARE TRANSACTION 'sec'", "COMMIT PREPARED 'sec'",
                "ROLLBACK PREPARED 'sec'", "  /* first */ -- then\n  Commit", "\nROLLBACK;");
        List<String> ids = new ArrayList<>();
        for (String sql : statements) {
            ids.add(fx.startAs(ALICE, literal(sql)));
        }
        fx.awaitAll(ids);

        for (int i = 0; i < statements.size(); i++) {
            String id = ids.get(i);
            String keyword = statements.get(i).replaceAll("(?s)/\\*.*?\\*/|--[^\n]*", "").strip().split("\\s+|;")[0]
                    .toUpperCase(java.util.Locale.ROOT);
            assertThat(fx.rootError(id)).as(statements.get(i)).isEqualTo("SQL steps run in a transaction of their own;"
                    + " transaction control (" + keyword + ") is not allowed in node " + fx.query(
                            "SELECT root_node FROM df.instances WHERE id = ?", id));
        }
        assertThat(fx.count("SELECT count(*) FROM pg_prepared_xacts")).isZero();
    }

    @Test
    void a_second_statement_cannot_commit_the_first_one_early() {
        String error = failureOf("INSERT INTO canary VALUES (98, 'early'); COMMIT");

        assertThat(error).startsWith("a SQL step must be a single statement, but node ").endsWith(" has 2; split it into steps with ~>");
        fx.assertCanaryUntouched();
    }

    @Test
    void commit_inside_a_do_block_or_a_procedure_fails_the_step_and_keeps_nothing() {
        assertThat(failureOf("DO $$ BEGIN INSERT INTO canary VALUES (97, 'do'); COMMIT; END $$"))
                .isEqualTo("SQL execution failed: invalid transaction termination");
        assertThat(failureOf("CALL commit_inside()")).isEqualTo("SQL execution failed: invalid transaction termination");
        fx.assertCanaryUntouched();
    }
}
