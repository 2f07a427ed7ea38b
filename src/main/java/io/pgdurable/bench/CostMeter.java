package io.pgdurable.bench;

import io.pgdurable.graph.step.StepConnections;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What a scenario costs per step, besides its wall time: statements and server execution time
 * (from {@code pg_stat_statements}, when the server has it loaded), and CPU time of this JVM (the
 * in-process worker) and of the database's processes (from {@code /proc}, when the database runs
 * on this machine). A source that is not available is reported as skipped, with the reason.
 *
 * <p>Statements are counted at the top level only (a function's own statements belong to its
 * call), and the benchmark's own polling, which carries {@value #OWN_MARK} in its text, is left
 * out.
 *
 * <p>The database's CPU is also split by the connection whose backend used it, told by its
 * {@code application_name} (see {@link Where}): the connections the activities work on (SQL
 * steps', and the engine scenarios' activity pool), the worker's own connections, and the rest
 * (the benchmark's clients, whose {@code df.start} calls count there, PostgreSQL's own processes,
 * and backends that exited during the measurement).
 */
final class CostMeter {
    /** Marks the benchmark's own statements (polling, checks), which are not counted as the scenario's cost. */
    static final String OWN_MARK = "/* pg-durable bench */";

    /** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ, fixed by its ABI). */
    private static final double MILLIS_PER_TICK = 10.0;

    private final String statementsSkipped;
    /** The schema of pg_stat_statements, quoted. */
    private final String schema;
    private final String databaseCpuSkipped;
    private final long postmasterPid;

    private CostMeter(String statementsSkipped, String schema, String databaseCpuSkipped, long postmasterPid) {
        this.statementsSkipped = statementsSkipped;
        this.schema = schema;
        this.databaseCpuSkipped = databaseCpuSkipped;
        this.postmasterPid = postmasterPid;
    }

    /** Finds out, on the benchmark's admin connection, which figures can be measured. */
    static CostMeter probe(Connection admin) throws SQLException {
        String statements = null;
        String schema = null;
        try (Statement st = admin.createStatement()) {
            try (ResultSet rs = st.executeQuery(OWN_MARK + " SELECT current_setting('shared_preload_libraries')")) {
                rs.next();
                if (!rs.getString(1).contains("pg_stat_statements")) {
                    statements = "skipped: pg_stat_statements is not in shared_preload_libraries";
                }
            }
            if (statements == null) {
                try {
                    st.execute(OWN_MARK + " CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA public");
                    try (ResultSet rs = st.executeQuery(OWN_MARK + """
                             SELECT quote_ident(n.nspname) FROM pg_extension e
                              JOIN pg_namespace n ON n.oid = e.extnamespace
                             WHERE e.extname = 'pg_stat_statements'""")) {
                        rs.next();
                        schema = rs.getString(1);
                    }
                    st.execute(OWN_MARK + " SELECT " + schema + ".pg_stat_statements_reset()");
                } catch (SQLException e) {
                    statements = "skipped: pg_stat_statements cannot be used here (" + e.getMessage() + ")";
                }
            }
        }
        long postmaster = -1;
        String cpu = null;
        try (Statement st = admin.createStatement();
             ResultSet rs = st.executeQuery(OWN_MARK + " SELECT pg_backend_pid()")) {
            rs.next();
            Optional<long[]> backend = readStat(rs.getLong(1));
            if (backend.isEmpty()) {
                cpu = "skipped: the database does not run on this machine (its processes are not in /proc)";
            } else {
                postmaster = backend.get()[0];
            }
        }
        return new CostMeter(statements, schema, cpu, postmaster);
    }

    /** Starts measuring: resets the statement statistics and reads the CPU counters. */
    Mark start(Connection admin) throws SQLException {
        if (statementsSkipped == null) {
            try (Statement st = admin.createStatement()) {
                st.execute(OWN_MARK + " SELECT " + schema + ".pg_stat_statements_reset()");
            }
        }
        DatabaseTicks database = databaseTicks();
        return new Mark(jvmCpuNanos(), compilerCpuMillis(), database.total(), database.byBackend());
    }

