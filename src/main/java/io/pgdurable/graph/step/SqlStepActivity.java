package io.pgdurable.graph.step;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.db.TransientErrors;
import io.pgdurable.engine.Activity;
import io.pgdurable.engine.ActivityContext;
import io.pgdurable.engine.JsonLimitException;
import io.pgdurable.engine.Limits;
import io.pgdurable.graph.sql.BindValue;
import io.pgdurable.graph.sql.PreparedSql;
import io.pgdurable.graph.sql.SqlText;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * Runs one SQL step as the submitting role and records its result in the same transaction as
 * the statement, so the step happens exactly once: a crash before the commit leaves no trace and
 * the step runs again; after it, never again. A statement that cannot run inside a transaction
 * block (VACUUM, CREATE INDEX CONCURRENTLY, ...) is run again in autocommit and its result
 * recorded separately: such steps are at-least-once.
 *
 * <p>The result is checked against the worker's {@link Limits} while it is read, before the
 * step's transaction commits: a result over them fails the step and leaves no trace of it.
 */
public final class SqlStepActivity implements Activity {
    public static final String NAME = "df.sql";
    /** active_sql_transaction: "cannot run inside a transaction block". */
    private static final String NOT_IN_TRANSACTION = "25001";
    /** query_canceled: statement_timeout or a cancel request; the same statement would hit it again. */
    private static final String QUERY_CANCELED = "57014";

    /** Rows fetched per round trip while a result is read. */
    private static final int FETCH_ROWS = 1000;

    /** How long a role's oid-to-name check is trusted before it is made again. */
    private static final long ROLE_CHECK_NANOS = Duration.ofSeconds(1).toNanos();

    private final StepConnections connections;
    private final Supplier<DataSource> control;
    private final Map<Long, RoleCheck> roleChecks = new ConcurrentHashMap<>();
    private final StatementForms forms = new StatementForms();

    /** The submitter's OID and login name, as last looked up, and when. */
    private record RoleCheck(long oid, String name, long checkedAt) {
    }

    public SqlStepActivity(StepConnections connections, Supplier<DataSource> control) {
        this.connections = connections;
        this.control = control;
    }

    @Override
    public Object run(ActivityContext ctx) throws Exception {
        StepInput step = ctx.input(StepInput.class);
        RoleCheck role = currentRole(step);
        PreparedSql prepared = step.prepared();
        for (int run = 1; ; run++) {
            // A connection of its own for each run: the pool closes one that failed with some
            // errors (a stale plan's 0A000 among them).
            try (StepConnections.Lease lease = acquire(step, role)) {
                PreparedSql form = forms.choose(lease.connection(), step.database(), role.oid(), prepared);
                try {
                    return run(ctx, step, lease, form, run < MAX_RUNS);
                } catch (RunAgain e) {
                    if (e.literalsRefused) {
                        // Described as taken, refused while parsed when it ran (what it calls
                        // changed since): from now on the statement goes with its literals.
                        forms.refused(step.database(), role.oid(), form);
                        prepared = form.withLiterals();
                    }
                }
            }
        }
    }

    /** How often a step's statement is sent before an error that {@link RunAgain} stands for fails it. */
    private static final int MAX_RUNS = 3;

    /**
     * The server refused the statement before running it, for a reason a second run does not
     * meet: its literal parameters ({@code literalsRefused}), or a plan the connection kept for it
     * whose result no longer fits the tables ("cached plan must not change result type": the
     * driver prepares it afresh). Its transaction was rolled back.
     */
    private static final class RunAgain extends Exception {
        final boolean literalsRefused;

        RunAgain(SQLException cause, boolean literalsRefused) {
            super(cause);
            this.literalsRefused = literalsRefused;
        }
    }

