package io.pgdurable.worker;

/**
 * Hook called at each {@link FaultPoint}. Production workers use {@link #NONE}; tests throw
 * {@link SimulatedCrashException} to make the worker behave as if it died right there.
 */
@FunctionalInterface
public interface FaultInjector {
    FaultInjector NONE = (point, instanceId) -> { };

    void at(FaultPoint point, String instanceId);
}
