package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.failure;
import static io.pgdurable.graph.e2e.SqlProbe.message;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * pg_durable.list_instances_max_limit from the configuration files (ALTER SYSTEM writes
 * postgresql.auto.conf, which df.list_instances reads through pg_file_settings, without a reload),
 * and a session's own SET of it ignored. (ALTER DATABASE and ALTER ROLE ... SET are covered by
 * the pgTAP file 030; ALTER SYSTEM cannot run in its transaction.)
 */
class ListLimitSettingTest {
    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("list_limit_setting");
    }

    @AfterAll
    static void tearDown() {
        alterSystem("RESET pg_durable.list_instances_max_limit");
        env.close();
    }

    /** ALTER SYSTEM of a name no loaded module defines needs it known in the session first. */
    private static void alterSystem(String change) {
        try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement()) {
            s.execute("SET pg_durable.list_instances_max_limit = ''");
            s.execute("ALTER SYSTEM " + change);
        } catch (SQLException e) {
            throw new IllegalStateException("ALTER SYSTEM " + change, e);
        }
    }

    @Test
    void the_cap_in_the_configuration_files_applies_and_a_session_cannot_raise_it() throws SQLException {
        alterSystem("SET pg_durable.list_instances_max_limit = 7");
        try {
            assertThat(env.queryAsApp("SELECT count(*) FROM df.list_instances(NULL, 7)")).isEqualTo("0");
            assertThat(message(failure(env.connectAsApp(), "SELECT * FROM df.list_instances(NULL, 8)")))
                    .startsWith("df.list_instances: limit_count (8) exceeds pg_durable.list_instances_max_limit (7)");

            try (Connection c = env.connectAsApp()) {
                try (Statement s = c.createStatement()) {
                    s.execute("SET pg_durable.list_instances_max_limit = 1000");
                }
                assertThat(message(failure(c, "SELECT * FROM df.list_instances(NULL, 8, NULL)")))
                        .startsWith("df.list_instances: limit_count (8) exceeds pg_durable.list_instances_max_limit (7)");
            }
        } finally {
            alterSystem("RESET pg_durable.list_instances_max_limit");
        }
        assertThat(env.queryAsApp("SELECT count(*) FROM df.list_instances(NULL, 1000)")).isEqualTo("0");
    }
}
