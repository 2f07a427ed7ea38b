package io.pgdurable.worker;

import io.pgdurable.db.ConnectionSpec;
import io.pgdurable.engine.Limits;
import java.lang.management.ManagementFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Worker settings, validated once by {@link Builder#build()} and immutable afterwards.
 */
public final class WorkerConfig {
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final String workerId;
    private final String host;
    private final long processId;
    private final String mode;
    private final int orchestrationThreads;
    private final int activityThreads;
    private final int maxActivitiesPerRole;
    private final int turnBatchSize;
    private final int maxPoolSize;
    private final Duration pollInterval;
    private final Duration leaseDuration;
    private final Duration shutdownGrace;
    private final Duration heartbeatInterval;
    private final int sessionCacheSize;
    private final boolean listen;
    private final boolean shortPath;
    private final Clock clock;
    private final FaultInjector faultInjector;
    private final Limits limits;
    private final Consumer<String> onInstanceFinished;

    private WorkerConfig(Builder b) {
        this.jdbcUrl = b.jdbcUrl;
        this.user = b.user;
        this.password = b.password;
        this.host = b.host != null ? b.host : hostName();
        this.processId = b.processId != null ? b.processId : ProcessHandle.current().pid();
        this.workerId = b.workerId != null ? b.workerId
                : host + ":" + processId + ":" + UUID.randomUUID().toString().substring(0, 8);
        this.mode = b.mode;
        this.orchestrationThreads = b.orchestrationThreads;
        this.activityThreads = b.activityThreads;
        this.maxActivitiesPerRole = b.maxActivitiesPerRole > 0 ? b.maxActivitiesPerRole
                : defaultMaxActivitiesPerRole(activityThreads);
        this.turnBatchSize = b.turnBatchSize;
        this.maxPoolSize = b.maxPoolSize > 0 ? b.maxPoolSize : orchestrationThreads + activityThreads + 3;
        this.pollInterval = b.pollInterval;
        this.leaseDuration = b.leaseDuration;
        this.shutdownGrace = b.shutdownGrace;
        this.heartbeatInterval = b.heartbeatInterval;
        this.sessionCacheSize = b.sessionCacheSize;
        this.listen = b.listen;
        this.shortPath = b.shortPath;
        this.clock = b.clock;
        this.faultInjector = b.faultInjector;
        this.limits = b.limits;
        this.onInstanceFinished = b.onInstanceFinished;
    }

    public static Builder builder(String jdbcUrl) {
        return new Builder(jdbcUrl);
    }

    public String jdbcUrl() { return jdbcUrl; }

    /**
     * How the worker connects for its own work: the URL with this config's user and password,
     * search_path pinned (see {@link ConnectionSpec}).
     */
    public ConnectionSpec connectionSpec() {
        return ConnectionSpec.fromUrl(jdbcUrl).withUser(user).withPassword(password);
    }

    public String user() { return user; }
    public String password() { return password; }
    public String workerId() { return workerId; }
    /** Host name recorded in the heartbeat. */
    public String host() { return host; }
    /** Process id recorded in the heartbeat: the JVM's, or the backend's for an in-database worker. */
    public long processId() { return processId; }
    public String mode() { return mode; }
    public int orchestrationThreads() { return orchestrationThreads; }
    public int activityThreads() { return activityThreads; }
    /**
     * Activity items of one partition key (for df: one submitting role) this worker holds at
     * once, running or waiting for a thread. Below {@link #activityThreads()} whenever there is
     * more than one thread, so one role's backlog always leaves threads for the others.
     */
    public int maxActivitiesPerRole() { return maxActivitiesPerRole; }
    public int turnBatchSize() { return turnBatchSize; }
    public int maxPoolSize() { return maxPoolSize; }
    public Duration pollInterval() { return pollInterval; }
    public Duration leaseDuration() { return leaseDuration; }
    public Duration shutdownGrace() { return shutdownGrace; }
    public Duration heartbeatInterval() { return heartbeatInterval; }
    public int sessionCacheSize() { return sessionCacheSize; }
    public boolean listen() { return listen; }
    /**
     * Whether an activity that completes inside its own transaction also commits its instance's
     * next turn there, when this worker holds the instance's replay state (the short path).
     */
    public boolean shortPath() { return shortPath; }
    public Clock clock() { return clock; }
    public FaultInjector faultInjector() { return faultInjector; }
    /** Limits on step results and on the JSON the engine stores, checked before anything commits. */
    public Limits limits() { return limits; }
    /** Told of instances this worker's turns ended (see {@link Builder#onInstanceFinished}). */
    public Consumer<String> onInstanceFinished() { return onInstanceFinished; }

    /**
     * All activity threads but one, at least 1: one role's flood always leaves a thread free, so
     * another role's step starts at once even while the flood's steps are long ones, and a worker
     * that serves one role loses little of its throughput (half the threads cost a single role
     * 35 to 45% of its step rate in the benchmarks).
     */
    public static int defaultMaxActivitiesPerRole(int activityThreads) {
        return Math.max(1, activityThreads - 1);
    }

    static String hostName() {
        String name = ManagementFactory.getRuntimeMXBean().getName();
        int at = name.indexOf('@');
        return at >= 0 ? name.substring(at + 1) : name;
    }

    @Override
    public String toString() {
        return "WorkerConfig{id=" + workerId + ", mode=" + mode + ", orchestrationThreads=" + orchestrationThreads
                + ", activityThreads=" + activityThreads + ", maxActivitiesPerRole=" + maxActivitiesPerRole
                + ", turnBatchSize=" + turnBatchSize + ", shortPath=" + shortPath
                + ", maxPoolSize=" + maxPoolSize + ", pollInterval=" + pollInterval
                + ", leaseDuration=" + leaseDuration + ", shutdownGrace=" + shutdownGrace + ", limits=" + limits + "}";
    }

    /** Builder; every setting has a default except the JDBC URL. */
    public static final class Builder {
        private final String jdbcUrl;
        private String user;
        private String password;
        private String workerId;
        private String host;
        private Long processId;
        private String mode = "external";
        private int orchestrationThreads = 2;
        private int activityThreads = 8;
        private int maxActivitiesPerRole;
        private int turnBatchSize = 32;
        private int maxPoolSize;
        private Duration pollInterval = Duration.ofMillis(500);
        private Duration leaseDuration = Duration.ofSeconds(30);
        private Duration shutdownGrace = Duration.ofSeconds(10);
        private Duration heartbeatInterval = Duration.ofSeconds(10);
        private int sessionCacheSize = 1000;
        private boolean listen = true;
        private boolean shortPath = true;
        private Clock clock = Clock.systemUTC();
        private FaultInjector faultInjector = FaultInjector.NONE;
        private Limits limits = Limits.defaults();
        private Consumer<String> onInstanceFinished = id -> { };

        private Builder(String jdbcUrl) {
            this.jdbcUrl = jdbcUrl;
        }

        public Builder user(String v) { this.user = v; return this; }
        public Builder password(String v) { this.password = v; return this; }
        public Builder workerId(String v) { this.workerId = v; return this; }
        public Builder host(String v) { this.host = v; return this; }
        public Builder processId(long v) { this.processId = v; return this; }
        public Builder mode(String v) { this.mode = v; return this; }
        public Builder orchestrationThreads(int v) { this.orchestrationThreads = v; return this; }
        public Builder activityThreads(int v) { this.activityThreads = v; return this; }
        /** 0 (the default) means {@link #defaultMaxActivitiesPerRole(int)} of the thread count. */
        public Builder maxActivitiesPerRole(int v) { this.maxActivitiesPerRole = v; return this; }
        public Builder turnBatchSize(int v) { this.turnBatchSize = v; return this; }
        public Builder maxPoolSize(int v) { this.maxPoolSize = v; return this; }
        public Builder pollInterval(Duration v) { this.pollInterval = v; return this; }
        public Builder leaseDuration(Duration v) { this.leaseDuration = v; return this; }
        public Builder shutdownGrace(Duration v) { this.shutdownGrace = v; return this; }
        public Builder heartbeatInterval(Duration v) { this.heartbeatInterval = v; return this; }
        public Builder sessionCacheSize(int v) { this.sessionCacheSize = v; return this; }
        public Builder listen(boolean v) { this.listen = v; return this; }
        /** Whether a step that completes in its own transaction commits the next turn there too. */
        public Builder shortPath(boolean v) { this.shortPath = v; return this; }
        public Builder clock(Clock v) { this.clock = v; return this; }
        public Builder faultInjector(FaultInjector v) { this.faultInjector = v; return this; }
        public Builder limits(Limits v) { this.limits = v; return this; }
        /**
         * For a caller in the worker's JVM that waits for results, such as the benchmark: called
         * with the engine instance id right after a turn of this worker that completed or failed
         * the instance's execution has committed, on the thread that committed it (so it must
         * return at once). A hint, not a record: instances that end otherwise (cancelled, failed
         * after an error in their turn, or ended by another worker) are not reported, so a caller
         * that must not miss one also reads the instance's status now and then.
         */
        public Builder onInstanceFinished(Consumer<String> v) {
            this.onInstanceFinished = Objects.requireNonNull(v, "onInstanceFinished");
            return this;
        }

        /** Validates every setting, naming the first bad one. */
        public WorkerConfig build() {
            if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
                throw new IllegalArgumentException("JDBC URL must start with jdbc:postgresql:, got '" + jdbcUrl + "'");
            }
            ConnectionSpec.fromUrl(jdbcUrl);  // refuses what the connection factory refuses, now
            positive("orchestration threads", orchestrationThreads);
            positive("activity threads", activityThreads);
            int highestShare = Math.max(1, activityThreads - 1);
            if (maxActivitiesPerRole < 0 || maxActivitiesPerRole > highestShare) {
                throw new IllegalArgumentException("--max-activities-per-role must be between 1 and " + highestShare
                        + (activityThreads > 1 ? ", below the " + activityThreads + " activity threads (--threads)"
                                + " so that one role always leaves a thread to the others"
                           : " with 1 activity thread (--threads)")
                        + ", got " + maxActivitiesPerRole);
            }
            positive("turn batch size", turnBatchSize);
            if (maxPoolSize < 0) {
                throw new IllegalArgumentException("max pool size must not be negative, got " + maxPoolSize);
            }
            if (maxPoolSize > 0 && maxPoolSize < orchestrationThreads + 2) {
                throw new IllegalArgumentException("max pool size " + maxPoolSize + " is too small for "
                        + orchestrationThreads + " orchestration threads: need at least " + (orchestrationThreads + 2));
            }
            positive("poll interval", pollInterval);
            positive("lease duration", leaseDuration);
            positive("heartbeat interval", heartbeatInterval);
            if (shutdownGrace.isNegative()) {
                throw new IllegalArgumentException("shutdown grace must not be negative, got " + shutdownGrace);
            }
            if (sessionCacheSize < 0) {
                throw new IllegalArgumentException("session cache size must not be negative, got " + sessionCacheSize);
            }
            Objects.requireNonNull(clock, "clock");
            Objects.requireNonNull(faultInjector, "faultInjector");
            Objects.requireNonNull(limits, "limits");
            Objects.requireNonNull(mode, "mode");
            return new WorkerConfig(this);
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
