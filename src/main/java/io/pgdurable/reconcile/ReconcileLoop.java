package io.pgdurable.reconcile;

import io.pgdurable.db.TransientErrors;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A worker's periodic reconciliation. It wakes every few seconds, re-reads
 * {@code pg_durable.reconcile_interval} (so a reload takes effect without a restart), and runs a
 * pass when one is due. With several workers, the pass records in {@code df.reconcile_runs} and
 * the reconciliation lock make sure only one of them reconciles per interval. A failing pass is
 * logged and tried again at the next interval; it never stops the worker.
 */
public final class ReconcileLoop implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ReconcileLoop.class.getName());
    /** How often the loop looks at the interval setting; passes are never more frequent than the setting. */
    static final Duration TICK = Duration.ofSeconds(1);

    private final Reconciler reconciler;
    private final String workerId;
    private final Thread thread;
    private volatile boolean stopping;
    /** Test seam: ticks finished so far, so a test awaits ticks instead of sleeping through them. */
    private volatile long ticks;

    public ReconcileLoop(Reconciler reconciler, String workerId) {
        this.reconciler = reconciler;
        this.workerId = workerId;
        this.thread = new Thread(this::run, "pg_durable-reconcile");
        this.thread.setDaemon(true);
    }

    /**
     * Starts the periodic reconciliation of the database behind {@code dataSource} (a worker's
     * pool, connected as the schema owner), paced by {@code pg_durable.reconcile_interval}. The
     * hosts (the command-line worker and the in-database worker) call it after the worker starts
     * and {@link #close} it before the pool closes.
     */
    public static ReconcileLoop startOn(DataSource dataSource, String workerId) {
        return new ReconcileLoop(new Reconciler(dataSource, Clock.systemUTC()), workerId).start();
    }

    public ReconcileLoop start() {
        thread.start();
        return this;
    }

    private void run() {
        String lastFailure = null;
        while (!stopping) {
            try {
                reconciler.runIfDue(workerId);
                if (lastFailure != null) {
                    LOG.info("periodic reconciliation runs again");
                    lastFailure = null;
                }
            } catch (Exception e) {
                // The loop ticks every second: a lasting problem (a malformed setting, a missing
                // privilege) is reported once, then again only when it changes or after recovery.
                String failure = String.valueOf(e);
                boolean repeated = failure.equals(lastFailure);
                lastFailure = failure;
                Level level = repeated ? Level.FINE : TransientErrors.isTransient(e) ? Level.INFO : Level.WARNING;
                LOG.log(level, repeated ? "periodic reconciliation still cannot run; will keep trying"
                        : "periodic reconciliation could not run; will try again", e);
            }
            ticks++;
            try {
                // A little jitter keeps several workers from polling in lockstep.
                Thread.sleep(TICK.toMillis() + ThreadLocalRandom.current().nextLong(250));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Test seam: how many ticks (a look at the setting, and a pass if one was due) have finished. */
    long ticks() {
        return ticks;
    }

    @Override
    public void close() {
        stopping = true;
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(30).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
