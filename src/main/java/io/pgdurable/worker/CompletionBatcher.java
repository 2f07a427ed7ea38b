package io.pgdurable.worker;

import io.pgdurable.db.TransientErrors;
import io.pgdurable.engine.store.ActivityQueue;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Records activity results in batches: one statement carries every result that arrived while
 * the previous one was in flight, so under load the round trips per result approach zero while
 * an idle worker still records a lone result at once.
 */
final class CompletionBatcher implements Runnable {
    private static final Logger LOG = Logger.getLogger(CompletionBatcher.class.getName());
    private static final int MAX_BATCH = 256;

    private final WorkerRuntime runtime;
    private final ActivityQueue queue = new ActivityQueue();
    private final BlockingQueue<ActivityQueue.Completion> pending = new LinkedBlockingQueue<>();
    private final Backoff backoff = new Backoff(Duration.ofMillis(50), Duration.ofSeconds(5));

    CompletionBatcher(WorkerRuntime runtime) {
        this.runtime = runtime;
    }

    void submit(ActivityQueue.Completion completion) {
        pending.add(completion);
    }

    int backlog() {
        return pending.size();
    }

    @Override
    public void run() {
        List<ActivityQueue.Completion> batch = new ArrayList<>();
        while (true) {
            try {
                if (batch.isEmpty()) {
                    ActivityQueue.Completion first = pending.poll(100, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        if (runtime.stopping() && pending.isEmpty()) {
                            return;
                        }
                        continue;
                    }
                    batch.add(first);
                    pending.drainTo(batch, MAX_BATCH - 1);
                }
                flush(batch);
                batch.clear();
                backoff.reset();
                runtime.orchestrationWakeup().signal();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (SQLException e) {
                if (!TransientErrors.isTransient(e) || runtime.stopping()) {
                    LOG.log(Level.WARNING, "could not record " + batch.size() + " activity results;"
                            + " those activities will run again when their leases expire", e);
                    batch.clear();
                    continue;
                }
                long delay = backoff.nextDelayMillis();
                LOG.log(Level.INFO, "recording activity results failed; retrying in " + delay + " ms", e);
                try {
                    Thread.sleep(delay);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void flush(List<ActivityQueue.Completion> batch) throws SQLException {
        try (Connection c = runtime.dataSource().getConnection()) {
            int recorded = queue.completeActivities(c, batch);
            if (recorded < batch.size()) {
                LOG.fine(() -> (batch.size() - recorded) + " activity results not recorded: lease lost");
            }
        }
    }
}
