package io.pgdurable.worker;

import static io.pgdurable.testing.Jdbc.execute;
import static io.pgdurable.testing.Jdbc.single;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.pgdurable.testing.TestCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * {@code df.schedule_worker()} and {@code df.unschedule_worker()} on a server that preloads pg_cron
 * where {@code CREATE EXTENSION pg_cron} may not have been run: the error's hint is the statement to
 * run where the caller is, and running it works. The test cluster preloads pg_cron with
 * {@code cron.database_name = 'postgres'}. {@code df.run_worker} comes with PL/Java; a stand-in
 * takes its place here, since only its existence is checked.
 */
class ScheduleWorkerCronSetupTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final String DB = "schedule_cron_setup";
    private static final String ADMIN = "schedule_cron_setup_ops";
    private static final String STAND_IN =
            "CREATE OR REPLACE FUNCTION df.run_worker(seconds integer DEFAULT 55) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$";

    @BeforeAll
    static void setUp() throws SQLException {
        assertThat(CLUSTER.hasPgCron()).as("pg_cron preloaded in the test cluster (Debian package postgresql-15-cron)")
                .isTrue();
        CLUSTER.createDatabase(DB);
        CLUSTER.createLoginRole(ADMIN);
        try (Connection c = CLUSTER.connect(DB)) {
            execute(c, STAND_IN);
            execute(c, "GRANT USAGE ON SCHEMA df TO " + ADMIN);
            execute(c, "GRANT EXECUTE ON FUNCTION df.schedule_worker(integer), df.unschedule_worker() TO " + ADMIN);
        }
    }

    @Test
    void from_another_database_the_hint_creates_pg_cron_in_the_cron_database_and_schedules_there() throws Exception {
        String job = "pg_durable_worker_" + DB;
        String hint;
        try (Connection c = CLUSTER.connect(DB)) {
            PSQLException e = refusal(c, "SELECT df.schedule_worker(50)");
            assertThat(e.getSQLState()).isEqualTo("55000");
            assertThat(e.getServerErrorMessage().getMessage()).isEqualTo("pg_cron is not installed in database " + DB
                    + ": pg_cron lives in database \"postgres\" (cron.database_name)");
            hint = e.getServerErrorMessage().getHint();
            assertThat(hint).isEqualTo("Run in database \"postgres\": CREATE EXTENSION IF NOT EXISTS pg_cron;"
                    + " SELECT cron.schedule_in_database('" + job + "', '* * * * *', 'SELECT df.run_worker(50)', '"
                    + DB + "');");
        }
        try (Connection cron = CLUSTER.connect("postgres")) {
            try {
                execute(cron, hint.substring(hint.indexOf(':') + 2));
                assertThat(single(cron, "SELECT concat_ws('|', schedule, command, database) FROM cron.job WHERE jobname = '"
                        + job + "'")).isEqualTo("* * * * *|SELECT df.run_worker(50)|" + DB);
            } finally {
                execute(cron, "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '" + job + "'");
            }
        }
        try (Connection c = CLUSTER.connect(DB)) {
            PSQLException e = refusal(c, "SELECT df.unschedule_worker()");
            assertThat(e.getServerErrorMessage().getHint())
                    .isEqualTo("Run in database \"postgres\": SELECT cron.unschedule('" + job + "');");
        }
    }

    @Test
    void in_the_cron_database_without_the_extension_the_hint_is_create_extension_then_schedule_worker() throws Exception {
        // In one transaction that is rolled back: the cron database as it is before CREATE EXTENSION
        // pg_cron, with these functions and the stand-in for df.run_worker.
        try (Connection c = CLUSTER.connect("postgres")) {
            c.setAutoCommit(false);
            try {
                execute(c, "DROP EXTENSION IF EXISTS pg_cron");
                execute(c, "CREATE SCHEMA IF NOT EXISTS df");
                execute(c, "DO $do$ BEGIN IF to_regprocedure('df.run_worker(integer)') IS NULL THEN EXECUTE $s$"
                        + STAND_IN + "$s$; END IF; END $do$");
                execute(c, Files.readString(projectDir().resolve("sql/functions/15_worker_schedule.sql")));

                execute(c, "SAVEPOINT before");
                PSQLException e = refusal(c, "SELECT df.schedule_worker()");
                assertThat(e.getSQLState()).isEqualTo("55000");
                assertThat(e.getServerErrorMessage().getMessage()).isEqualTo("pg_cron is not installed in database postgres:"
                        + " this is pg_cron's database (cron.database_name), but its extension has not been created here");
                String hint = e.getServerErrorMessage().getHint();
                assertThat(hint).isEqualTo("Run in database \"postgres\": CREATE EXTENSION pg_cron; SELECT df.schedule_worker(55);")
                        .doesNotContain("schedule_in_database");
                execute(c, "ROLLBACK TO SAVEPOINT before");

                execute(c, "SAVEPOINT before_unschedule");
                assertThat(refusal(c, "SELECT df.unschedule_worker()").getServerErrorMessage().getHint())
                        .startsWith("Nothing to unschedule. To schedule the worker, run in database \"postgres\":"
                                + " CREATE EXTENSION pg_cron;");
                execute(c, "ROLLBACK TO SAVEPOINT before_unschedule");

                // The hint, as given, schedules the worker.
                execute(c, "CREATE EXTENSION pg_cron");
                long jobId = Long.parseLong(single(c, "SELECT df.schedule_worker(55)"));
                assertThat(single(c, "SELECT command FROM cron.job WHERE jobid = " + jobId))
                        .isEqualTo("SELECT df.run_worker(55)");
            } finally {
                c.rollback();
            }
        }
    }

    @Test
    void a_delegated_admin_who_cannot_read_server_settings_is_told_which_setting_names_the_database() throws Exception {
        try (Connection c = CLUSTER.connect(DB, ADMIN)) {
            PSQLException e = refusal(c, "SELECT df.schedule_worker()");
            assertThat(e.getServerErrorMessage().getMessage()).isEqualTo("pg_cron is not installed in database " + DB);
            assertThat(e.getServerErrorMessage().getHint()).startsWith(
                    "In the database named by cron.database_name, run: CREATE EXTENSION IF NOT EXISTS pg_cron;"
                            + " SELECT cron.schedule_in_database('pg_durable_worker_" + DB + "'");
        }
    }

    private static PSQLException refusal(Connection c, String sql) {
        Throwable thrown = catchThrowable(() -> single(c, sql));
        assertThat(thrown).as("%s fails", sql).isInstanceOf(PSQLException.class);
        return (PSQLException) thrown;
    }

    private static Path projectDir() {
        return Path.of(System.getProperty("pgdurable.test.projectDir", ".")).toAbsolutePath();
    }
}
