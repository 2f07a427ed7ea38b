package io.pgdurable.bench;

import io.pgdurable.db.ConnectionSpec;
import java.time.Duration;
import java.util.Collections;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** What {@link EngineBenchmark} measures and how hard it pushes; validated by {@link Builder#build()}. */
public final class BenchmarkSettings {
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final Set<Scenario> scenarios;
    private final int activityThreads;
    private final int maxActivitiesPerRole;
    private final int orchestrationThreads;
    private final int turnBatchSize;
    private final boolean shortPath;
    private final int instances;
    private final int steps;
    private final int latencySamples;
    private final int longSteps;
    private final int completionCalls;
    private final Duration ceilingDuration;
    private final int warmupInstances;
    private final int warmupRounds;
    private final int fairnessFlood;
    private final Duration fairnessStep;
    private final Duration timeout;
    private final List<Integer> scaleHistory;
    private final int scaleWaiting;

    private BenchmarkSettings(Builder b) {
        this.jdbcUrl = b.jdbcUrl;
        this.user = b.user;
        this.password = b.password;
        this.scenarios = Collections.unmodifiableSet(EnumSet.copyOf(b.scenarios));
        this.activityThreads = b.activityThreads;
        this.maxActivitiesPerRole = b.maxActivitiesPerRole;
        this.orchestrationThreads = b.orchestrationThreads;
        this.turnBatchSize = b.turnBatchSize;
        this.shortPath = b.shortPath;
        this.instances = b.instances;
        this.steps = b.steps;
        this.latencySamples = b.latencySamples;
        this.longSteps = b.longSteps;
        this.completionCalls = b.completionCalls;
        this.ceilingDuration = b.ceilingDuration;
        this.warmupInstances = b.warmupInstances;
        this.warmupRounds = b.warmupRounds;
        this.fairnessFlood = b.fairnessFlood;
        this.fairnessStep = b.fairnessStep;
        this.timeout = b.timeout;
        this.scaleHistory = List.copyOf(b.scaleHistory);
        this.scaleWaiting = b.scaleWaiting;
    }

    public static Builder builder(String jdbcUrl) {
        return new Builder(jdbcUrl);
    }

    public String jdbcUrl() { return jdbcUrl; }
    /** Scale scenario: finished instances in the database at each measurement, increasing. */
    public List<Integer> scaleHistory() { return scaleHistory; }
    /** Scale scenario: workflows waiting on a signal during its last measurement (0: none). */
    public int scaleWaiting() { return scaleWaiting; }
    public String user() { return user; }
    public String password() { return password; }
    public Set<Scenario> scenarios() { return scenarios; }
    /** Activity threads of the worker, and client threads of the ceiling scenario. */
    public int activityThreads() { return activityThreads; }
    /** The worker's share of activity threads per role (partition key); 0 means the worker's default. */
    public int maxActivitiesPerRole() { return maxActivitiesPerRole; }
    public int orchestrationThreads() { return orchestrationThreads; }
    public int turnBatchSize() { return turnBatchSize; }
    /** Whether the bench's workers take the short path (see WorkerConfig#shortPath). */
    public boolean shortPath() { return shortPath; }
    /** Orchestrations started at once by the throughput scenario. */
    public int instances() { return instances; }
    /** Activities per throughput orchestration. */
    public int steps() { return steps; }
    public int latencySamples() { return latencySamples; }
    public int longSteps() { return longSteps; }
    /** Completion: the measured calls of {@code df_engine.complete_and_advance}. */
    public int completionCalls() { return completionCalls; }
    public Duration ceilingDuration() { return ceilingDuration; }
    /** Orchestrations run, unmeasured, before the engine scenarios; 0 skips the warm-up. */
    public int warmupInstances() { return warmupInstances; }
    /** The most warm-up rounds a scenario runs before it gives up waiting for the JIT to settle. */
    public int warmupRounds() { return warmupRounds; }
    /** Fairness: one-step workflows the flooding role starts at once. */
    public int fairnessFlood() { return fairnessFlood; }
    /** Fairness: how long each of the flood's steps sleeps. */
    public Duration fairnessStep() { return fairnessStep; }
    /** The longest any one wait for orchestrations may take before the benchmark gives up. */
    public Duration timeout() { return timeout; }

    /** A new connection to the benchmarked database, with this benchmark's credentials. */
    public Connection connect(String applicationName) throws SQLException {
        return connectionSpec().withApplicationName(applicationName).open();
    }

    /** How the benchmark connects for its own work (search_path pinned, see {@link ConnectionSpec}). */
    public ConnectionSpec connectionSpec() {
        return ConnectionSpec.fromUrl(jdbcUrl).withUser(user).withPassword(password);
    }

    public boolean runs(Scenario s) {
        return scenarios.contains(s);
    }

    /** Builder; every setting has a default except the JDBC URL. */
    /** The most finished instances the scale scenario writes. */
    public static final int MAX_SCALE_HISTORY = 10_000_000;
    /** The most workflows the scale scenario leaves waiting on a signal. */
    public static final int MAX_SCALE_WAITING = 1_000_000;
    public static final int MAX_WARMUP_ROUNDS = 1_000;

    public static final class Builder {
        private final String jdbcUrl;
        private String user;
        private String password;
        private Set<Scenario> scenarios = Scenario.parseList(Scenario.DEFAULTS);
        private int activityThreads = 8;
        private int maxActivitiesPerRole;
        private int orchestrationThreads = 2;
        private int turnBatchSize = 32;
        private boolean shortPath = true;
        private int instances = 200;
        private int steps = 10;
        private int latencySamples = 200;
        private int longSteps = 500;
        private int completionCalls = 20_000;
        private Duration ceilingDuration = Duration.ofSeconds(5);
        private int warmupInstances = 200;
        private int warmupRounds = 30;
        private int fairnessFlood = 2000;
        private Duration fairnessStep = Duration.ofMillis(10);
        private Duration timeout = Duration.ofMinutes(10);
        private List<Integer> scaleHistory = List.of(0, 100_000, 1_000_000);
        private int scaleWaiting = 10_000;

        private Builder(String jdbcUrl) {
            this.jdbcUrl = jdbcUrl;
        }

        public Builder user(String v) { this.user = v; return this; }
        public Builder password(String v) { this.password = v; return this; }
        public Builder scenarios(Set<Scenario> v) { this.scenarios = v; return this; }
        public Builder activityThreads(int v) { this.activityThreads = v; return this; }
        public Builder maxActivitiesPerRole(int v) { this.maxActivitiesPerRole = v; return this; }
        public Builder orchestrationThreads(int v) { this.orchestrationThreads = v; return this; }
        public Builder turnBatchSize(int v) { this.turnBatchSize = v; return this; }
        public Builder shortPath(boolean v) { this.shortPath = v; return this; }
        public Builder instances(int v) { this.instances = v; return this; }
        public Builder steps(int v) { this.steps = v; return this; }
        public Builder latencySamples(int v) { this.latencySamples = v; return this; }
        public Builder longSteps(int v) { this.longSteps = v; return this; }
        public Builder completionCalls(int v) { this.completionCalls = v; return this; }
        public Builder ceilingDuration(Duration v) { this.ceilingDuration = v; return this; }
        public Builder warmupInstances(int v) { this.warmupInstances = v; return this; }
        public Builder warmupRounds(int v) { this.warmupRounds = v; return this; }
        public Builder fairnessFlood(int v) { this.fairnessFlood = v; return this; }
        public Builder fairnessStep(Duration v) { this.fairnessStep = v; return this; }
        public Builder timeout(Duration v) { this.timeout = v; return this; }
        public Builder scaleHistory(List<Integer> v) { this.scaleHistory = v; return this; }
        public Builder scaleWaiting(int v) { this.scaleWaiting = v; return this; }

        /** Validates every setting, naming the first bad one. */
        public BenchmarkSettings build() {
            if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
                throw new IllegalArgumentException("JDBC URL must start with jdbc:postgresql:, got '" + jdbcUrl + "'");
            }
            if (scenarios == null || scenarios.isEmpty()) {
                throw new IllegalArgumentException("at least one scenario must be chosen");
            }
            positive("activity threads", activityThreads);
            positive("orchestration threads", orchestrationThreads);
            positive("turn batch size", turnBatchSize);
            positive("instances", instances);
            positive("steps", steps);
            positive("latency samples", latencySamples);
            positive("long steps", longSteps);
            positive("completion calls", completionCalls);
            positive("fairness flood", fairnessFlood);
            positive("fairness step", fairnessStep);
            if (warmupInstances < 0) {
                throw new IllegalArgumentException("warm-up instances must not be negative, got " + warmupInstances);
            }
            if (warmupRounds < 1 || warmupRounds > MAX_WARMUP_ROUNDS) {
                throw new IllegalArgumentException("--warmup-rounds must be between 1 and " + MAX_WARMUP_ROUNDS
                        + ", got " + warmupRounds);
            }
            positive("ceiling duration", ceilingDuration);
            positive("timeout", timeout);
            if (scaleHistory == null || scaleHistory.isEmpty()) {
                throw new IllegalArgumentException("scale history levels must name at least one count");
            }
            int previous = -1;
            for (Integer level : scaleHistory) {
                if (level == null || level < 0 || level > MAX_SCALE_HISTORY) {
                    throw new IllegalArgumentException("scale history level " + level + " is out of range: each must"
                            + " be between 0 and " + MAX_SCALE_HISTORY);
                }
                if (level <= previous) {
                    throw new IllegalArgumentException("scale history levels must increase, got " + scaleHistory);
                }
                previous = level;
            }
            if (scaleWaiting < 0 || scaleWaiting > MAX_SCALE_WAITING) {
                throw new IllegalArgumentException("scale waiting instances must be between 0 and " + MAX_SCALE_WAITING
                        + ", got " + scaleWaiting);
            }
            return new BenchmarkSettings(this);
        }

        private static void positive(String what, int v) {
            if (v < 1) {
                throw new IllegalArgumentException(what + " must be at least 1, got " + v);
            }
        }

        private static void positive(String what, Duration v) {
            if (v == null || v.isNegative() || v.isZero()) {
                throw new IllegalArgumentException(what + " must be positive, got " + v);
            }
        }
    }
}
