package io.pgdurable.graph.cron;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.graph.model.GraphException;
import io.pgdurable.testing.TestCluster;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The cron grammar is checked twice: by df.wait_for_schedule when a graph is built (SQL) and by
 * the worker when the wait runs (Java). Both must accept and refuse exactly the same expressions,
 * or a workflow could be started that fails when it reaches its schedule.
 */
class CronAgreementTest {
    private static String db;

    @BeforeAll
    static void database() {
        db = TestCluster.get().createDatabase("cron_agreement");
    }

    static List<String[]> cases() throws IOException {
        try (InputStream in = CronAgreementTest.class.getResourceAsStream("cron-cases.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.startsWith("#"))
                    .map(l -> l.split("\t", 2))
                    .toList();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void sql_builder_and_worker_agree(String verdict, String expression) throws SQLException {
        String sqlProblem = sqlProblem(expression);
        if (verdict.equals("valid")) {
            assertThat(sqlProblem).as("SQL validator on '%s'", expression).isNull();
            assertThat(CronSchedule.parse(expression)).isNotNull();
        } else {
            assertThat(sqlProblem).as("SQL validator on '%s'", expression).isNotNull();
            assertThatThrownBy(() -> CronSchedule.parse(expression)).isInstanceOf(GraphException.class);
        }
    }

    private static String sqlProblem(String expression) throws SQLException {
        try (Connection c = TestCluster.get().connect(db);
             PreparedStatement ps = c.prepareStatement("SELECT df._cron_problem(?)")) {
            ps.setString(1, expression);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