    /** The {@link RunAgain} that {@code e} calls for, or null. */
    private static RunAgain runAgain(PreparedSql prepared, SQLException e, boolean mayRunAgain) {
        if (!mayRunAgain) {
            return null;
        }
        if (StatementForms.isRefusal(prepared, e)) {
            return new RunAgain(e, true);
        }
        // Told by the server's routine, not its message, which follows lc_messages.
        if (e instanceof PSQLException p && p.getServerErrorMessage() != null
                && "RevalidateCachedQuery".equals(p.getServerErrorMessage().getRoutine())) {
            return new RunAgain(e, false);
        }
        return null;
    }

    private Object run(ActivityContext ctx, StepInput step, StepConnections.Lease lease, PreparedSql prepared,
                       boolean mayRunAgain) throws Exception {
        Limits limits = ctx.limits();
        String what = "the result of SQL step " + step.nodeId();
        Connection c = lease.connection();
        boolean control = connections.isControlDatabase(step.database());
        if (!control) {
            // The engine's tables live in the control database only, so a step elsewhere
            // checks its lease on the worker's own connection, right before its statement.
            ctx.checkLease();
        }
        c.setAutoCommit(false);
        // In the step's own transaction, right before its statement: an instance cancelled
        // after the claim (while the item waited for a thread or a connection) never starts.
        if (control) {
            ctx.checkLease(c);
        }
        // A text with literal parameters recurs (the same for every instance): lexed once, kept.
        if (control && (prepared.hasLiteralParameters() ? SqlText.of(prepared.sql()).isWriteWithoutRows()
                : SqlText.isWriteWithoutRows(prepared.sql()))) {
            return writeWithCompletion(c, prepared, ctx, lease, mayRunAgain);
        }
        ObjectNode result;
        try {
            result = execute(c, prepared, limits, what, ctx);
        } catch (SQLException e) {
            rollbackQuietly(c);
            RunAgain again = runAgain(prepared, e, mayRunAgain);
            if (again != null) {
                throw again;
            }
            if (!NOT_IN_TRANSACTION.equals(e.getSQLState())) {
                throw failure(e);
            }
            c.setAutoCommit(true);
            if (control) {
                ctx.checkLease(c);
            } else {
                ctx.checkLease();
            }
            return autocommit(c, prepared, limits, what, ctx);
        } catch (RuntimeException e) {
            // A result over the limits (or unreadable): the step's transaction rolls back, so
            // nothing of it stays.
            rollbackQuietly(c);
            throw limitFailure(e);
        }
        if (!control) {
            // The engine's tables live in the control database only: a step in another
            // database cannot record its completion in its own transaction, so it commits on
            // its own and its result is recorded afterwards (at-least-once).
            try {
                c.commit();
            } catch (SQLException e) {
                throw failure(e);
            }
            return result;
        }
        // The session's reset travels with the completion, before the COMMIT.
        ctx.completeAndCommit(c, result, StepConnections.RESET_BEFORE_COMMIT);
        lease.resetWithCommit();
        return result;
    }

    /**
     * A statement that returns no rows ({@link SqlText#isWriteWithoutRows}) has its result,
     * {@link ResultMapper#empty()}, before it runs: it goes to the database with its completion,
     * the session's reset and the {@code COMMIT}, in one round trip instead of two. Should the
     * statement fail, nothing commits and its error fails the step as in {@link #execute}; should
     * the lease be lost while it runs, the statement is cancelled.
     */
    private static ObjectNode writeWithCompletion(Connection c, PreparedSql prepared, ActivityContext ctx,
                                                  StepConnections.Lease lease, boolean mayRunAgain) throws Exception {
        PreparedSql.requireStandardConformingStrings(c);
        List<Object> parameters = new ArrayList<>(prepared.params().size());
        for (BindValue value : prepared.params()) {
            // As BindValue.bindTo binds them: text without a type, the rest by their Java type.
            parameters.add(value.value() instanceof String text
                    ? new ActivityContext.UntypedText(text) : value.value());
        }
        ObjectNode result = ResultMapper.empty();
        Canceller canceller = new Canceller(c);
        try (ActivityContext.Registration stop = ctx.onLeaseLost(canceller::cancel)) {
            ctx.writeCompleteAndCommit(c, prepared.sql(), parameters, result, StepConnections.RESET_BEFORE_COMMIT);
        } catch (SQLException e) {
            RunAgain again = runAgain(prepared, e, mayRunAgain);
            if (again != null) {
                throw again;
            }
            throw failure(e);
        } finally {
            if (canceller.finish()) {
                lease.evict();
            }
        }
        lease.resetWithCommit();
        return result;
    }