    /** The cost per step since {@code mark}, over {@code steps} steps. */
    Cost stop(Connection admin, Mark mark, long steps) throws SQLException {
        double jvmMs = (jvmCpuNanos() - mark.jvmCpuNanos()) / 1e6;
        double compilerNow = compilerCpuMillis();
        double jitMs = compilerNow >= 0 && mark.compilerCpuMillis() >= 0 ? compilerNow - mark.compilerCpuMillis()
                : Double.NaN;
        DatabaseTicks database = databaseTicks();
        long dbTicks = database.total();
        double statements = Double.NaN;
        double serverMs = Double.NaN;
        if (statementsSkipped == null) {
            try (Statement st = admin.createStatement();
                 ResultSet rs = st.executeQuery(OWN_MARK + """
                          SELECT coalesce(sum(s.calls), 0), coalesce(sum(s.total_exec_time), 0)
                           FROM %s.pg_stat_statements s
                          WHERE s.dbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
                            AND s.toplevel
                            AND strpos(s.query, '/* pg-durable bench */') = 0
                            AND s.query NOT LIKE '%%pg_stat_statements%%'""".formatted(schema))) {
                rs.next();
                statements = rs.getDouble(1) / steps;
                serverMs = rs.getDouble(2) / steps;
            }
        }
        double dbMs = databaseCpuSkipped == null ? (dbTicks - mark.databaseCpuTicks()) * MILLIS_PER_TICK / steps
                : Double.NaN;
        Split split = null;
        if (databaseCpuSkipped == null) {
            long[] byWhere = split(mark.backendTicks(), database.byBackend(), applicationNames(admin));
            long rest = Math.max(0, dbTicks - mark.databaseCpuTicks() - byWhere[Where.ACTIVITIES.ordinal()]
                    - byWhere[Where.WORKER.ordinal()]);
            split = new Split(byWhere[Where.ACTIVITIES.ordinal()] * MILLIS_PER_TICK / steps,
                    byWhere[Where.WORKER.ordinal()] * MILLIS_PER_TICK / steps, rest * MILLIS_PER_TICK / steps);
        }
        return new Cost(statements, serverMs, jvmMs / steps, dbMs, statementsSkipped, databaseCpuSkipped,
                jitMs / steps, split);
    }

    /** CPU counters at the start of a measurement ({@code compilerCpuMillis} -1 where unknown). */
    record Mark(long jvmCpuNanos, double compilerCpuMillis, long databaseCpuTicks, Map<Long, Long> backendTicks) {
    }

    /** The database's CPU ticks in all, and each live child process's own, by pid. */
    private record DatabaseTicks(long total, Map<Long, Long> byBackend) {
    }

    /** Whose work a backend's CPU is counted as, by the backend's {@code application_name}. */
    enum Where {
        /**
         * Where the activities do their work: the worker's SQL-step connections
         * ({@link StepConnections#APPLICATION_NAME}) and the engine scenarios' activity pool
         * ({@link EngineBenchmark#ACTIVITY_CONNECTIONS}), whose completions ride there too.
         */
        ACTIVITIES,
        /**
         * The worker's own connections ({@code pg_durable worker}, {@code pg_durable listener}),
         * and the backend that hosts the in-database worker in that scenario.
         */
        WORKER,
        /** Everything else: the benchmark's clients, PostgreSQL's own processes. */
        REST;

        static Where of(String applicationName) {
            if (applicationName == null) {
                return REST;
            }
            if (applicationName.equals(StepConnections.APPLICATION_NAME)
                    || applicationName.equals(EngineBenchmark.ACTIVITY_CONNECTIONS)) {
                return ACTIVITIES;
            }
            if (applicationName.startsWith("pg_durable ") || applicationName.equals(DfBenchmark.IN_DATABASE_HOST)) {
                return WORKER;
            }
            return REST;
        }
    }

    /**
     * Ticks each live backend used since {@code before} (all of them for one that started since),
     * summed by {@link Where} its application name puts it, indexed by the ordinal. A backend
     * missing from {@code names} (it ended before they were read) counts as {@link Where#REST}.
     */
    static long[] split(Map<Long, Long> before, Map<Long, Long> now, Map<Long, String> names) {
        long[] byWhere = new long[Where.values().length];
        now.forEach((pid, ticks) -> byWhere[Where.of(names.get(pid)).ordinal()]
                += Math.max(0, ticks - before.getOrDefault(pid, 0L)));
        return byWhere;
    }

    /** Each backend's {@code application_name}, by pid. */
    private static Map<Long, String> applicationNames(Connection admin) throws SQLException {
        Map<Long, String> names = new HashMap<>();
        try (Statement st = admin.createStatement();
             ResultSet rs = st.executeQuery(OWN_MARK + " SELECT pid, application_name FROM pg_stat_activity")) {
            while (rs.next()) {
                names.put(rs.getLong(1), rs.getString(2));
            }
        }
        return names;
    }

    /** The database's CPU per step by {@link Where}: activities' connections, the worker's own, the rest. */
    record Split(double activitiesMillis, double workerMillis, double restMillis) {
    }

