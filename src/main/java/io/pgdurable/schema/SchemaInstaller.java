package io.pgdurable.schema;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.logging.Logger;

/**
 * Installs pg_durable's schemas ({@code df_engine} and {@code df}) into a database, or upgrades
 * them, by running the scripts the build generates from {@code sql/} ({@link ScriptGenerator}),
 * read from this jar's resources {@code extension/}: the same scripts {@code CREATE EXTENSION}
 * and {@code ALTER EXTENSION ... UPDATE} run, without their extension-only blocks.
 *
 * <p>The ledger {@code df_engine.schema_files} records every applied step and function file with
 * the SHA-256 of its text. {@link #install(Connection)} finds the database
 * <ul>
 *   <li>without pg_durable: it runs {@code pg_durable--<version>.sql};
 *   <li>at release 0.1.0 (a {@code df_engine.schema_migrations} ledger, as 0.1.0's installer made
 *       it): it runs {@code pg_durable--0.1.0--<version>.sql}, which refuses migrations 0.1.0 never
 *       released and drops the old ledger;
 *   <li>with recorded steps: it checks each recorded checksum against the shipped one and
 *       refuses a difference; if steps of a later release are missing it runs the upgrade script
 *       from the database's release; if the function files differ it re-applies them; otherwise it
 *       changes nothing ("up to date").
 * </ul>
 * It refuses a database where pg_durable is an extension ({@code CREATE EXTENSION}), and one whose
 * {@code df_engine} schema holds tables but no ledger.
 *
 * <p>All in one transaction, with {@code search_path = pg_catalog, pg_temp} ({@code SET LOCAL}),
 * so that no name in the scripts or in the installer's own statements can resolve to an object in
 * a schema other roles may write. It creates schema {@code df_engine} and the ledger if missing,
 * refuses to go on if schema {@code df_engine} or {@code df}, or a ledger, belongs to another
 * role than the installing one ({@link #checkOwnership}), then runs {@link #LOCK_STATEMENT}: a
 * table lock on the ledger, which only its owner (and superusers) may take, so no ordinary role
 * can block an install the way it could hold an advisory lock whose key anyone can compute.
 * Installers that start together on an empty database queue on the schema's creation instead:
 * the later ones wait for the first to commit, fail with a unique violation, and try once more,
 * now behind the lock. If anything fails, nothing is applied.
 */
public final class SchemaInstaller {

    /** The schema that holds the durable engine store and the ledger. */
    public static final String SCHEMA = "df_engine";

    /** The ledger of applied step and function files, schema-qualified. */
    public static final String LEDGER_TABLE = SCHEMA + ".schema_files";

    /** The ledger release 0.1.0's installer kept (versions 1..8). */
    public static final String LEGACY_LEDGER_TABLE = SCHEMA + ".schema_migrations";

    /** Classpath directory of the generated scripts. */
    public static final String DEFAULT_RESOURCE_DIR = "extension";

    /**
     * The statement that serialises installers: {@code SHARE ROW EXCLUSIVE} conflicts with itself
     * and with every write to the ledger, and {@code LOCK TABLE} in that mode needs UPDATE, DELETE
     * or TRUNCATE on the table, which nobody but its owner has.
     */
    public static final String LOCK_STATEMENT = "LOCK TABLE " + LEDGER_TABLE + " IN SHARE ROW EXCLUSIVE MODE";

    /** The search path of the install transaction. */
    public static final String PIN_SEARCH_PATH = "SET LOCAL search_path = pg_catalog, pg_temp";

    /** unique_violation: another installer created the schema or the ledger first. */
    private static final String UNIQUE_VIOLATION = "23505";

    /** object_not_in_prerequisite_state: the database is not in a state this installer can work on. */
    private static final String REFUSED = "55000";

    private static final Logger LOG = Logger.getLogger(SchemaInstaller.class.getName());

    private static final String CREATE_LEDGER = """
            CREATE TABLE IF NOT EXISTS df_engine.schema_files (
                file       text        PRIMARY KEY,
                kind       text        NOT NULL CHECK (kind IN ('step', 'functions')),
                release    text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT pg_catalog.now()
            )""";

    private final ClassLoader loader;
    private final String resourceDir;
    private final String version;
    private final List<SchemaFile> shipped;

    /** An installer for the scripts shipped in this jar, under {@value #DEFAULT_RESOURCE_DIR}. */
    public SchemaInstaller() {
        this(SchemaInstaller.class.getClassLoader(), DEFAULT_RESOURCE_DIR);
    }

