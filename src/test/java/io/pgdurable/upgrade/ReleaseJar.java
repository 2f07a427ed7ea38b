package io.pgdurable.upgrade;

import io.pgdurable.testing.ProcessResult;
import io.pgdurable.testing.Processes;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The deployable jar of an earlier release, built from the release's git tag, so that an upgrade
 * test installs and runs exactly what that release shipped without the network.
 *
 * <p>The release's sources come from {@code git archive <tag>} of this checkout into
 * {@code target/releases/<version>/src}, built there with the {@code mvn} on the {@code PATH}
 * ({@code mvn -B -q -o package -DskipTests}: offline first, since the main build has put the
 * dependencies in the local repository, then online if that fails). The jar is kept as
 * {@code target/releases/<version>/pg-durable.jar}, with the commit it was built from beside it,
 * and reused by later runs until the build directory is cleaned. The build's output goes to
 * {@code target/releases/<version>/build.log}; a failure shows its last lines.
 */
final class ReleaseJar {

    /** Release 0.1.0: schema migrations 001 to 008, the first released version. */
    static final ReleaseJar V0_1_0 = new ReleaseJar("0.1.0", "v0.1.0", "df406417b7946bec4f0309ed743558ed78e62d8e");

    private static final Duration GIT_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(10);
    private static final int LOG_TAIL_LINES = 40;

    private final String version;
    private final String tag;
    private final String commit;
    private Path jar;

    private ReleaseJar(String version, String tag, String commit) {
        this.version = version;
        this.tag = tag;
        this.commit = commit;
    }

    /** The release's version, e.g. {@code 0.1.0}. */
    String version() {
        return version;
    }

    /** The release's deployable jar, built on first use in this build directory. */
    synchronized Path jar() {
        if (jar == null) {
            jar = buildOrReuse();
        }
        return jar;
    }

    private Path buildOrReuse() {
        return buildOrReuse(Path.of(System.getProperty("pgdurable.test.projectDir", ".")).toAbsolutePath(),
                Path.of(System.getProperty("pgdurable.test.buildDir", "target")).toAbsolutePath());
    }

    /** Builds the release from the git history of {@code projectDir} into {@code buildDir}, or reuses that build. */
    Path buildOrReuse(Path projectDir, Path buildDir) {
        Path releaseDir = buildDir.resolve("releases").resolve(version);
        String resolved = resolveCommit(projectDir);
        Path cached = releaseDir.resolve("pg-durable.jar");
        Path stamp = releaseDir.resolve("commit");
        try {
            Files.createDirectories(releaseDir);
            // Another test JVM on the same build directory builds at most once, too.
            try (FileChannel lockFile = FileChannel.open(releaseDir.resolve("build.lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = lockFile.lock()) {
                if (Files.isRegularFile(cached) && Files.isRegularFile(stamp)
                        && Files.readString(stamp).strip().equals(resolved)) {
                    return cached;
                }
                build(projectDir, releaseDir, resolved, cached);
                Files.writeString(stamp, resolved + "\n");
                return cached;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot build release " + version + " in " + releaseDir, e);
        }
    }

    /** The commit of the release's tag, or of its known hash if the tag is missing. */
    private String resolveCommit(Path projectDir) {
        if (Processes.findOnPath("git").isEmpty()) {
            throw new IllegalStateException("The upgrade tests build release " + version + " from git tag " + tag
                    + ", but git is not on the PATH; install git");
        }
        for (String candidate : List.of(tag, commit)) {
            ProcessResult r = Processes.run(GIT_TIMEOUT, List.of("git", "-C", projectDir.toString(),
                    "rev-parse", "--verify", "--quiet", candidate + "^{commit}"));
            if (r.succeeded()) {
                return r.output().strip();
            }
        }
        throw new IllegalStateException("The upgrade tests build release " + version + " from git tag " + tag
                + " (commit " + commit + "), but " + projectDir + " has neither: it is not a git clone, or a"
                + " shallow one, or was cloned without tags. Fetch the history and the tags"
                + " (git fetch --tags origin, with --unshallow in a shallow clone) and run the tests again.");
    }

    private void build(Path projectDir, Path releaseDir, String resolved, Path cached) throws IOException {
        Path src = releaseDir.resolve("src");
        Path log = releaseDir.resolve("build.log");
        Path archive = releaseDir.resolve("src.tar");
        deleteRecursively(src);
        Files.createDirectories(src);
        Files.writeString(log, "Building release " + version + " from " + tag + " (" + resolved + ")\n");
        Processes.runOrFail(GIT_TIMEOUT, List.of("git", "-C", projectDir.toString(), "archive", "--format=tar",
                "-o", archive.toString(), resolved));
        Processes.runOrFail(GIT_TIMEOUT, List.of("tar", "-xf", archive.toString(), "-C", src.toString()));
        Files.delete(archive);

        Path mvn = Processes.findOnPath("mvn").orElseThrow(() -> new IllegalStateException(
                "The upgrade tests build release " + version + " with Maven, but mvn is not on the PATH"));
        List<String> offline = List.of(mvn.toString(), "-B", "-q", "-o", "package", "-DskipTests");
        int exit = runLogged(offline, src, log);
        if (exit != 0) {
            Files.writeString(log, "\nThe offline build failed (exit " + exit + "); trying again online\n",
                    StandardOpenOption.APPEND);
            List<String> online = new ArrayList<>(offline);
            online.remove("-o");
            exit = runLogged(online, src, log);
        }
        Path built = src.resolve("target").resolve("pg-durable.jar");
        if (exit != 0 || !Files.isRegularFile(built)) {
            throw new IllegalStateException("Building release " + version + " (" + tag + ", " + resolved + ") in "
                    + src + " failed" + (exit != 0 ? " with exit code " + exit : ": it made no target/pg-durable.jar")
                    + "; last lines of " + log + ":\n" + tail(log));
        }
        Path partial = releaseDir.resolve("pg-durable.jar.partial");
        Files.copy(built, partial, StandardCopyOption.REPLACE_EXISTING);
        Files.move(partial, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private int runLogged(List<String> command, Path dir, Path log) throws IOException {
        Files.writeString(log, "$ " + String.join(" ", command) + "\n", StandardOpenOption.APPEND);
        Process p = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        try {
            if (!p.waitFor(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IllegalStateException("Building release " + version + " took more than "
                        + BUILD_TIMEOUT.toMinutes() + " minutes; last lines of " + log + ":\n" + tail(log));
            }
        } catch (InterruptedException e) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while building release " + version, e);
        }
        return p.exitValue();
    }

    static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    @Override
    public String toString() {
        return "release " + version + " (" + tag + ")";
    }
}
