package io.pgdurable.schema;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Installs and upgrades the {@code df_engine} schema from versioned SQL scripts on the classpath.
 *
 * <p>The scripts live next to a list file, {@code migrations.list}, that names them in the order they
 * are applied, one file name per line ({@code #} starts a comment). A script's version is the leading
 * integer of its file name ({@code 002_timers.sql} is version 2). Every applied script is recorded in
 * the ledger table {@code df_engine.schema_migrations}, so each script runs exactly once per database.
 *
 * <p>{@link #install(Connection)} does all its work in one transaction, with
 * {@code search_path = pg_catalog, pg_temp} ({@code SET LOCAL}, whatever the connection's own
 * setting), so that no name in the scripts or in the installer's own statements can resolve to an
 * object in a schema other roles may write. It creates the schema and the ledger if missing,
 * refuses to go on if schema {@code df_engine} or {@code df}, or the ledger, belongs to another
 * role than the installing one ({@link #checkOwnership}), then runs {@link #LOCK_STATEMENT}: a
 * table lock on the ledger, which only its owner (and superusers) may take, so no ordinary role
 * can block an install the way it could hold an advisory lock whose key anyone can compute.
 * Installers that start together on an empty database queue on the schema's creation instead:
 * the later ones wait for the first to commit, fail with a unique violation, and try once more,
 * now behind the lock. Then each listed script whose version is not yet in the ledger is applied
 * in order and recorded. A second call applies nothing; a call against a database installed by an
 * older build applies only the newer scripts. If any script fails, nothing is applied.
 *
 * <p>Scripts therefore must not contain transaction control ({@code BEGIN}, {@code COMMIT}) or
 * statements that cannot run inside a transaction block ({@code CREATE INDEX CONCURRENTLY}).
 */
public final class SchemaInstaller {

    /** The schema that holds the durable engine store and the migration ledger. */
    public static final String SCHEMA = "df_engine";

    /** The ledger of applied migrations, schema-qualified. */
    public static final String LEDGER_TABLE = SCHEMA + ".schema_migrations";

    /** Classpath directory the build copies the repository's {@code sql/} directory into. */
    public static final String DEFAULT_RESOURCE_DIR = "io/pgdurable/sql";

    /** Name of the file, inside the resource directory, that lists the migrations in order. */
    public static final String MIGRATION_LIST = "migrations.list";

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

    private static final Logger LOG = Logger.getLogger(SchemaInstaller.class.getName());

    private static final String CREATE_LEDGER = """
            CREATE TABLE IF NOT EXISTS df_engine.schema_migrations (
                version    int         PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )""";

    private final ClassLoader loader;
    private final String resourceDir;
    private final List<Migration> migrations;

    /** An installer for the migrations shipped in this jar, under {@value #DEFAULT_RESOURCE_DIR}. */
    public SchemaInstaller() {
        this(SchemaInstaller.class.getClassLoader(), DEFAULT_RESOURCE_DIR);
    }

    /**
     * An installer for the migrations listed in {@code <resourceDir>/migrations.list} as seen by
     * {@code loader}. The list is read and checked here: versions must be strictly increasing and
     * every listed script must exist.
     *
     * @throws IllegalStateException if the list is missing, malformed, or names a missing script
     */
    public SchemaInstaller(ClassLoader loader, String resourceDir) {
        this.loader = Objects.requireNonNull(loader, "loader");
        this.resourceDir = stripSlashes(Objects.requireNonNull(resourceDir, "resourceDir"));
        this.migrations = List.copyOf(readMigrationList());
    }

    /** The migrations this installer knows, in the order they are applied. */
    public List<Migration> migrations() {
        return migrations;
    }

    /** The highest version this installer can install (0 if the list is empty). */
    public int latestVersion() {
        return migrations.isEmpty() ? 0 : migrations.get(migrations.size() - 1).version();
    }

    /**
     * Brings the schema up to {@link #latestVersion()}. Equivalent to
     * {@code install(connection, latestVersion())}.
     *
     * @see #install(Connection, int)
     */
    public InstallResult install(Connection connection) throws SQLException {
        return install(connection, latestVersion());
    }

    /**
     * Applies, in order, every known migration up to and including {@code targetVersion} that the
     * ledger does not record yet, and records each one, all in one transaction on {@code connection}.
     * The transaction is committed on success and rolled back on failure; the connection's
     * auto-commit setting is restored either way. Any transaction the caller left open on the
     * connection becomes part of this one, so pass a connection with no pending work.
     *
     * @param targetVersion the highest version to apply; tests use a lower value to create an
     *                      older schema
     * @throws SQLException naming the migration that failed, with the original SQLSTATE and cause
     */
    public InstallResult install(Connection connection, int targetVersion) throws SQLException {
        Objects.requireNonNull(connection, "connection");
        if (targetVersion < 0) {
            throw new IllegalArgumentException("targetVersion must be non-negative, got " + targetVersion);
        }
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        InstallResult result;
        try {
            result = installInTransaction(connection, targetVersion);
            connection.commit();
        } catch (SQLException | RuntimeException | Error e) {
            rollbackAfterFailure(connection, autoCommit, e);
            throw e;
        }
        connection.setAutoCommit(autoCommit);
        return result;
    }

    private InstallResult installInTransaction(Connection c, int targetVersion) throws SQLException {
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
        Set<Integer> recorded = recordedVersions(c);
        List<Migration> applied = new ArrayList<>();
        for (Migration m : migrations) {
            if (m.version() > targetVersion) {
                break;
            }
            if (recorded.contains(m.version())) {
                continue;
            }
            apply(c, m);
            applied.add(m);
        }
        int current = currentVersion(c);
        if (current > latestVersion()) {
            LOG.warning(() -> "Schema " + SCHEMA + " is at version " + current
                    + ", newer than this build knows (" + latestVersion() + ")");
        }
        return new InstallResult(applied, current);
    }

    /** Pins the search path, creates what is missing, checks who owns it, takes the lock. */
    private static void prepare(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(PIN_SEARCH_PATH);
            st.execute("CREATE SCHEMA IF NOT EXISTS df_engine");
            checkOwnership(c);
            st.execute(CREATE_LEDGER);
            checkOwnership(c);
            st.execute(LOCK_STATEMENT);
        }
    }

    private static SQLException preparing(SQLException e) {
        if (e instanceof ForeignOwnerException) {
            return e;
        }
        return new SQLException("Preparing schema " + SCHEMA + " and its migration ledger failed: "
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
            SELECT 'table df_engine.schema_migrations', pg_catalog.pg_get_userbyid(t.relowner), me.rolname
              FROM pg_catalog.pg_class t, me
             WHERE t.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('df_engine.schema_migrations')
               AND t.relowner OPERATOR(pg_catalog.<>) me.oid
            """;

    /** An object the install would use belongs to another role. */
    private static final class ForeignOwnerException extends SQLException {
        ForeignOwnerException(String message) {
            super(message, "42501");
        }
    }

    private void apply(Connection c, Migration m) throws SQLException {
        String script = readResource(m.name());
        try {
            try (Statement st = c.createStatement()) {
                st.execute(script);
            }
            try (PreparedStatement record = c.prepareStatement(
                    "INSERT INTO df_engine.schema_migrations (version, name) VALUES (?, ?)")) {
                record.setInt(1, m.version());
                record.setString(2, m.name());
                record.executeUpdate();
            }
        } catch (SQLException e) {
            throw new SQLException("Migration " + m.name() + " (version " + m.version() + ") failed: "
                    + e.getMessage(), e.getSQLState(), e);
        }
        LOG.info(() -> "Applied migration " + m.name());
    }

    private static Set<Integer> recordedVersions(Connection c) throws SQLException {
        Set<Integer> versions = new HashSet<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT version FROM df_engine.schema_migrations")) {
            while (rs.next()) {
                versions.add(rs.getInt(1));
            }
        }
        return versions;
    }

    private static int currentVersion(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(max(version), 0) FROM df_engine.schema_migrations")) {
            rs.next();
            return rs.getInt(1);
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

    private List<Migration> readMigrationList() {
        String list = readResource(MIGRATION_LIST);
        List<Migration> result = new ArrayList<>();
        Set<String> names = new HashSet<>();
        int lineNo = 0;
        for (String raw : list.split("\\R")) {
            lineNo++;
            int hash = raw.indexOf('#');
            String line = (hash >= 0 ? raw.substring(0, hash) : raw).strip();
            if (line.isEmpty()) {
                continue;
            }
            Migration m;
            try {
                m = Migration.fromFileName(line);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException(where(lineNo) + e.getMessage(), e);
            }
            if (!result.isEmpty() && m.version() <= result.get(result.size() - 1).version()) {
                throw new IllegalStateException(where(lineNo) + "version " + m.version() + " of " + m.name()
                        + " does not follow version " + result.get(result.size() - 1).version()
                        + "; versions must be unique and increasing");
            }
            if (!names.add(m.name())) {
                throw new IllegalStateException(where(lineNo) + m.name() + " is listed twice");
            }
            if (loader.getResource(resourcePath(m.name())) == null) {
                throw new IllegalStateException(where(lineNo) + "script " + resourcePath(m.name())
                        + " is not on the classpath");
            }
            result.add(m);
        }
        return result;
    }

    private String where(int lineNo) {
        return resourcePath(MIGRATION_LIST) + " line " + lineNo + ": ";
    }

    private String readResource(String fileName) {
        String path = resourcePath(fileName);
        try (InputStream in = loader.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + " is not on the classpath; the build copies the sql/"
                        + " directory there (mvn package)");
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
