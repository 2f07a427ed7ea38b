package io.pgdurable.schema;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Installs release 0.1.0 the way its own installer ({@code java -jar pg-durable-0.1.0.jar install})
 * did: schema {@code df_engine}, the ledger {@code df_engine.schema_migrations}, then the eight
 * scripts kept in {@code sql/releases/0.1.0}, in order, each recorded with its version, in one
 * transaction.
 */
public final class Release010 {

    /** The scripts of release 0.1.0, in the order its installer applied them. */
    public static final List<String> SCRIPTS = List.of("001_engine.sql", "002_control_plane.sql", "003_monitoring.sql",
            "004_graph_runtime.sql", "005_reconcile.sql", "006_worker_schedule.sql", "007_node_constraints.sql",
            "008_history_length.sql");

    private Release010() {
    }

    /** The directory holding release 0.1.0's scripts in this checkout. */
    public static Path scriptDir() {
        return Path.of(System.getProperty("pgdurable.test.projectDir", ".")).resolve("sql/releases/0.1.0");
    }

    /** Installs release 0.1.0 into the empty database {@code c} is connected to. */
    public static void install(Connection c) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("SET LOCAL search_path = pg_catalog, pg_temp");
            st.execute("CREATE SCHEMA IF NOT EXISTS df_engine");
            st.execute("""
                    CREATE TABLE IF NOT EXISTS df_engine.schema_migrations (
                        version    int         PRIMARY KEY,
                        name       text        NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )""");
            for (int i = 0; i < SCRIPTS.size(); i++) {
                st.execute(Files.readString(scriptDir().resolve(SCRIPTS.get(i)), StandardCharsets.UTF_8));
                try (PreparedStatement record = c.prepareStatement(
                        "INSERT INTO df_engine.schema_migrations (version, name) VALUES (?, ?)")) {
                    record.setInt(1, i + 1);
                    record.setString(2, SCRIPTS.get(i));
                    record.executeUpdate();
                }
            }
            c.commit();
        } catch (SQLException | IOException | RuntimeException e) {
            c.rollback();
            throw e instanceof SQLException s ? s : new SQLException("Installing release 0.1.0 failed", e);
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }
}
