package io.pgdurable.graph;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pgdurable.engine.DurableException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Connections for SQL steps, authenticated as the role that submitted the workflow (never
 * {@code SET ROLE}, which the step's own SQL could undo). One small pool per database and role,
 * bounded per role and in total; a step waits for a slot up to the acquire timeout, then fails
 * with a message naming the limit. Every connection is reset with {@code DISCARD ALL} before it
 * goes back to its pool, so no session state leaks from one step into the next.
 *
 * <p>The worker must be able to log in as every submitting role without a password: configure
 * {@code pg_hba.conf} with {@code trust} for the worker's host, {@code peer} over a local socket
 * (with an ident map), or {@code cert}.
 */
public final class StepConnections implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(StepConnections.class.getName());
    static final String APPLICATION_NAME = "pg_durable:worker:workflow-sql";

    private final String baseUrl;
    private final int total;
    private final int perRole;
    private final Duration acquireTimeout;
    private final Semaphore slots;
    private final String controlDatabase;
    private final Map<String, HikariDataSource> pools = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public StepConnections(String baseUrl, int total, int perRole, Duration acquireTimeout) {
        this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
        if (total < 1 || perRole < 1) {
            throw new IllegalArgumentException("step connection limits must be at least 1, got total=" + total
                    + " per role=" + perRole);
        }
        this.total = total;
        this.perRole = perRole;
        this.acquireTimeout = acquireTimeout;
        this.slots = new Semaphore(total, true);
        PGSimpleDataSource parsed = new PGSimpleDataSource();
        parsed.setURL(baseUrl);
        this.controlDatabase = parsed.getDatabaseName();
    }

    /** A connection to {@code database} (null: the control database) authenticated as {@code role}. */
    public Lease acquire(String database, String role) throws SQLException {
        if (closed) {
            throw new SQLException("step connections are closed: the worker is stopping", "57P01");
        }
        try {
            if (!slots.tryAcquire(acquireTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new DurableException("pg_durable: SQL-step connection limit reached (--max-step-connections="
                        + total + "). Timed out after " + acquireTimeout.toSeconds()
                        + "s waiting for an available execution slot.", "53300", null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted while waiting for a step connection", "57014", e);
        }
        HikariDataSource pool;
        try {
            pool = pool(database, role);
        } catch (RuntimeException e) {
            slots.release();
            throw e;
        }
        try {
            return new Lease(pool, pool.getConnection());
        } catch (java.sql.SQLTransientConnectionException e) {
            slots.release();
            if (e.getCause() != null) {
                throw e; // the pool could not connect at all: the cause says why
            }
            throw new DurableException("pg_durable: SQL-step connection limit for role \"" + role
                    + "\" reached (--max-step-connections-per-role=" + perRole + "). Timed out after "
                    + acquireTimeout.toSeconds() + "s waiting for one of its connections.", "53300", e);
        } catch (SQLException | RuntimeException e) {
            slots.release();
            throw e;
        }
    }

    private HikariDataSource pool(String database, String role) {
        String key = (database == null ? "" : database) + '\u0000' + role;
        return pools.computeIfAbsent(key, k -> {
            PGSimpleDataSource pg = new PGSimpleDataSource();
            pg.setURL(baseUrl);
            if (database != null) {
                pg.setDatabaseName(database);
            }
            pg.setUser(role);
            pg.setPassword(null);
            pg.setApplicationName(APPLICATION_NAME);
            // Restored by DISCARD ALL/RESET ALL too: it is this session's default.
            pg.setOptions("-c df.in_workflow=true");
            HikariConfig hc = new HikariConfig();
            hc.setDataSource(pg);
            hc.setPoolName("pg_durable-steps-" + role + (database == null ? "" : "@" + database));
            hc.setMaximumPoolSize(perRole);
            hc.setMinimumIdle(0);
            hc.setIdleTimeout(60_000);
            hc.setConnectionTimeout(Math.max(250, acquireTimeout.toMillis()));
            hc.setInitializationFailTimeout(-1);
            return new HikariDataSource(hc);
        });
    }

    /** Whether {@code database} (null: the one in the URL) is the control database. */
    public boolean isControlDatabase(String database) {
        return database == null || database.equals(controlDatabase);
    }

    @Override
    public void close() {
        closed = true;
        pools.values().forEach(HikariDataSource::close);
        pools.clear();
    }

    /** A borrowed connection; closing it resets the session and returns it. */
    public final class Lease implements AutoCloseable {
        private final HikariDataSource pool;
        private final Connection connection;

        private Lease(HikariDataSource pool, Connection connection) {
            this.pool = pool;
            this.connection = connection;
        }

        public Connection connection() {
            return connection;
        }

        @Override
        public void close() {
            try {
                if (!connection.isClosed()) {
                    if (!connection.getAutoCommit()) {
                        connection.rollback();
                        connection.setAutoCommit(true);
                    }
                    try (Statement s = connection.createStatement()) {
                        s.execute("DISCARD ALL");
                    }
                }
            } catch (SQLException e) {
                // A connection we cannot reset must not be reused.
                LOG.log(Level.FINE, "evicting a step connection that could not be reset", e);
                pool.evictConnection(connection);
            } finally {
                try {
                    connection.close();
                } catch (SQLException e) {
                    LOG.log(Level.FINE, "closing a step connection", e);
                }
                slots.release();
            }
        }
    }
}
