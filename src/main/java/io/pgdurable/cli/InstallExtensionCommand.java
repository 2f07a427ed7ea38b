package io.pgdurable.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code install-extension}: copies the extension files this jar carries (control files and
 * scripts under {@code extension/}) into a PostgreSQL server's {@code sharedir/extension}, and
 * the jar itself to {@code sharedir/pg_durable/}, where the {@code pg_durable_pljava} script
 * installs it from. After that, {@code CREATE EXTENSION pg_durable} works in any database of
 * that server.
 */
@Command(
        name = "install-extension",
        description = {
                "Copy the pg_durable extension files into a PostgreSQL installation, so that CREATE EXTENSION"
                        + " pg_durable (and pg_durable_pljava, with PL/Java) works.",
                "Run it as the owner of the server's files (often root), on the server's host."
        })
final class InstallExtensionCommand implements Callable<Integer> {

    /** Where the jar keeps its extension files, and where they go under sharedir. */
    static final String EXTENSION_DIR = "extension";
    static final String JAR_DIR = "pg_durable";
    private static final String PLJAVA_CONTROL = "pg_durable_pljava.control";

    @Option(names = "--pg-config", paramLabel = "<path>", defaultValue = "pg_config",
            description = "The server's pg_config program (default: pg_config on the PATH).")
    String pgConfig;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException, InterruptedException {
        Path sharedir = sharedir(pgConfig);
        Path jar = runningJar();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("install-extension copies the jar it runs from, but this runs from "
                    + jar + ": run it as java -jar target/pg-durable.jar install-extension");
        }
        List<String> files = extensionFiles(jar);
        if (files.stream().noneMatch(f -> f.endsWith(".control"))) {
            throw new IllegalStateException(jar + " holds no extension files under " + EXTENSION_DIR
                    + "/: run install-extension from the built pg-durable.jar");
        }
        PrintWriter out = spec.commandLine().getOut();
        Path extensionDir = Files.createDirectories(sharedir.resolve(EXTENSION_DIR));
        for (String file : files) {
            Path target = extensionDir.resolve(file);
            try (InputStream in = resource(jar, EXTENSION_DIR + "/" + file)) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            out.println("Wrote " + target);
        }
        Path jarTarget = Files.createDirectories(sharedir.resolve(JAR_DIR))
                .resolve(jarFileName(jar));
        Files.copy(jar, jarTarget, StandardCopyOption.REPLACE_EXISTING);
        out.println("Wrote " + jarTarget);
        out.println("Now, in a database: CREATE EXTENSION pg_durable;"
                + " with PL/Java also: CREATE EXTENSION pg_durable_pljava CASCADE;");
        out.flush();
        return 0;
    }

    /** The server's {@code pg_config --sharedir}, refusing a program that does not answer one. */
    static Path sharedir(String pgConfig) throws IOException, InterruptedException {
        Process process;
        try {
            process = new ProcessBuilder(pgConfig, "--sharedir").redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot run pg_config '" + pgConfig + "': " + e.getMessage()
                    + " (give the server's pg_config with --pg-config)", e);
        }
        String output;
        try (InputStream in = process.getInputStream()) {
            output = new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8).strip();
        }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("'" + pgConfig + " --sharedir' did not finish within 30 s");
        }
        if (process.exitValue() != 0 || output.isEmpty() || output.contains("\n")) {
            throw new IllegalArgumentException("'" + pgConfig + " --sharedir' failed (exit code "
                    + process.exitValue() + "): " + output);
        }
        Path sharedir = Path.of(output);
        if (!Files.isDirectory(sharedir)) {
            throw new IllegalArgumentException("'" + pgConfig + " --sharedir' named " + sharedir
                    + ", which is not a directory");
        }
        return sharedir;
    }

    /** The jar (or, in a development build, the classes directory) this command runs from. */
    static Path runningJar() {
        try {
            return Path.of(InstallExtensionCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate the running jar", e);
        }
    }

    /**
     * The control files and SQL scripts under {@code extension/} in {@code jar}, sorted. The other
     * files there serve the JDBC installer only.
     */
    static List<String> extensionFiles(Path jar) throws IOException {
        List<String> names = new ArrayList<>();
        if (Files.isDirectory(jar)) {
            Path dir = jar.resolve(EXTENSION_DIR);
            if (Files.isDirectory(dir)) {
                try (Stream<Path> listing = Files.list(dir)) {
                    listing.filter(Files::isRegularFile).forEach(p -> names.add(p.getFileName().toString()));
                }
            }
        } else {
            try (JarFile file = new JarFile(jar.toFile())) {
                for (Enumeration<JarEntry> e = file.entries(); e.hasMoreElements(); ) {
                    String name = e.nextElement().getName();
                    if (name.startsWith(EXTENSION_DIR + "/") && name.length() > EXTENSION_DIR.length() + 1
                            && name.indexOf('/', EXTENSION_DIR.length() + 1) < 0) {
                        names.add(name.substring(EXTENSION_DIR.length() + 1));
                    }
                }
            }
        }
        names.removeIf(name -> !name.endsWith(".control") && !name.endsWith(".sql"));
        names.sort(null);
        return names;
    }

    private static InputStream resource(Path jar, String name) throws IOException {
        if (Files.isDirectory(jar)) {
            return Files.newInputStream(jar.resolve(name));
        }
        JarFile file = new JarFile(jar.toFile());
        JarEntry entry = file.getJarEntry(name);
        if (entry == null) {
            file.close();
            throw new IOException(name + " is missing from " + jar);
        }
        InputStream in = file.getInputStream(entry);
        return new InputStream() {
            @Override
            public int read() throws IOException {
                return in.read();
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return in.read(b, off, len);
            }

            @Override
            public void close() throws IOException {
                try {
                    in.close();
                } finally {
                    file.close();
                }
            }
        };
    }

    /**
     * {@code pg-durable-<version>.jar}, the version being the PL/Java extension's default version:
     * its script installs the jar of that name.
     */
    static String jarFileName(Path jar) throws IOException {
        Properties control = new Properties();
        try (InputStream in = resource(jar, EXTENSION_DIR + "/" + PLJAVA_CONTROL)) {
            control.load(in);
        }
        String version = control.getProperty("default_version", "").replace("'", "").strip();
        if (version.isEmpty()) {
            throw new IllegalStateException(PLJAVA_CONTROL + " in " + jar + " has no default_version");
        }
        return "pg-durable-" + version + ".jar";
    }
}
