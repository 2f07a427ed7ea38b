package io.pgdurable.testing;

import io.pgdurable.schema.SchemaInstaller;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.regex.Pattern;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A throwaway PostgreSQL 15 cluster shared by every test in the JVM.
 *
 * <p>{@link #get()} starts it on first use: {@code initdb} into a fresh directory under the Maven
 * build directory ({@code pgcluster-<port>}), tuned for speed over durability, listening only on
 * 127.0.0.1 at a free port. {@link TestClusterSessionListener} stops it and deletes its directory
 * when the test run ends; a JVM shutdown hook does the same if the run is cut short. A cluster left
 * running by a test JVM that was killed outright is stopped by the next run.
 *
 * <p>Run as root (as in CI containers), the server runs as the OS user {@code postgres}, which
 * PostgreSQL requires; if that user cannot reach the build directory, the cluster lives in a
 * directory under {@code /tmp} instead.
 *
 * <p>All databases share the cluster; a test class that needs isolation creates its own database
 * with {@link #createDatabase(String)}. Every connection uses trust authentication.
 */
public final class TestCluster {

    /** The cluster's superuser. */
    public static final String SUPERUSER = "postgres";

    /** The address the cluster listens on; nothing else is reachable. */
    public static final String HOST = "127.0.0.1";

    private static final Logger LOG = Logger.getLogger(TestCluster.class.getName());
    private static final Path DEBIAN_BINDIR = Path.of("/usr/lib/postgresql/15/bin");
    private static final String DIR_PREFIX = "pgcluster-";
    private static final String TMP_DIR_PREFIX = "pgdurable-pgcluster-";
    private static final String OWNER_FILE = "owner.pid";
    private static final Pattern DATABASE_NAME = Pattern.compile("[a-z][a-z0-9_]{0,62}");
    /** Unix socket paths are limited to 107 bytes, and the socket file name takes 15 of them. */
    private static final int MAX_SOCKET_DIR_LENGTH = 90;
    private static final int START_ATTEMPTS = 3;
    private static final int LOG_TAIL_LINES = 40;

    private static final Object LOCK = new Object();
    private static TestCluster instance;
    private static RuntimeException startFailure;
    private static boolean shutdownHookInstalled;

    private final Path bindir;
    private final boolean runAsPostgres;
    private final Path root;
    private final Path dataDir;
    private final Path socketDir;
    private final int port;

    private TestCluster(Path bindir, boolean runAsPostgres, Path root, Path socketDir, int port) {
        this.bindir = bindir;
        this.runAsPostgres = runAsPostgres;
        this.root = root;
        this.dataDir = root.resolve("data");
        this.socketDir = socketDir;
        this.port = port;
    }

    /**
     * The running cluster, started by the first call. If starting fails, this and every later call
     * throw the same exception, with the server log's tail, instead of trying again.
     */
    public static TestCluster get() {
        synchronized (LOCK) {
            if (instance != null) {
                return instance;
            }
            if (startFailure != null) {
                throw startFailure;
            }
            if (!shutdownHookInstalled) {
                Runtime.getRuntime().addShutdownHook(new Thread(TestCluster::stopIfStarted, "test-cluster-stop"));
                shutdownHookInstalled = true;
            }
            try {
                instance = start();
            } catch (RuntimeException e) {
                startFailure = e;
                throw e;
            }
            return instance;
        }
    }

    /** Stops the cluster and deletes its files, if it was started; otherwise does nothing. */
    public static void stopIfStarted() {
        synchronized (LOCK) {
            if (instance != null) {
                TestCluster stopping = instance;
                instance = null;
                stopping.stop();
            }
        }
    }

    /** The TCP port the cluster listens on at {@link #HOST}. */
    public int port() {
        return port;
    }

    /** The directory holding {@code initdb}, {@code pg_ctl}, {@code psql} and the other server programs. */
    public Path bindir() {
        return bindir;
    }

    /** The data directory; the server log is {@code server.log} in it. */
    public Path dataDir() {
        return dataDir;
    }

    /** A JDBC URL for {@code db} that names no user; pass the user as a connection property. */
    public String jdbcUrl(String db) {
        return "jdbc:postgresql://" + HOST + ":" + port + "/" + checkDatabaseName(db);
    }

    /** A JDBC URL for {@code db} that connects as {@code user}, e.g. for a separate worker JVM. */
    public String jdbcUrl(String db, String user) {
        return jdbcUrl(db) + "?user=" + URLEncoder.encode(user, StandardCharsets.UTF_8);
    }

    /** A new connection to {@code db} as the superuser {@value #SUPERUSER}, in auto-commit mode. */
    public Connection connect(String db) throws SQLException {
        return connect(db, SUPERUSER);
    }

    /** A new connection to {@code db} as {@code user} (any password is accepted), in auto-commit mode. */
    public Connection connect(String db, String user) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("ApplicationName", "pg-durable tests");
        return DriverManager.getConnection(jdbcUrl(db), props);
    }

    /**
     * Creates database {@code name}, dropping any earlier one of that name, and installs the
     * {@code df_engine} schema in it with {@link SchemaInstaller}.
     *
     * @param name lower-case letters, digits and underscores, starting with a letter
     * @return {@code name}
     */
    public String createDatabase(String name) {
        createEmptyDatabase(name);
        try (Connection c = connect(name)) {
            new SchemaInstaller().install(c);
        } catch (SQLException e) {
            throw new IllegalStateException("Installing the schema into test database " + name + " failed", e);
        }
        return name;
    }

    /**
     * Creates database {@code name} with nothing installed, dropping any earlier one of that name.
     *
     * @return {@code name}
     */
    public String createEmptyDatabase(String name) {
        checkDatabaseName(name);
        try (Connection c = connect("postgres")) {
            executeFormatted(c, "DROP DATABASE IF EXISTS %I WITH (FORCE)", name);
            executeFormatted(c, "CREATE DATABASE %I", name);
        } catch (SQLException e) {
            throw new IllegalStateException("Creating test database " + name + " failed", e);
        }
        return name;
    }

    /** The OID of role {@code name}, which must exist. */
    public long roleOid(String name) {
        try (Connection c = connect("postgres");
             PreparedStatement ps = c.prepareStatement("SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("no role " + name);
                }
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Creates login role {@code name} without a password, or leaves it as it is if it exists. */
    public void createLoginRole(String name) {
        createLoginRole(name, null);
    }

    /**
     * Creates login role {@code name} (not a superuser), or, if it exists, makes it able to log in
     * and sets its password. Roles belong to the cluster, not to a database.
     *
     * @param password the role's password, or null for none (the cluster trusts every login anyway)
     */
    public void createLoginRole(String name, String password) {
        try (Connection c = connect("postgres")) {
            boolean exists;
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    exists = rs.next();
                }
            }
            String verb = exists ? "ALTER" : "CREATE";
            if (password == null) {
                executeFormatted(c, verb + " ROLE %I LOGIN", name);
            } else {
                executeFormatted(c, verb + " ROLE %I LOGIN PASSWORD %L", name, password);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Creating login role " + name + " failed", e);
        }
    }

    /**
     * Makes every TCP login from {@code address} (a loopback address other than {@link #HOST}, such
     * as 127.0.0.2) need its role's password (scram-sha-256), leaving every other login trusted, and
     * reloads the configuration. A client picks the address with pgjdbc's {@code localSocketAddress}.
     * Safe to call again with the same address.
     */
    public void requirePasswordsFrom(String address) {
        if (address.equals(HOST)) {
            throw new IllegalArgumentException("logins from " + HOST + " stay trusted: the tests' workers use it");
        }
        Path hba = dataDir.resolve("pg_hba.conf");
        String line = "host all all " + address + "/32 scram-sha-256";
        synchronized (LOCK) {
            try {
                String text = Files.readString(hba);
                if (!text.lines().anyMatch(line::equals)) {
                    Files.writeString(hba, line + "\n" + text);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot edit " + hba, e);
            }
        }
        try (Connection c = connect("postgres")) {
            c.createStatement().execute("SELECT pg_reload_conf()");
        } catch (SQLException e) {
            throw new IllegalStateException("Reloading the test cluster's configuration failed", e);
        }
    }

    /** True if {@code CREATE EXTENSION name} can work, i.e. the extension's files are installed. */
    public boolean isExtensionAvailable(String name) {
        try (Connection c = connect("postgres");
             PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_available_extensions WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Listing the available extensions failed", e);
        }
    }

    /** True if the server preloads pg_cron, which it does whenever pg_cron is installed. */
    public boolean hasPgCron() {
        try (Connection c = connect("postgres");
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT current_setting('shared_preload_libraries')")) {
            rs.next();
            return List.of(rs.getString(1).split("\\s*,\\s*")).contains("pg_cron");
        } catch (SQLException e) {
            throw new IllegalStateException("Reading shared_preload_libraries failed", e);
        }
    }

    /**
     * Runs {@code psql} against {@code db} as the superuser, with {@code psqlrc} ignored and
     * {@code ON_ERROR_STOP} set, e.g. {@code psql("mydb", "-c", "SELECT 1")}.
     */
    public ProcessResult psql(String db, String... args) {
        List<String> command = new ArrayList<>(List.of(
                bindir.resolve("psql").toString(), "-X", "-v", "ON_ERROR_STOP=1",
                "-h", HOST, "-p", Integer.toString(port), "-U", SUPERUSER, "-d", checkDatabaseName(db)));
        command.addAll(List.of(args));
        return Processes.run(Duration.ofMinutes(5), command);
    }

    /**
     * Restarts the server as after a crash: {@code pg_ctl restart -m immediate} kills every backend
     * without a checkpoint, and the server replays its WAL as it starts again, on the same port with
     * the same settings. Returns once it accepts connections. Every open connection is broken.
     */
    public void restartImmediately() {
        ProcessResult restarted = run(Duration.ofSeconds(90), List.of(bindir.resolve("pg_ctl").toString(),
                "restart", "-D", dataDir.toString(), "-m", "immediate", "-l", dataDir.resolve("server.log").toString(),
                "-w", "-t", "60", "-s"));
        if (!restarted.succeeded()) {
            throw new IllegalStateException("The PostgreSQL test cluster did not restart (pg_ctl exit code "
                    + restarted.exitCode() + "): " + restarted.output().strip()
                    + "\n--- last lines of " + dataDir.resolve("server.log") + " ---\n" + serverLogTail());
        }
    }

    /** The last lines of the server log, for failure messages. */
    public String serverLogTail() {
        return tail(dataDir.resolve("server.log"));
    }

    @Override
    public String toString() {
        return "TestCluster[" + HOST + ":" + port + ", " + dataDir + "]";
    }

    private static TestCluster start() {
        long startedAt = System.nanoTime();
        Path bindir = findBindir();
        boolean asPostgres = isRoot();
        Path buildDir = Path.of(System.getProperty("pgdurable.test.buildDir", "target")).toAbsolutePath();
        Path tmp = Path.of("/tmp");
        reapAbandonedClusters(bindir, asPostgres, buildDir, DIR_PREFIX);
        reapAbandonedClusters(bindir, asPostgres, tmp, TMP_DIR_PREFIX);
        RuntimeException last = null;
        for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
            int port = freePort();
            TestCluster cluster = prepare(bindir, asPostgres, buildDir, tmp, port);
            try {
                cluster.initdbAndStart();
                LOG.info(() -> String.format("Started PostgreSQL test cluster at %s:%d in %s (%d ms)",
                        HOST, port, cluster.dataDir, (System.nanoTime() - startedAt) / 1_000_000));
                return cluster;
            } catch (RuntimeException e) {
                cluster.stop();
                last = e;
                // Another process may have taken the port between our probe and the server's bind.
                if (!String.valueOf(e.getMessage()).contains("could not bind")) {
                    break;
                }
            }
        }
        throw last;
    }

    /** Creates the cluster's directories, owned by the user the server will run as. */
    private static TestCluster prepare(Path bindir, boolean asPostgres, Path buildDir, Path tmp, int port) {
        try {
            Files.createDirectories(buildDir);
            Path root = buildDir.resolve(DIR_PREFIX + port);
            deleteRecursively(root);
            Files.createDirectory(root);
            if (asPostgres) {
                giveToPostgres(root);
                if (!postgresCanWrite(root)) {
                    LOG.info(() -> "OS user postgres cannot reach " + buildDir + "; using a directory under " + tmp);
                    deleteRecursively(root);
                    root = Files.createTempDirectory(tmp, TMP_DIR_PREFIX + port + "-");
                    giveToPostgres(root);
                }
            }
            Files.writeString(root.resolve(OWNER_FILE), Long.toString(ProcessHandle.current().pid()));
            Path socketDir = root.resolve("data");
            if (socketDir.toString().length() > MAX_SOCKET_DIR_LENGTH) {
                socketDir = Files.createTempDirectory(tmp, TMP_DIR_PREFIX + "sockets-");
                if (asPostgres) {
                    giveToPostgres(socketDir);
                }
            }
            return new TestCluster(bindir, asPostgres, root, socketDir, port);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot prepare a directory for the test cluster", e);
        }
    }

    private void initdbAndStart() {
        runOrFail(Duration.ofMinutes(2), List.of(bindir.resolve("initdb").toString(),
                "-D", dataDir.toString(), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
                "--no-sync", "--no-instructions"));
        appendSettings();
        ProcessResult started = run(Duration.ofSeconds(90), List.of(bindir.resolve("pg_ctl").toString(),
                "start", "-D", dataDir.toString(), "-l", dataDir.resolve("server.log").toString(),
                "-w", "-t", "60", "-s"));
        if (!started.succeeded()) {
            throw new IllegalStateException("The PostgreSQL test cluster did not start (pg_ctl exit code "
                    + started.exitCode() + "): " + started.output().strip()
                    + "\n--- last lines of " + dataDir.resolve("server.log") + " ---\n" + serverLogTail());
        }
    }

    private void appendSettings() {
        StringBuilder conf = new StringBuilder("\n# Test cluster: fast, throwaway, reachable only from this host.\n")
                .append("listen_addresses = '").append(HOST).append("'\n")
                .append("port = ").append(port).append('\n')
                .append("unix_socket_directories = '").append(socketDir.toString().replace("'", "''")).append("'\n")
                .append("max_connections = 300\n")
                .append("fsync = off\n")
                .append("synchronous_commit = off\n")
                .append("full_page_writes = off\n")
                .append("shared_buffers = 256MB\n");
        boolean pgCron = Files.exists(pkglibdir().resolve("pg_cron.so"));
        if (pgCron) {
            conf.append("shared_preload_libraries = 'pg_cron'\n")
                    .append("cron.database_name = 'postgres'\n");
        }
        if (hasPlJavaLibrary()) {
            // PL/Java (optional, installed by hand where present): this JVM's libjvm, and our
            // policy next to PL/Java's. The policy is copied into the data directory, which the
            // server's OS user can always read.
            Path libjvm = Path.of(System.getProperty("java.home"), "lib", "server", "libjvm.so");
            Path policy = dataDir.resolve("pg_durable.policy");
            try {
                Files.copy(projectDir().resolve("pljava-deploy").resolve("pg_durable.policy"), policy,
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                chownToServerUser(policy);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot copy the PL/Java policy for the test cluster", e);
            }
            conf.append("pljava.libjvm_location = '").append(libjvm.toString().replace("'", "''")).append("'\n")
                    .append("pljava.policy_urls = '\"file:${org.postgresql.sysconfdir}/pljava.policy\",")
                    .append("\"file:").append(policy.toString().replace("'", "''")).append("\",\"=\"'\n");
            // HTTP steps: Apache HttpClient needs the jdk.net module, which PL/Java's JVM does not
            // resolve unless asked (operator guide 1.5).
            conf.append("pljava.vmoptions = '--add-modules=jdk.net'\n");
        }
        try {
            Files.writeString(dataDir.resolve("postgresql.conf"), conf, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write the test cluster's postgresql.conf", e);
        }
    }

    /** True if PL/Java's native library is installed for this PostgreSQL. */
    public boolean hasPlJavaLibrary() {
        try (var files = Files.list(pkglibdir())) {
            return files.anyMatch(f -> f.getFileName().toString().startsWith("libpljava"));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * A copy of {@code file} the server's OS user can read (for sqlj.install_jar's file: URLs),
     * in the cluster's directory.
     */
    public Path copyForServer(Path file) {
        Path copy = dataDir.resolveSibling(file.getFileName().toString());
        try {
            Files.copy(file, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            chownToServerUser(copy);
            return copy;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot copy " + file + " for the server", e);
        }
    }

    private static Path projectDir() {
        return Path.of(System.getProperty("pgdurable.test.projectDir", ".")).toAbsolutePath();
    }

    private void chownToServerUser(Path file) throws IOException {
        file.toFile().setReadable(true, false);
        if (isRoot()) {
            Processes.runOrFail(Duration.ofSeconds(30), List.of("chown", "postgres:postgres", file.toString()));
        }
    }

    private Path pkglibdir() {
        Path pgConfig = bindir.resolve("pg_config");
        if (Files.isExecutable(pgConfig)) {
            ProcessResult r = Processes.run(Duration.ofSeconds(30), List.of(pgConfig.toString(), "--pkglibdir"));
            if (r.succeeded()) {
                return Path.of(r.output().strip());
            }
        }
        return bindir.resolveSibling("lib");
    }

    private void stop() {
        if (Files.exists(dataDir.resolve("postmaster.pid"))) {
            ProcessResult fast = run(Duration.ofSeconds(90), pgCtlStop(dataDir, "fast"));
            if (!fast.succeeded()) {
                LOG.warning(() -> "Fast shutdown of the test cluster failed, stopping it immediately: " + fast.output());
                run(Duration.ofSeconds(90), pgCtlStop(dataDir, "immediate"));
            }
        }
        try {
            deleteRecursively(root);
            if (!socketDir.startsWith(root)) {
                deleteRecursively(socketDir);
            }
            LOG.info(() -> "Stopped the test cluster and deleted " + root + " (" + Thread.currentThread().getName() + ")");
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot delete the test cluster's directory " + root, e);
        }
    }

    private List<String> pgCtlStop(Path data, String mode) {
        return List.of(bindir.resolve("pg_ctl").toString(), "stop", "-D", data.toString(), "-m", mode,
                "-w", "-t", "60", "-s");
    }

    /**
     * Stops and deletes clusters whose test JVM died without stopping them (killed, or stopped in a
     * debugger). A cluster whose owner process is still alive belongs to a concurrent run and is left alone.
     */
    private static void reapAbandonedClusters(Path bindir, boolean asPostgres, Path dir, String prefix) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> candidates = Files.newDirectoryStream(dir, prefix + "*")) {
            for (Path candidate : candidates) {
                Path ownerFile = candidate.resolve(OWNER_FILE);
                if (!Files.isRegularFile(ownerFile)) {
                    continue;
                }
                long owner = Long.parseLong(Files.readString(ownerFile).strip());
                if (ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false)) {
                    continue;
                }
                LOG.info(() -> "Removing test cluster " + candidate + " left behind by dead process " + owner);
                new TestCluster(bindir, asPostgres, candidate, candidate.resolve("data"), 0).stop();
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "Cannot clean up abandoned test clusters in " + dir, e);
        }
    }

    private ProcessResult run(Duration timeout, List<String> command) {
        return Processes.run(timeout, asServerUser(command));
    }

    private void runOrFail(Duration timeout, List<String> command) {
        Processes.runOrFail(timeout, asServerUser(command));
    }

    private List<String> asServerUser(List<String> command) {
        if (!runAsPostgres) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", SUPERUSER, "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    private static void executeFormatted(Connection c, String format, String... args) throws SQLException {
        // format() quotes identifiers (%I) and literals (%L) on the server, so no value is spliced in here.
        String sql;
        StringBuilder call = new StringBuilder("SELECT format(?");
        for (int i = 0; i < args.length; i++) {
            call.append(", ?");
        }
        call.append(')');
        try (PreparedStatement ps = c.prepareStatement(call.toString())) {
            ps.setString(1, format);
            for (int i = 0; i < args.length; i++) {
                ps.setString(i + 2, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                sql = rs.getString(1);
            }
        }
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static String checkDatabaseName(String db) {
        if (!DATABASE_NAME.matcher(db).matches()) {
            throw new IllegalArgumentException("Test database names are lower-case letters, digits and"
                    + " underscores, starting with a letter, at most 63 characters; got '" + db + "'");
        }
        return db;
    }

    private static Path findBindir() {
        if (Files.isExecutable(DEBIAN_BINDIR.resolve("initdb"))) {
            return DEBIAN_BINDIR;
        }
        if (Processes.findOnPath("pg_config").isPresent()) {
            ProcessResult r = Processes.run(Duration.ofSeconds(30), List.of("pg_config", "--version", "--bindir"));
            String[] lines = r.output().strip().split("\\R");
            if (r.succeeded() && lines.length == 2 && lines[0].startsWith("PostgreSQL 15")) {
                Path bindir = Path.of(lines[1].strip());
                if (Files.isExecutable(bindir.resolve("initdb"))) {
                    return bindir;
                }
            }
        }
        throw new IllegalStateException("PostgreSQL 15 server programs (initdb, pg_ctl) not found in " + DEBIAN_BINDIR
                + " nor through pg_config; install the Debian package postgresql-15 (.ci/run does)");
    }

    private static boolean isRoot() {
        return Processes.runOrFail(Duration.ofSeconds(30), List.of("id", "-u")).strip().equals("0");
    }

    private static void giveToPostgres(Path dir) throws IOException {
        UserPrincipal postgres;
        try {
            postgres = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(SUPERUSER);
        } catch (IOException e) {
            throw new IllegalStateException("Running as root, the test cluster runs as OS user " + SUPERUSER
                    + ", which does not exist; install the Debian package postgresql-15 (.ci/run does)", e);
        }
        Files.setOwner(dir, postgres);
    }

    private static boolean postgresCanWrite(Path dir) {
        return Processes.run(Duration.ofSeconds(30),
                List.of("runuser", "-u", SUPERUSER, "--", "test", "-w", dir.toString())).succeeded();
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot find a free TCP port on " + HOST, e);
        }
    }

    private static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (NoSuchFileException e) {
            return "(no server log at " + file + ")";
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
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
