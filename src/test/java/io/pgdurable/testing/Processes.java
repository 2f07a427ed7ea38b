package io.pgdurable.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Runs external commands for the tests and finds programs on the {@code PATH}. */
public final class Processes {

    private Processes() {
    }

    /**
     * Runs {@code command} in {@code /} and waits for it, killing it after {@code timeout}.
     * Output goes through a temporary file rather than a pipe, so a daemon the command leaves
     * behind (as {@code pg_ctl start} does) cannot keep the call waiting for end-of-file.
     *
     * @throws IllegalStateException if the command cannot be started or times out
     */
    public static ProcessResult run(Duration timeout, List<String> command) {
        Path output = null;
        try {
            output = Files.createTempFile("pgdurable-test-cmd-", ".out");
            Process p = new ProcessBuilder(command)
                    .directory(new File("/"))
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IllegalStateException("Timed out after " + timeout.toSeconds() + "s: "
                        + String.join(" ", command) + "\n" + Files.readString(output, StandardCharsets.UTF_8));
            }
            return new ProcessResult(p.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while running " + String.join(" ", command), e);
        } finally {
            if (output != null) {
                try {
                    Files.deleteIfExists(output);
                } catch (IOException ignored) {
                    // A leftover temporary file is harmless.
                }
            }
        }
    }

    /** Like {@link #run(Duration, List)}, but fails unless the command exits with status 0. */
    public static String runOrFail(Duration timeout, List<String> command) {
        ProcessResult r = run(timeout, command);
        if (!r.succeeded()) {
            throw new IllegalStateException("Exit code " + r.exitCode() + " from " + String.join(" ", command)
                    + "\n" + r.output());
        }
        return r.output();
    }

    /** The first executable called {@code program} on the {@code PATH}, if any. */
    public static Optional<Path> findOnPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, program);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
