package io.pgdurable.graph.step;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pgdurable.db.ConnectionSpec;
import io.pgdurable.db.TransientErrors;
import io.pgdurable.engine.DurableException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.postgresql.PGConnection;

/**
 * Connections for SQL steps, authenticated as the role that submitted the workflow (never
 * {@code SET ROLE}, which the step's own SQL could undo). One small pool per database and role,
 * bounded per role and in total; a step waits for a slot up to the acquire timeout, then fails
 * with a message naming the limit. Every connection is reset before it goes back to its pool (see
 * {@link #RESET}), so no session state leaks from one step into the next.
 *
 * <p>Pools are keyed by the role's OID, not its name: a name can pass to another role (rename one,
 * create another with the old name), an OID cannot. Each lease also checks that the connection's
 * session user is the expected role, and discards the connection otherwise, so a connection
 * opened under a name that meanwhile changed hands never runs another role's step (checked once
 * per connection, when it is first leased: a session's user cannot change after it logged in).
 *
 * <p>The connections keep the role's own defaults, search path included (see
 * {@link ConnectionSpec#forStep}). So every statement the worker itself sends on them (the session
 * check here, the completion call in the engine store) names everything with its schema, binds
 * typed parameters instead of {@code ::} casts, and spells operators
 * {@code OPERATOR(pg_catalog.=)}: nothing of the worker's may resolve through a search path the
 * role, or whoever may create objects in a schema on it, controls.
 *
 * <p>The worker must be able to log in as every submitting role without a password: configure
 * {@code pg_hba.conf} with {@code trust} for the worker's host, {@code peer} over a local socket
 * (with an ident map), or {@code cert}.
 */
