package io.pgdurable.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.schema.SchemaInstaller;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * Attacks through table write privileges, which df users no longer have: locking df.vars to
 * block every df.start, and inserting rows by hand to learn whether another role's instance id
 * exists. An install upgraded from 0.1.0 loses the grants too.
 */
class WriteGrantAttackTest {
    private static final String BOB = "write_grant_bob";

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("write_grant");
        env.cluster().createLoginRole(BOB);
        env.exec("SELECT df.grant_usage('" + BOB + "')");
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void a_df_user_cannot_lock_df_vars_and_a_lock_it_may_take_does_not_block_df_start() throws SQLException {
        try (Connection alice = env.connectAsApp()) {
            assertThat(refusal(alice, "LOCK TABLE df.vars IN ACCESS EXCLUSIVE MODE").getSQLState()).isEqualTo("42501");
            alice.setAutoCommit(false);
            // What SELECT allows: ACCESS SHARE, which only DDL waits for.
            try (Statement s = alice.createStatement()) {
                s.execute("LOCK TABLE df.vars, df.instances, df.nodes IN ACCESS SHARE MODE");
            }
            try (Connection bob = env.cluster().connect(env.database(), BOB); Statement s = bob.createStatement()) {
                s.execute("SET statement_timeout = '10s'");
                s.execute("SELECT df.setvar('k', 'v')");
                try (ResultSet rs = s.executeQuery("SELECT df.start('SELECT {k}')")) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString(1)).matches("[0-9a-f]{8}");
                }
            }
            alice.rollback();
        }
    }

    @Test
    void inserting_an_instance_by_hand_is_refused_alike_for_another_roles_id_and_a_free_one() throws SQLException {
        String bobs;
        try (Connection bob = env.cluster().connect(env.database(), BOB)) {
            bobs = first(bob, "SELECT df.start('SELECT 1')");
        }
        try (Connection alice = env.connectAsApp()) {
            PSQLException taken = refusal(alice, "INSERT INTO df.instances (id, root_node) VALUES ('" + bobs + "', '00000000')");
            PSQLException free = refusal(alice, "INSERT INTO df.instances (id, root_node) VALUES ('0000f4ee', '00000000')");
            assertThat(taken.getSQLState()).isEqualTo(free.getSQLState()).isEqualTo("42501");
            assertThat(taken.getServerErrorMessage().getMessage()).isEqualTo(free.getServerErrorMessage().getMessage())
                    .isEqualTo("permission denied for table instances");
            assertThat(refusal(alice, "INSERT INTO df.nodes (id, instance_id, node_type, query)"
                    + " VALUES ('00000001', '0000f4ee', 'SQL', 'SELECT 1')").getSQLState()).isEqualTo("42501");
        }
        assertThat(env.queryAsAdmin("SELECT count(*) FROM df.instances WHERE id = '0000f4ee'")).isEqualTo("0");
    }

    @Test
    void an_upgrade_from_0_1_0_takes_back_the_write_grants_it_handed_out() throws SQLException {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createEmptyDatabase("write_grant_upgrade");
        for (String role : new String[] {"wg_up_app", "wg_up_admin", "wg_up_delegated"}) {
            cluster.createLoginRole(role);
        }
        SchemaInstaller installer = new SchemaInstaller();
        try (Connection admin = cluster.connect(db); Statement s = admin.createStatement()) {
            io.pgdurable.schema.Release010.install(admin);
            s.execute("SELECT df.grant_usage('wg_up_app')");
            s.execute("SELECT df.grant_usage('wg_up_admin', with_grant => true)");
            s.execute("SET ROLE wg_up_admin");
            s.execute("SELECT df.grant_usage('wg_up_delegated')");
            s.execute("RESET ROLE");
            assertThat(first(admin, "SELECT has_table_privilege('wg_up_delegated', 'df.vars', 'UPDATE')"))
                    .as("0.1.0 granted writes").isEqualTo("t");

            installer.install(admin);

            String writes = """
                    SELECT string_agg(r, ',' ORDER BY r) FROM unnest(ARRAY['wg_up_app', 'wg_up_admin', 'wg_up_delegated']) r
                     WHERE has_any_column_privilege(r, 'df.instances', 'INSERT')
                        OR has_any_column_privilege(r, 'df.nodes', 'INSERT')
                        OR has_table_privilege(r, 'df.vars', 'INSERT,UPDATE,DELETE,TRUNCATE')
                        OR has_function_privilege(r, 'df._launch(text,jsonb)', 'EXECUTE')
                    """;
            assertThat(first(admin, writes)).as("roles still holding a write privilege").isNull();
            assertThat(first(admin, "SELECT has_table_privilege('wg_up_delegated', 'df.vars', 'SELECT')")).isEqualTo("t");
        }
        try (Connection app = cluster.connect(db, "wg_up_delegated"); Statement s = app.createStatement()) {
            assertThat(refusal(app, "LOCK TABLE df.vars IN ACCESS EXCLUSIVE MODE").getServerErrorMessage().getMessage())
                    .isEqualTo("permission denied for table vars");
            s.execute("SELECT df.setvar('k', 'v')");
            assertThat(first(app, "SELECT df.start('SELECT {k}')")).matches("[0-9a-f]{8}");
            // The combinators' helper added after 0.1.0 (df._built) was granted by the upgrade.
            assertThat(first(app, "SELECT df.start('SELECT 1' ~> 'SELECT 2' ~> 'SELECT {k}')")).matches("[0-9a-f]{8}");
        }
    }

    /** The error of {@code sql}, run in a transaction of its own (LOCK TABLE needs one). */
    private static PSQLException refusal(Connection c, String sql) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (PSQLException e) {
            return e;
        } finally {
            c.rollback();
            c.setAutoCommit(autoCommit);
        }
        throw new AssertionError("not refused: " + sql);
    }

    private static String first(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getString(1);
        }
    }
}
