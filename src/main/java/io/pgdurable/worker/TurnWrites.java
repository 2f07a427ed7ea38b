package io.pgdurable.worker;

import io.pgdurable.engine.TurnWrite;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the writes of a batch of turns in order, sending each run of consecutive
 * {@link TurnWrite.Sql} writes with the same statement text as one JDBC batch.
 */
final class TurnWrites {
    private TurnWrites() {
    }

    static void apply(Connection c, List<TurnWrite> writes) throws SQLException {
        List<TurnWrite.Sql> run = new ArrayList<>();
        for (TurnWrite write : writes) {
            if (write instanceof TurnWrite.Sql sql) {
                if (!run.isEmpty() && !run.get(0).text().equals(sql.text())) {
                    flush(c, run);
                }
                run.add(sql);
            } else {
                flush(c, run);
                write.apply(c);
            }
        }
        flush(c, run);
    }

    private static void flush(Connection c, List<TurnWrite.Sql> run) throws SQLException {
        if (run.isEmpty()) {
            return;
        }
        if (run.size() == 1) {
            run.get(0).apply(c);
        } else {
            try (PreparedStatement ps = c.prepareStatement(run.get(0).text())) {
                for (TurnWrite.Sql sql : run) {
                    sql.bind(ps);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        }
        run.clear();
    }
}
