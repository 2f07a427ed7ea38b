package io.pgdurable.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.graph.e2e.DfTestEnvironment;
import io.pgdurable.testing.TestCluster;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chaos suite: rounds of 200 df workflows, each ten SQL steps that insert one row keyed by
 * (instance, step), run by the real CLI worker in its own JVM while the test injects faults at
 * random points of the run: SIGKILL of the worker (a new one is started), {@code
 * pg_terminate_backend} of some of the worker's connections, and an immediate restart of
 * PostgreSQL. Every instance must complete, and every (instance, step) must have exactly one
 * row: the effects table has no unique key, so a duplicate would show rather than fail a step.
 *
 * <p>The normal build runs one round with {@value #DEFAULT_FAULTS} faults. {@code
 * -Dpgdurable.chaos.faults=N} asks for N faults, at most {@value #MAX_FAULTS_PER_ROUND} per
 * round, in as many rounds as that takes ({@code mvn -B verify -Pchaos} runs this test alone with
 * 1,000). The faults' kinds and their places in the run come from a seeded random generator; the
 * seed is printed, and {@code -Dpgdurable.chaos.seed=S} replays that sequence (the timing within
 * the run is the machine's own, so a replay is close, not identical).
 */
class ChaosTest {
    static final String FAULTS_PROPERTY = "pgdurable.chaos.faults";
    static final String SEED_PROPERTY = "pgdurable.chaos.seed";
    static final int DEFAULT_FAULTS = 15;
    static final int MAX_FAULTS_PER_ROUND = 50;
    private static final int WORKFLOWS = 200;
    private static final int STEPS = 10;
    /** The run fails if neither an effect nor an instance's end is seen for this long. */
    private static final Duration STALL_LIMIT = Duration.ofMinutes(2);
    private static final Duration POLL = Duration.ofMillis(50);
    /**
     * How often the effect count is read while a fault waits for its point of the run: at some
     * 1,500 steps per second a 50 ms poll let the run get 75 steps past the point, more than the
     * 20 steps between two of 100 faults in a round; 10 ms lets it get about 15.
     */
    private static final Duration FAULT_POLL = Duration.ofMillis(10);
    /** Long enough to outlast a SIGKILL's held leases quickly, short enough to keep the suite fast. */
    private static final String LEASE_SECONDS = "3";

    private static DfTestEnvironment env;
    private static WorkerProcess worker;
    private static ResilientConnection driver;

    /** One kind of fault. */
    enum Fault {
        KILL_WORKER("kill -9 of the worker"),
        TERMINATE_BACKENDS("pg_terminate_backend of worker connections"),
        RESTART_POSTGRES("immediate restart of PostgreSQL");

        final String description;

        Fault(String description) {
            this.description = description;
        }
    }

    @BeforeAll
    static void setUp() throws SQLException {
        env = new DfTestEnvironment("chaos");
        // The test cluster commits asynchronously for speed, so an immediate restart could lose
        // the last commits the worker was told had succeeded: that is a lost-durability setting,
        // not a crash a deployment should survive. This database commits synchronously.
        env.exec("ALTER DATABASE " + env.database() + " SET synchronous_commit = on");
        try (Connection c = env.connectAsApp(); Statement s = c.createStatement()) {
            // Deliberately no unique key on (instance_id, step): a duplicated step must leave a
            // second row to count, not fail with a unique violation that a retry would hide.
            s.execute("CREATE TABLE chaos_effects (instance_id text NOT NULL, step int NOT NULL,"
                    + " backend_pid int NOT NULL DEFAULT pg_backend_pid(),"
                    + " at timestamptz NOT NULL DEFAULT clock_timestamp())");
            s.execute("CREATE INDEX chaos_effects_key ON chaos_effects (instance_id, step)");
        }
        String url = env.cluster().jdbcUrl(env.database(), TestCluster.SUPERUSER);
        Path logs = Path.of(System.getProperty("pgdurable.test.buildDir", "target")).resolve("chaos");
        worker = new WorkerProcess(url, logs, List.of("--poll-interval-ms", "50",
                "--lease-seconds", LEASE_SECONDS, "--shutdown-grace-seconds", "2"));
        driver = new ResilientConnection(env.cluster().jdbcUrl(env.database()), TestCluster.SUPERUSER);
    }

    @AfterAll
    static void tearDown() throws InterruptedException {
        if (worker != null) {
            worker.close();
        }
        if (driver != null) {
            driver.close();
        }
        if (env != null) {
            env.close();
        }
    }

    @Test
    void every_workflow_completes_with_each_step_effect_exactly_once_through_kills_terminations_and_restarts()
            throws Exception {
        long seed = Long.getLong(SEED_PROPERTY, new SecureRandom().nextLong());
        int faults = Integer.getInteger(FAULTS_PROPERTY, DEFAULT_FAULTS);
        assertThat(faults).as(FAULTS_PROPERTY).isPositive();
        Random random = new Random(seed);
        int rounds = (faults + MAX_FAULTS_PER_ROUND - 1) / MAX_FAULTS_PER_ROUND;
        System.out.printf("chaos: seed %d (replay with -D%s=%d), %d faults in %d round(s) of %d workflows%n",
                seed, SEED_PROPERTY, seed, faults, rounds, WORKFLOWS);

        Counts counts = new Counts();
        long startedAt = System.nanoTime();
        worker.start();
        // A round whose workflows all finished before its last faults could fall hands those on
        // to the next round (an extra one after the last), so that every fault asked for hits a
        // running system.
        int left = faults;
        int roundsRun = 0;
        for (int round = 1; left > 0; round++) {
            assertThat(round).as("rounds needed for %d faults (%d planned)", faults, rounds)
                    .isLessThanOrEqualTo(2 * rounds + 1);
            int later = 0;
            for (int r = round + 1; r <= rounds; r++) {
                later += share(faults, rounds, r);
            }
            int asked = Math.min(MAX_FAULTS_PER_ROUND, left - later);
            int injected = runRound(round, asked, random, counts);
            if (injected < asked) {
                System.out.printf("chaos: round %d finished its workflows with %d of its faults still to come;"
                        + " they move to the next round%n", round, asked - injected);
            }
            left -= injected;
            roundsRun = round;
        }
        counts.strays = driver.longValue("""
                SELECT count(*) FROM chaos_effects e
                 WHERE e.step NOT BETWEEN 1 AND ?
                    OR NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = e.instance_id AND i.label LIKE 'chaos-%')
                """, STEPS);
        counts.workerStarts = worker.starts();
        counts.failedStarts = worker.failedStarts();
        counts.exitsWhileRunning = worker.exitsWhileRunning();
        counts.elapsed = Duration.ofNanos(System.nanoTime() - startedAt);
        System.out.println(counts.summary(seed));
        worker.exits().forEach(System.out::println);

        assertThat(counts.notCompleted).as("instances that did not complete; %s", counts.problems).isZero();
        assertThat(counts.duplicates).as("duplicated step effects; %s", counts.problems).isZero();
        assertThat(counts.missing).as("missing step effects; %s", counts.problems).isZero();
        assertThat(counts.exitsWhileRunning).as("worker JVMs that exited on their own while running; %s",
                worker.exits()).isZero();
        assertThat(counts.strays).as("effect rows of no chaos instance or step").isZero();
        assertThat(counts.duplicateCompletions).as("steps whose completion the engine recorded twice").isZero();
        assertThat(counts.completed).isEqualTo((long) roundsRun * WORKFLOWS);
        assertThat(counts.totalFaults()).as("faults injected").isEqualTo(faults);
    }

    /** Round {@code round}'s share of {@code faults} spread over {@code rounds} rounds. */
    private static int share(int faults, int rounds, int round) {
        return faults / rounds + (round <= faults % rounds ? 1 : 0);
    }

    /** Runs one round of workflows with up to {@code faults} faults; returns how many it injected. */
    private int runRound(int round, int faults, Random random, Counts counts) throws Exception {
        String label = "chaos-" + round;
        long base = driver.longValue("SELECT count(*) FROM chaos_effects");
        startWorkflows(label);
        long expected = (long) WORKFLOWS * STEPS;
        // Fault i falls at a random point of the i-th of faults+1 equal slices of the round's steps,
        // so the faults are spread over the whole run, however fast it goes. The plan is drawn
        // before the round starts, so a seed always gives the same kinds at the same places.
        double slice = (double) expected / (faults + 1);
        List<PlannedFault> plan = new ArrayList<>();
        for (int i = 0; i < faults; i++) {
            plan.add(new PlannedFault(base + (long) (slice * (i + 0.5 + random.nextDouble())),
                    Fault.values()[random.nextInt(Fault.values().length)], random.nextLong()));
        }
        long end = base + expected;
        long lastFaultAt = -1;
        int injected = 0;
        for (int i = 0; i < faults; i++) {
            PlannedFault fault = plan.get(i);
            // At least one step must commit between two faults: the system has recovered from the
            // last. And when the run got ahead of the plan (a fault's recovery let many steps
            // through before the count was read again), the faults still to come share what is
            // left of it, instead of all falling at its end, where the last of them found no step
            // left to wait for and the round ended with fewer faults than asked.
            long target = fault.position();
            if (lastFaultAt >= 0) {
                target = Math.max(target, lastFaultAt + Math.max(1, (end - lastFaultAt) / (faults - i + 1)));
            }
            long at = awaitEffects(label, target);
            if (at < 0) {
                break; // every instance finished first: the faults left move to the next round
            }
            long t0 = System.nanoTime();
            String detail = inject(fault, counts);
            injected++;
            lastFaultAt = at;
            System.out.printf("chaos: round %d fault %d/%d at %d/%d effects: %s%s (%d ms)%n", round, i + 1, faults,
                    at - base, expected, fault.kind().description, detail, (System.nanoTime() - t0) / 1_000_000);
        }
        awaitEffects(label, Long.MAX_VALUE);
        verify(label, counts);
        return injected;
    }

    private void startWorkflows(String label) throws SQLException {
        List<String> steps = new ArrayList<>();
        for (int k = 1; k <= STEPS; k++) {
            steps.add("'INSERT INTO chaos_effects (instance_id, step) VALUES (''{sys_instance_id}'', " + k + ")'");
        }
        try (Connection c = env.connectAsApp();
             PreparedStatement ps = c.prepareStatement(
                     "SELECT df.start(" + String.join(" ~> ", steps) + ", ?) FROM generate_series(1, ?)")) {
            c.setAutoCommit(false);
            ps.setString(1, label);
            ps.setInt(2, WORKFLOWS);
            ps.executeQuery().close();
            c.commit();
        }
    }

    /** Injects one fault; returns what it hit, for the log. */
    private String inject(PlannedFault fault, Counts counts) throws InterruptedException {
        counts.faults.merge(fault.kind(), 1, Integer::sum);
        switch (fault.kind()) {
            case KILL_WORKER -> {
                worker.kill();
                worker.start();
                return "";
            }
            case TERMINATE_BACKENDS -> {
                List<String> pids = workerBackends();
                Random random = new Random(fault.victimSeed());
                Collections.shuffle(pids, random);
                List<String> victims = pids.subList(0, 1 + random.nextInt(pids.size()));
                long terminated = driver.longValue(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest(?::int[]) AS t(pid)",
                        "{" + String.join(",", victims) + "}");
                counts.backendsTerminated += terminated;
                return " (" + terminated + " of " + pids.size() + ")";
            }
            case RESTART_POSTGRES -> {
                env.cluster().restartImmediately();
                return "";
            }
            default -> throw new IllegalStateException("unknown fault " + fault.kind());
        }
    }

    /** The worker's sessions: its engine pool and listener, and its step connections as the app role. */
    private List<String> workerBackends() {
        long deadline = System.nanoTime() + STALL_LIMIT.toNanos();
        while (true) {
            List<String> pids = driver.column("""
                    SELECT pid::text FROM pg_stat_activity
                     WHERE datname = current_database() AND backend_type = 'client backend'
                       AND pid <> pg_backend_pid() AND application_name <> ?
                       AND (usename = ? OR application_name LIKE 'pg\\_durable%')
                     ORDER BY pid
                    """, ResilientConnection.APPLICATION_NAME, env.role());
            if (!pids.isEmpty()) {
                return new ArrayList<>(pids);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the worker had no session in the database for " + STALL_LIMIT
                        + "\n" + worker.logTail());
            }
            worker.restartIfExited();
            sleep(POLL);
        }
    }

    /**
     * Waits until the effects table holds at least {@code target} rows and returns its count, or
     * returns -1 once every instance of the round has finished. Fails if nothing moves for {@link
     * #STALL_LIMIT}.
     */
    private long awaitEffects(String label, long target) {
        long[] last = null;
        long lastChange = System.nanoTime();
        while (true) {
            long[] now = driver.longs("""
                    SELECT (SELECT count(*) FROM chaos_effects),
                           (SELECT count(*) FROM df.instances WHERE label = ? AND status IN ('pending', 'running'))
                    """, label);
            if (now[0] >= target) {
                return now[0];
            }
            if (now[1] == 0) {
                return -1;
            }
            worker.restartIfExited();
            if (last == null || now[0] != last[0] || now[1] != last[1]) {
                last = now;
                lastChange = System.nanoTime();
            } else if (System.nanoTime() - lastChange > STALL_LIMIT.toNanos()) {
                String stuck = driver.column("SELECT id FROM df.instances WHERE label = ?"
                        + " AND status IN ('pending', 'running') ORDER BY id LIMIT 1", label).get(0);
                throw new AssertionError("no progress for " + STALL_LIMIT + ": " + now[0] + " effects, " + now[1]
                        + " instances of " + label + " unfinished\n" + env.engineState(stuck)
                        + "\n--- worker log ---\n" + worker.logTail()
                        + "\n--- server log ---\n" + env.cluster().serverLogTail());
            }
            sleep(target == Long.MAX_VALUE ? POLL : FAULT_POLL);
        }
    }

    private void verify(String label, Counts counts) {
        long[] round = driver.longs("""
                WITH expected AS (
                    SELECT i.id, s.step FROM df.instances i CROSS JOIN generate_series(1, ?) AS s(step)
                     WHERE i.label = ?
                ), actual AS (
                    SELECT instance_id, step, count(*) AS n FROM chaos_effects GROUP BY instance_id, step
                )
                SELECT (SELECT count(*) FROM df.instances WHERE label = ?),
                       (SELECT count(*) FROM df.instances WHERE label = ? AND status = 'completed'),
                       count(*) FILTER (WHERE a.n IS NULL),
                       coalesce(sum(a.n - 1), 0),
                       (SELECT count(*) FROM (
                            SELECT 1 FROM df_engine.history h JOIN df.instances i ON h.instance_id = i.id
                             WHERE i.label = ? AND h.event_type = 'TaskCompleted'
                             GROUP BY h.instance_id, h.execution_id, h.task_id HAVING count(*) > 1) dup)
                  FROM expected e LEFT JOIN actual a ON a.instance_id = e.id AND a.step = e.step
                """, STEPS, label, label, label, label);
        counts.workflows += round[0];
        counts.completed += round[1];
        counts.notCompleted += round[0] - round[1];
        counts.missing += round[2];
        counts.duplicates += round[3];
        counts.duplicateCompletions += round[4];
        if (round[0] != round[1]) {
            counts.problems.addAll(driver.column("""
                    SELECT i.id || ' ' || i.status || coalesce(': ' || left(n.result::text, 500), '')
                      FROM df.instances i LEFT JOIN df.nodes n ON n.instance_id = i.id AND n.status = 'failed'
                     WHERE i.label = ? AND i.status <> 'completed' ORDER BY i.id LIMIT 5
                    """, label));
        }
        if (round[2] + round[3] > 0) {
            counts.problems.addAll(driver.column("""
                    SELECT i.id || ' step ' || s.step || ': ' || count(a.instance_id) || ' row(s)'
                           || coalesce(' from ' || string_agg('backend ' || a.backend_pid || ' at ' || a.at, ', '), '')
                      FROM df.instances i CROSS JOIN generate_series(1, ?) AS s(step)
                      LEFT JOIN chaos_effects a ON a.instance_id = i.id AND a.step = s.step
                     WHERE i.label = ?
                     GROUP BY i.id, s.step HAVING count(a.instance_id) <> 1 ORDER BY i.id, s.step LIMIT 10
                    """, STEPS, label));
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());  // paces the watch loops and the fault schedule, not a wait for an outcome
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /**
     * A fault of the plan: its kind, the count of effect rows at which it falls, and the seed that
     * picks the sessions a termination hits.
     */
    private record PlannedFault(long position, Fault kind, long victimSeed) {
    }

    /** What the run did and found. */
    private static final class Counts {
        final Map<Fault, Integer> faults = new EnumMap<>(Fault.class);
        final List<String> problems = new ArrayList<>();
        long backendsTerminated;
        long workflows;
        long completed;
        long notCompleted;
        long missing;
        long duplicates;
        long duplicateCompletions;
        long strays;
        int workerStarts;
        int failedStarts;
        int exitsWhileRunning;
        Duration elapsed;

        int totalFaults() {
            return faults.values().stream().mapToInt(Integer::intValue).sum();
        }

        String summary(long seed) {
            String byKind = Arrays.stream(Fault.values())
                    .map(f -> f.description + ": " + faults.getOrDefault(f, 0)
                            + (f == Fault.TERMINATE_BACKENDS ? " (" + backendsTerminated + " sessions)" : ""))
                    .collect(Collectors.joining(", "));
            return String.format("""
                    chaos summary (seed %d)
                      workflows:            %d (%d completed, %d not completed)
                      steps:                %d
                      faults:               %d (%s)
                      worker JVMs started:  %d (%d failed to start, %d exited while running)
                      duplicate effects:    %d
                      missing effects:      %d
                      stray effects:        %d
                      double completions:   %d
                      elapsed:              %.1f s""",
                    seed, workflows, completed, notCompleted, workflows * STEPS, totalFaults(), byKind,
                    workerStarts, failedStarts, exitsWhileRunning, duplicates, missing, strays, duplicateCompletions,
                    elapsed.toMillis() / 1000.0);
        }
    }
}
