package io.pgdurable.cli;

import io.pgdurable.engine.Registry;
import io.pgdurable.graph.GraphRuntime;
import io.pgdurable.worker.RegistryContributor;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.postgresql.PGProperty;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code worker}: runs the durable worker until SIGTERM or Ctrl-C, then stops gracefully. */
@Command(
        name = "worker",
        description = {
                "Run a worker: claim orchestration turns and activities and execute them until stopped.",
                "SIGTERM (or Ctrl-C) stops claiming, lets running activities finish within the grace",
                "period, returns the leases of the rest, and exits. Run several for throughput and failover."
        })
final class WorkerCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions database;

    @Option(names = "--threads", paramLabel = "<n>", defaultValue = "8",
            description = "Activities run at once (default: ${DEFAULT-VALUE}).")
    int activityThreads;

    @Option(names = "--max-activities-per-role", paramLabel = "<n>", defaultValue = "0",
            description = "Activities of one submitting role this worker holds at once, running or waiting for a"
                    + " thread; must be below --threads so other roles always have a thread"
                    + " (default: half of --threads, at least 1).")
    int maxActivitiesPerRole;

    @Option(names = "--orchestration-threads", paramLabel = "<n>", defaultValue = "2",
            description = "Orchestration dispatch loops (default: ${DEFAULT-VALUE}).")
    int orchestrationThreads;

    @Option(names = "--turn-batch", paramLabel = "<n>", defaultValue = "32",
            description = "Orchestration turns committed per transaction, at most (default: ${DEFAULT-VALUE}).")
    int turnBatch;

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

    @Option(names = "--worker-id", paramLabel = "<id>",
            description = "Name in the heartbeat table (default: host:pid:random).")
    String workerId;

    @Override
    public Integer call() throws InterruptedException {
        Properties props = database.properties("pg_durable worker");
        WorkerConfig config = WorkerConfig.builder(database.url())
                .user(PGProperty.USER.getOrDefault(props))
                .password(PGProperty.PASSWORD.getOrDefault(props))
                .workerId(workerId)
                .activityThreads(activityThreads)
                .maxActivitiesPerRole(maxActivitiesPerRole)
                .orchestrationThreads(orchestrationThreads)
                .turnBatchSize(turnBatch)
                .maxPoolSize(poolSize)
                .pollInterval(Duration.ofMillis(pollMillis))
                .leaseDuration(Duration.ofSeconds(leaseSeconds))
                .shutdownGrace(Duration.ofSeconds(graceSeconds))
                .build();
        GraphRuntime graph = new GraphRuntime(database.url(), maxStepConnections, maxStepConnectionsPerRole,
                Duration.ofSeconds(stepAcquireSeconds));
        Registry registry = graph.register(RegistryContributor.discover());
        CountDownLatch stopped = new CountDownLatch(1);
        Worker worker;
        try {
            worker = Worker.start(config, registry);
        } catch (RuntimeException e) {
            graph.close();
            throw e;
        }
        graph.attach(worker.dataSource());
        graph.startReconciliation(worker.dataSource(), worker.id());
        Thread hook = new Thread(() -> {
            worker.close();
            graph.close();
            stopped.countDown();
        }, "pg_durable-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        stopped.await();
        return 0;
    }
}
