package io.pgdurable.reconcile;

import static io.pgdurable.testing.Jdbc.execute;
import static io.pgdurable.testing.Jdbc.single;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/**
 * The pg_cron alternative to the worker's cadence:
 * {@code SELECT cron.schedule('pg_durable_reconcile', '0 * * * *', 'SELECT df.reconcile()')}, run in
 * the database pg_cron is configured for ({@code cron.database_name}, {@code postgres} in the test
 * cluster). Waiting for the job to fire would take up to an hour, so the test schedules it, checks
 * the job pg_cron will run, and runs that job's command once itself.
 */
class ReconcileCronTest {
    private static final String JOB = "pg_durable_reconcile";
    private static final String COMMAND = "SELECT df.reconcile()";

    private final TestCluster cluster = TestCluster.get();

    @Test
    void the_documented_cron_job_is_scheduled_hourly_with_df_reconcile_in_the_cron_database() throws Exception {
        try (Connection c = cronDatabase()) {
            try {
                long jobId = schedule(c);
                assertThat(single(c, """
                        SELECT concat_ws('|', jobname, schedule, command, database, username, active)
                          FROM cron.job WHERE jobid =\s""" + jobId))
                        .isEqualTo(JOB + "|0 * * * *|" + COMMAND + "|postgres|" + TestCluster.SUPERUSER + "|t");
                // Scheduling again under the same name replaces the job rather than adding one.
                assertThat(schedule(c)).isEqualTo(jobId);
                assertThat(single(c, "SELECT count(*) FROM cron.job WHERE jobname = '" + JOB + "'")).isEqualTo("1");
            } finally {
                unschedule(c);
            }
            assertThat(single(c, "SELECT count(*) FROM cron.job WHERE jobname = '" + JOB + "'")).isEqualTo("0");
        }
    }

    @Test
    void the_cron_jobs_command_runs_one_reconciliation_pass() throws Exception {
        try (Connection c = cronDatabase()) {
            try {
                long jobId = schedule(c);
                String command = single(c, "SELECT command FROM cron.job WHERE jobid = " + jobId);
                boolean reconcileInstalled = single(c, "SELECT to_regprocedure('df.reconcile()') IS NOT NULL").equals("t");
                assumeTrue(reconcileInstalled, () -> (cluster.hasPlJavaLibrary()
                        ? "df.reconcile() is not installed in database postgres, where pg_cron runs its jobs"
                                + " (pljava-deploy/install.sql was not run there; PlJavaDeploymentTest covers"
                                + " df.reconcile() in its own database)"
                        : "PL/Java is absent, so df.reconcile() does not exist in database postgres, where pg_cron"
                                + " runs its jobs")
                        + ": the job is scheduled but its command cannot run in this cluster. Installs without"
                        + " PL/Java run `java -jar pg-durable.jar reconcile` from system cron instead"
                        + " (ReconcileCommandTest).");

                JsonNode summary = new ObjectMapper().readTree(single(c, command));
                assertThat(summary.has("error")).as(summary.toString()).isFalse();
                assertThat(summary.has("instances_removed")).isTrue();
                assertThat(single(c, "SELECT trigger FROM df.reconcile_runs WHERE id = " + summary.get("run_id").asLong()))
                        .isEqualTo("sql");
            } finally {
                unschedule(c);
            }
        }
    }

    /** A connection to the database pg_cron runs in, with the extension created. */
    private Connection cronDatabase() throws SQLException {
        assertThat(cluster.hasPgCron()).as("pg_cron preloaded in the test cluster (Debian package postgresql-15-cron)")
                .isTrue();
        Connection c = cluster.connect("postgres");
        try {
            assertThat(single(c, "SELECT current_setting('cron.database_name')")).isEqualTo("postgres");
            execute(c, "CREATE EXTENSION IF NOT EXISTS pg_cron");
            return c;
        } catch (SQLException | RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    /** The documented statement, verbatim; returns the job id. */
    private static long schedule(Connection c) throws SQLException {
        return Long.parseLong(single(c, "SELECT cron.schedule('pg_durable_reconcile', '0 * * * *', 'SELECT df.reconcile()')"));
    }

    private static void unschedule(Connection c) throws SQLException {
        execute(c, "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '" + JOB + "'");
    }
}
