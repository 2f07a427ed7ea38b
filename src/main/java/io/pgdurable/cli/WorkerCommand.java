package io.pgdurable.cli;

import io.pgdurable.engine.Limits;
import io.pgdurable.engine.Registry;
import io.pgdurable.engine.RegistryContributor;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.graph.http.AllowList;
import io.pgdurable.reconcile.ReconcileLoop;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.postgresql.PGProperty;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code worker}: runs the durable worker until SIGTERM or Ctrl-C, then stops gracefully. */
@Command(
        name = "worker",
        description = {
                "Run a worker: claim orchestration turns and activities and execute them until stopped.",
                "SIGTERM (or Ctrl-C) stops claiming, lets running activities finish within the grace period,"
                        + " returns the leases of the rest, and exits. Run several for throughput and failover."
        })
final class WorkerCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions database;

    @Spec
    CommandSpec spec;

    @Option(names = "--threads", paramLabel = "<n>", defaultValue = "8",
            description = "Activities run at once (default: ${DEFAULT-VALUE}).")
    int activityThreads;

    @Option(names = "--max-activities-per-role", paramLabel = "<n>", defaultValue = "0",
            description = "Activities of one submitting role this worker holds at once, running or waiting for a"
                    + " thread; must be below --threads so other roles always have a thread"
                    + " (default: --threads - 1, at least 1).")
    int maxActivitiesPerRole;

    @Option(names = "--orchestration-threads", paramLabel = "<n>", defaultValue = "2",
            description = "Orchestration dispatch loops (default: ${DEFAULT-VALUE}).")
    int orchestrationThreads;

    @Option(names = "--turn-batch", paramLabel = "<n>", defaultValue = "32",
            description = "Orchestration turns committed per transaction, at most (default: ${DEFAULT-VALUE}).")
    int turnBatch;

    @Option(names = "--short-path", paramLabel = "<true|false>", defaultValue = "true", arity = "1",
            description = "A step that completes in its own transaction commits its instance's next turn there"
                    + " too, and the worker runs the next step at once (default: ${DEFAULT-VALUE}).")
    boolean shortPath;

    @Option(names = "--pool-size", paramLabel = "<n>", defaultValue = "0",
            description = "Engine connection pool size; 0 sizes it from the thread counts (default).")
    int poolSize;

    @Option(names = "--poll-interval-ms", paramLabel = "<ms>", defaultValue = "500",
            description = "Longest sleep between polls when idle; NOTIFY wakes workers sooner (default: ${DEFAULT-VALUE}).")
    long pollMillis;

    @Option(names = "--lease-seconds", paramLabel = "<s>", defaultValue = "30",
            description = "Activity lease; a dead worker's activities are retried after it (default: ${DEFAULT-VALUE}).")
    long leaseSeconds;

    @Option(names = "--shutdown-grace-seconds", paramLabel = "<s>", defaultValue = "10",
            description = "How long shutdown waits for running activities (default: ${DEFAULT-VALUE}).")
    long graceSeconds;

    @Option(names = "--max-step-connections", paramLabel = "<n>", defaultValue = "16",
            description = "SQL-step connections open at once, all roles together (default: ${DEFAULT-VALUE}).")
    int maxStepConnections;

    @Option(names = "--max-step-connections-per-role", paramLabel = "<n>", defaultValue = "8",
            description = "SQL-step connections open at once for one submitting role (default: ${DEFAULT-VALUE}).")
    int maxStepConnectionsPerRole;

    @Option(names = "--step-acquire-timeout-seconds", paramLabel = "<s>", defaultValue = "30",
            description = "How long a SQL step waits for a connection slot before it fails (default: ${DEFAULT-VALUE}).")
    long stepAcquireSeconds;

    @Option(names = Limits.ROWS_OPTION, paramLabel = "<n>", defaultValue = "" + Limits.DEFAULT_ROWS,
            description = "Rows one SQL step may return; more fails the step and rolls it back"
                    + " (default: ${DEFAULT-VALUE}, at most " + Limits.MAX_ROWS + ").")
    int maxStepResultRows;

    @Option(names = Limits.BYTES_OPTION, paramLabel = "<bytes>", defaultValue = "" + Limits.DEFAULT_BYTES,
            description = "Size as JSON of any result, signal data or document the engine stores"
                    + " (default: ${DEFAULT-VALUE}, at most " + Limits.MAX_BYTES + ").")
    int maxResultBytes;

    @Option(names = Limits.DEPTH_OPTION, paramLabel = "<levels>", defaultValue = "" + Limits.DEFAULT_DEPTH,
            description = "Nesting of a JSON value in a result, signal data or a df.break value"
                    + " (default: ${DEFAULT-VALUE}, at most " + Limits.MAX_DEPTH + ").")
    int maxResultDepth;

    @Option(names = Limits.STRING_OPTION, paramLabel = "<chars>", defaultValue = "" + Limits.DEFAULT_STRING_LENGTH,
            description = "Characters in any one string of a result (default: ${DEFAULT-VALUE}).")
    int maxStringLength;

    @Option(names = AllowList.OPTION, paramLabel = "<hosts>",
            description = "Hosts (api.internal, *.corp.example), IP addresses and CIDR networks HTTP steps may reach"
                    + " although they are not public (loopback, private, link-local, ...), separated by commas;"
                    + " added to pg_durable.http_allowed_hosts from the server's configuration (default: none).")
    String httpAllowedHosts;

    @Option(names = "--worker-id", paramLabel = "<id>",
            description = "Name in the heartbeat table (default: host:pid:random).")
    String workerId;

    /** The limits from the options; a value out of range is a usage error naming the option. */
    private Limits limits() {
        try {
            return new Limits(maxStepResultRows, maxResultBytes, maxResultDepth, maxStringLength);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        database.spec("pg_durable worker");  // a URL the connection factory refuses is a usage error
        Limits limits = limits();
        AllowList httpAllowList;
        try {
            httpAllowList = AllowList.parse(httpAllowedHosts, AllowList.OPTION);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        Properties props = database.properties("pg_durable worker");
        WorkerConfig config = WorkerConfig.builder(database.url())
                .user(PGProperty.USER.getOrDefault(props))
                .password(PGProperty.PASSWORD.getOrDefault(props))
                .workerId(workerId)
                .activityThreads(activityThreads)
                .maxActivitiesPerRole(maxActivitiesPerRole)
                .orchestrationThreads(orchestrationThreads)
                .turnBatchSize(turnBatch)
                .shortPath(shortPath)
                .maxPoolSize(poolSize)
                .pollInterval(Duration.ofMillis(pollMillis))
                .leaseDuration(Duration.ofSeconds(leaseSeconds))
                .shutdownGrace(Duration.ofSeconds(graceSeconds))
                .limits(limits)
                .build();
        GraphRuntime graph = new GraphRuntime(database.url(), maxStepConnections, maxStepConnectionsPerRole,
                Duration.ofSeconds(stepAcquireSeconds)).allowHttp(httpAllowList);
        Registry registry = graph.register(RegistryContributor.discover());
        CountDownLatch stopped = new CountDownLatch(1);
        Worker worker;
        try {
            worker = Worker.start(config, registry, graph::attach);
        } catch (RuntimeException e) {
            graph.close();
            throw e;
        }
        ReconcileLoop reconciliation = ReconcileLoop.startOn(worker.dataSource(), worker.id());
        Thread hook = new Thread(() -> {
            // The reconciliation and the signal router use the worker's pool: stop them first.
            reconciliation.close();
            graph.detach();
            worker.close();
            graph.close();
            stopped.countDown();
        }, "pg_durable-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        stopped.await();
        return 0;
    }
}
