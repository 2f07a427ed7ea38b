package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.JsonCodec;
import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.testing.ProcessResult;
import io.pgdurable.testing.TestCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * Attack: a role with no df rights at all takes the advisory lock key that {@code df.run_worker}
 * used (derived from a public name), and no in-database worker runs again until it lets go.
 * Now the worker locks the row {@code run_worker} of {@code df_engine.locks}, which only its
 * owner can lock. Needs PL/Java; skipped without it.
 */
class RunWorkerLockAttackTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static final Path PROJECT = Path.of(System.getProperty("pgdurable.test.projectDir", "."));
    private static final String OUTSIDER = "rwl_outsider";
    private static final String OLD_KEY =
            "('x' || left(encode(sha256(convert_to('pg_durable:run_worker', 'UTF8')), 'hex'), 16))::bit(64)::bigint";
    private static String db;

    @BeforeAll
    static void install() {
        Assumptions.assumeTrue(CLUSTER.hasPlJavaLibrary() && CLUSTER.isExtensionAvailable("pljava"),
                "PL/Java is not installed for this PostgreSQL: skipping the df.run_worker lock tests");
        db = CLUSTER.createEmptyDatabase("run_worker_lock");
        Path jar = CLUSTER.copyForServer(PROJECT.resolve("target/pg-durable.jar"));
        ProcessResult r = CLUSTER.psql(db, "-v", "jar=" + jar, "-f",
                PROJECT.resolve("target/pljava-deploy/install.sql").toString());
        assertThat(r.exitCode()).as("install.sql:%n%s", r.output()).isZero();
        CLUSTER.createLoginRole(OUTSIDER);
    }

    @Test
    void a_role_without_df_usage_can_neither_take_the_workers_lock_nor_stop_it_with_the_old_advisory_key()
            throws SQLException {
        try (Connection outsider = CLUSTER.connect(db, OUTSIDER); Statement s = outsider.createStatement()) {
            s.execute("SELECT pg_advisory_lock(" + OLD_KEY + ")");
            outsider.setAutoCommit(false);
            try {
                s.execute("SELECT 1 FROM df_engine.locks WHERE name = 'run_worker' FOR UPDATE SKIP LOCKED");
                throw new AssertionError("the outsider locked the worker's row");
            } catch (PSQLException e) {
                assertThat(e.getSQLState()).isEqualTo("42501");
                assertThat(e.getServerErrorMessage().getMessage()).isEqualTo("permission denied for table locks");
            }
            outsider.rollback();

            assertThat(JsonCodec.tree(query("SELECT df.run_worker(1)::text")).path("ran").asBoolean())
                    .as("df.run_worker ran while the outsider held the old key").isTrue();
        }
    }

    @Test
    void a_second_run_worker_in_the_same_database_returns_at_once_without_running() throws Exception {
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                return query("SELECT df.run_worker(6)::text");
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
        // Watched without locking: a probe that took the row itself, even for one statement, could
        // make the first run find it locked and return at once.
        DfTestEnvironment.awaitTrue(() -> first.isDone() || "t".equals(queryQuietly(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE relation = 'df_engine.locks'::regclass"
                + " AND mode = 'RowShareLock' AND granted AND pid <> pg_catalog.pg_backend_pid())"
                + " AND (SELECT xmax <> '0' FROM df_engine.locks WHERE name = 'run_worker')")),
                Duration.ofSeconds(30), "the first run to hold its lock");
        String second = query("SELECT df.run_worker(1)::text");
        String firstSummary = first.get();
        assertThat(JsonCodec.tree(firstSummary).path("ran").asBoolean()).as(firstSummary).isTrue();
        assertThat(JsonCodec.tree(second).path("reason").asText()).as(second)
                .isEqualTo("another df.run_worker() is running in this database");
    }

    private static String query(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static String queryQuietly(String sql) {
        try {
            return query(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }
}
