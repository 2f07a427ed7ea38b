package io.pgdurable.schema;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Builds pg_durable's install and upgrade scripts from the schema source, at build time.
 *
 * <p>The source is the repository's {@code sql/} directory:
 * <ul>
 *   <li>{@code releases/<version>/NNN_*.sql}: the scripts of a released version whose layout came
 *       before the steps (0.1.0), frozen; concatenated they are that version's install script;
 *   <li>{@code steps/NNN_<name>.sql}: tables, indexes, types and data changes, applied once each,
 *       in name order, and never edited once released. The first line names the release the step
 *       first shipped in ({@code -- release: 0.2.0}); the second may be {@code -- requires: drained};
 *   <li>{@code functions/NN_<concept>.sql}: functions, views, triggers, policies, operators and
 *       function privileges, idempotent, re-applied in full, in name order, by every install and
 *       upgrade.
 * </ul>
 *
 * <p>Written into the output directory (the build's {@code target/classes}, so they travel in
 * the jar): {@code extension/pg_durable.control}, {@code extension/pg_durable--<v>.sql} for every
 * version, {@code extension/pg_durable--<old>--<v>.sql} from every earlier release, and
 * {@link #MANIFEST}, the list of shipped files with their checksums. The scripts hold no
 * transaction control and no psql meta-commands. Blocks between {@link #EXTENSION_ONLY_BEGIN} and
 * {@link #EXTENSION_ONLY_END} run only inside {@code CREATE EXTENSION} / {@code ALTER EXTENSION};
 * the JDBC installer leaves them out ({@link #withoutExtensionBlocks}). With a third argument
 * the generator also writes the psql install script for PL/Java users from its template.
 *
 * <p>Usage: {@code ScriptGenerator <sql dir> <output dir> <version> [<install.sql template> <install.sql>]}.
 */
public final class ScriptGenerator {

    /** The extension's name. */
    public static final String EXTENSION = "pg_durable";

    /** Resource path of the manifest: one line per shipped file, {@code file kind release checksum drained}. */
    public static final String MANIFEST = "extension/pg_durable.files";

    /** First line of a block that only an extension script runs. */
    public static final String EXTENSION_ONLY_BEGIN = "-- pg_durable: extension only {";

    /** Last line of a block that only an extension script runs. */
    public static final String EXTENSION_ONLY_END = "-- pg_durable: extension only }";

    /** The line of the psql template that the generated schema part replaces. */
    public static final String TEMPLATE_MARKER = "-- @pg_durable schema@";
    /** A line of the install.sql template replaced by the function files alone. */
    public static final String FUNCTIONS_MARKER = "-- @pg_durable functions@";

    /** Instance states of {@code df_engine.instances} that are finished. */
    static final String TERMINAL_STATES = "('Completed', 'Failed', 'Cancelled')";

    /** Tables whose rows the scripts themselves write; pg_dump must not dump them. */
    private static final List<String> SCRIPT_FILLED_TABLES =
            List.of("df_engine.schema_files", "df_engine.locks", "df._usage_functions");

    private static final Pattern STEP_NAME = Pattern.compile("\\d{3}_[a-z0-9_]+\\.sql");
    private static final Pattern FUNCTION_NAME = Pattern.compile("\\d{2}_[a-z0-9_]+\\.sql");
    private static final Pattern RELEASE_LINE = Pattern.compile("-- release: (\\d+\\.\\d+\\.\\d+)");
    private static final String DRAINED_LINE = "-- requires: drained";

    private final String version;
    private final List<String> frozenReleases;
    private final Path sqlDir;
    private final List<SchemaFile> steps;
    private final List<SchemaFile> functions;

    /**
     * Reads and checks the source under {@code sqlDir} for release {@code version}.
     *
     * @throws IllegalStateException naming the file, if a step lacks its release line, names a
     *                               release after {@code version}, or a file name is malformed
     */
    public ScriptGenerator(Path sqlDir, String version) {
        this.sqlDir = Objects.requireNonNull(sqlDir, "sqlDir");
        this.version = Objects.requireNonNull(version, "version");
        this.frozenReleases = listDirs(sqlDir.resolve("releases"));
        this.steps = readSteps();
        this.functions = readFunctions();
        if (steps.isEmpty()) {
            throw new IllegalStateException(sqlDir.resolve("steps") + " holds no step");
        }
    }

    /** The version the generated install script installs. */
    public String version() {
        return version;
    }

    /** The step files, in the order they apply. */
    public List<SchemaFile> steps() {
        return steps;
    }

    /** The function files, in the order they apply. */
    public List<SchemaFile> functions() {
        return functions;
    }

    /** Releases kept as frozen scripts under {@code releases/}, oldest first. */
    public List<String> frozenReleases() {
        return frozenReleases;
    }

    /** Compares release numbers such as {@code 0.10.0} and {@code 0.9.1} numerically. */
    public static int compareReleases(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int d = Integer.compare(i < x.length ? Integer.parseInt(x[i]) : 0, i < y.length ? Integer.parseInt(y[i]) : 0);
            if (d != 0) {
                return d;
            }
        }
        return 0;
    }

    /** Writes every generated file under {@code outDir}. */
    public void writeTo(Path outDir) throws IOException {
        Path ext = outDir.resolve("extension");
        Files.createDirectories(ext);
        write(ext.resolve(EXTENSION + ".control"), controlFile());
        write(ext.resolve(EXTENSION + "--" + version + ".sql"), installScript());
        for (String old : frozenReleases) {
            write(ext.resolve(EXTENSION + "--" + old + ".sql"), frozenScript(old));
        }
        for (String old : upgradableReleases()) {
            write(ext.resolve(EXTENSION + "--" + old + "--" + version + ".sql"), upgradeScript(old));
        }
        write(ext.resolve(EXTENSION + "--" + version + FUNCTIONS_SUFFIX), functionsScript());
        write(outDir.resolve(MANIFEST), manifest());
    }

    /** Suffix of the script that re-applies the function files to a current database (not an extension script). */
    public static final String FUNCTIONS_SUFFIX = ".functions";

    /**
     * The script for a database whose recorded steps are this version's: checks that they are
     * (refusing otherwise, as an upgrade does), then re-applies every function file.
     */
    public String functionsScript() {
        StringBuilder sb = header("check the recorded steps of " + version + " and re-apply the function files");
        ledgerTable(sb);
        sb.append("DO $pgd$\nDECLARE\n    r record;\nBEGIN\n").append(recordedStepCheck(true)).append("END\n$pgd$;\n");
        applyFunctions(sb);
        return sb.toString();
    }

    /** Every earlier release this version has an upgrade script from. */
    public List<String> upgradableReleases() {
        List<String> out = new ArrayList<>(frozenReleases);
        for (SchemaFile s : steps) {
            if (compareReleases(s.release(), version) < 0 && !out.contains(s.release())) {
                out.add(s.release());
            }
        }
        out.sort(ScriptGenerator::compareReleases);
        return out;
    }

    /** The extension's control file. */
    public String controlFile() {
        return "# pg_durable: durable SQL workflows inside PostgreSQL. Generated by the build; do not edit.\n"
                + "comment = 'Durable SQL workflows: graphs of SQL steps checkpointed in the database'\n"
                + "default_version = '" + version + "'\n"
                + "relocatable = false\n"
                + "superuser = true\n";
    }

    /** The frozen install script of an earlier release: its scripts concatenated. */
    public String frozenScript(String release) {
        Path dir = sqlDir.resolve("releases").resolve(release);
        StringBuilder sb = new StringBuilder();
        sb.append("-- pg_durable ").append(release).append(": the scripts of that release, unchanged.")
                .append(" Generated by the build; do not edit.\n");
        for (Path p : listFiles(dir, STEP_NAME)) {
            sb.append("\n-- ").append("releases/").append(release).append('/').append(p.getFileName()).append('\n');
            sb.append(read(p));
        }
        return sb.toString();
    }

    /** The script that installs this version into a database without pg_durable. */
    public String installScript() {
        StringBuilder sb = header("install " + version + " into a database without pg_durable");
        sb.append(EXTENSION_ONLY_BEGIN).append('\n').append("""
                DO $pgd$
                BEGIN
                    IF pg_catalog.to_regnamespace('df_engine') IS NOT NULL OR pg_catalog.to_regnamespace('df') IS NOT NULL THEN
                        RAISE EXCEPTION 'pg_durable: schema df_engine or df already exists in this database, so pg_durable was installed here without CREATE EXTENSION (java -jar pg-durable.jar install); keep upgrading it that way, or drop schemas df and df_engine (losing their data) before CREATE EXTENSION pg_durable'
                              USING ERRCODE = '42P06';
                    END IF;
                END
                $pgd$;
                """).append(EXTENSION_ONLY_END).append('\n');
        ledgerTable(sb);
        for (SchemaFile s : steps) {
            applyStep(sb, s);
        }
        applyFunctions(sb);
        configDump(sb);
        return sb.toString();
    }

    /** The script that upgrades a database at release {@code from} to this version. */
    public String upgradeScript(String from) {
        StringBuilder sb = header("upgrade " + from + " to " + version);
        ledgerTable(sb);
        List<SchemaFile> recordedBefore = steps.stream().filter(s -> compareReleases(s.release(), from) <= 0).toList();
        List<SchemaFile> toApply = steps.stream().filter(s -> compareReleases(s.release(), from) > 0).toList();
        sb.append("DO $pgd$\nDECLARE\n    r record;\n    n bigint;\nBEGIN\n");
        if (frozenReleases.contains(from)) {
            legacyLedgerCheck(sb, from);
        }
        sb.append(recordedStepCheck(false));
        for (SchemaFile s : toApply) {
            if (s.requiresDrained()) {
                sb.append(drainedCheck(s.file(), from));
            }
        }
        sb.append("END\n$pgd$;\n");
        if (frozenReleases.contains(from)) {
            sb.append("\n-- A database of release ").append(from).append(" holds what its steps make; record them.\n");
            for (SchemaFile s : recordedBefore) {
                sb.append(ledgerInsert(s, " ON CONFLICT (file) DO NOTHING"));
            }
            sb.append("DROP TABLE IF EXISTS df_engine.schema_migrations;\n");
        }
        for (SchemaFile s : toApply) {
            applyStep(sb, s);
        }
        applyFunctions(sb);
        configDump(sb);
        return sb.toString();
    }

    /**
     * A DO block body fragment that refuses a ledger whose recorded steps differ from the shipped
     * ones. With {@code requireAll}, it also refuses when a shipped step is not recorded.
     */
    String recordedStepCheck(boolean requireAll) {
        StringBuilder sb = new StringBuilder();
        sb.append("    FOR r IN\n        SELECT f.file, f.checksum AS recorded, s.checksum AS shipped\n")
                .append("          FROM df_engine.schema_files f\n          LEFT JOIN (VALUES\n");
        shippedStepValues(sb);
        sb.append("          ) s (file, checksum) ON s.file OPERATOR(pg_catalog.=) f.file\n")
                .append("         WHERE f.kind OPERATOR(pg_catalog.=) 'step'\n")
                .append("           AND f.checksum IS DISTINCT FROM s.checksum\n")
                .append("         ORDER BY f.file\n    LOOP\n")
                .append("        IF r.shipped IS NULL THEN\n")
                .append("            RAISE EXCEPTION 'pg_durable: step % is recorded as applied in this database, but pg_durable ")
                .append(version).append(" does not ship it; the database was installed by a newer or a development build. Install that build again, or a newer one', r.file\n")
                .append("                  USING ERRCODE = '55000';\n        END IF;\n")
                .append("        RAISE EXCEPTION 'pg_durable: step % was changed after it was applied (recorded %, shipped %); a released step must never be edited. Restore the step as it was released and put the change into a new step, or, for a development database, drop schemas df and df_engine and install again', r.file, r.recorded, r.shipped\n")
                .append("              USING ERRCODE = '55000';\n    END LOOP;\n");
        if (requireAll) {
            sb.append("    SELECT s.file INTO r FROM (VALUES\n");
            shippedStepValues(sb);
            sb.append("          ) s (file, checksum)\n")
                    .append("     WHERE NOT EXISTS (SELECT 1 FROM df_engine.schema_files f WHERE f.file OPERATOR(pg_catalog.=) s.file)\n")
                    .append("     ORDER BY s.file LIMIT 1;\n")
                    .append("    IF FOUND THEN\n")
                    .append("        RAISE EXCEPTION 'pg_durable: step % is not recorded as applied in this database', r.file USING ERRCODE = '55000';\n")
                    .append("    END IF;\n");
        }
        return sb.toString();
    }

    private void shippedStepValues(StringBuilder sb) {
        for (int i = 0; i < steps.size(); i++) {
            SchemaFile s = steps.get(i);
            sb.append("               (").append(literal(s.file())).append(", ").append(literal(s.checksum())).append(')')
                    .append(i + 1 < steps.size() ? ",\n" : "\n");
        }
    }

    private void legacyLedgerCheck(StringBuilder sb, String from) {
        int count = listFiles(sqlDir.resolve("releases").resolve(from), STEP_NAME).size();
        sb.append("    -- Release ").append(from).append(" installed by its JDBC installer recorded versions 1..")
                .append(count).append(" in df_engine.schema_migrations; CREATE EXTENSION recorded nothing.\n")
                .append("    IF pg_catalog.to_regclass('df_engine.schema_migrations') IS NOT NULL THEN\n")
                .append("        SELECT pg_catalog.string_agg(m.name, ', ' ORDER BY m.version) INTO r\n")
                .append("          FROM df_engine.schema_migrations m WHERE m.version OPERATOR(pg_catalog.>) ").append(count).append(";\n")
                .append("        IF r.string_agg IS NOT NULL THEN\n")
                .append("            RAISE EXCEPTION 'pg_durable: this database has schema migrations that were never released (%), from a development build after ")
                .append(from).append("; pg_durable cannot upgrade it. Install pg_durable into a new database, or drop schemas df and df_engine (losing their data) and install again', r.string_agg\n")
                .append("                  USING ERRCODE = '55000';\n        END IF;\n")
                .append("        SELECT pg_catalog.count(*) INTO n FROM df_engine.schema_migrations m\n")
                .append("         WHERE m.version OPERATOR(pg_catalog.>=) 1 AND m.version OPERATOR(pg_catalog.<=) ").append(count).append(";\n")
                .append("        IF n OPERATOR(pg_catalog.<>) ").append(count).append(" THEN\n")
                .append("            RAISE EXCEPTION 'pg_durable: df_engine.schema_migrations records % of the ").append(count)
                .append(" migrations of release ").append(from).append("; finish installing ").append(from)
                .append(" with its own installer first', n\n")
                .append("                  USING ERRCODE = '55000';\n        END IF;\n    END IF;\n");
    }

    /** A DO block body fragment refusing while an engine instance is not finished. */
    static String drainedCheck(String stepFile, String from) {
        return "    SELECT pg_catalog.count(*) INTO n FROM df_engine.instances i\n"
                + "     WHERE i.status OPERATOR(pg_catalog.<>) ALL (ARRAY" + TERMINAL_STATES.replace('(', '[').replace(')', ']')
                + "::pg_catalog.text[]);\n"
                + "    IF n OPERATOR(pg_catalog.>) 0 THEN\n"
                + "        RAISE EXCEPTION 'pg_durable: step " + stepFile + " cannot keep workflows in flight across the upgrade from "
                + from + ", and % instances are not finished. Drain them first: stop starting workflows, let the workers"
                + " finish them (or cancel them with df.cancel), wait until SELECT count(*) FROM df_engine.instances WHERE"
                + " status NOT IN " + TERMINAL_STATES.replace("'", "''") + " returns 0, then upgrade again', n\n"
                + "              USING ERRCODE = '55000';\n"
                + "    END IF;\n";
    }

    private StringBuilder header(String what) {
        StringBuilder sb = new StringBuilder();
        sb.append("-- pg_durable ").append(version).append(": ").append(what).append(".\n")
                .append("-- Generated by the build (io.pgdurable.schema.ScriptGenerator) from sql/steps and sql/functions;")
                .append(" do not edit.\n")
                .append("-- Names resolve against pg_catalog only while it runs (the setting ends with the transaction).\n")
                .append("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);\n\n");
        return sb;
    }

    private static void ledgerTable(StringBuilder sb) {
        sb.append("""
                -- The ledger: every applied step and function file, with the checksum of its text.
                CREATE SCHEMA IF NOT EXISTS df_engine;
                CREATE TABLE IF NOT EXISTS df_engine.schema_files (
                    file       text        PRIMARY KEY,
                    kind       text        NOT NULL CHECK (kind IN ('step', 'functions')),
                    release    text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT pg_catalog.now()
                );
                REVOKE ALL ON df_engine.schema_files FROM PUBLIC;
                """);
    }

    private static void applyStep(StringBuilder sb, SchemaFile s) {
        sb.append("\n-- ").append(s.file()).append('\n').append(s.text());
        if (!s.text().endsWith("\n")) {
            sb.append('\n');
        }
        sb.append(ledgerInsert(s, ""));
    }

    private void applyFunctions(StringBuilder sb) {
        for (SchemaFile f : functions) {
            sb.append("\n-- ").append(f.file()).append('\n').append(f.text());
            if (!f.text().endsWith("\n")) {
                sb.append('\n');
            }
        }
        sb.append("\n-- The function files as applied now.\n");
        sb.append("DELETE FROM df_engine.schema_files WHERE kind OPERATOR(pg_catalog.=) 'functions';\n");
        for (SchemaFile f : functions) {
            sb.append(ledgerInsert(f, ""));
        }
    }

    private static String ledgerInsert(SchemaFile s, String suffix) {
        return "INSERT INTO df_engine.schema_files (file, kind, release, checksum) VALUES ("
                + literal(s.file()) + ", " + literal(s.kind()) + ", " + literal(s.release()) + ", "
                + literal(s.checksum()) + ")" + suffix + ";\n";
    }

    private static void configDump(StringBuilder sb) {
        sb.append('\n').append(EXTENSION_ONLY_BEGIN).append('\n')
                .append("-- pg_dump dumps the rows of the extension's tables (not those the script writes itself).\n")
                .append("DO $pgd$\nDECLARE\n    t pg_catalog.regclass;\nBEGIN\n    FOR t IN\n")
                .append("        SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c\n")
                .append("          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace\n")
                .append("         WHERE n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['df', 'df_engine']::pg_catalog.name[])\n")
                .append("           AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'S']::pg_catalog.\"char\"[])\n")
                .append("           AND c.oid OPERATOR(pg_catalog.<>) ALL (ARRAY[");
        for (int i = 0; i < SCRIPT_FILLED_TABLES.size(); i++) {
            sb.append(i > 0 ? ", " : "").append(literal(SCRIPT_FILLED_TABLES.get(i)));
        }
        sb.append("]::pg_catalog.regclass[])\n    LOOP\n")
                .append("        PERFORM pg_catalog.pg_extension_config_dump(t, '');\n    END LOOP;\nEND\n$pgd$;\n")
                .append(EXTENSION_ONLY_END).append('\n');
    }

    /** The manifest: one line per shipped step and function file. */
    public String manifest() {
        StringBuilder sb = new StringBuilder("# file kind release sha256 drained; generated by the build\n");
        sb.append("version ").append(version).append('\n');
        for (SchemaFile f : steps) {
            sb.append(f.file()).append(' ').append(f.kind()).append(' ').append(f.release()).append(' ')
                    .append(f.checksum()).append(' ').append(f.requiresDrained()).append('\n');
        }
        for (SchemaFile f : functions) {
            sb.append(f.file()).append(' ').append(f.kind()).append(' ').append(f.release()).append(' ')
                    .append(f.checksum()).append(" false\n");
        }
        return sb.toString();
    }

    /** {@code script} without its extension-only blocks, for running outside CREATE/ALTER EXTENSION. */
    public static String withoutExtensionBlocks(String script) {
        StringBuilder sb = new StringBuilder();
        boolean skipping = false;
        for (String line : script.split("\n", -1)) {
            if (line.equals(EXTENSION_ONLY_BEGIN)) {
                skipping = true;
            } else if (line.equals(EXTENSION_ONLY_END)) {
                skipping = false;
            } else if (!skipping) {
                sb.append(line).append('\n');
            }
        }
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    /**
     * The psql install script: {@code template} with its {@link #TEMPLATE_MARKER} line replaced by
     * the schema part (state check, then the install or upgrade script, or the checks and the
     * function files when the database is current), all without extension-only blocks.
     */
    public String psqlInstallScript(String template) {
        if (!template.contains(TEMPLATE_MARKER + "\n")) {
            throw new IllegalStateException("the install.sql template has no line " + TEMPLATE_MARKER);
        }
        StringBuilder sb = new StringBuilder();
        sb.append("-- Generated by the build from sql/steps and sql/functions; do not edit.\n");
        sb.append("SELECT CASE\n")
                .append("         WHEN pg_catalog.to_regclass('df_engine.schema_migrations') IS NOT NULL THEN 'legacy'\n")
                .append("         WHEN EXISTS (SELECT 1 FROM df_engine.schema_files WHERE kind = 'step') THEN 'current'\n")
                .append("         ELSE 'fresh' END AS pgd_state \\gset\n");
        sb.append("SELECT :'pgd_state' = 'fresh' AS pgd_fresh, :'pgd_state' = 'legacy' AS pgd_legacy \\gset\n");
        sb.append("\\if :pgd_fresh\n\\echo 'Installing pg_durable ").append(version).append("'\n")
                .append(withoutExtensionBlocks(installScript()));
        if (!frozenReleases.isEmpty()) {
            String from = frozenReleases.get(frozenReleases.size() - 1);
            sb.append("\\elif :pgd_legacy\n\\echo 'Upgrading pg_durable ").append(from).append(" to ").append(version).append("'\n")
                    .append(withoutExtensionBlocks(upgradeScript(from)));
        }
        sb.append("\\else\n\\echo 'Checking the recorded steps and applying the function files'\n")
                .append(functionsScript()).append("\\endif\n");
        return template.replace(TEMPLATE_MARKER + "\n", sb.toString())
                .replace(FUNCTIONS_MARKER + "\n", functionsScript());
    }

    private List<SchemaFile> readSteps() {
        List<SchemaFile> out = new ArrayList<>();
        String previousRelease = null;
        for (Path p : listFiles(sqlDir.resolve("steps"), STEP_NAME)) {
            byte[] bytes = readBytes(p);
            String text = new String(bytes, StandardCharsets.UTF_8);
            String file = "steps/" + p.getFileName();
            String[] lines = text.split("\n", 3);
            Matcher m = RELEASE_LINE.matcher(lines[0]);
            if (!m.matches()) {
                throw new IllegalStateException(file + ": the first line must be '-- release: X.Y.Z', the release"
                        + " the step first ships in; found '" + lines[0] + "'");
            }
            String release = m.group(1);
            if (compareReleases(release, version) > 0) {
                throw new IllegalStateException(file + ": release " + release + " is after this version " + version);
            }
            if (previousRelease != null && compareReleases(release, previousRelease) < 0) {
                throw new IllegalStateException(file + ": release " + release + " comes after a step of release "
                        + previousRelease + "; steps must be in release order");
            }
            previousRelease = release;
            boolean drained = lines.length > 1 && lines[1].strip().equals(DRAINED_LINE);
            out.add(new SchemaFile(file, SchemaFile.STEP, release, SchemaFile.sha256(bytes), drained, text));
        }
        return List.copyOf(out);
    }

    private List<SchemaFile> readFunctions() {
        List<SchemaFile> out = new ArrayList<>();
        for (Path p : listFiles(sqlDir.resolve("functions"), FUNCTION_NAME)) {
            byte[] bytes = readBytes(p);
            out.add(new SchemaFile("functions/" + p.getFileName(), SchemaFile.FUNCTIONS, version,
                    SchemaFile.sha256(bytes), false, new String(bytes, StandardCharsets.UTF_8)));
        }
        return List.copyOf(out);
    }

    private static List<Path> listFiles(Path dir, Pattern name) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> all = s.filter(Files::isRegularFile).sorted(Comparator.comparing(Path::toString)).toList();
            for (Path p : all) {
                if (!name.matcher(p.getFileName().toString()).matches()) {
                    throw new IllegalStateException(p + ": file name must match " + name.pattern());
                }
            }
            return all;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + dir, e);
        }
    }

    private static List<String> listDirs(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                    .sorted(ScriptGenerator::compareReleases).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + dir, e);
        }
    }

    private static String read(Path p) {
        return new String(readBytes(p), StandardCharsets.UTF_8);
    }

    private static byte[] readBytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + p, e);
        }
    }

    private static void write(Path p, String text) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, text, StandardCharsets.UTF_8);
    }

    static String literal(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    /** Build entry point; see the class comment for the arguments. */
    public static void main(String[] args) throws IOException {
        if (args.length != 3 && args.length != 5) {
            throw new IllegalArgumentException(
                    "usage: ScriptGenerator <sql dir> <output dir> <version> [<install.sql template> <install.sql>]");
        }
        ScriptGenerator g = new ScriptGenerator(Path.of(args[0]), args[2]);
        g.writeTo(Path.of(args[1]));
        if (args.length == 5) {
            write(Path.of(args[4]), g.psqlInstallScript(read(Path.of(args[3]))));
        }
    }
}
