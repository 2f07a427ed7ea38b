package io.pgdurable.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.Poll;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** The worker's periodic reconciliation loop. */
class ReconcileLoopTest {
    private static final Logger LOG = Logger.getLogger(ReconcileLoop.class.getName());
    /** Bound for a few ticks of about a second each. */
    private static final Duration TICKS = Duration.ofSeconds(20);

    @Test
    void a_lasting_failure_is_reported_once_not_at_every_tick_and_its_end_is_reported_too() throws Exception {
        ReconcileDatabase db = ReconcileDatabase.create("reconcile_loop");
        db.set(ReconcileSettings.RECONCILE_INTERVAL, "soon");
        List<LogRecord> records = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Level previous = LOG.getLevel();
        LOG.setLevel(Level.ALL);
        LOG.addHandler(capture);
        try (ReconcileLoop loop = new ReconcileLoop(new Reconciler(db.dataSource(), Clock.systemUTC()), "w1").start()) {
            Poll.until(TICKS, "three ticks with the malformed setting", loop::ticks, n -> n >= 3);
            assertThat(records.stream().filter(r -> r.getLevel() == Level.FINE).count())
                    .as("later ticks failed the same way").isPositive();
            db.reset(ReconcileSettings.RECONCILE_INTERVAL);
            // The tick under way may have read the old setting; the one after it began after the reset.
            long atReset = loop.ticks();
            Poll.until(TICKS, "two ticks after the setting was reset", loop::ticks, n -> n >= atReset + 2);
        } finally {
            LOG.removeHandler(capture);
            LOG.setLevel(previous);
        }
        List<LogRecord> warnings = records.stream().filter(r -> r.getLevel() == Level.WARNING).toList();
        assertThat(warnings).hasSize(1);
        assertThat(String.valueOf(warnings.get(0).getThrown())).contains("soon");
        assertThat(records).anySatisfy(r -> assertThat(r.getMessage()).isEqualTo("periodic reconciliation runs again"));
    }
}
