package io.pgdurable.worker;

import io.pgdurable.db.ArrivalSocketFactory;
import io.pgdurable.db.ConnectionSpec;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * LISTENs on the engine's channel and wakes the dispatch loops when work is enqueued elsewhere,
 * and has the claimed activity items' leases checked at once when a cancel is notified. An
 * optimisation only: the loops poll and the leases are renewed (and so checked) periodically
 * anyway, so a lost connection costs latency, not work.
 *
 * <p>The connection's socket wakes the orchestration loops the moment bytes arrive on it (see
 * {@link ArrivalSocketFactory}), a millisecond before pgjdbc hands over the notification; only
 * when the URL names a socket factory of its own does the wake-up wait for pgjdbc.
 */
final class NotificationListener implements Runnable {
    static final String CHANNEL = "df_engine";
    /** The payload df_engine.cancel sends: leases of queued activity items were revoked. */
    static final String CANCEL = "cancel";
    private static final Logger LOG = Logger.getLogger(NotificationListener.class.getName());

    private final WorkerRuntime runtime;
    private final Backoff backoff = new Backoff(Duration.ofMillis(200), Duration.ofSeconds(30));
    private volatile Connection connection;

    NotificationListener(WorkerRuntime runtime) {
        this.runtime = runtime;
    }

    @Override
    public void run() {
        ConnectionSpec spec = runtime.config().connectionSpec().withApplicationName("pg_durable listener");
        String arrivalKey = null;
        if (spec.property(ArrivalSocketFactory.FACTORY_PROPERTY) == null) {
            arrivalKey = ArrivalSocketFactory.register(runtime.orchestrationWakeup()::signal);
            spec = spec.withProperty(ArrivalSocketFactory.FACTORY_PROPERTY, ArrivalSocketFactory.class.getName())
                    .withProperty(ArrivalSocketFactory.ARG_PROPERTY, arrivalKey);
        }
        try {
            listen(spec, arrivalKey != null);
        } finally {
            ArrivalSocketFactory.unregister(arrivalKey);
        }
    }

    /** Listens until stopping; {@code wakesOnArrival}: the connection's socket wakes the loops itself. */
    private void listen(ConnectionSpec spec, boolean wakesOnArrival) {
        while (!runtime.stopping()) {
            try (Connection c = spec.open()) {
                connection = c;
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + CHANNEL);
                }
                backoff.reset();
                PGConnection pg = c.unwrap(PGConnection.class);
                int timeout = (int) Math.max(50, runtime.config().pollInterval().toMillis());
                while (!runtime.stopping()) {
                    PGNotification[] notes = pg.getNotifications(timeout);
                    if (notes != null && notes.length > 0) {
                        // Notifications announce messages for orchestrations (starts, events,
                        // results from other workers) and cancels; new activities wake the
                        // activity loop of the worker that scheduled them, locally.
                        if (!wakesOnArrival) {
                            runtime.orchestrationWakeup().signal();
                        }
                        for (PGNotification note : notes) {
                            if (CANCEL.equals(note.getParameter())) {
                                runtime.activityLeasesMayBeLost();
                                break;
                            }
                        }
                    }
                }
            } catch (SQLException e) {
                if (runtime.stopping()) {
                    return;
                }
                long delay = backoff.nextDelayMillis();
                LOG.log(Level.INFO, "notification listener lost its connection; reconnecting in " + delay + " ms", e);
                try {
                    Thread.sleep(delay);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            } finally {
                connection = null;
            }
        }
    }

    /** Unblocks a pending wait so the thread can see it is stopping. */
    void close() {
        Connection c = connection;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                LOG.log(Level.FINE, "closing listener connection", e);
            }
        }
    }
}
