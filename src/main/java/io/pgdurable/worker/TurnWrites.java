package io.pgdurable.worker;

import io.pgdurable.engine.TurnWrite;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the writes of a batch of turns in order. A run of consecutive {@link TurnWrite.Sql}
 * writes with the same statement text goes as one JDBC batch, and a run of consecutive
 * {@link TurnWrite.Rows} with the same text as one execution over arrays: one round trip either
 * way.
 */
final class TurnWrites {
    private TurnWrites() {
    }

    static void apply(Connection c, List<TurnWrite> writes) throws SQLException {
        List<TurnWrite> run = new ArrayList<>();
        for (TurnWrite write : writes) {
            if (!run.isEmpty() && !sameRun(run.get(0), write)) {
                flush(c, run);
            }
            run.add(write);
        }
        flush(c, run);
    }

    private static boolean sameRun(TurnWrite first, TurnWrite next) {
        if (first instanceof TurnWrite.Sql a && next instanceof TurnWrite.Sql b) {
            return a.text().equals(b.text());
        }
        if (first instanceof TurnWrite.Rows a && next instanceof TurnWrite.Rows b) {
            return a.text().equals(b.text()) && a.width() == b.width();
        }
        return false;
    }

    private static void flush(Connection c, List<TurnWrite> run) throws SQLException {
        if (run.isEmpty()) {
            return;
        }
        TurnWrite first = run.get(0);
        if (run.size() == 1) {
            first.apply(c);
        } else if (first instanceof TurnWrite.Rows) {
            List<TurnWrite.Rows> rows = new ArrayList<>(run.size());
            for (TurnWrite w : run) {
                rows.add((TurnWrite.Rows) w);
            }
            TurnWrite.Rows.applyAll(c, rows);
        } else {
            try (PreparedStatement ps = c.prepareStatement(((TurnWrite.Sql) first).text())) {
                for (TurnWrite w : run) {
                    ((TurnWrite.Sql) w).bind(ps);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        }
        run.clear();
    }
}
