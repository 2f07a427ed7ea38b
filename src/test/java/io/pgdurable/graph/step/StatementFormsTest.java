package io.pgdurable.graph.step;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.db.TransientErrors;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.graph.sql.BindValue;
import io.pgdurable.graph.sql.PreparedSql;
import io.pgdurable.graph.sql.Substitution;
import io.pgdurable.graph.sql.SubstitutionContext;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.PGConnection;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;

/**
 * Which form of a step's statement goes to the server: the one with literal parameters where the
 * server takes them, the literals written back where it does not, with the same outcome either way.
 */
class StatementFormsTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static String db;

    private static final SubstitutionContext CTX = new SubstitutionContext(
            Map.of("v", "it's", "d", "2024-06-15", "i", "1 day", "f", "year", "n", "41"), "ab12cd34", "lbl", Map.of());

    @BeforeAll
    static void setUp() throws SQLException {
        db = CLUSTER.createEmptyDatabase("statement_forms");
        try (Connection c = CLUSTER.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.t (id text, d date, n integer)");
            s.execute("CREATE SCHEMA plain");
            s.execute("CREATE FUNCTION plain.fmt(text, text) RETURNS text LANGUAGE sql AS 'SELECT format($1, $2)'");
            s.execute("CREATE SCHEMA anyarg");
            // format itself, under another name: an argument of type "any" takes no type from a parameter.
            s.execute("CREATE FUNCTION anyarg.fmt(text, VARIADIC \"any\") RETURNS text LANGUAGE internal STABLE"
                    + " AS 'text_format'");
        }
    }

    /** Statements the server takes with literal parameters, and ones it refuses them in. */
    @ParameterizedTest
    @ValueSource(strings = {
        "SELECT '{sys_instance_id}' || '/' || {sys_label}, length({v}), '{d}'::date + 1, {n} + 1, '{n}'::int * 2",
        "SELECT x FROM (VALUES ('{v}'), ({v})) AS v(x) WHERE x = '{v}' LIMIT '{n}'",
        "SELECT CASE WHEN '{v}' = {v} THEN '{d}' ELSE {v} END, '{sys_instance_id}'",
        "SELECT format('%s/%s', '{v}', {v}), concat({v}, '!')",
        "SELECT '{v}' IS NULL, pg_typeof('{v}'), json_build_object('k', '{v}')::text",
        "SELECT DATE '{d}' + 1, INTERVAL '{i}' * 2, extract('{f}' FROM DATE '{d}')",
        "SELECT '{v}'\n'tail', 'head'\n'{v}'",
        "SELECT count(*) FROM public.t GROUP BY '{v}'",
        "SELECT 1 ORDER BY '{v}'",
        "SELECT DISTINCT ON ('{v}') 1",
        "SELECT x FROM (VALUES (1), (2)) v(x) ORDER BY x = '{n}' DESC, x LIMIT 1",
        "SELECT '{v}' INTO TEMP forms_target",
    })
    void the_form_sent_has_the_outcome_of_the_literal_one(String sql) throws SQLException {
        PreparedSql literal = Substitution.prepare(sql, CTX);
        PreparedSql parameterized = Substitution.parameterized(sql, CTX);
        try (Connection c = CLUSTER.connect(db)) {
            c.setAutoCommit(false);
            PreparedSql chosen = secondTime(new StatementForms(), c, db, 1, parameterized);
            assertThat(c.unwrap(BaseConnection.class).getTransactionState())
                    .as("asking the server opened no transaction").isEqualTo(TransactionState.IDLE);
            assertThat(outcome(c, chosen)).isEqualTo(outcome(c, literal));
        }
    }

    @Test
    void the_server_takes_the_parameters_where_a_literal_type_is_inferred_and_refuses_them_elsewhere()
            throws SQLException {
        StatementForms forms = new StatementForms();
        try (Connection c = CLUSTER.connect(db)) {
            PreparedSql insert = Substitution.parameterized(
                    "INSERT INTO public.t VALUES ('{sys_instance_id}', '{d}', '{n}')", CTX);
            assertThat(secondTime(forms, c, db, 1, insert)).isSameAs(insert);
            PreparedSql format = Substitution.parameterized("SELECT format('%s', '{v}')", CTX);
            PreparedSql chosen = secondTime(forms, c, db, 1, format);
            assertThat(chosen.sql()).isEqualTo("SELECT format('%s', 'it''s')");
            assertThat(chosen.params()).isEmpty();
            PreparedSql missing = Substitution.parameterized("SELECT * FROM public.nowhere WHERE x = '{v}'", CTX);
            assertThat(secondTime(forms, c, db, 1, missing)).isEqualTo(missing.withLiterals());
            assertThat(forms.size()).as("a missing table is no answer about the parameters").isEqualTo(2);
        }
    }

    @Test
    void answers_are_kept_per_database_and_role_and_the_server_is_asked_once() throws SQLException {
        StatementForms forms = new StatementForms();
        PreparedSql p = Substitution.parameterized("SELECT fmt('%s', '{v}')", CTX);
        try (Connection plain = connection("plain"); Connection anyarg = connection("anyarg")) {
            assertThat(secondTime(forms, plain, db, 10, p)).isSameAs(p);
            assertThat(secondTime(forms, anyarg, db, 11, p)).isEqualTo(p.withLiterals());
            assertThat(secondTime(forms, anyarg, "other", 10, p)).isEqualTo(p.withLiterals());
        }
        Connection closed = connection("anyarg");
        closed.close();
        assertThat(forms.choose(closed, db, 10, p)).as("answered from what was kept").isSameAs(p);
        assertThat(forms.choose(closed, db, 11, p)).isEqualTo(p.withLiterals());
        forms.refused(db, 10, p);
        assertThat(forms.choose(closed, db, 10, p)).isEqualTo(p.withLiterals());
    }

    @Test
    void a_statement_without_literal_parameters_is_sent_as_it_is_without_asking() throws SQLException {
        StatementForms forms = new StatementForms();
        SubstitutionContext ctx = new SubstitutionContext(Map.of("v", "x"), "ab12cd34", null,
                Map.of("r", JsonCodec.tree("{\"rows\":[{\"n\":5}],\"row_count\":1}")));
        PreparedSql p = Substitution.parameterized("SELECT $r.n + 1, E'{v}', '{v}{v}'", ctx);
        assertThat(p.params()).extracting(BindValue::type).containsExactly(BindValue.Type.INTEGER);
        Connection closed = CLUSTER.connect(db);
        closed.close();
        assertThat(forms.choose(closed, db, 1, p)).isSameAs(p);
        assertThat(forms.size()).isZero();
    }

    @Test
    void at_most_the_set_number_of_answers_is_kept() throws SQLException {
        StatementForms forms = new StatementForms();
        try (Connection c = CLUSTER.connect(db)) {
            for (int i = 0; i < StatementForms.MAX_ENTRIES + 10; i++) {
                secondTime(forms, c, db, 1, Substitution.parameterized("SELECT '{v}', " + i, CTX));
                assertThat(forms.size()).isLessThanOrEqualTo(StatementForms.MAX_ENTRIES);
            }
        }
    }

    @Test
    void a_text_longer_than_the_limit_goes_with_its_literals_without_asking() throws SQLException {
        StatementForms forms = new StatementForms();
        String padding = " ".repeat(StatementForms.MAX_TEXT_CHARS);
        PreparedSql p = Substitution.parameterized("SELECT '{v}'" + padding, CTX);
        assertThat(p.hasLiteralParameters()).isTrue();
        Connection closed = CLUSTER.connect(db);
        closed.close();
        assertThat(forms.choose(closed, db, 1, p)).isEqualTo(p.withLiterals());
        assertThat(forms.size()).isZero();
        PreparedSql shorter = Substitution.parameterized("SELECT '{v}'" + padding.substring(12), CTX);
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(secondTime(forms, c, db, 1, shorter)).isSameAs(shorter);
        }
    }

    @Test
    void a_text_is_asked_about_the_second_time_it_comes_and_goes_with_its_literals_the_first() throws SQLException {
        StatementForms forms = new StatementForms();
        PreparedSql p = Substitution.parameterized("SELECT '{sys_instance_id}', '{v}'", CTX);
        Connection closed = CLUSTER.connect(db);
        closed.close();
        assertThat(forms.choose(closed, db, 1, p)).as("first time: not asked").isEqualTo(p.withLiterals());
        assertThat(forms.size()).isZero();
        PreparedSql other = Substitution.parameterized("SELECT '{sys_instance_id}', '{v}'",
                new SubstitutionContext(Map.of("v", "w"), "ffff0000", null, Map.of()));
        try (Connection c = CLUSTER.connect(db)) {
            assertThat(forms.choose(c, db, 1, other)).as("the same text for another instance").isSameAs(other);
        }
        assertThat(forms.size()).isEqualTo(1);
        assertThat(forms.choose(closed, db, 2, p)).as("another role: its first time").isEqualTo(p.withLiterals());
        for (int i = 0; i < StatementForms.MAX_SEEN + 10; i++) {
            assertThat(forms.choose(closed, db, 1, Substitution.parameterized("SELECT '{v}', " + i, CTX)).params())
                    .as("texts that never recur are never asked about").isEmpty();
        }
        assertThat(forms.size()).isEqualTo(1);
    }

    /**
     * A session ended by the server while the statement is described (pg_terminate_backend, a
     * restart) is the connection's trouble, not the statement's: the error reaches the step,
     * which is retried. Taken for a refusal, the step went on with a connection the pool had
     * closed on that error and failed for good with "Connection is closed".
     */
    @Test
    void a_session_the_server_ends_while_asked_is_an_error_to_retry_not_an_answer() throws SQLException {
        StatementForms forms = new StatementForms();
        PreparedSql p = Substitution.parameterized("SELECT '{sys_instance_id}', '{v}'", CTX);
        try (Connection c = CLUSTER.connect(db); Connection admin = CLUSTER.connect(db)) {
            assertThat(forms.choose(c, db, 1, p)).as("first time: not asked").isEqualTo(p.withLiterals());
            int pid = c.unwrap(PGConnection.class).getBackendPID();
            try (Statement s = admin.createStatement()) {
                s.execute("SELECT pg_terminate_backend(" + pid + ", 10000)");
            }

            assertThatThrownBy(() -> forms.choose(c, db, 1, p)).isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(TransientErrors.isTransient(e)).as("retried: %s", e).isTrue());
        }
        assertThat(forms.size()).as("nothing learnt about the statement").isZero();
    }

    /** Chooses for {@code p}'s text a first time, which goes with literals unasked, and returns the second choice. */
    private static PreparedSql secondTime(StatementForms forms, Connection c, String database, long role, PreparedSql p)
            throws SQLException {
        assertThat(forms.choose(c, database, role, p)).isEqualTo(p.withLiterals());
        return forms.choose(c, database, role, p);
    }

    private static Connection connection(String searchPath) throws SQLException {
        Connection c = CLUSTER.connect(db);
        try (Statement s = c.createStatement()) {
            s.execute("SET search_path = " + searchPath);
        }
        return c;
    }

    /** The first row as text, or the error's SQLSTATE and message; rolled back either way. */
    private static List<String> outcome(Connection c, PreparedSql p) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(p.sql())) {
            p.bind(ps);
            if (ps.execute()) {
                try (ResultSet rs = ps.getResultSet()) {
                    if (rs.next()) {
                        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                            out.add(rs.getString(i));
                        }
                    }
                }
            } else {
                out.add("updated " + ps.getUpdateCount());
            }
        } catch (SQLException e) {
            out.add(e.getSQLState() + " " + e.getMessage().lines().findFirst().orElse(""));
        } finally {
            c.rollback();
        }
        return out;
    }
}