    /**
     * Per step: top-level statements, their server execution time (ms), and CPU time (ms) of the
     * JVM and of the database's processes. NaN where skipped, with the reason. The last figure,
     * {@code jitCpuMillis}, is the part of the worker JVM's CPU its JIT compiler threads used (NaN where
     * /proc does not say): on two cores the compiler runs behind the load long after the warm-up,
     * and a long-running worker pays that once, not per step.
     */
    record Cost(double statements, double serverMillis, double jvmCpuMillis, double databaseCpuMillis,
                String statementsSkipped, String databaseCpuSkipped, double jitCpuMillis, Split split) {

        /** The figures as one line's tail, e.g. {@code statements/step 8.8  server ms/step 0.85 ...}. */
        String describe() {
            StringBuilder s = new StringBuilder();
            if (statementsSkipped == null) {
                s.append(String.format(Locale.ROOT, "statements/step %.1f  server ms/step %.3f  ",
                        statements, serverMillis));
            } else {
                s.append("statements/step and server ms/step ").append(statementsSkipped).append("  ");
            }
            s.append(String.format(Locale.ROOT, "worker JVM cpu ms/step %.3f  ", jvmCpuMillis));
            if (databaseCpuSkipped == null) {
                s.append(String.format(Locale.ROOT, "database cpu ms/step %.3f", databaseCpuMillis));
            } else {
                s.append("database cpu ms/step ").append(databaseCpuSkipped);
            }
            // Added after the others, so that what reads the line keeps finding them where they were.
            if (!Double.isNaN(jitCpuMillis)) {
                s.append(String.format(Locale.ROOT, "  worker JIT compiler cpu ms/step %.3f", jitCpuMillis));
            }
            if (split != null) {
                s.append(String.format(Locale.ROOT, "  database cpu ms/step on activity connections %.3f"
                        + "  on worker connections %.3f  elsewhere %.3f", split.activitiesMillis(),
                        split.workerMillis(), split.restMillis()));
            }
            return s.toString();
        }
    }

    /** This JVM's resident set size in bytes (VmRSS of /proc/self/status), or 0 where /proc does not say. */
    static long jvmResidentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    private static long jvmCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return 0;
    }

    /**
     * CPU ticks of the postmaster and all its children: the live ones' own time, and, through the
     * postmaster's "children" counters, that of every child that has exited since it started; and
     * each live child's own ticks by pid.
     */
    private DatabaseTicks databaseTicks() {
        Map<Long, Long> byBackend = new HashMap<>();
        if (databaseCpuSkipped != null) {
            return new DatabaseTicks(0, byBackend);
        }
        long total = readStat(postmasterPid).map(s -> s[1] + s[2]).orElse(0L);
        // Children that exit between the two reads are missed once; the benchmark's connections
        // stay open while it measures, so that is rare and small.
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : procs) {
                long pid = Long.parseLong(p.getFileName().toString());
                Optional<long[]> stat = readStat(pid);
                if (stat.isPresent() && stat.get()[0] == postmasterPid) {
                    total += stat.get()[1];
                    byBackend.put(pid, stat.get()[1]);
                }
            }
        } catch (IOException e) {
            return new DatabaseTicks(total, byBackend);
        }
        return new DatabaseTicks(total, byBackend);
    }

    /**
     * Reads {@code /proc/<pid>/stat}: the parent pid, the process's own CPU ticks (utime + stime)
     * and those of its children that it has waited for (cutime + cstime). Empty when there is no
     * such process.
     */
    private static Optional<long[]> readStat(long pid) {
        try {
            return parseStat(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * CPU time so far of this JVM's JIT compiler threads, in ms (from {@code /proc/self/task}, where
     * HotSpot names them "C1 CompilerThread..." and "C2 CompilerThread..."), or -1 where /proc
     * does not say.
     */
    static double compilerCpuMillis() {
        return compilerCpuMillis("self");
    }

    /**
     * The same for the JVM of process {@code pid} ({@code self} for this one): a database backend
     * that runs {@code df.run_worker} has PL/Java's JVM, with compiler threads of the same names.
     */
    static double compilerCpuMillis(String pid) {
        long ticks = 0;
        boolean found = false;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", pid, "task"))) {
            for (Path task : tasks) {
                String text;
                try {
                    text = Files.readString(task.resolve("stat"));
                } catch (IOException gone) {
                    continue;
                }
                int open = text.indexOf('(');
                if (open < 0 || !text.startsWith("CompilerThre", open + 4)) {
                    continue;
                }
                Optional<long[]> stat = parseStat(text);
                if (stat.isPresent()) {
                    ticks += stat.get()[1];
                    found = true;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return found ? ticks * MILLIS_PER_TICK : -1;
    }

    /** Parses the text of a {@code /proc/<pid>/stat} file; see {@link #readStat}. */
    static Optional<long[]> parseStat(String text) {
        // The command name (field 2) is in parentheses and may hold spaces and parentheses: count
        // the fields from after its last closing parenthesis, where field 3 (the state) begins.
        int end = text.lastIndexOf(')');
        if (end < 0 || end + 2 > text.length()) {
            return Optional.empty();
        }
        String[] f = text.substring(end + 2).trim().split(" ");
        try {
            long ppid = Long.parseLong(f[1]);
            long utime = Long.parseLong(f[11]);
            long stime = Long.parseLong(f[12]);
            long cutime = Long.parseLong(f[13]);
            long cstime = Long.parseLong(f[14]);
            return Optional.of(new long[] {ppid, utime + stime, cutime + cstime});
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