    /**
     * Cancels what runs on a connection while a round trip is under way, and tells afterwards
     * whether it did: a cancel request reaches the server on a connection of its own and may land
     * after the round trip ended, so a connection it was sent for is not used again.
     */
    private static final class Canceller {
        private final Connection connection;
        private boolean finished;
        private boolean sent;

        Canceller(Connection connection) {
            this.connection = connection;
        }

        synchronized void cancel() {
            if (!finished) {
                sent = true;
                try {
                    connection.unwrap(PGConnection.class).cancelQuery();
                } catch (SQLException e) {
                    // Closed already: nothing runs on it.
                }
            }
        }

        /** Ends the round trip: no cancel is sent from now on. Returns whether one was. */
        synchronized boolean finish() {
            finished = true;
            return sent;
        }
    }

    /** Steps check their lease themselves, after waiting for their connection. */
    @Override
    public boolean checksLeaseItself() {
        return true;
    }

    /**
     * Runs a statement outside a transaction block; its result is recorded separately. The row
     * limit still bounds what is read, but the statement's effects stay even when its result is
     * over the limits: such statements (VACUUM, CREATE DATABASE, ...) return no rows in practice.
     */
    private static ObjectNode autocommit(Connection c, PreparedSql prepared, Limits limits, String what,
                                         ActivityContext ctx) throws Exception {
        c.setAutoCommit(true);
        try {
            return execute(c, prepared, limits, what, ctx);
        } catch (SQLException e) {
            throw failure(e);
        } catch (RuntimeException e) {
            throw limitFailure(e);
        }
    }

    /** A result over the limits fails the step for good, with the limit's own message. */
    private static RuntimeException limitFailure(RuntimeException e) {
        if (e instanceof JsonLimitException limit) {
            return new StepFailedException(limit.getMessage(), JsonLimitException.SQLSTATE, null);
        }
        return e;
    }

