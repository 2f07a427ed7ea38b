package io.pgdurable.graph;

import io.pgdurable.engine.Registry;
import io.pgdurable.graph.http.AllowList;
import io.pgdurable.graph.http.HttpNetwork;
import io.pgdurable.graph.http.HttpStepActivity;
import io.pgdurable.graph.interpreter.GraphOrchestration;
import io.pgdurable.graph.step.SqlStepActivity;
import io.pgdurable.graph.step.StepConnections;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;
import javax.sql.DataSource;

/**
 * The df control plane's side of a worker: the graph orchestrations, the SQL and HTTP step activities, and
 * the per-role connections the steps run on. Register it into the worker's registry before the
 * worker starts, then {@link #attach(DataSource)} the worker's pool.
 */
public final class GraphRuntime implements AutoCloseable {
    /** How often the signal router looks for signals sent to open waits when it has no work. */
    private static final Duration SIGNAL_POLL = Duration.ofMillis(100);

    private final StepConnections connections;
    private volatile DataSource control;
    private AllowList httpAllowList = AllowList.EMPTY;
    private HttpNetwork httpNetwork = HttpNetwork.SYSTEM;
    private SignalRouter signalRouter;

    /**
     * @param jdbcUrl        the control database, as the worker connects to it
     * @param maxConnections SQL-step connections open at once, all roles together
     * @param maxPerRole     SQL-step connections open at once for one role
     * @param acquireTimeout how long a step waits for a connection slot before it fails
     */
    public GraphRuntime(String jdbcUrl, int maxConnections, int maxPerRole, Duration acquireTimeout) {
        this.connections = new StepConnections(jdbcUrl, maxConnections, maxPerRole, acquireTimeout);
    }

    /**
     * Hosts and networks HTTP steps may reach although they are not public, from the worker's
     * command line ({@value AllowList#OPTION}); added to {@value AllowList#SETTING} from the server's
     * configuration. Call before {@link #register}.
     */
    public GraphRuntime allowHttp(AllowList allowList) {
        this.httpAllowList = allowList == null ? AllowList.EMPTY : allowList;
        return this;
    }

    /**
     * The network HTTP steps use: {@link HttpNetwork#SYSTEM} unless a test closes it to the servers
     * it started. Call before {@link #register}.
     */
    public GraphRuntime httpNetwork(HttpNetwork network) {
        this.httpNetwork = Objects.requireNonNull(network, "network");
        return this;
    }

    public Registry register(Registry registry) {
        GraphOrchestration graph = new GraphOrchestration();
        Supplier<DataSource> controlSource = () -> Objects.requireNonNull(control,
                "GraphRuntime.attach() was not called with the worker's data source before the worker started");
        return registry
                .orchestration(GraphOrchestration.ROOT, graph)
                .orchestration(GraphOrchestration.BRANCH, graph)
                .orchestration(GraphOrchestration.LOOP, graph)
                .activity(SqlStepActivity.NAME, new SqlStepActivity(connections, controlSource))
                .activity(HttpStepActivity.NAME, HttpStepActivity.on(httpNetwork, controlSource, httpAllowList));
    }

    /**
     * The pool used to look up submitting roles and to route signals (see {@link SignalRouter});
     * the worker's own is the natural choice. Give it before the worker runs anything, as
     * {@code Worker.start(config, registry, graph::attach)} does: a worker that starts with steps
     * waiting would otherwise run one before its runtime could look up who submitted it.
     */
    public synchronized void attach(DataSource dataSource) {
        this.control = dataSource;
        if (signalRouter != null) {
            signalRouter.close();
        }
        signalRouter = new SignalRouter(dataSource, SIGNAL_POLL).start();
    }

    /**
     * Stops the signal router, which uses the pool given to {@link #attach}: call it before that
     * pool closes. The step connections stay open for steps still finishing.
     */
    public synchronized void detach() {
        if (signalRouter != null) {
            signalRouter.close();
            signalRouter = null;
        }
    }

    @Override
    public synchronized void close() {
        detach();
        connections.close();
    }
}
