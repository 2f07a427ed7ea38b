package io.pgdurable.reconcile;

import io.pgdurable.engine.DurableException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;

/**
 * The reconciliation settings, read with {@code current_setting(name, true)} so that
 * {@code postgresql.conf}, {@code ALTER SYSTEM} and {@code ALTER DATABASE ... SET} all apply and a
 * reload is picked up at the next pass. Unset means the default; anything that is not a plain
 * integer in range is an error naming the setting and the value. A pass in one transaction
 * ({@link Reconciler#runInTransaction}) reads them in SQL instead, from the server's configuration
 * and never from its session ({@code df_engine.reconcile_setting}), with the same rule and message
 * ({@code df_engine.reconcile_parse_setting}); a test keeps the two in step.
 *
 * @param retentionDays    how long terminal instances are kept; 0 removes them at the next pass
 * @param intervalSeconds  seconds between periodic passes; 0 disables them
 */
public record ReconcileSettings(int retentionDays, int intervalSeconds) {
    public static final String RETENTION_DAYS = "pg_durable.retention_days";
    public static final String RECONCILE_INTERVAL = "pg_durable.reconcile_interval";
    public static final int DEFAULT_RETENTION_DAYS = 30;
    public static final int DEFAULT_INTERVAL_SECONDS = 3600;
    static final int MAX_RETENTION_DAYS = 36_500;
    static final int MAX_INTERVAL_SECONDS = 86_400;

    public Duration retention() {
        return Duration.ofDays(retentionDays);
    }

    /** Reads and validates both settings as the given connection's session sees them. */
    public static ReconcileSettings read(Connection c) throws SQLException {
        return new ReconcileSettings(
                parse(RETENTION_DAYS, setting(c, RETENTION_DAYS), DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, "days"),
                parse(RECONCILE_INTERVAL, setting(c, RECONCILE_INTERVAL), DEFAULT_INTERVAL_SECONDS,
                        MAX_INTERVAL_SECONDS, "seconds"));
    }

    /** Reads only the interval: a bad retention must not stop the worker from scheduling passes. */
    public static int readInterval(Connection c) throws SQLException {
        return parse(RECONCILE_INTERVAL, setting(c, RECONCILE_INTERVAL), DEFAULT_INTERVAL_SECONDS,
                MAX_INTERVAL_SECONDS, "seconds");
    }

    static int parse(String name, String raw, int defaultValue, int max, String unit) {
        if (raw == null || raw.isBlank()) {
            return defaultValue;
        }
        String v = raw.strip();
        if (!v.matches("\\d{1,9}")) {
            throw invalid(name, raw, max, unit);
        }
        long n = Long.parseLong(v);
        if (n > max) {
            throw invalid(name, raw, max, unit);
        }
        return (int) n;
    }

    private static DurableException invalid(String name, String raw, int max, String unit) {
        return new DurableException(name + " must be a whole number of " + unit + " between 0 and " + max
                + ", got '" + raw + "'", "22023", null);
    }

    private static String setting(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.current_setting(?, true)")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
