package io.pgdurable.upgrade;

import io.pgdurable.testing.Poll;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A CLI worker ({@code java -jar <jar> worker}) of some release, as a separate JVM with its own log
 * file. Every release so far logs {@code worker started: } once its pool is open and its loops run.
 */
final class WorkerJvm implements AutoCloseable {
    private static final String STARTED_LINE = "worker started: ";

    private final String name;
    private final Process process;
    private final Path log;

    private WorkerJvm(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code java -jar jar worker --url url --worker-id name} with a short poll interval and
     * lease, logging to {@code logDir/<name>.log}.
     */
    static WorkerJvm start(Path jar, String url, String name, Path logDir) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-Xmx256m", "-jar", jar.toString(), "worker", "--url", url, "--worker-id", name,
                "--poll-interval-ms", "100", "--lease-seconds", "5", "--shutdown-grace-seconds", "5"));
        try {
            Files.createDirectories(logDir);
            Path log = logDir.resolve(name + ".log");
            Process p = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            return new WorkerJvm(name, p, log);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot start worker JVM " + String.join(" ", command), e);
        }
    }

    /** Waits until the worker logs that it has started; fails if it exits or takes longer than {@code timeout}. */
    void awaitStarted(Duration timeout) {
        try {
            Poll.until(timeout, "worker " + name + " to log that it started", () -> {
                if (!process.isAlive()) {
                    throw new AssertionError("worker " + name + " exited with code " + process.exitValue()
                            + " before it had started; last lines of " + log + ":\n" + logTail());
                }
                return logContains(STARTED_LINE);
            });
        } catch (AssertionError e) {
            if (!process.isAlive()) {
                throw e;
            }
            throw new AssertionError(e.getMessage() + "; last lines of " + log + ":\n" + logTail(), e);
        }
    }

    /** Fails unless the worker is still running, e.g. after it has worked against an upgraded schema. */
    void assertAlive() {
        if (!process.isAlive()) {
            throw new AssertionError("worker " + name + " exited with code " + process.exitValue()
                    + "; last lines of " + log + ":\n" + logTail());
        }
    }

    /**
     * Stops the worker as a service manager does, with SIGTERM, and waits up to {@code timeout} for
     * it to exit; returns its exit code. Fails (after killing it) if it does not exit in time.
     */
    int stopGracefully(Duration timeout) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            throw new AssertionError("worker " + name + " did not exit within " + timeout
                    + " of SIGTERM; last lines of " + log + ":\n" + logTail());
        }
        return process.exitValue();
    }

    /** The last lines of the worker's log, for failure messages. */
    String logTail() {
        return ReleaseJar.tail(log);
    }

    private boolean logContains(String text) {
        try {
            return Files.readString(log, StandardCharsets.UTF_8).contains(text);
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    /** Kills the worker if it is still running. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return "worker " + name + " (pid " + process.pid() + ")";
    }
}
