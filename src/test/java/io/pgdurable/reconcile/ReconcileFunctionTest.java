package io.pgdurable.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code df.reconcile()}, which comes with the schema. It is plain SQL around
 * {@code df_engine.reconcile_pass}, so it needs no PL/Java: an administrator allowed to
 * call it gets a pass as the function's owner, in the calling transaction, with the settings of
 * the server's configuration, whatever the calling session set.
 */
class ReconcileFunctionTest {
    private static final String ADMIN = "reconcile_fn_admin";
    private static final String APP = "reconcile_fn_app";

    private final TestCluster cluster = TestCluster.get();
    private String db;

    @BeforeEach
    void databaseWithTheFunction() throws Exception {
        ReconcileDatabase seeded = ReconcileDatabase.create("reconcile_fn");
        db = seeded.name();
        // Ten finished instances, ten days old: kept under the default retention of 30 days.
        seeded.seed(Seed.of(0x10, 10).agedAt(Instant.now().minus(Duration.ofDays(10))));
        cluster.createLoginRole(ADMIN);
        cluster.createLoginRole(APP);
        try (Connection c = cluster.connect(db); Statement s = c.createStatement()) {
            s.execute("GRANT USAGE ON SCHEMA df TO " + ADMIN);
            s.execute("GRANT EXECUTE ON FUNCTION df.reconcile() TO " + ADMIN);
            s.execute("SELECT df.grant_usage('" + APP + "')");
        }
    }

    @Test
    void an_administrators_session_settings_do_not_change_what_the_pass_removes() throws Exception {
        superuser("ALTER ROLE " + ADMIN + " SET pg_durable.retention_days = 0");
        try {
            Properties props = new Properties();
            props.setProperty("user", ADMIN);
            props.setProperty("options", "-c pg_durable.retention_days=0");
            try (Connection c = DriverManager.getConnection(cluster.jdbcUrl(db), props);
                 Statement s = c.createStatement()) {
                s.execute("SET pg_durable.retention_days = 1");
                JsonNode summary = reconcile(s);
                assertThat(summary.path("error").isMissingNode()).as(summary.toString()).isTrue();
                assertThat(summary.path("skipped").asBoolean()).isFalse();
                assertThat(summary.at("/settings/retention_days").asInt()).isEqualTo(30);
                assertThat(summary.at("/settings/hard_cap").asInt()).isEqualTo(Reconciler.HARD_CAP);
                assertThat(summary.path("instances_removed").asInt()).isZero();
            }
        } finally {
            superuser("ALTER ROLE " + ADMIN + " RESET pg_durable.retention_days");
        }
        assertThat(count("SELECT count(*) FROM df.instances")).isEqualTo(10);
    }

    @Test
    void the_retention_a_superuser_set_for_the_database_applies() throws Exception {
        superuser("ALTER DATABASE " + db + " SET pg_durable.retention_days = 7");
        try (Connection c = cluster.connect(db, ADMIN); Statement s = c.createStatement()) {
            JsonNode summary = reconcile(s);
            assertThat(summary.at("/settings/retention_days").asInt()).isEqualTo(7);
            assertThat(summary.path("instances_removed").asInt()).isEqualTo(10);
        }
        assertThat(count("SELECT count(*) FROM df.instances")).isZero();
        assertThat(count("SELECT count(*) FROM df.reconcile_runs WHERE trigger = 'sql' AND instances_removed = 10"))
                .isEqualTo(1);
    }

    @Test
    void a_df_user_may_not_call_it_nor_the_pass_behind_it() throws Exception {
        try (Connection c = cluster.connect(db, APP); Statement s = c.createStatement()) {
            assertThatThrownBy(() -> s.executeQuery("SELECT df.reconcile()"))
                    .hasMessageContaining("permission denied for function reconcile");
            assertThatThrownBy(() -> s.executeQuery("SELECT df_engine.reconcile_pass('sql')"))
                    .hasMessageContaining("permission denied for function reconcile_pass");
        }
        assertThat(count("SELECT count(*) FROM df.reconcile_runs")).isZero();
    }

    private static JsonNode reconcile(Statement s) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT df.reconcile()::text")) {
            rs.next();
            return JsonCodec.tree(rs.getString(1));
        }
    }

    private void superuser(String sql) throws SQLException {
        try (Connection c = cluster.connect("postgres"); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private long count(String sql) throws SQLException {
        try (Connection c = cluster.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
