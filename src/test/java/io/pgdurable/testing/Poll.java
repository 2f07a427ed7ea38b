package io.pgdurable.testing;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * The one way tests wait: poll a positive condition with a short back-off until it holds or a
 * bound passes, then fail naming what was awaited and the last value seen. Never use a fixed
 * sleep to prove that something did not happen; await a positive condition (a sentinel that must
 * come later, a tick counter, a settable clock) and then assert.
 */
public final class Poll {
    /** The first pause between probes; it doubles up to {@link #MAX_PAUSE}. */
    static final Duration FIRST_PAUSE = Duration.ofMillis(5);
    static final Duration MAX_PAUSE = Duration.ofMillis(50);

    /** A probe that may throw (a query, a file read); an exception fails the wait at once. */
    @FunctionalInterface
    public interface Probe<T> {
        T get() throws Exception;
    }

    /** A condition that may throw. */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    private Poll() {
    }

    /** Polls {@code condition} until it holds; fails after {@code bound} naming {@code what}. */
    public static void until(Duration bound, String what, Condition condition) {
        Objects.requireNonNull(condition, "condition");
        until(bound, what, condition::holds, Boolean.TRUE::equals);
    }

    /**
     * Polls {@code probe} until {@code accept} takes its value, and returns that value; fails after
     * {@code bound} naming {@code what} and the last value the probe returned.
     */
    public static <T> T until(Duration bound, String what, Probe<T> probe, Predicate<? super T> accept) {
        Objects.requireNonNull(bound, "bound");
        Objects.requireNonNull(probe, "probe");
        Objects.requireNonNull(accept, "accept");
        long deadline = System.nanoTime() + bound.toNanos();
        long pause = FIRST_PAUSE.toMillis();
        while (true) {
            T value = probe(probe, what);
            if (accept.test(value)) {
                return value;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + bound + " waiting: " + what
                        + "; last value seen: " + value);
            }
            try {
                Thread.sleep(pause);  // the back-off between probes, not a wait for an outcome
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting: " + what, e);
            }
            pause = Math.min(pause * 2, MAX_PAUSE.toMillis());
        }
    }

    private static <T> T probe(Probe<T> probe, String what) {
        try {
            return probe.get();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError("the probe failed waiting: " + what + ": " + e, e);
        }
    }
}
