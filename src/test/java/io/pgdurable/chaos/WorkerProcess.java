package io.pgdurable.chaos;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real CLI worker ({@code java -jar target/pg-durable.jar worker}) as a separate JVM that a
 * test can kill with SIGKILL and start again. Each JVM writes its output to its own log file.
 */
final class WorkerProcess implements AutoCloseable {
    /** What {@code Worker} logs once its pool is open and its loops run. */
    private static final String STARTED_LINE = "worker started: ";
    private final String jdbcUrl;
    private final Path logDir;
    private final List<String> extraOptions;
    private Process process;
    private Path log;
    private int starts;
    private int failedStarts;
    private int exitsWhileRunning;
    private final List<String> exits = new ArrayList<>();

    /**
     * @param jdbcUrl the control database, with the worker's login in it
     * @param logDir where the workers' logs go, one file per JVM
     * @param extraOptions more {@code worker} options, e.g. a short lease
     */
    WorkerProcess(String jdbcUrl, Path logDir, List<String> extraOptions) {
        this.jdbcUrl = jdbcUrl;
        this.logDir = logDir;
        this.extraOptions = List.copyOf(extraOptions);
    }

    /** Starts a new worker JVM; the previous one must be dead. */
    void start() {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("a worker JVM is still running: pid " + process.pid());
        }
        Path jar = Path.of(System.getProperty("pgdurable.test.buildDir", "target")).resolve("pg-durable.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("the deployable jar " + jar + " is missing; it is built in the"
                    + " process-classes phase (mvn verify builds it before the tests)");
        }
        starts++;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java,
                // A worker is started again after every kill: start fast, stay small.
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
                "-jar", jar.toString(), "worker", "--url", jdbcUrl, "--worker-id", "chaos-" + starts));
        command.addAll(extraOptions);
        try {
            Files.createDirectories(logDir);
            log = logDir.resolve("worker-" + starts + ".log");
            process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start a worker JVM: " + String.join(" ", command), e);
        }
    }

    /** Kills the running worker JVM with SIGKILL and waits for it to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("worker JVM " + process.pid() + " survived SIGKILL for 30 s");
        }
    }

    /**
     * Starts the worker again if it exited without being killed, and counts that. A worker that
     * cannot open its connection pool at startup (the server restarting, its first session
     * terminated) exits with an error, as the CLI does, and a service manager would start it again;
     * a worker that has started is meant to ride out lost connections and restarts, and never
     * exit by itself. Returns true if it had exited.
     */
    boolean restartIfExited() {
        if (process == null || process.isAlive()) {
            return false;
        }
        boolean hadStarted = logContains(STARTED_LINE);
        if (hadStarted) {
            exitsWhileRunning++;
        } else {
            failedStarts++;
        }
        String tail = logTail();
        exits.add("worker JVM " + starts + " (pid " + process.pid() + ") exited with code " + process.exitValue()
                + (hadStarted ? " while running; last lines of " + log + ":\n" + tail
                        : " before it had started: " + tail.substring(tail.lastIndexOf('\n') + 1)));
        start();
        return true;
    }

    /** Worker JVMs started so far. */
    int starts() {
        return starts;
    }

    /** Times a worker JVM exited on its own before it had started (e.g. the server was down). */
    int failedStarts() {
        return failedStarts;
    }

    /** Times a worker JVM exited on its own after it had started. */
    int exitsWhileRunning() {
        return exitsWhileRunning;
    }

    /** What each worker JVM that exited on its own left in its log. */
    List<String> exits() {
        return List.copyOf(exits);
    }

    private boolean logContains(String text) {
        try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
            return lines.anyMatch(l -> l.contains(text));
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    /** The last lines of the current worker's log, for failure messages. */
    String logTail() {
        if (log == null) {
            return "(no worker started)";
        }
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** Stops the worker: SIGTERM, then SIGKILL if it has not exited within 15 s. */
    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }
}
