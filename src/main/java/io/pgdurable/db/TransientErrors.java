package io.pgdurable.db;

import java.sql.SQLException;

/**
 * Decides, by SQLSTATE class alone, whether a database error is worth retrying: connection
 * trouble (08), operator intervention such as a restart (57), serialization failures and
 * deadlocks (40), and insufficient resources (53). Message text is never consulted.
 *
 * <p>Opening a connection is the exception: some refusals say that no number of attempts will
 * succeed (see {@link #isPermanentConnectFailureState}), even where their class says otherwise.
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

    /**
     * Whether a failed attempt to open a connection will fail the same way however often it is
     * repeated: the database does not exist (3D000), the role may not log in (class 28: pg_hba.conf
     * rejects it, it has NOLOGIN, its authentication failed) or the role lacks CONNECT on the
     * database (42501). (A server that asks for a password the worker has not got is pgjdbc's 08004,
     * and stays transient: the operator fixes pg_hba.conf and the retries succeed.)
     */
    public static boolean isPermanentConnectFailureState(String sqlState) {
        if (sqlState == null) {
            return false;
        }
        return sqlState.equals("3D000") || sqlState.startsWith("28") || sqlState.equals("42501");
    }

    /** The first permanent connection failure in {@code error}'s causes (see above), or null. */
    public static SQLException permanentConnectFailure(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && isPermanentConnectFailureState(sql.getSQLState())) {
                return sql;
            }
        }
        return null;
    }

    public static boolean isTransientState(String sqlState) {
        if (sqlState == null || sqlState.length() < 2) {
            return false;
        }
        String cls = sqlState.substring(0, 2);
        return cls.equals("08") || cls.equals("57") || cls.equals("40") || cls.equals("53");
    }
}
