package io.pgdurable.engine;

/**
 * A replay produced decisions that disagree with the recorded history. The instance is failed
 * with this message, which names the likely cause: orchestration code changed while instances
 * were in flight, or decisions drawn from non-deterministic input.
 */
public final class NonDeterminismException extends DurableException {
    static final String ADVICE = "Likely cause: the orchestration's code changed while this instance was in flight,"
            + " or it decides from non-deterministic input (wall-clock time, random numbers, I/O,"
            + " mutable static state). Use ctx.currentInstant() for time and do I/O in activities;"
            + " deploy incompatible changes under a new orchestration name.";

    public NonDeterminismException(String instanceId, String detail) {
        super("Non-deterministic orchestration replay for instance '" + instanceId + "': " + detail + ". " + ADVICE);
    }
}
