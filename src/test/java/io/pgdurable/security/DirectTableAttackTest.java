package io.pgdurable.security;

import static io.pgdurable.security.SecurityFixture.ADMIN;
import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.BOB;
import static io.pgdurable.security.SecurityFixture.DB_OWNER;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every role goes at the tables, views and sequences of {@code df} and {@code df_engine} directly,
 * around the functions, while a worker runs. The relations come from the catalog, so a table a
 * later migration adds is attacked too. What the security model grants (USER_GUIDE 7.2: SELECT on
 * df.instances and df.nodes, INSERT of df.start's columns, df.vars, and for the delegated
 * administrator SELECT on df.workers and df._usage_functions) is left alone here; everything else
 * must be {@code permission denied} (42501). Then the attacks that the grants allow to be tried:
 * rewriting, deleting and forging rows, and planting an instance that the worker would run.
 */
class DirectTableAttackTest {
    private static final List<String> ROLES = List.of(ALICE, BOB, MALLORY, DB_OWNER, ADMIN);
    private static final Set<String> DF_USERS = Set.of(ALICE, BOB, ADMIN);

    private static SecurityFixture fx;
    private static String alicesRunning;
    private static String alicesDone;

    /** A table, view or sequence of df or df_engine, with a column an UPDATE may name. */
    private record Relation(String schema, String name, char kind, String column) {
        String qualified() {
            return schema + "." + name;
        }

        String kindWord() {
            return switch (kind) {
                case 'v' -> "view";
                case 'S' -> "sequence";
                default -> "table";
            };
        }

        @Override
        public String toString() {
            return qualified();
        }
    }

    private enum Action {
        SELECT, INSERT, UPDATE, DELETE, TRUNCATE, LOCK;

