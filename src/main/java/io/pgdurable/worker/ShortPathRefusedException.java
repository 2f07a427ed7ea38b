package io.pgdurable.worker;

/**
 * The database refused the turn the short path committed with a step (a write of the turn
 * failed), and with it the step's transaction, whose work is rolled back. The worker gives the
 * item back at once; the step runs again and its completion takes the queue path, where the
 * orchestration dispatch meets the same refusal and fails the instance as it fails any turn that
 * cannot be written.
 */
final class ShortPathRefusedException extends RuntimeException {
    ShortPathRefusedException(String instanceId, Throwable cause) {
        super("the database refused the next turn of " + instanceId + " with its step's completion; the step"
                + " was rolled back and runs again on the queue path: " + cause.getMessage(), cause);
    }
}
