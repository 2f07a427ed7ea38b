package io.pgdurable.graph.e2e;

import io.pgdurable.engine.Limits;
import io.pgdurable.engine.Registry;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.graph.http.AllowList;
import io.pgdurable.graph.http.LoopbackOnly;
import io.pgdurable.reconcile.ReconcileLoop;
import io.pgdurable.testing.Poll;
import io.pgdurable.testing.TestCluster;
import io.pgdurable.worker.FaultInjector;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A fresh database with the full schema, an application role that may use df, and helpers to
 * run a worker (with the df graph runtime) and SQL as that role. One per test class.
 */
public final class DfTestEnvironment implements AutoCloseable {
    private final TestCluster cluster = TestCluster.get();
    private final String db;
    private final String role;
    private final List<AutoCloseable> running = new ArrayList<>();

    /**
     * @param name database and role name stem: lower-case letters, digits, underscores
     */
    public DfTestEnvironment(String name) {
        this.db = cluster.createDatabase(name);
        this.role = name + "_app";
        cluster.createLoginRole(role);
        exec("SELECT df.grant_usage('" + role + "')");
        exec("GRANT ALL ON SCHEMA public TO " + role);
    }

    public String database() {
        return db;
    }

    /** The application role (LOGIN, df usage, full rights on schema public). */
    public String role() {
        return role;
    }

    public TestCluster cluster() {
        return cluster;
    }

    /** Starts a worker with the df graph runtime; it stops when this environment closes. */
    public Worker startWorker() {
        return startWorker(FaultInjector.NONE);
    }

    /** Starts a worker that also runs the periodic reconciliation, paced by the database's settings. */
    public Worker startWorkerWithReconciliation() {
        Worker worker = startWorker(FaultInjector.NONE);
        running.add(ReconcileLoop.startOn(worker.dataSource(), worker.id()));
        return worker;
    }

    public Worker startWorker(FaultInjector faults) {
        return startWorker(faults, Limits.defaults());
    }

    /** Starts a worker with the df graph runtime, these fault hooks and these result limits. */
    public Worker startWorker(FaultInjector faults, Limits limits) {
        return startWorker(faults, limits, Clock.systemUTC());
    }

    /**
     * Starts a worker whose turns read the time from {@code clock} (a turn's "now", from which
     * timers and schedules are computed); the database still decides when a timer is due.
     */
    public Worker startWorker(Clock clock) {
        return startWorker(FaultInjector.NONE, Limits.defaults(), clock);
    }

    /**
     * Starts a worker whose HTTP steps may also reach the hosts and networks of {@code allowList},
     * as the worker's --http-allowed-hosts option would allow them.
     */
    public Worker startWorkerAllowingHttp(AllowList allowList) {
        return startWorker(FaultInjector.NONE, Limits.defaults(), Clock.systemUTC(), allowList);
    }

    private Worker startWorker(FaultInjector faults, Limits limits, Clock clock) {
        return startWorker(faults, limits, clock, AllowList.EMPTY);
    }

    /**
     * Starts a worker with these fault hooks, on the short path or not, and one orchestration
     * dispatch loop. With two, the idle loop's poll can lock an instance (finding its messages
     * already taken) just as one of its steps completes; the short path then leaves that turn to
     * the queue, as it must when anything else holds the instance. Correct, but it would make the
     * count of short-path turns these workers' tests assert depend on the machine's load.
     */
    public Worker startWorker(FaultInjector faults, boolean shortPath) {
        return startWorker(faults, Limits.defaults(), Clock.systemUTC(), AllowList.EMPTY, shortPath, 1);
    }

    private Worker startWorker(FaultInjector faults, Limits limits, Clock clock, AllowList httpAllowList) {
        return startWorker(faults, limits, clock, httpAllowList, true, 2);
    }

    private Worker startWorker(FaultInjector faults, Limits limits, Clock clock, AllowList httpAllowList,
                               boolean shortPath, int orchestrationThreads) {
        String url = cluster.jdbcUrl(db, TestCluster.SUPERUSER);
        // HTTP steps reach only the loopback servers tests start, and look up no names.
        GraphRuntime graph = new GraphRuntime(url, 16, 8, Duration.ofSeconds(10)).allowHttp(httpAllowList)
                .httpNetwork(LoopbackOnly.NETWORK);
        Registry registry = graph.register(new Registry());
        WorkerConfig config = WorkerConfig.builder(url)
                .pollInterval(Duration.ofMillis(50))
                .leaseDuration(Duration.ofSeconds(2))
                .shutdownGrace(Duration.ofSeconds(2))
                .faultInjector(faults)
                .limits(limits)
                .clock(clock)
                .shortPath(shortPath)
                .orchestrationThreads(orchestrationThreads)
                .build();
        Worker worker = Worker.start(config, registry, graph::attach);
        running.add(graph);
        running.add(worker);
        return worker;
    }