    /**
     * An installer for the scripts generated into {@code <resourceDir>} as seen by {@code loader}.
     *
     * @throws IllegalStateException if the manifest {@code pg_durable.files} is missing or malformed
     */
    public SchemaInstaller(ClassLoader loader, String resourceDir) {
        this.loader = Objects.requireNonNull(loader, "loader");
        this.resourceDir = stripSlashes(Objects.requireNonNull(resourceDir, "resourceDir"));
        List<SchemaFile> files = new ArrayList<>();
        String v = null;
        for (String raw : readResource("pg_durable.files").split("\\R")) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split(" ");
            if (f.length == 2 && f[0].equals("version")) {
                v = f[1];
            } else if (f.length == 5) {
                files.add(new SchemaFile(f[0], f[1], f[2], f[3], Boolean.parseBoolean(f[4]), ""));
            } else {
                throw new IllegalStateException(resourcePath("pg_durable.files") + ": malformed line '" + line + "'");
            }
        }
        if (v == null) {
            throw new IllegalStateException(resourcePath("pg_durable.files") + " names no version");
        }
        this.version = v;
        this.shipped = List.copyOf(files);
    }

    /** An installer for scripts that {@link ScriptGenerator#writeTo} wrote under {@code outDir}. */
    public static SchemaInstaller fromDirectory(Path outDir) {
        try {
            return new SchemaInstaller(new URLClassLoader(new URL[] {outDir.toUri().toURL()}, null), DEFAULT_RESOURCE_DIR);
        } catch (MalformedURLException e) {
            throw new IllegalArgumentException("Not a directory path: " + outDir, e);
        }
    }

    /** The version this installer installs. */
    public String version() {
        return version;
    }

    /** The step and function files this installer ships, steps first, each in the order it applies. */
    public List<SchemaFile> shippedFiles() {
        return shipped;
    }

    /**
     * Brings the schema to {@link #version()}, in one transaction on {@code connection}. The
     * transaction is committed on success and rolled back on failure; the connection's
     * auto-commit setting is restored either way. Any transaction the caller left open on the
     * connection becomes part of this one, so pass a connection with no pending work.
     *
     * @throws SQLException naming the script that failed, with the original SQLSTATE and cause,
     *                      or refusing (SQLSTATE 55000) a database it must not change
     */
    public InstallResult install(Connection connection) throws SQLException {
        Objects.requireNonNull(connection, "connection");
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        InstallResult result;
        try {
            result = installInTransaction(connection);
            connection.commit();
        } catch (SQLException | RuntimeException | Error e) {
            rollbackAfterFailure(connection, autoCommit, e);
            throw e;
        }
        connection.setAutoCommit(autoCommit);
        return result;
    }

    private InstallResult installInTransaction(Connection c) throws SQLException {
        try {
            prepare(c);
        } catch (SQLException e) {
            if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
                throw preparing(e);
            }
            // Another installer created the schema or the ledger while this one waited to: its
            // work is committed now, and the second try finds both and waits on the lock.
            c.rollback();
            try {
                prepare(c);
            } catch (SQLException again) {
                throw preparing(again);
            }
        }
        if (exists(c, "SELECT 1 FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass('" + LEGACY_LEDGER_TABLE + "')")) {
            String from = "0.1.0";
            String script = ScriptGenerator.EXTENSION + "--" + from + "--" + version + ".sql";
            run(c, script);
            return new InstallResult(from, version, filesAfter(from));
        }
        Map<String, String[]> recorded = recorded(c);
        boolean anyStep = recorded.values().stream().anyMatch(r -> r[0].equals(SchemaFile.STEP));
        if (!anyStep) {
            if (exists(c, FOREIGN_CONTENT)) {
                throw new SQLException("pg_durable: schema df_engine or df already holds objects, but " + LEDGER_TABLE
                        + " records no install; refusing to install over them. If pg_durable was installed there"
                        + " by other means, drop schemas df and df_engine (losing their data) and install again.",
                        REFUSED);
            }
            run(c, ScriptGenerator.EXTENSION + "--" + version + ".sql");
            return new InstallResult(null, version, shipped.stream().map(SchemaFile::file).toList());
        }
        checkRecordedSteps(recorded);
        List<SchemaFile> missing = shipped.stream().filter(f -> f.isStep() && !recorded.containsKey(f.file())).toList();
        if (!missing.isEmpty()) {
            String from = recorded.values().stream().filter(r -> r[0].equals(SchemaFile.STEP)).map(r -> r[1])
                    .max(ScriptGenerator::compareReleases).orElseThrow();
            String script = ScriptGenerator.EXTENSION + "--" + from + "--" + version + ".sql";
            if (loader.getResource(resourcePath(script)) == null) {
                throw new SQLException("pg_durable: this database is at release " + from + " without "
                        + missing.get(0).file() + ", and pg_durable " + version + " has no upgrade from " + from
                        + " (" + resourcePath(script) + "); upgrade with the release that follows " + from + " first.",
                        REFUSED);
            }
            run(c, script);
            return new InstallResult(from, version, filesAfter(from));
        }
        boolean functionsCurrent = shipped.stream().filter(f -> !f.isStep())
                .allMatch(f -> recorded.containsKey(f.file()) && recorded.get(f.file())[2].equals(f.checksum()))
                && recorded.entrySet().stream().filter(e -> !e.getValue()[0].equals(SchemaFile.STEP))
                        .allMatch(e -> shipped.stream().anyMatch(f -> f.file().equals(e.getKey())));
        if (functionsCurrent) {
            return new InstallResult(version, version, List.of());
        }
        run(c, ScriptGenerator.EXTENSION + "--" + version + ScriptGenerator.FUNCTIONS_SUFFIX);
        return new InstallResult(version, version, shipped.stream().filter(f -> !f.isStep()).map(SchemaFile::file).toList());
    }

    /** Files an upgrade from {@code from} applies: the steps of later releases, then every function file. */
    private List<String> filesAfter(String from) {
        return shipped.stream()
                .filter(f -> !f.isStep() || ScriptGenerator.compareReleases(f.release(), from) > 0)
                .map(SchemaFile::file).toList();
    }

    private void checkRecordedSteps(Map<String, String[]> recorded) throws SQLException {
        for (Map.Entry<String, String[]> e : recorded.entrySet()) {
            if (!e.getValue()[0].equals(SchemaFile.STEP)) {
                continue;
            }
            SchemaFile s = shipped.stream().filter(f -> f.file().equals(e.getKey())).findFirst().orElse(null);
            if (s == null) {
                throw new SQLException("pg_durable: step " + e.getKey() + " is recorded as applied in this database,"
                        + " but pg_durable " + version + " does not ship it; the database was installed by a newer or"
                        + " a development build. Install that build again, or a newer one", REFUSED);
            }
            if (!s.checksum().equals(e.getValue()[2])) {
                throw new SQLException(changedStepMessage(s.file(), e.getValue()[2], s.checksum()), REFUSED);
            }
        }
    }

    /** The message that refuses a recorded step whose checksum differs from the shipped one. */
    public static String changedStepMessage(String file, String recorded, String shipped) {
        return "pg_durable: step " + file + " was changed after it was applied (recorded " + recorded + ", shipped "
                + shipped + "); a released step must never be edited. Restore the step as it was released and put"
                + " the change into a new step, or, for a development database, drop schemas df and df_engine and"
                + " install again";
    }

    private static Map<String, String[]> recorded(Connection c) throws SQLException {
        Map<String, String[]> out = new TreeMap<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT file, kind, release, checksum FROM df_engine.schema_files")) {
            while (rs.next()) {
                out.put(rs.getString(1), new String[] {rs.getString(2), rs.getString(3), rs.getString(4)});
            }
        }
        return out;
    }

    /** Anything of pg_durable's in schema df_engine (beyond the ledger) or a schema df. */
    private static final String FOREIGN_CONTENT = """
            SELECT 1 FROM pg_catalog.pg_class c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) 'df_engine'::pg_catalog.regnamespace
               AND c.oid OPERATOR(pg_catalog.<>) 'df_engine.schema_files'::pg_catalog.regclass
               AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'v', 'S', 'p']::pg_catalog."char"[])
            UNION ALL
            SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'df'
            """;

    private static boolean exists(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next();
        }
    }

    private void run(Connection c, String script) throws SQLException {
        String text = ScriptGenerator.withoutExtensionBlocks(readResource(script));
        try (Statement st = c.createStatement()) {
            st.execute(text);
        } catch (SQLException e) {
            if (REFUSED.equals(e.getSQLState()) && e.getMessage() != null && e.getMessage().contains("pg_durable")) {
                throw new SQLException(serverMessage(e), e.getSQLState(), e);
            }
            throw new SQLException(script + " failed: " + e.getMessage(), e.getSQLState(), e);
        }
        LOG.info(() -> "Applied " + script);
    }

    /** The server's message without the driver's "ERROR: " prefix and position details. */
    private static String serverMessage(SQLException e) {
        if (e instanceof org.postgresql.util.PSQLException p && p.getServerErrorMessage() != null
                && p.getServerErrorMessage().getMessage() != null) {
            return p.getServerErrorMessage().getMessage();
        }
        return e.getMessage();
    }

    /** Pins the search path, creates what is missing, checks who owns it, takes the lock. */
    private static void prepare(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(PIN_SEARCH_PATH);
            refuseExtension(c);
            st.execute("CREATE SCHEMA IF NOT EXISTS df_engine");
            checkOwnership(c);
            st.execute(CREATE_LEDGER);
            checkOwnership(c);
            st.execute(LOCK_STATEMENT);
        }
    }

    /** Refuses a database where pg_durable is an extension: {@code ALTER EXTENSION} upgrades it. */
    private static void refuseExtension(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_durable'")) {
            if (rs.next()) {
                throw new ForeignOwnerException("pg_durable is installed in this database as an extension (version "
                        + rs.getString(1) + "); upgrade it with ALTER EXTENSION pg_durable UPDATE", REFUSED);
            }
        }
    }

    private static SQLException preparing(SQLException e) {
        if (e instanceof ForeignOwnerException) {
            return e;
        }
        return new SQLException("Preparing schema " + SCHEMA + " and its ledger failed: "
                + e.getMessage(), e.getSQLState(), e);
    }

    /**
     * Refuses (SQLSTATE 42501) when schema {@code df_engine} or {@code df}, or the ledger, exists
     * but belongs to another role than the installing one ({@code current_user}): whoever owns a
     * schema can drop and replace what is installed into it, so a database owner could create them
     * in advance to capture the engine's objects.
     */
    static void checkOwnership(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(FOREIGN_OWNERS)) {
            if (rs.next()) {
                throw new ForeignOwnerException("pg_durable: " + rs.getString(1) + " already exists and is owned by"
                        + " role \"" + rs.getString(2) + "\", not by the installing role \"" + rs.getString(3)
                        + "\"; refusing to install into it, since its owner could replace what is installed there."
                        + " Drop it, or if you trust it, make \"" + rs.getString(3) + "\" its owner, then install"
                        + " again.");
            }
        }
    }

    /** Objects the install uses that exist and belong to another role than the current one. */
    private static final String FOREIGN_OWNERS = """
            WITH me AS (SELECT r.oid, r.rolname FROM pg_catalog.pg_roles r
                         WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
            SELECT 'schema ' OPERATOR(pg_catalog.||) n.nspname, pg_catalog.pg_get_userbyid(n.nspowner), me.rolname
              FROM pg_catalog.pg_namespace n, me
             WHERE n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['df_engine', 'df']::pg_catalog.name[])
               AND n.nspowner OPERATOR(pg_catalog.<>) me.oid
            UNION ALL
            SELECT 'table ' OPERATOR(pg_catalog.||) t.oid::pg_catalog.regclass::pg_catalog.text,
                   pg_catalog.pg_get_userbyid(t.relowner), me.rolname
              FROM pg_catalog.pg_class t, me
             WHERE t.oid OPERATOR(pg_catalog.=) ANY (ARRAY[pg_catalog.to_regclass('df_engine.schema_files'),
                                                          pg_catalog.to_regclass('df_engine.schema_migrations')])
               AND t.relowner OPERATOR(pg_catalog.<>) me.oid
            """;

    /** An object the install would use belongs to another role. */
    private static final class ForeignOwnerException extends SQLException {
        ForeignOwnerException(String message) {
            this(message, "42501");
        }

        ForeignOwnerException(String message, String sqlState) {
            super(message, sqlState);
        }
    }

    /** Rolls back and restores auto-commit, keeping {@code failure} as the exception the caller sees. */
    private static void rollbackAfterFailure(Connection c, boolean autoCommit, Throwable failure) {
        try {
            c.rollback();
            c.setAutoCommit(autoCommit);
        } catch (SQLException e) {
            failure.addSuppressed(e);
        }
    }

    private String readResource(String fileName) {
        String path = resourcePath(fileName);
        try (InputStream in = loader.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + " is not on the classpath; the build generates it from"
                        + " sql/ (mvn package)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + path, e);
        }
    }

    private String resourcePath(String fileName) {
        return resourceDir.isEmpty() ? fileName : resourceDir + "/" + fileName;
    }

    private static String stripSlashes(String dir) {
        String d = dir;
        while (d.startsWith("/")) {
            d = d.substring(1);
        }
        while (d.endsWith("/")) {
            d = d.substring(0, d.length() - 1);
        }
        return d;
    }

    /** An advisory lock key derived from a name: the first eight bytes of its SHA-256 digest. */
    public static long lockKey(String name) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(digest, 0, Long.BYTES).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }
}
