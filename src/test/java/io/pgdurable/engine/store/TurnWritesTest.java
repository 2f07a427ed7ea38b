package io.pgdurable.engine.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.engine.TurnWrite;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** How a batch of turns' writes reaches the database: in order, runs of one statement together. */
class TurnWritesTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static String db;

    /** Upserts (k, v) rows given as two text arrays; for a key given twice, the last value wins. */
    private static final String PUT = """
            INSERT INTO kv (k, v)
            SELECT DISTINCT ON (u.k) u.k, u.v
              FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS u(k, v, ord)
             ORDER BY u.k, u.ord DESC
            ON CONFLICT (k) DO UPDATE SET v = excluded.v
            """;

    @BeforeAll
    static void table() throws SQLException {
        db = CLUSTER.createEmptyDatabase("turn_writes");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)");
            s.execute("CREATE TABLE log (n serial, what text)");
            // Counts the statements that reach kv, not the rows.
            s.execute("CREATE TABLE statements (n int NOT NULL)");
            s.execute("INSERT INTO statements VALUES (0)");
            s.execute("""
                    CREATE FUNCTION count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN UPDATE statements SET n = n + 1; RETURN NULL; END $$""");
            s.execute("CREATE TRIGGER count_statement AFTER INSERT ON kv FOR EACH STATEMENT"
                    + " EXECUTE FUNCTION count_statement()");
        }
    }

    @Test
    void consecutive_rows_of_one_statement_go_as_one_execution_in_order_with_other_writes_between() throws SQLException {
        List<TurnWrite> writes = new ArrayList<>();
        writes.add(TurnWrite.rows(PUT, "a", "1"));
        writes.add(TurnWrite.rows(PUT, "b", "1"));
        writes.add(TurnWrite.rows(PUT, "a", "2"));  // same key again: the last row wins
        writes.add(TurnWrite.sql("INSERT INTO log (what) SELECT 'a=' || v FROM kv WHERE k = ?", "a"));
        writes.add(TurnWrite.rows(PUT, "c", null));
        try (Connection c = CLUSTER.connect(db)) {
            c.setAutoCommit(false);
            TurnWrites.apply(c, writes);
            c.commit();
        }
        assertThat(query("SELECT string_agg(k || '=' || coalesce(v, 'null'), ',' ORDER BY k) FROM kv"))
                .isEqualTo("a=2,b=1,c=null");
        assertThat(query("SELECT string_agg(what, ',' ORDER BY n) FROM log"))
                .as("the SQL write ran after the rows before it and before the rows after it").isEqualTo("a=2");
        assertThat(query("SELECT n FROM statements")).as("two runs of rows, two statements").isEqualTo("2");
    }

    private static String query(String sql) throws SQLException {
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