    /** Stops every worker started so far (gracefully). */
    public void stopWorkers() {
        for (int i = running.size() - 1; i >= 0; i--) {
            try {
                running.get(i).close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        running.clear();
    }

    /** A connection as the application role. */
    public Connection connectAsApp() throws SQLException {
        return cluster.connect(db, role);
    }

    /** A connection as the superuser. */
    public Connection connectAsAdmin() throws SQLException {
        return cluster.connect(db);
    }

    /** Runs SQL as the superuser. */
    public void exec(String sql) {
        try (Connection c = connectAsAdmin(); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** First column of the first row of {@code sql} run as the application role, with params. */
    public String queryAsApp(String sql, Object... params) {
        try (Connection c = connectAsApp()) {
            return first(c, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** First column of the first row of {@code sql} run as the superuser, with params. */
    public String queryAsAdmin(String sql, Object... params) {
        try (Connection c = connectAsAdmin()) {
            return first(c, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** Starts a workflow as the application role: {@code SELECT df.start(<expression>)}. */
    public String start(String graphExpression) {
        return queryAsApp("SELECT df.start(" + graphExpression + ")");
    }

    /**
     * Starts a workflow and hands its id to {@code beforeCommit} inside the starting transaction,
     * so that whatever it arms (fault hooks keyed by the id) is in place before any worker can see
     * the instance.
     */
    public String startArmed(String graphExpression, Consumer<String> beforeCommit) throws SQLException {
        try (Connection c = connectAsApp()) {
            c.setAutoCommit(false);
            String id = first(c, "SELECT df.start(" + graphExpression + ")");
            beforeCommit.accept(id);
            c.commit();
            return id;
        }
    }

    /**
     * Runs a sentinel: a workflow that sleeps {@code seconds}, then runs a SQL step, and waits until
     * it has completed. Once it has, the worker has handled the timers and steps that came due
     * before the sentinel's, so a test can then assert that something did not happen: had it been
     * going to, it would have happened by now. Use it instead of a fixed sleep.
     */
    public void awaitSentinel(int seconds) {
        String id = start("df.sleep(" + seconds + ") ~> 'SELECT ''sentinel'' AS s'");
        String status = await(id, Duration.ofSeconds(seconds + 30L));
        if (!"completed".equals(status)) {
            throw new AssertionError("the sentinel " + id + " ended " + status + "\n" + engineState(id));
        }
    }

    /** Waits for a terminal status via df.await_instance and returns it. */
    public String await(String instanceId, Duration timeout) {
        try {
            return queryAsApp("SELECT df.await_instance(?, ?)", instanceId, (int) Math.max(1, timeout.toSeconds()));
        } catch (IllegalStateException e) {
            throw new IllegalStateException(e.getMessage() + "\n" + engineState(instanceId), e);
        }
    }

    /** The engine's view of an instance and its children, for failure messages. */
    public String engineState(String instanceId) {
        String like = instanceId + "%";
        return queryAsAdmin("SELECT 'instances: ' || coalesce((SELECT string_agg(i.id || '=' || i.status || '/gen'"
                + " || i.execution_id || ' history=' || (SELECT count(*) FROM df_engine.history h WHERE h.instance_id = i.id)"
                + " || CASE WHEN i.status = 'Failed' THEN ' output=' || coalesce(left(i.output, 2000), '-') ELSE '' END,"
                + " '; ') FROM df_engine.instances i WHERE i.id LIKE ?), '-')"
                + " || E'\\nroot history: ' || coalesce((SELECT string_agg(h.seq || ':' || h.event_type"
                + " || coalesce('#' || h.task_id, '') || coalesce(' ' || h.name, ''), ', ' ORDER BY h.seq)"
                + " FROM df_engine.history h WHERE h.instance_id = ?), '-')"
                + " || E'\\nmessages: ' || coalesce((SELECT string_agg(q.instance_id || ':' || q.kind || ' visible_at='"
                + " || q.visible_at, '; ') FROM df_engine.orchestrator_queue q WHERE q.instance_id LIKE ?), '-')"
                + " || E'\\nactivities: ' || coalesce((SELECT string_agg(a.instance_id || ':' || a.name || ' attempts='"
                + " || a.attempts || ' visible_at=' || a.visible_at, '; ') FROM df_engine.activity_queue a"
                + " WHERE a.instance_id LIKE ?), '-')", like, instanceId, like, like);
    }

    public String result(String instanceId) {
        return queryAsApp("SELECT df.result(?)", instanceId);
    }

    /** Polls {@code condition} until it holds; a thin delegate to {@link Poll#until}. */
    public static void awaitTrue(BooleanSupplier condition, Duration timeout, String what) {
        Poll.until(timeout, what, condition::getAsBoolean);
    }

    private static String first(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    @Override
    public void close() {
        stopWorkers();
    }
}