        /** The statement, or null where it does not apply to the relation's kind. */
        String statement(Relation r) {
            if (r.kind() == 'S') {
                return switch (this) {
                    case SELECT -> "SELECT nextval('" + r.qualified() + "')";
                    case UPDATE -> "SELECT setval('" + r.qualified() + "', 1)";
                    default -> null;
                };
            }
            return switch (this) {
                case SELECT -> "SELECT * FROM " + r.qualified() + " LIMIT 1";
                case INSERT -> "INSERT INTO " + r.qualified() + " DEFAULT VALUES";
                // A table without columns (a lock table) has nothing an UPDATE could name.
                case UPDATE -> r.column() == null ? null
                        : "UPDATE " + r.qualified() + " SET " + r.column() + " = " + r.column();
                case DELETE -> "DELETE FROM " + r.qualified();
                case TRUNCATE -> r.kind() == 'v' ? null : "TRUNCATE " + r.qualified();
                case LOCK -> "LOCK TABLE " + r.qualified() + " IN ACCESS EXCLUSIVE MODE";
            };
        }
    }

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_tables").startWorker();
        alicesDone = fx.startAs(ALICE, "'SELECT 42 AS answer'");
        assertThat(fx.awaitAs(ALICE, alicesDone)).isEqualTo("completed");
        alicesRunning = fx.startAs(ALICE, "df.wait_for_signal('go') ~> 'SELECT 1'");
        fx.execAs(BOB, "SELECT df.setvar('k', 'bob''s')");
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    private static List<Relation> relations() {
        List<Relation> out = new ArrayList<>();
        try (Connection c = fx.connect(SecurityFixture.SUPERUSER);
             var s = c.createStatement();
             var rs = s.executeQuery("""
                     SELECT n.nspname, c.relname, c.relkind,
                            (SELECT a.attname FROM pg_attribute a
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                AND a.attidentity = '' AND a.attgenerated = ''
                              ORDER BY a.attnum LIMIT 1)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname IN ('df', 'df_engine') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                      ORDER BY 1, 2
                     """)) {
            while (rs.next()) {
                out.add(new Relation(rs.getString(1), rs.getString(2), rs.getString(3).charAt(0), rs.getString(4)));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    /** True for what the security model grants the role (USER_GUIDE 7.2), which is not attacked here. */
    private static boolean granted(String role, Relation r, Action a) {
        if (!DF_USERS.contains(role) || !r.schema().equals("df")) {
            return false;
        }
        return switch (r.name()) {
            case "instances", "nodes" -> a == Action.SELECT || a == Action.INSERT;
            case "vars" -> true;
            // Keys are read through df._own_role_key (its own only), never from the table; nobody writes.
            case "_own_role_key" -> a == Action.SELECT;
            case "workers", "_usage_functions" -> role.equals(ADMIN) && a == Action.SELECT;
            default -> false;
        };
    }

    private static String expectedMessage(String role, Relation r) {
        if (r.schema().equals("df") && !DF_USERS.contains(role)) {
            return "permission denied for schema df";
        }
        return "permission denied for " + r.kindWord() + " " + r.name();
    }

    static Stream<Arguments> rolesAndActions() {
        return ROLES.stream().flatMap(role -> Stream.of(Action.values()).map(a -> Arguments.of(role, a)));
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("rolesAndActions")
    void no_role_reaches_a_df_or_engine_relation_beyond_its_grants(String role, Action action) throws SQLException {
        List<Relation> relations = relations();
        assertThat(relations).extracting(Relation::qualified)
                .contains("df_engine.activity_queue", "df_engine.history", "df.reconcile_runs", "df.signal_buffer",
                        "df.workers", "df.instances");
        SoftAssertions soft = new SoftAssertions();
        int attacked = 0;
        try (Connection c = fx.connect(role)) {
            // LOCK TABLE needs a transaction block; each statement runs in one of its own.
            c.setAutoCommit(false);
            for (Relation r : relations) {
                String sql = action.statement(r);
                if (sql == null || granted(role, r, action)) {
                    continue;
                }
                attacked++;
                SecurityFixture.Refusal refusal = SecurityFixture.refusal(c, role, sql);
                c.rollback();
                soft.assertThat(refusal.sqlState()).as("SQLSTATE of %s (%s)", sql, refusal.message()).isEqualTo("42501");
                soft.assertThat(refusal.message()).as("message of %s", sql).isEqualTo(expectedMessage(role, r));
            }
        }
        soft.assertAll();
        assertThat(attacked).isPositive();
        assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", alicesDone)).isEqualTo("completed");
        assertThat(fx.count("SELECT count(*) FROM df.nodes WHERE instance_id = ?", alicesRunning)).isEqualTo(3);
    }

    @Test
    void alice_cannot_mark_her_running_instance_completed_or_rewrite_a_nodes_result() {
        fx.refusalAs(ALICE, "UPDATE df.instances SET status = 'completed', completed_at = now() WHERE id = ?", alicesRunning)
                .is("42501", "permission denied for table instances");
        fx.refusalAs(ALICE, "UPDATE df.nodes SET result = '\"forged\"' WHERE instance_id = ?", alicesDone)
                .is("42501", "permission denied for table nodes");
        fx.refusalAs(ALICE, "UPDATE df.instances SET created_at = now() - interval '1 year' WHERE id = ?", alicesDone)
                .is("42501", "permission denied for table instances");

        assertThat(fx.query("SELECT status FROM df.instances WHERE id = ?", alicesRunning)).isEqualTo("running");
        assertThat(fx.queryAs(ALICE, "SELECT df.result(?)", alicesDone))
                .isEqualTo("{\"rows\": [{\"answer\": 42}], \"row_count\": 1}");
    }

    @Test
    void alice_cannot_delete_her_running_instance_from_under_the_worker() {
        fx.refusalAs(ALICE, "DELETE FROM df.instances WHERE id = ?", alicesRunning)
                .is("42501", "permission denied for table instances");
        fx.refusalAs(ALICE, "DELETE FROM df.nodes WHERE instance_id = ?", alicesRunning)
                .is("42501", "permission denied for table nodes");

        assertThat(fx.count("SELECT count(*) FROM df.nodes WHERE instance_id = ?", alicesRunning)).isEqualTo(3);
    }

    @Test
    void alice_cannot_hand_her_instance_or_her_variables_to_bob() {
        fx.refusalAs(ALICE, "UPDATE df.instances SET submitted_by = ?::regrole WHERE id = ?", BOB, alicesDone)
                .is("42501", "permission denied for table instances");
        fx.execAs(ALICE, "SELECT df.setvar('mine', 'alice''s')");
        SecurityFixture.Refusal vars = fx.refusalAs(ALICE, "UPDATE df.vars SET owner = ?::regrole WHERE name = 'mine'", BOB);
        assertThat(vars.sqlState()).isEqualTo("42501");
        // Row-level security stops it while the role may update its own variables; without that
        // grant it is the table privilege.
        assertThat(vars.message()).isIn("new row violates row-level security policy for table \"vars\"",
                "permission denied for table vars");

        assertThat(fx.query("SELECT submitted_by::text FROM df.instances WHERE id = ?", alicesDone)).isEqualTo(ALICE);
        assertThat(fx.queryAs(BOB, "SELECT df.getvar('mine')")).isNull();
    }

    @Test
    void alice_cannot_forge_a_row_submitted_by_bob() {
        for (String forged : List.of("?::regrole", "(SELECT oid FROM pg_roles WHERE rolname = ?)::regrole")) {
            SecurityFixture.Refusal refusal = fx.refusalAs(ALICE, "INSERT INTO df.instances (id, root_node, submitted_by)"
                    + " VALUES ('5ec00001', '5ec00002', " + forged + ")", BOB);
            assertThat(refusal.sqlState()).isEqualTo("42501");
            assertThat(refusal.message()).isIn("new row violates row-level security policy for table \"instances\"",
                    "permission denied for table instances");
        }
        SecurityFixture.Refusal vars = fx.refusalAs(ALICE,
                "INSERT INTO df.vars (name, value, owner) VALUES ('k', 'alice''s', ?::regrole)", BOB);
        assertThat(vars.sqlState()).isEqualTo("42501");
        assertThat(vars.message()).isIn("new row violates row-level security policy for table \"vars\"",
                "permission denied for table vars");

        assertThat(fx.count("SELECT count(*) FROM df.instances WHERE id = '5ec00001'")).isZero();
        assertThat(fx.queryAs(BOB, "SELECT df.getvar('k')")).isEqualTo("bob's");
    }

    @Test
    void an_instance_planted_by_hand_is_never_run_by_the_worker() {
        // Rows written around df.start are inert: no engine instance, so no worker ever runs them.
        String planted = "5ec0000a";
        try {
            fx.execAs(ALICE, "INSERT INTO df.instances (id, root_node) VALUES ('" + planted + "', '5ec0000b');"
                    + " INSERT INTO df.nodes (id, instance_id, node_type, query)"
                    + " VALUES ('5ec0000b', '" + planted + "', 'SQL', 'DELETE FROM canary')");
        } catch (IllegalStateException e) {
            // Without INSERT on the df tables nothing can be planted at all.
            assertThat(e.getMessage()).contains("permission denied for table instances");
            return;
        }
        // A workflow started after it runs to the end, so the worker has had every chance.
        String sentinel = fx.startAs(ALICE, "'SELECT 1' ~> 'SELECT 2'");
        assertThat(fx.awaitAs(ALICE, sentinel)).isEqualTo("completed");

        assertThat(fx.queryAs(ALICE, "SELECT df.status(?)", planted)).isEqualTo("pending");
        assertThat(fx.count("SELECT count(*) FROM df_engine.instances WHERE id = ?", planted)).isZero();
        fx.assertCanaryUntouched();
        // Launching it later is refused: only df.start's own transaction may.
        fx.refusalAs(ALICE, "SELECT df._launch(?, '{}')", planted)
                .is("55000", "instance " + planted + " was not created in the current transaction; use df.start()");
    }

    @Test
    void bob_cannot_attach_a_node_to_alices_instance() {
        SecurityFixture.Refusal refusal = fx.refusalAs(BOB, "INSERT INTO df.nodes (id, instance_id, node_type, query)"
                + " VALUES ('5ec00010', ?, 'SQL', 'DELETE FROM canary')", alicesRunning);
        // The node names bob as its submitter, so it can only belong to an instance of bob's.
        assertThat(refusal.sqlState()).isIn("23503", "42501");
        assertThat(fx.count("SELECT count(*) FROM df.nodes WHERE instance_id = ?", alicesRunning)).isEqualTo(3);
    }
}
