package io.pgdurable.security;

import static io.pgdurable.testing.Jdbc.single;
import static io.pgdurable.security.SecurityFixture.ALICE;
import static io.pgdurable.security.SecurityFixture.BOB;
import static io.pgdurable.security.SecurityFixture.DB_OWNER;
import static io.pgdurable.security.SecurityFixture.MALLORY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * {@code df.start(..., transaction_mode => 'new')} opens a dblink connection as the installing
 * superuser and then acts as the caller. None of the roles it serves may steer that connection, act
 * as another role through it, keep it, or hold the turns that bound it. The fixture's database is
 * owned by a non-superuser ({@link SecurityFixture#DB_OWNER}), who therefore controls schema
 * {@code public}.
 */
class NewTransactionStartAttackTest {
    private static final String START_NEW = "SELECT df.start('SELECT 1', transaction_mode => 'new')";

    private static SecurityFixture fx;

    @BeforeAll
    static void setUp() {
        fx = SecurityFixture.create("sec_txn_new");
        fx.exec("CREATE SCHEMA dblink");
        fx.exec("CREATE EXTENSION dblink SCHEMA dblink");
    }

    @AfterAll
    static void tearDown() {
        fx.close();
    }

    @Test
    void dblink_in_public_of_a_database_a_non_superuser_owns_is_not_used() {
        long before = fx.count("SELECT count(*) FROM df.instances");
        fx.exec("ALTER EXTENSION dblink SET SCHEMA public");
        try {
            // The owner could rename public and plant a dblink_connect_u of its own, which the
            // superuser-owned start would then call.
            fx.refusalAs(ALICE, START_NEW).is("55000", "will not use dblink from schema \"public\": it is controlled by"
                    + " role \"" + DB_OWNER + "\", which is not a superuser");
        } finally {
            fx.exec("ALTER EXTENSION dblink SET SCHEMA dblink");
        }
        assertThat(fx.count("SELECT count(*) FROM df.instances")).isEqualTo(before);
    }

    @Test
    void without_dblink_the_hint_names_a_schema_of_its_own_when_a_non_superuser_owns_the_database() throws SQLException {
        fx.exec("DROP EXTENSION dblink");
        try (Connection c = fx.connect(ALICE)) {
            Throwable thrown = catchThrowable(() -> single(c, START_NEW));
            assertThat(thrown).isInstanceOf(PSQLException.class);
            ServerErrorMessage error = ((PSQLException) thrown).getServerErrorMessage();
            assertThat(error.getMessage())
                    .contains("needs the dblink extension, which is not created in database \"" + fx.database() + "\"");
            assertThat(error.getHint()).isEqualTo("A superuser runs, in database \"" + fx.database()
                    + "\": CREATE SCHEMA dblink; CREATE EXTENSION dblink SCHEMA dblink;");
        } finally {
            fx.exec("CREATE EXTENSION dblink SCHEMA dblink");
        }
    }

    @Test
    void a_role_cannot_start_through_the_helper_as_another_role() {
        long before = fx.count("SELECT count(*) FROM df.instances");
        String refusal = "df.start(): the caller (session user \"" + ALICE + "\") has not shown that it acts as role "
                + BOB + "; call df.start() as that role";
        fx.refusalAs(ALICE, "SELECT df._start_new_transaction(?::regrole, NULL, 'SELECT 1', NULL, NULL)", BOB)
                .is("42501", refusal);
        // A guessed key is no better than none: only bob can read bob's.
        fx.refusalAs(ALICE, "SELECT df._start_new_transaction(?::regrole, gen_random_uuid(), 'SELECT 1', NULL, NULL)", BOB)
                .is("42501", refusal);
        assertThat(fx.count("SELECT count(*) FROM df.instances")).isEqualTo(before);
    }

    @Test
    void a_role_without_usage_reaches_neither_df_start_nor_the_helper() {
        fx.refusalAs(MALLORY, START_NEW).is("42501", "permission denied for schema df");
        fx.refusalAs(MALLORY, "SELECT df._start_new_transaction(?::regrole, NULL, 'SELECT 1', NULL, NULL)", MALLORY)
                .is("42501", "permission denied for schema df");
    }

    @Test
    void no_superuser_connection_outlives_the_call_even_when_the_start_fails() throws SQLException {
        fx.exec("GRANT USAGE ON SCHEMA dblink TO " + ALICE);
        try (Connection c = fx.connect(ALICE)) {
            assertThat(single(c, START_NEW)).matches("[0-9a-f]{8}");
            assertThat(single(c, "SELECT dblink.dblink_get_connections() IS NULL")).isEqualTo("t");
            assertThat(SecurityFixture.refusal(c, ALICE,
                    "SELECT df.start('SELECT 1', repeat('x', 501), transaction_mode => 'new')").sqlState())
                    .isEqualTo("54000");
            assertThat(single(c, "SELECT dblink.dblink_get_connections() IS NULL")).isEqualTo("t");
        } finally {
            fx.exec("REVOKE USAGE ON SCHEMA dblink FROM " + ALICE);
        }
    }

    @Test
    void a_connection_already_open_under_the_helpers_name_is_neither_used_nor_closed() throws SQLException {
        long before = fx.count("SELECT count(*) FROM df.instances");
        try (Connection c = fx.connect(SecurityFixture.SUPERUSER)) {
            // Ordinary roles cannot open dblink connections without a password; a superuser's
            // session stands in for whoever had opened one under that name in this backend.
            single(c, "SELECT dblink.dblink_connect_u('pg_durable_start_new_transaction', format('host=%s port=%s dbname=%s',"
                    + " split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),"
                    + " current_database()))");
            try (Statement st = c.createStatement()) {
                st.execute("SET ROLE " + ALICE);
            }
            assertThat(SecurityFixture.refusal(c, ALICE, START_NEW).message()).contains("duplicate connection name");
            try (Statement st = c.createStatement()) {
                st.execute("RESET ROLE");
            }
            assertThat(single(c, "SELECT dblink.dblink_get_connections()::text")).isEqualTo("{pg_durable_start_new_transaction}");
            assertThat(single(c, "SELECT x FROM dblink.dblink('pg_durable_start_new_transaction', 'SELECT 1') AS t(x int)"))
                    .isEqualTo("1");
        }
        assertThat(fx.count("SELECT count(*) FROM df.instances")).isEqualTo(before);
    }

    @Test
    void no_role_can_hold_the_turns_that_bound_new_starts() {
        fx.refusalAs(ALICE, "SELECT name FROM df_engine.locks WHERE name = 'new_transaction_start:1' FOR UPDATE")
                .is("42501", "permission denied for");
        fx.refusalAs(DB_OWNER, "SELECT name FROM df_engine.locks WHERE name = 'new_transaction_start:1' FOR UPDATE")
                .is("42501", "permission denied for");
    }

    @Test
    void a_session_setting_cannot_raise_the_limit_or_lengthen_the_wait() throws SQLException {
        fx.exec("ALTER DATABASE " + fx.database() + " SET pg_durable.max_new_transaction_starts = 1");
        fx.exec("ALTER DATABASE " + fx.database() + " SET pg_durable.new_transaction_start_timeout = 0");
        try (Connection holder = fx.connect(SecurityFixture.SUPERUSER); Connection c = fx.connect(ALICE)) {
            holder.setAutoCommit(false);
            single(holder, "SELECT name FROM df_engine.locks WHERE name = 'new_transaction_start:1' FOR UPDATE");
            try (Statement st = c.createStatement()) {
                st.execute("SET pg_durable.max_new_transaction_starts = 100");
                st.execute("SET pg_durable.new_transaction_start_timeout = 60");
            }
            assertThat(SecurityFixture.refusal(c, ALICE, START_NEW).is("53300",
                    "is at its limit of 1 concurrent starts (pg_durable.max_new_transaction_starts); none ended within 0 s"))
                    .isNotNull();
            holder.rollback();
        } finally {
            fx.exec("ALTER DATABASE " + fx.database() + " RESET pg_durable.max_new_transaction_starts");
            fx.exec("ALTER DATABASE " + fx.database() + " RESET pg_durable.new_transaction_start_timeout");
        }
    }
}