    /**
     * A failed statement's transaction is rolled back; if the connection itself is gone (the pool
     * closes connections on some errors), the statement's own error is what matters.
     */
    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the original error is reported instead
        }
    }

    private StepConnections.Lease acquire(StepInput step, RoleCheck role) throws SQLException {
        try {
            return connections.acquire(step.database(), role.oid(), role.name());
        } catch (StepConnections.WrongRoleException e) {
            // The name we logged in with belongs to another role now: look the submitter up
            // afresh before the retry.
            roleChecks.remove(role.oid());
            throw e;
        } catch (SQLException e) {
            SQLException sql = TransientErrors.permanentConnectFailure(e);
            if (sql != null) {
                // No such database, authentication refused, no CONNECT privilege: retrying will not
                // help. The step fails for good with PostgreSQL's own message, and no cause, so
                // nothing retries it.
                throw new StepFailedException("Failed to connect to database '"
                        + (step.database() == null ? "(control database)" : step.database()) + "' as '" + role
                        + "'. Error: " + sql.getMessage(), sql.getSQLState(), null);
            }
            throw e;
        }
    }

    /**
     * Runs the statement; should the worker learn meanwhile that the step's lease is gone (its
     * instance was cancelled), the statement is cancelled.
     */
    private static ObjectNode execute(Connection c, PreparedSql prepared, Limits limits, String what,
                                      ActivityContext ctx) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(prepared.sql());
             ActivityContext.Registration stop = ctx.onLeaseLost(() -> cancelQuietly(ps))) {
            prepared.bind(ps);
            // The server sends at most one row more than the limit (enough to tell that the result
            // is over it), and with autocommit off pgjdbc fetches them through a cursor, a batch at
            // a time, so a statement returning millions of rows never has them all in memory.
            ps.setMaxRows(limits.maxStepResultRows() + 1);
            ps.setFetchSize(FETCH_ROWS);
            if (ps.execute()) {
                try (ResultSet rs = ps.getResultSet()) {
                    return ResultMapper.map(rs, limits, what);
                }
            }
            return ResultMapper.empty();
        }
    }

    private static void cancelQuietly(Statement statement) {
        try {
            statement.cancel();
        } catch (SQLException e) {
            // Closed already: the statement has ended by itself.
        }
    }

    /**
     * The submitter's OID and current name, looked up by OID: a renamed role still works, a
     * dropped one fails the step with a message saying so. An input without an OID (built by hand,
     * not by df.start) names the role by name alone, which is looked up the same way.
     */
    private RoleCheck currentRole(StepInput step) throws SQLException {
        Long oid = step.roleOid();
        if (oid != null) {
            RoleCheck known = roleChecks.get(oid);
            if (known != null && System.nanoTime() - known.checkedAt() < ROLE_CHECK_NANOS) {
                return known;
            }
        }
        RoleCheck checked = lookUpRole(step);
        if (oid != null) {
            roleChecks.put(oid, checked);
        }
        return checked;
    }

    private RoleCheck lookUpRole(StepInput step) throws SQLException {
        // On the worker's own connection (search_path pinned); still schema-qualified throughout.
        String sql = """
                SELECT r.oid, r.rolname, r.rolcanlogin, r.rolsuper,
                       coalesce(pg_catalog.current_setting('pg_durable.enable_superuser_instances', true), 'off')
                  FROM pg_catalog.pg_roles r
                 WHERE %s
                """.formatted(step.roleOid() != null ? "r.oid OPERATOR(pg_catalog.=) ?"
                        : "r.rolname OPERATOR(pg_catalog.=) ?");
        try (Connection c = control.get().getConnection();
             PreparedStatement ps = c.prepareStatement(sql)) {
            if (step.roleOid() != null) {
                ps.setLong(1, step.roleOid());
            } else {
                ps.setString(1, step.role());
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new StepFailedException("the role \"" + step.role() + "\" that submitted instance "
                            + step.instanceId() + " no longer exists, so its SQL steps cannot run");
                }
                if (!rs.getBoolean(3)) {
                    throw new StepFailedException("the role \"" + rs.getString(2) + "\" that submitted instance "
                            + step.instanceId() + " can no longer log in (NOLOGIN), so its SQL steps cannot run");
                }
                if (rs.getBoolean(4) && !isOn(rs.getString(5))) {
                    throw new StepFailedException("pg_durable blocked instance " + step.instanceId()
                            + ": submitted_by role \"" + rs.getString(2) + "\" is a superuser, but"
                            + " pg_durable.enable_superuser_instances is off");
                }
                return new RoleCheck(rs.getLong(1), rs.getString(2), System.nanoTime());
            }
        }
    }

    private static boolean isOn(String setting) {
        String v = setting.strip().toLowerCase(java.util.Locale.ROOT);
        return v.equals("on") || v.equals("true") || v.equals("1") || v.equals("yes");
    }

    /** Transient errors propagate to be retried; anything else fails the step for good. */
    private static Exception failure(SQLException e) {
        boolean canceled = QUERY_CANCELED.equals(e.getSQLState());
        if (TransientErrors.isTransient(e) && !canceled) {
            return e;
        }
        String message = e.getMessage();
        if (e instanceof PSQLException p && p.getServerErrorMessage() != null) {
            ServerErrorMessage server = p.getServerErrorMessage();
            message = server.getMessage();
            if (server.getDetail() != null) {
                message += " (" + server.getDetail() + ")";
            }
        }
        // A cancelled statement keeps no cause: the worker retries any failure whose cause chain
        // holds a transient SQLSTATE, and class 57 is one.
        return new StepFailedException("SQL execution failed: " + message, e.getSQLState(), canceled ? null : e);
    }
}
