package io.pgdurable.pljava;

import io.pgdurable.reconcile.ReconcileResult;
import io.pgdurable.reconcile.Reconciler;
import java.sql.SQLException;
import java.time.Clock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Entry points bound to SQL functions through PL/Java. Each is declared in the deployment
 * descriptor {@code pljava-deploy/pg_durable.ddr}; keep the two in step (a build test checks).
 * They are thin: the work happens in the same classes the standalone worker uses.
 */
public final class Functions {
    /** Held strongly: java.util.logging forgets the level of a logger nobody references. */
    private static final Logger POOL_LOG = Logger.getLogger("com.zaxxer.hikari");
    private static final Logger OWN_LOG = Logger.getLogger("io.pgdurable");

    static {
        // PL/Java turns INFO records into INFO messages, which PostgreSQL always sends to the
        // client; the functions return their summaries instead. Warnings still reach the log.
        POOL_LOG.setLevel(Level.WARNING);
        OWN_LOG.setLevel(Level.WARNING);
    }

    private Functions() {
    }

    /**
     * {@code df.reconcile()}: one reconciliation pass now, returning its summary as JSON text.
     * The pass runs on loopback connections as the current user, which is the owner of the
     * SECURITY DEFINER wrapper {@code df.reconcile()} (see {@link Loopback}), batch by
     * batch, and reads the settings as a new session sees them: a {@code SET} in the calling
     * session does not change what it deletes.
     */
    public static String reconcile() throws SQLException {
        Loopback loopback = Loopback.fromServerConfiguration();
        ReconcileResult result = new Reconciler(loopback.dataSource("pg_durable:reconcile"), Clock.systemUTC())
                .runOnce(Reconciler.Trigger.SQL, null);
        return result.toJson().toString();
    }

    /**
     * {@code df._worker_start(seconds)}: starts the worker that {@code df.run_worker(seconds)}
     * hosts in this backend; returns its id. See {@link InDatabaseWorker}.
     */
    public static String startWorker(int seconds) throws SQLException {
        return InDatabaseWorker.start(seconds);
    }

    /** {@code df._worker_poll()}: the hosted worker's log lines since the last call. */
    public static String[] pollWorker() {
        return InDatabaseWorker.poll();
    }

    /** {@code df._worker_stop()}: stops the hosted worker; returns its summary, or null if none runs. */
    public static String stopWorker() {
        return InDatabaseWorker.stop();
    }
}
