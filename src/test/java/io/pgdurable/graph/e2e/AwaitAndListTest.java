package io.pgdurable.graph.e2e;

import static io.pgdurable.graph.e2e.SqlProbe.failure;
import static io.pgdurable.graph.e2e.SqlProbe.message;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/** df.await_instance and the paginated df.list_instances against a running worker. */
class AwaitAndListTest {
    private static final Duration DONE = Duration.ofSeconds(20);

    private static DfTestEnvironment env;

    @BeforeAll
    static void setUp() {
        env = new DfTestEnvironment("await_list_e2e");
        env.startWorker();
    }

    @AfterAll
    static void tearDown() {
        env.close();
    }

    @Test
    void await_instance_returns_the_terminal_status_once_the_worker_finishes() {
        String completed = env.start("'SELECT pg_sleep(0.5)' ~> 'SELECT 1'");
        String failed = env.start("'SELECT 1 / 0'");

        assertThat(env.queryAsApp("SELECT df.await_instance(?, 20)", completed)).isEqualTo("completed");
        assertThat(env.queryAsApp("SELECT df.await_instance(?)", failed)).isEqualTo("failed");
        assertThat(env.queryAsApp("SELECT df.status(?)", completed)).isEqualTo("completed");
    }

    @Test
    void await_instance_returns_cancelled_for_a_cancelled_instance() {
        String id = env.start("df.sleep(60)");
        env.queryAsApp("SELECT df.cancel(?)", id);

        assertThat(env.queryAsApp("SELECT df.await_instance(?, 5)", id)).isEqualTo("cancelled");
    }

    @Test
    void await_instance_times_out_with_the_documented_message() throws SQLException {
        String id = env.start("df.sleep(60)");
        DfTestEnvironment.awaitTrue(() -> "running".equals(env.queryAsApp("SELECT df.status(?)", id)), DONE,
                "the instance to start running");

        long started = System.nanoTime();
        PSQLException e = failure(env.connectAsApp(), "SELECT df.await_instance(?, 1)", id);
        Duration waited = Duration.ofNanos(System.nanoTime() - started);

        assertThat(message(e)).isEqualTo("Timeout after 1s waiting for instance " + id
                + " (status: running). Check if background worker is running.");
        assertThat(waited).isBetween(Duration.ofMillis(900), Duration.ofSeconds(5));
        env.queryAsApp("SELECT df.cancel(?)", id);
    }

    @Test
    void await_instance_of_an_unknown_id_is_an_error() throws SQLException {
        PSQLException e = failure(env.connectAsApp(), "SELECT df.await_instance('feedface', 5)");

        assertThat(e.getSQLState()).isEqualTo("42704");
        assertThat(message(e)).isEqualTo("Instance not found: feedface");
    }

    @Test
    void paginated_listing_walks_every_instance_once_newest_first_with_ids_breaking_ties() throws SQLException {
        // Five transactions of five starts each: each group shares one created_at (now()).
        List<String> started = new ArrayList<>();
        try (Connection c = env.connectAsApp()) {
            c.setAutoCommit(false);
            for (int group = 0; group < 5; group++) {
                for (int i = 0; i < 5; i++) {
                    started.add(first(c, "SELECT df.start('SELECT 1', 'page-walk')"));
                }
                c.commit();
            }
            for (int i = 0; i < 3; i++) {
                started.add(first(c, "SELECT df.start('SELECT 1', 'other-label')"));
            }
            c.commit();
        }
        List<String> expected = new ArrayList<>();
        try (Connection c = env.connectAsAdmin(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id FROM df.instances WHERE label = 'page-walk'"
                     + " ORDER BY created_at DESC, id")) {
            while (rs.next()) {
                expected.add(rs.getString(1));
            }
        }
        assertThat(expected).hasSize(25);
        assertThat(started).containsAll(expected);

        List<String> seen = new ArrayList<>();
        List<Integer> pageSizes = new ArrayList<>();
        String cursor = null;
        try (Connection c = env.connectAsApp();
             PreparedStatement ps = c.prepareStatement(
                     "SELECT instance_id, label, next_cursor FROM df.list_instances(NULL, 10, 'page-walk', ?)")) {
            do {
                ps.setString(1, cursor);
                String next = null;
                int rows = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        seen.add(rs.getString(1));
                        assertThat(rs.getString(2)).isEqualTo("page-walk");
                        next = rs.getString(3);
                        rows++;
                    }
                }
                pageSizes.add(rows);
                cursor = next;
            } while (cursor != null && pageSizes.size() < 10);
        }

        assertThat(pageSizes).containsExactly(10, 10, 5);
        assertThat(seen).doesNotHaveDuplicates().containsExactlyElementsOf(expected);
        assertThat(env.queryAsApp("SELECT count(*) FROM df.list_instances(NULL, 10, 'other-label', NULL)"))
                .isEqualTo("3");
        assertThat(env.queryAsApp("SELECT count(*) FROM df.list_instances(NULL, 100, 'no-such-label', NULL)"))
                .isEqualTo("0");
    }

    private static String first(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
