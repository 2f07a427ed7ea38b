package io.pgdurable.testing;

/**
 * The outcome of an external command run by the test harness.
 *
 * @param exitCode the command's exit status
 * @param output   its standard output and standard error, interleaved
 */
public record ProcessResult(int exitCode, String output) {

    /** True if the command exited with status 0. */
    public boolean succeeded() {
        return exitCode == 0;
    }
}
