package io.pgdurable.worker;

import io.pgdurable.engine.Registry;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

/**
 * Orchestrations for crash-recovery tests, and a worker process that runs them.
 *
 * <p>{@code crash.steps}: three sequential activities {@code crash.step}; each writes an effect
 * row and records its completion in the same transaction, and logs every attempt in autocommit
 * first, so a test can see an attempt start. Run as a separate JVM with {@code stall-activity},
 * task 1's first attempt stalls after logging; with {@code stall-turn}, the turn that follows
 * task 0 stalls inside its transaction after printing {@code TURN_STALLED <id>}.
 */
public final class CrashScenarios {
    static final String ORCHESTRATION = "crash.steps";
    static final String STEP = "crash.step";

    private CrashScenarios() {
    }

    static void createTables(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS crash_attempts (instance_id text, task_id int, attempt int,"
                    + " worker text, at timestamptz DEFAULT clock_timestamp())");
            s.execute("CREATE TABLE IF NOT EXISTS crash_effects (instance_id text, task_id int,"
                    + " PRIMARY KEY (instance_id, task_id))");
            s.execute("GRANT ALL ON crash_attempts, crash_effects TO PUBLIC");
        }
    }

    static Registry registry(String jdbcUrl, String workerName, String stall) {
        Properties props = new Properties();
        props.setProperty("user", "postgres");
        return new Registry()
                .orchestration(ORCHESTRATION, ctx -> {
                    int total = 0;
                    for (int i = 0; i < 3; i++) {
                        total += ctx.callActivity(STEP, i, Integer.class).await();
                        if (i == 0 && "stall-turn".equals(stall)) {
                            String id = ctx.instanceId();
                            ctx.addTurnWrite(c -> {
                                System.out.println("TURN_STALLED " + id);
                                System.out.flush();
                                sleep(Duration.ofMinutes(5));
                            });
                        }
                    }
                    return total;
                })
                .activity(STEP, ctx -> {
                    try (Connection c = DriverManager.getConnection(jdbcUrl, props)) {
                        try (PreparedStatement ps = c.prepareStatement(
                                "INSERT INTO crash_attempts (instance_id, task_id, attempt, worker) VALUES (?, ?, ?, ?)")) {
                            ps.setString(1, ctx.instanceId());
                            ps.setInt(2, ctx.taskId());
                            ps.setInt(3, ctx.attempt());
                            ps.setString(4, workerName);
                            ps.executeUpdate();
                        }
                        if (ctx.taskId() == 1 && ctx.attempt() == 1 && "stall-activity".equals(stall)) {
                            sleep(Duration.ofMinutes(5));
                        }
                        c.setAutoCommit(false);
                        try (PreparedStatement ps = c.prepareStatement(
                                "INSERT INTO crash_effects (instance_id, task_id) VALUES (?, ?)")) {
                            ps.setString(1, ctx.instanceId());
                            ps.setInt(2, ctx.taskId());
                            ps.executeUpdate();
                        }
                        int value = ctx.input(Integer.class) + 1;
                        ctx.completeAndCommit(c, value);
                        return value;
                    }
                });
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());  // holds a turn or an activity so the test can kill the worker mid-way
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A worker JVM: {@code <jdbc-url> <worker-name> <stall-activity|stall-turn|none>}. */
    public static void main(String[] args) throws InterruptedException {
        String url = args[0];
        WorkerConfig config = WorkerConfig.builder(url)
                .workerId(args[1])
                .pollInterval(Duration.ofMillis(50))
                .leaseDuration(Duration.ofSeconds(2))
                .build();
        Worker worker = Worker.start(config, registry(url, args[1], args[2]));
        System.out.println("WORKER_STARTED " + worker.id());
        System.out.flush();
        new CountDownLatch(1).await();
    }
}
