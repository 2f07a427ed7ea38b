package io.pgdurable.engine.store;

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
 * way. Any other write runs by itself, through {@link TurnWrite#apply}.
 *
 * <p>When every write is a statement, {@link #chained} gives them as statements the caller sends
 * after one of its own in a single round trip (see {@link TurnWriter#flush}).
 */
public final class TurnWrites {
    private TurnWrites() {
    }

    public static void apply(Connection c, List<TurnWrite> writes) throws SQLException {
        List<TurnWrite> run = new ArrayList<>();
        for (TurnWrite write : writes) {
            if (!run.isEmpty() && !sameRun(run.get(0), write)) {
                flush(c, run);
            }
            run.add(write);
        }
        flush(c, run);
    }

    /**
     * The writes as statements for a {@link StatementChain}, in order (a run of rows as one
     * statement, each {@link TurnWrite.Sql} as one); {@code null} when one of them is a write of
     * an orchestration's own, which only {@link #apply} runs. Writes with a kind (the df graph's
     * status writes, whose arrays change length as {@code TurnWriter}'s do) run with generic plans;
     * any other statement as the connection plans it.
     */
    static List<StatementChain.Link> chained(Connection c, List<TurnWrite> writes) {
        List<StatementChain.Link> links = new ArrayList<>();
        List<TurnWrite.Rows> rows = new ArrayList<>();
        for (TurnWrite write : writes) {
            if (!rows.isEmpty() && !sameRun(rows.get(0), write)) {
                links.add(rowsLink(c, rows));
                rows = new ArrayList<>();
            }
            if (write instanceof TurnWrite.Rows r) {
                rows.add(r);
            } else if (write instanceof TurnWrite.Sql sql) {
                links.add(new StatementChain.Link(sql.text(), (ps, first) -> {
                    for (int i = 0; i < sql.parameterCount(); i++) {
                        ps.setObject(first + i, sql.parameter(i));
                    }
                    return first + sql.parameterCount();
                }, sql.kind() != null));
            } else {
                return null;
            }
        }
        if (!rows.isEmpty()) {
            links.add(rowsLink(c, rows));
        }
        return links;
    }

    private static StatementChain.Link rowsLink(Connection c, List<TurnWrite.Rows> rows) {
        String[][] byColumn = columns(rows);
        return new StatementChain.Link(rows.get(0).text(), (ps, first) -> {
            for (int col = 0; col < byColumn.length; col++) {
                ps.setArray(first + col, c.createArrayOf("text", byColumn[col]));
            }
            return first + byColumn.length;
        }, rows.get(0).kind() != null);
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
        if (first instanceof TurnWrite.Rows) {
            List<TurnWrite.Rows> rows = new ArrayList<>(run.size());
            for (TurnWrite w : run) {
                rows.add((TurnWrite.Rows) w);
            }
            applyRows(c, rows);
        } else if (first instanceof TurnWrite.Sql sql && run.size() == 1) {
            try (PreparedStatement ps = c.prepareStatement(sql.text())) {
                bind(ps, sql);
                ps.execute();
            }
        } else if (first instanceof TurnWrite.Sql sql) {
            try (PreparedStatement ps = c.prepareStatement(sql.text())) {
                for (TurnWrite w : run) {
                    bind(ps, (TurnWrite.Sql) w);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        } else {
            first.apply(c);
        }
        run.clear();
    }

    private static void bind(PreparedStatement ps, TurnWrite.Sql sql) throws SQLException {
        for (int i = 0; i < sql.parameterCount(); i++) {
            ps.setObject(i + 1, sql.parameter(i));
        }
    }

    /** Runs the statement once for {@code rows}, which all have the same text and width. */
    private static void applyRows(Connection c, List<TurnWrite.Rows> rows) throws SQLException {
        String[][] byColumn = columns(rows);
        try (PreparedStatement ps = c.prepareStatement(rows.get(0).text())) {
            for (int col = 0; col < byColumn.length; col++) {
                ps.setArray(col + 1, c.createArrayOf("text", byColumn[col]));
            }
            ps.execute();
        }
    }

    /** The values of {@code rows} (all of one text and width), column by column. */
    private static String[][] columns(List<TurnWrite.Rows> rows) {
        String[][] byColumn = new String[rows.get(0).width()][rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            TurnWrite.Rows row = rows.get(r);
            for (int col = 0; col < byColumn.length; col++) {
                byColumn[col][r] = row.column(col);
            }
        }
        return byColumn;
    }
}
