package io.pgdurable.db;

import java.sql.SQLException;

/**
 * Decides, by SQLSTATE class alone, whether a database error is worth retrying: connection
 * trouble (08), operator intervention such as a restart (57), serialization failures and
 * deadlocks (40), and insufficient resources (53). Message text is never consulted.
 */
public final class TransientErrors {
    private TransientErrors() {
    }

    public static boolean isTransient(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql) {
                for (SQLException e = sql; e != null; e = e.getNextException()) {
                    if (isTransientState(e.getSQLState())) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    public static boolean isTransientState(String sqlState) {
        if (sqlState == null || sqlState.length() < 2) {
            return false;
        }
        String cls = sqlState.substring(0, 2);
        return cls.equals("08") || cls.equals("57") || cls.equals("40") || cls.equals("53");
    }
}
