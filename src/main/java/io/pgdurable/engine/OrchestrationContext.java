package io.pgdurable.engine;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** What an orchestration may do. Every method is deterministic under replay. */
public interface OrchestrationContext {

    String instanceId();

    /** The generation of this instance; continue-as-new starts the next one. */
    int executionId();

    /** The registered name of the running orchestration. */
    String name();

    /** The input of this generation, read as the given type. */
    <T> T input(Class<T> type);

    /** The input as raw JSON text, or {@code null}. */
    String rawInput();

    /** Schedules an activity; its result is read as {@code resultType}. */
    <T> Task<T> callActivity(String name, Object input, Class<T> resultType);

    /**
     * Schedules an activity under the fairness key {@code partitionKey} instead of the instance's
     * own. Workers claim activity items round-robin across keys and run at most a set number of
     * one key's items at once, so one key's backlog cannot hold every worker thread. A key is
     * opaque text; {@code null} means the instance's key.
     */
    <T> Task<T> callActivity(String name, Object input, Class<T> resultType, String partitionKey);

    /** A durable timer that fires after {@code delay}, measured from {@link #currentInstant()}. */
    Task<Void> createTimer(Duration delay);

    /** A durable timer that fires at {@code fireAt}. */
    Task<Void> createTimer(Instant fireAt);

    /**
     * Waits for the next external event named {@code name}. Events raised before the wait are
     * buffered and consumed in arrival order; none are dropped.
     */
    <T> Task<T> waitForExternalEvent(String name, Class<T> type);

    /**
     * As {@link #waitForExternalEvent(String, Class)}, failing with
     * {@link EventWaitTimeoutException} if no event arrives within {@code timeout}.
     */
    <T> Task<T> waitForExternalEvent(String name, Duration timeout, Class<T> type);

    /**
     * Starts a child orchestration with an explicit, caller-chosen instance id (or a
     * deterministic one derived from this instance when {@code instanceId} is null).
     */
    <T> Task<T> callSubOrchestration(String name, String instanceId, Object input, Class<T> resultType);

    /**
     * Ends this generation and starts the next with {@code input} and a fresh history. Return
     * from {@link Orchestration#run} right after calling it. External events not yet consumed
     * carry over to the next generation.
     */
    void continueAsNew(Object input);

    /** Done when every task is done, or as soon as one fails; the result keeps the tasks' order. */
    <T> Task<List<T>> allOf(List<? extends Task<T>> tasks);

    /** Done when the first of the tasks is done; the result is that task. */
    Task<Task<?>> anyOf(List<? extends Task<?>> tasks);

    /** The deterministic time of the current turn. */
    Instant currentInstant();

    /** True while the orchestration re-executes decisions already recorded in history. */
    boolean isReplaying();

    /** Attaches a write to the current turn; ignored while replaying. */
    void addTurnWrite(TurnWrite write);

    /** The worker's limits on results and stored JSON, for orchestrations that check their own. */
    default Limits limits() {
        return Limits.defaults();
    }
}
