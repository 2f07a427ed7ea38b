package io.pgdurable.reconcile;

import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A test database for reconciliation: per-database settings, and rows written straight into df
 * and df_engine as the superuser so that every instance has exactly the age a test needs.
 *
 * <p>Instances are numbered; instance {@code n} has id {@link #id(int) lpad(to_hex(n), 8, '0')},
 * one engine record of the graph orchestration with the same id, an engine child
 * {@code <id>::1::00000001} (a JOIN branch) and history for both.
 */
public final class ReconcileDatabase {
    static final String GRAPH = "df.function_graph";
    static final String BRANCH = "df.branch";

    private final TestCluster cluster = TestCluster.get();
    private final String name;

    private ReconcileDatabase(String name) {
        this.name = name;
    }

    /** A fresh database with the full schema (an earlier one of that name is dropped). */
    public static ReconcileDatabase create(String name) {
        return new ReconcileDatabase(TestCluster.get().createDatabase(name));
    }

    /** A database that exists already, e.g. a {@code DfTestEnvironment}'s. */
    static ReconcileDatabase existing(String name) {
        return new ReconcileDatabase(name);
    }

    public String name() {
        return name;
    }

    String jdbcUrl() {
        return cluster.jdbcUrl(name, TestCluster.SUPERUSER);
    }

    /** The id of instance number {@code n}. */
    static String id(int n) {
        return String.format("%08x", n);
    }

    /** The engine child every seeded instance has. */
    static String childId(int n) {
        return childOf(id(n));
    }

    /** The engine child of the seeded instance with id {@code id}. */
    static String childOf(String id) {
        return id + "::1::00000001";
    }

    static List<String> ids(int first, int count) {
        List<String> ids = new ArrayList<>(count);
        for (int n = first; n < first + count; n++) {
            ids.add(id(n));
        }
        return ids;
    }

    /**
     * A new data source: each of its connections is a new session, so it sees the settings made
     * with {@link #set} so far.
     */
    public DataSource dataSource() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(jdbcUrl());
        ds.setApplicationName("pg-durable reconcile tests");
        return ds;
    }

    public Connection connect() throws SQLException {
        return cluster.connect(name);
    }

    /** {@code ALTER DATABASE <this> SET <setting> = '<value>'}: new sessions of this database see it. */
    void set(String setting, String value) {
        alter("SELECT format('ALTER DATABASE %I SET %s = %L', ?, ?, ?)", name, checkSetting(setting), value);
    }

    /** {@code ALTER DATABASE <this> RESET <setting>}. */
    void reset(String setting) {
        alter("SELECT format('ALTER DATABASE %I RESET %s', ?, ?)", name, checkSetting(setting));
    }

    private void alter(String formatQuery, String... args) {
        try (Connection c = cluster.connect("postgres")) {
            String sql;
            try (PreparedStatement ps = c.prepareStatement(formatQuery)) {
                for (int i = 0; i < args.length; i++) {
                    ps.setString(i + 1, args[i]);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    sql = rs.getString(1);
                }
            }
            try (Statement st = c.createStatement()) {
                st.execute(sql);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("changing a setting of " + name + ": " + e.getMessage(), e);
        }
    }

    private static String checkSetting(String setting) {
        if (!setting.matches("pg_durable\\.[a-z_]+")) {
            throw new IllegalArgumentException("not a pg_durable setting: " + setting);
        }
        return setting;
    }

    /** What a new session of {@code db} sees for {@code setting}, or null when it is unset. */
    static String settingSeenIn(String db, String setting) {
        try (Connection c = TestCluster.get().connect(db);
             PreparedStatement ps = c.prepareStatement("SELECT current_setting(?, true)")) {
            ps.setString(1, setting);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    public void exec(String sql, Object... params) {
        try (Connection c = connect(); PreparedStatement ps = prepare(c, sql, params)) {
            ps.execute();
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    public long count(String sql, Object... params) {
        try (Connection c = connect(); PreparedStatement ps = prepare(c, sql, params);
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** The first column of every row, in order. */
    public List<String> strings(String sql, Object... params) {
        try (Connection c = connect(); PreparedStatement ps = prepare(c, sql, params);
             ResultSet rs = ps.executeQuery()) {
            List<String> out = new ArrayList<>();
            while (rs.next()) {
                out.add(rs.getString(1));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    public Set<String> dfIds() {
        return new LinkedHashSet<>(strings("SELECT id FROM df.instances ORDER BY id"));
    }

    /** Ids of engine records that are not sub-orchestrations. */
    Set<String> engineRootIds() {
        return new LinkedHashSet<>(strings("SELECT id FROM df_engine.instances WHERE parent_id IS NULL ORDER BY id"));
    }

    /** Rows about {@code engineId} in every engine table. */
    long engineRowsOf(String engineId) {
        return count("""
                SELECT (SELECT count(*) FROM df_engine.instances WHERE id = ?)
                     + (SELECT count(*) FROM df_engine.executions WHERE instance_id = ?)
                     + (SELECT count(*) FROM df_engine.history WHERE instance_id = ?)
                     + (SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?)
                     + (SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?)
                """, engineId, engineId, engineId, engineId, engineId);
    }

    /** Rows about df instance {@code id} in df.instances and df.nodes. */
    long dfRowsOf(String id) {
        return count("SELECT (SELECT count(*) FROM df.instances WHERE id = ?) + (SELECT count(*) FROM df.nodes"
                + " WHERE instance_id = ?)", id, id);
    }

    /**
     * Records every row deleted from df.instances and df_engine.instances, with its status at the
     * time, in {@code public.deleted_instances (store, id, status, created_at, deleted_at)}.
     */
    void auditDeletions() {
        exec("""
                CREATE TABLE public.deleted_instances (store text NOT NULL, id text NOT NULL, status text NOT NULL,
                                                       created_at timestamptz NOT NULL,
                                                       deleted_at timestamptz NOT NULL DEFAULT clock_timestamp());
                CREATE FUNCTION public.audit_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO public.deleted_instances (store, id, status, created_at)
                    VALUES (TG_ARGV[0], OLD.id, OLD.status, OLD.created_at);
                    RETURN OLD;
                END $$;
                CREATE TRIGGER audit_deletion BEFORE DELETE ON df.instances
                    FOR EACH ROW EXECUTE FUNCTION public.audit_deletion('df');
                CREATE TRIGGER audit_deletion BEFORE DELETE ON df_engine.instances
                    FOR EACH ROW EXECUTE FUNCTION public.audit_deletion('engine');
                """);
    }

    /** Inserts the instances {@code seed} describes, in both stores, in one transaction. */
    public void seed(Seed seed) {
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            seed.insert(c);
            c.commit();
        } catch (SQLException e) {
            throw new IllegalStateException("seeding " + seed + ": " + e.getMessage(), e);
        }
    }

    /** Inserts one engine record (with an execution and two history events) and no df row. */
    void engineRecord(String id, String orchestration, String status, String parentId, Instant age) {
        boolean terminal = isTerminalEngineStatus(status);
        OffsetDateTime at = utc(age);
        exec("""
                INSERT INTO df_engine.instances (id, name, status, parent_id, created_at, updated_at, completed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, id, orchestration, status, parentId, terminal ? at.minusMinutes(1) : at, at, terminal ? at : null);
        exec("""
                INSERT INTO df_engine.executions (instance_id, execution_id, status, started_at, ended_at)
                VALUES (?, 1, ?, ?, ?)
                """, id, executionStatus(status), at.minusMinutes(1), terminal ? at : null);
        exec("""
                INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)
                SELECT ?, 1, s, 'Event', ? FROM generate_series(1, 2) s
                """, id, at);
    }

    static boolean isTerminalEngineStatus(String status) {
        return List.of("Completed", "Failed", "Cancelled").contains(status);
    }

    static String executionStatus(String engineStatus) {
        return engineStatus.equals("Pending") ? "Running" : engineStatus;
    }

    static OffsetDateTime utc(Instant instant) {
        return instant == null ? null : OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }

    private static PreparedStatement prepare(Connection c, String sql, Object... params) throws SQLException {
        PreparedStatement ps = c.prepareStatement(sql);
        for (int i = 0; i < params.length; i++) {
            ps.setObject(i + 1, params[i]);
        }
        return ps;
    }

    /**
     * A run of numbered instances, all with one status, written with set-based SQL. Instance
     * {@code first} has age {@code newest}; each next number is {@code spacing} older. The age is
     * {@code terminal_at} (and {@code created_at} is {@code createdBefore} earlier; a completed
     * instance's {@code completed_at} is its {@code terminal_at}), or, with
     * {@link #withoutTerminalAt()}, {@code created_at} with a NULL {@code terminal_at}.
     */
    public static final class Seed {
        private final int first;
        private final int count;
        private String status = "completed";
        private Instant newest;
        private Duration spacing = Duration.ofSeconds(1);
        private Duration createdBefore = Duration.ofMinutes(1);
        private boolean terminalAtNull;
        private Instant updatedAt;
        private int nodes = 1;
        private int history = 2;
        private boolean child = true;
        private boolean dfRows = true;
        private boolean engineRecords = true;
        private String submittedBy;

        private Seed(int first, int count) {
            this.first = first;
            this.count = count;
        }

        public static Seed of(int first, int count) {
            return new Seed(first, count);
        }

        static Seed one(int n) {
            return new Seed(n, 1);
        }

        Seed status(String dfStatus) {
            this.status = dfStatus;
            return this;
        }

        public Seed agedAt(Instant newestAge) {
            this.newest = newestAge;
            return this;
        }

        Seed olderEach(Duration by) {
            this.spacing = by;
            return this;
        }

        Seed createdBefore(Duration before) {
            this.createdBefore = before;
            return this;
        }

        Seed withoutTerminalAt() {
            this.terminalAtNull = true;
            return this;
        }

        Seed updatedAt(Instant forged) {
            this.updatedAt = forged;
            return this;
        }

        Seed nodes(int perInstance) {
            this.nodes = perInstance;
            return this;
        }

        Seed history(int eventsPerInstance) {
            this.history = eventsPerInstance;
            return this;
        }

        /** The submitting role (it must exist); the connecting role by default. */
        Seed submittedBy(String role) {
            this.submittedBy = role;
            return this;
        }

        Seed withoutChild() {
            this.child = false;
            return this;
        }

        /** Engine records only: orphans. */
        Seed engineOnly() {
            this.dfRows = false;
            return this;
        }

        private boolean terminal() {
            return List.of("completed", "failed", "cancelled").contains(status);
        }

        private String engineStatus() {
            return Character.toUpperCase(status.charAt(0)) + status.substring(1);
        }

        /** Numbers, ids and ages: {@code s(n, id, a)}; parameters 1 to 5. */
        private static final String SERIES = """
                WITH s AS (
                    SELECT n, lpad(to_hex(n), 8, '0') AS id,
                           ?::timestamptz - (n - ?) * (?::bigint * interval '1 microsecond') AS a
                      FROM generate_series(?::int, ?::int) AS n)
                """;

        private int bindSeries(PreparedStatement ps) throws SQLException {
            ps.setObject(1, utc(newest));
            ps.setInt(2, first);
            ps.setLong(3, spacing.toNanos() / 1_000);
            ps.setInt(4, first);
            ps.setInt(5, first + count - 1);
            return 6;
        }

        void insert(Connection c) throws SQLException {
            if (newest == null) {
                throw new IllegalStateException("a seed needs an age: agedAt(...)");
            }
            boolean terminal = terminal();
            // Terminal rows age from terminal_at unless it is NULL; others from created_at. Only a
            // completed instance has a completed_at.
            boolean agedByCompletion = terminal && !terminalAtNull;
            long createdBeforeMicros = agedByCompletion ? createdBefore.toNanos() / 1_000 : 0;
            if (dfRows) {
                try (PreparedStatement ps = c.prepareStatement(SERIES + """
                        INSERT INTO df.instances (id, root_node, status, created_at, updated_at, terminal_at, completed_at,
                                                  submitted_by)
                        SELECT s.id, '00000000', v.status, s.a - ?::bigint * interval '1 microsecond',
                               coalesce(?::timestamptz, s.a), CASE WHEN v.aged THEN s.a END,
                               CASE WHEN v.aged AND v.status = 'completed' THEN s.a END,
                               coalesce(?::text, quote_ident(current_user))::regrole
                          FROM s, (SELECT ?::text AS status, ?::boolean AS aged) v
                        """)) {
                    int i = bindSeries(ps);
                    ps.setLong(i++, createdBeforeMicros);
                    ps.setObject(i++, utc(updatedAt));
                    ps.setString(i++, submittedBy);
                    ps.setString(i++, status);
                    ps.setBoolean(i, agedByCompletion);
                    ps.executeUpdate();
                }
                NodeTree tree = NodeTree.of(nodes);
                try (PreparedStatement ps = c.prepareStatement(SERIES + """
                        INSERT INTO df.nodes (id, instance_id, node_type, query, left_node, right_node, status, submitted_by)
                        SELECT lpad(to_hex(t.k), 8, '0'), s.id, t.type, CASE WHEN t.type = 'SQL' THEN 'SELECT 1' END,
                               lpad(to_hex(t.l), 8, '0'), lpad(to_hex(t.r), 8, '0'), ?,
                               coalesce(?::text, quote_ident(current_user))::regrole
                          FROM s CROSS JOIN unnest(?::int[], ?::text[], ?::int[], ?::int[]) AS t(k, type, l, r)
                        """)) {
                    int i = bindSeries(ps);
                    ps.setString(i++, terminal ? "completed" : "pending");
                    ps.setString(i++, submittedBy);
                    ps.setArray(i++, c.createArrayOf("int4", tree.keys));
                    ps.setArray(i++, c.createArrayOf("text", tree.types));
                    ps.setArray(i++, c.createArrayOf("int4", tree.lefts));
                    ps.setArray(i, c.createArrayOf("int4", tree.rights));
                    ps.executeUpdate();
                }
            }
            if (engineRecords) {
                insertEngine(c, "s.id", "NULL", GRAPH, createdBeforeMicros, history);
                if (child) {
                    insertEngine(c, "s.id || '::1::00000001'", "s.id", BRANCH, createdBeforeMicros, 2);
                }
            }
        }

        private void insertEngine(Connection c, String idExpr, String parentExpr, String orchestration,
                                  long createdBeforeMicros, int events) throws SQLException {
            boolean terminal = terminal();
            String engineStatus = engineStatus();
            try (PreparedStatement ps = c.prepareStatement(SERIES + """
                    INSERT INTO df_engine.instances (id, name, status, parent_id, created_at, updated_at, completed_at)
                    SELECT %s, ?, ?, %s, s.a - ?::bigint * interval '1 microsecond', s.a, CASE WHEN ? THEN s.a END
                      FROM s
                    """.formatted(idExpr, parentExpr))) {
                int i = bindSeries(ps);
                ps.setString(i++, orchestration);
                ps.setString(i++, engineStatus);
                ps.setLong(i++, createdBeforeMicros);
                ps.setBoolean(i, terminal);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(SERIES + """
                    INSERT INTO df_engine.executions (instance_id, execution_id, status, event_count, started_at, ended_at)
                    SELECT %s, 1, ?, ?, s.a - interval '1 second', CASE WHEN ? THEN s.a END
                      FROM s
                    """.formatted(idExpr))) {
                int i = bindSeries(ps);
                ps.setString(i++, executionStatus(engineStatus));
                ps.setInt(i++, events);
                ps.setBoolean(i, terminal);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(SERIES + """
                    INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, payload, event_time)
                    SELECT %s, 1, e, 'Event', '{"step":' || e || '}', s.a
                      FROM s CROSS JOIN generate_series(1, ?) AS e
                    """.formatted(idExpr))) {
                int i = bindSeries(ps);
                ps.setInt(i, events);
                ps.executeUpdate();
            }
        }

        @Override
        public String toString() {
            return count + " " + status + " instances from " + id(first);
        }
    }

    /**
     * A valid df graph of {@code n} nodes numbered from 0 (the root): a single SQL step, or a
     * chain of THEN nodes over SQL leaves, under a LOOP when {@code n} is even.
     */
    private record NodeTree(Integer[] keys, String[] types, Integer[] lefts, Integer[] rights) {
        static NodeTree of(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("an instance has at least one node");
            }
            Integer[] keys = new Integer[n];
            String[] types = new String[n];
            Integer[] lefts = new Integer[n];
            Integer[] rights = new Integer[n];
            int start = 0;
            if (n % 2 == 0) {
                keys[0] = 0;
                types[0] = "LOOP";
                lefts[0] = 1;
                start = 1;
            }
            int m = n - start;          // odd
            int thens = (m - 1) / 2;
            for (int i = 0; i < m; i++) {
                int k = start + i;
                keys[k] = k;
                if (i < thens) {
                    types[k] = "THEN";
                    lefts[k] = start + thens + i;
                    rights[k] = i < thens - 1 ? k + 1 : start + m - 1;
                } else {
                    types[k] = "SQL";
                }
            }
            return new NodeTree(keys, types, lefts, rights);
        }
    }
}