public final class StepConnections implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(StepConnections.class.getName());
    /** The {@code application_name} of every SQL-step connection. */
    public static final String APPLICATION_NAME = "pg_durable:worker:workflow-sql";

    /** The session user and its OID; schema-qualified throughout (see the class comment). */
    static final String SESSION_USER_QUERY = """
            SELECT r.oid, r.rolname
              FROM pg_catalog.pg_roles r
             WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER
            """;

    /**
     * What a step may leave in its session, undone in one round trip before the connection goes
     * back to its pool: everything {@code DISCARD ALL} undoes (open cursors, a changed session
     * user, settings, LISTENs, advisory locks, temporary tables, sequence state, prepared
     * statements) except the server's cached query plans, which are no session state anyone can
     * see and which {@code DISCARD ALL} would make every step plan again. Statements the step
     * prepared with SQL {@code PREPARE} are counted by the last statement and deallocated when
     * there are any (see {@link Lease#close()}); the driver's own protocol-level statements stay.
     * Everything is schema-qualified: the role's own search path is in force.
     */
    static final String RESET = """
            CLOSE ALL;
            SET SESSION AUTHORIZATION DEFAULT;
            RESET ALL;
            UNLISTEN *;
            SELECT pg_catalog.pg_advisory_unlock_all();
            DISCARD TEMP;
            DISCARD SEQUENCES;
            SELECT pg_catalog.count(*) FROM pg_catalog.pg_prepared_statements p WHERE p.from_sql""";

    /**
     * The same reset as {@link #RESET}, as one statement that runs inside the step's transaction,
     * right before its {@code COMMIT} and in the same round trip as its completion (see
     * {@code df_engine.reset_step_session} in {@code sql/functions/08_control.sql}). Only in the
     * control database, where the function is; once that commit succeeded,
     * {@link Lease#resetWithCommit()} spares the lease its own reset.
     */
    public static final String RESET_BEFORE_COMMIT = "SELECT df_engine.reset_step_session()";

    /**
     * The longest wait of one {@link #borrow} slice (never more than the acquire timeout, never
     * less than Hikari's smallest connection timeout, 250 ms).
     */
    static final long BORROW_SLICE_MILLIS = 1000;

    /** SQLSTATE of a lease refused because its connection was another role's (class 08: retried). */
    static final String WRONG_ROLE = "08006";

    private final ConnectionSpec base;
    private final int total;
    private final int perRole;
    private final Duration acquireTimeout;
    private final Semaphore slots;
    private final Map<PoolKey, RolePool> pools = new HashMap<>();
    /** Connections whose session user has been checked (each pool's connections are one role's). */
    private final Map<Object, Boolean> checkedSessions = Collections.synchronizedMap(new WeakHashMap<>());
    private volatile boolean closed;

    private record PoolKey(String database, long roleOid) {
    }

    public StepConnections(String baseUrl, int total, int perRole, Duration acquireTimeout) {
        this.base = ConnectionSpec.fromUrl(Objects.requireNonNull(baseUrl, "baseUrl"));
        if (total < 1 || perRole < 1) {
            throw new IllegalArgumentException("step connection limits must be at least 1, got total=" + total
                    + " per role=" + perRole);
        }
        this.total = total;
        this.perRole = perRole;
        this.acquireTimeout = acquireTimeout;
        this.slots = new Semaphore(total, true);
    }

    /**
     * A connection to {@code database} (null: the control database) authenticated as the role
     * with OID {@code roleOid}, which logs in as {@code login} (its current name).
     *
     * @throws WrongRoleException if the connection turned out to be another role's; it was discarded
     */
    public Lease acquire(String database, long roleOid, String login) throws SQLException {
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
        RolePool pool;
        try {
            pool = enter(new PoolKey(database, roleOid), login);
        } catch (RuntimeException | SQLException e) {
            slots.release();
            throw e;
        }
        Connection connection;
        try {
            connection = borrow(pool, login);
        } catch (SQLException | RuntimeException e) {
            leave(pool);
            throw e;
        }
        try {
            // A session's user is fixed when it logs in (the reset undoes SET SESSION
            // AUTHORIZATION), so each connection is checked once, when it is first leased.
            Object session = connection.unwrap(PGConnection.class);
            if (!checkedSessions.containsKey(session)) {
                checkSessionUser(connection, roleOid, login);
                checkedSessions.put(session, Boolean.TRUE);
            }
        } catch (SQLException | RuntimeException e) {
            pool.dataSource.evictConnection(connection);
            if (e instanceof WrongRoleException) {
                // The name now belongs to another role: this pool can only open more such connections.
                retire(pool);
            }
            leave(pool);
            throw e;
        }
        return new Lease(pool, connection);
    }

    /**
     * A connection of {@code pool}, waiting up to the acquire timeout for one to be free, in slices
     * of at most {@link #BORROW_SLICE_MILLIS}: when the pool cannot open connections at all, each slice
     * ends with the last failed attempt as its cause, and one that retrying cannot cure (the
     * database was dropped, the role may not log in or lacks CONNECT; see
     * {@link TransientErrors#isPermanentConnectFailureState}) is thrown at once, as PostgreSQL
     * reported it, instead of after the whole timeout.
     */
    private Connection borrow(RolePool pool, String login) throws SQLException {
        long deadline = System.nanoTime() + acquireTimeout.toNanos();
        while (true) {
            try {
                return pool.dataSource.getConnection();
            } catch (SQLTransientConnectionException e) {
                SQLException permanent = TransientErrors.permanentConnectFailure(e.getCause());
                if (permanent != null) {
                    throw permanent;
                }
                if (System.nanoTime() - deadline >= 0) {
                    if (e.getCause() != null) {
                        throw e; // the pool could not connect at all: the cause says why
                    }
                    throw new DurableException("pg_durable: SQL-step connection limit for role \"" + login
                            + "\" reached (--max-step-connections-per-role=" + perRole + "). Timed out after "
                            + acquireTimeout.toSeconds() + "s waiting for one of its connections.", "53300", e);
                }
            }
        }
    }

    /** Fails unless {@code c}'s session user is the role with OID {@code roleOid}. */
    private static void checkSessionUser(Connection c, long roleOid, String login) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(SESSION_USER_QUERY);
             ResultSet rs = ps.executeQuery()) {
            long actual = rs.next() ? rs.getLong(1) : 0;
            String actualName = actual == 0 ? "(unknown)" : rs.getString(2);
            if (actual != roleOid) {
                throw new WrongRoleException("a step connection that logged in as \"" + login
                        + "\" belongs to role \"" + actualName + "\" (OID " + actual + "), not to the submitting role"
                        + " (OID " + roleOid + "): the role was renamed and its name reused; the connection was"
                        + " discarded");
            }
        }
    }

    /** The pool of {@code key}, counted as in use; a pool that logs in under another name is replaced. */
    private RolePool enter(PoolKey key, String login) throws SQLException {
        RolePool replaced = null;
        RolePool pool;
        synchronized (pools) {
            if (closed) {
                throw new SQLException("step connections are closed: the worker is stopping", "57P01");
            }
            pool = pools.get(key);
            if (pool != null && !pool.login.equals(login)) {
                // The role was renamed: its pool logs in under the old name, which may pass to
                // another role. Its leases finish; it takes no new ones.
                pools.remove(key);
                pool.retired = true;
                replaced = pool.leases == 0 ? pool : null;
                pool = null;
            }
            if (pool == null) {
                pool = new RolePool(login, newPool(key.database(), key.roleOid(), login));
                pools.put(key, pool);
            }
            pool.leases++;
        }
        if (replaced != null) {
            replaced.dataSource.close();
        }
        return pool;
    }

    private void leave(RolePool pool) {
        boolean close;
        synchronized (pools) {
            pool.leases--;
            close = pool.retired && pool.leases == 0;
        }
        if (close) {
            pool.dataSource.close();
        }
        slots.release();
    }

    private void retire(RolePool pool) {
        synchronized (pools) {
            pools.values().remove(pool);
            pool.retired = true;
        }
    }

    private HikariDataSource newPool(String database, long roleOid, String login) {
        HikariConfig hc = new HikariConfig();
        // Results in text form, always: with the server-side statements that now survive the reset
        // between steps, the driver would switch a statement run often enough to binary results,
        // whose text rendering differs for some types (arrays), and a step's result would change
        // with how often its statement had run.
        hc.setDataSource(base.forStep(login, database).withApplicationName(APPLICATION_NAME)
                .withProperty("binaryTransfer", "false").dataSource());
        hc.setPoolName("pg_durable-steps-" + login + "-" + roleOid + (database == null ? "" : "@" + database));
        hc.setMaximumPoolSize(perRole);
        hc.setMinimumIdle(0);
        hc.setIdleTimeout(60_000);
        // The acquire timeout is waited out in slices (see borrow), so that a connection failure
        // no retry can cure ends the wait at once.
        long slice = Math.max(250, Math.min(BORROW_SLICE_MILLIS, acquireTimeout.toMillis()));
        hc.setConnectionTimeout(slice);
        // Hikari caps a connection's validation at the connection timeout (with a warning for
        // every pool unless set so).
        hc.setValidationTimeout(slice);
        hc.setInitializationFailTimeout(-1);
        return new HikariDataSource(hc);
    }

    /** Whether {@code database} (null: the one in the URL) is the control database. */
    public boolean isControlDatabase(String database) {
        return database == null || database.equals(base.database());
    }

    @Override
    public void close() {
        List<RolePool> all;
        synchronized (pools) {
            closed = true;
            all = new ArrayList<>(pools.values());
            pools.clear();
        }
        all.forEach(p -> p.dataSource.close());
    }

    /** Undoes what a step may have left in the session (see {@link #RESET}). */
    static void reset(Connection connection) throws SQLException {
        String lastResult = null;
        try (Statement s = connection.createStatement()) {
            boolean isResult = s.execute(RESET);
            while (isResult || s.getUpdateCount() != -1) {
                if (isResult) {
                    try (ResultSet rs = s.getResultSet()) {
                        lastResult = rs.next() ? rs.getString(1) : null;
                    }
                }
                isResult = s.getMoreResults();
            }
            // The last statement counts what a SQL PREPARE left behind.
            if (lastResult != null && Long.parseLong(lastResult) > 0) {
                s.execute("DEALLOCATE ALL");
            }
        }
    }

    /** A role's pool, with the leases taken from it and whether a newer pool replaced it. */
    private static final class RolePool {
        final String login;
        final HikariDataSource dataSource;
        int leases;
        boolean retired;

        RolePool(String login, HikariDataSource dataSource) {
            this.login = login;
            this.dataSource = dataSource;
        }
    }

    /** A lease was refused: the pooled connection belonged to another role than the submitter. */
    public static final class WrongRoleException extends SQLException {
        WrongRoleException(String message) {
            super(message, WRONG_ROLE);
        }
    }

    /** A borrowed connection; closing it resets the session and returns it. */
    public final class Lease implements AutoCloseable {
        private final RolePool pool;
        private final Connection connection;
        private boolean resetWithCommit;
        private boolean evict;

        private Lease(RolePool pool, Connection connection) {
            this.pool = pool;
            this.connection = connection;
        }

        public Connection connection() {
            return connection;
        }

        /**
         * Says that the step's transaction ran {@link #RESET_BEFORE_COMMIT} and committed, so the
         * session is reset already and closing the lease only returns the connection.
         */
        public void resetWithCommit() {
            resetWithCommit = true;
        }

        /**
         * Says that the connection must not be used again: closing the lease closes it instead of
         * returning it (a cancel request sent for it may still arrive, and must not reach the
         * next step's statement).
         */
        public void evict() {
            evict = true;
        }

        @Override
        public void close() {
            boolean evicted = evict;
            try {
                if (!evicted && !connection.isClosed()) {
                    if (!connection.getAutoCommit()) {
                        connection.rollback();
                        connection.setAutoCommit(true);
                    }
                    if (!resetWithCommit) {
                        reset(connection);
                    }
                }
            } catch (SQLException e) {
                // A connection we cannot reset must not be reused.
                LOG.log(Level.FINE, "evicting a step connection that could not be reset", e);
                evicted = true;
            } finally {
                try {
                    if (evicted) {
                        // Closes the physical connection and takes it out of the pool. The proxy
                        // is not closed after that: closing it would reset a connection that is
                        // gone (Hikari fails there) and hand its entry back to the pool.
                        pool.dataSource.evictConnection(connection);
                    } else {
                        connection.close();
                    }
                } catch (SQLException | RuntimeException e) {
                    LOG.log(Level.FINE, "closing a step connection", e);
                }
                leave(pool);
            }
        }
    }
}
