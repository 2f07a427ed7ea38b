package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A signal ends one sleep; stopping has to end them all, however long they were meant to last. */
class WakeupTest {
    private static final long HOUR = TimeUnit.HOURS.toMillis(1);

    @Test
    void release_all_ends_every_sleep_and_every_later_one() throws Exception {
        Wakeup wakeup = new Wakeup();
        List<Thread> sleepers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Thread t = new Thread(() -> {
                try {
                    wakeup.await(HOUR);
                    wakeup.await(HOUR); // a loop that goes round once more before it sees it is stopping
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            t.setDaemon(true);
            t.start();
            sleepers.add(t);
        }
        wakeup.releaseAll();
        for (Thread t : sleepers) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(t.isAlive()).as("a sleeper still asleep after releaseAll").isFalse();
        }
    }

    @Test
    void a_signal_given_before_the_sleep_ends_it_once() throws Exception {
        Wakeup wakeup = new Wakeup();
        wakeup.signal();
        Thread t = new Thread(() -> {
            try {
                wakeup.await(HOUR);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        t.setDaemon(true);
        t.start();
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(t.isAlive()).isFalse();
    }
}
