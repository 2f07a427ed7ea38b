package io.pgdurable.worker;

/**
 * Thrown by a test {@link FaultInjector}: the worker abandons the work in hand exactly as a dead
 * process would, rolling back and leaving leases to expire.
 */
public final class SimulatedCrashException extends RuntimeException {
    public SimulatedCrashException(FaultPoint point) {
        super("simulated crash at " + point);
    }
}
