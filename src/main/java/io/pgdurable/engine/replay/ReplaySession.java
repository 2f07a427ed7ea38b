package io.pgdurable.engine.replay;

import com.fasterxml.jackson.databind.JavaType;
import io.pgdurable.engine.DurableException;
import io.pgdurable.engine.EventWaitTimeoutException;
import io.pgdurable.engine.FailureDetails;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.engine.Limits;
import io.pgdurable.engine.NonDeterminismException;
import io.pgdurable.engine.Orchestration;
import io.pgdurable.engine.OrchestrationContext;
import io.pgdurable.engine.Task;
import io.pgdurable.engine.TaskCancelledException;
import io.pgdurable.engine.TaskFailedException;
import io.pgdurable.engine.TurnWrite;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One execution of an orchestration, kept suspended between turns.
 *
 * <p>The orchestration's code runs on a thread of its own that this session hands control to
 * and takes it back from, like a coroutine: only one side runs at a time. The thread comes from
 * a pool and goes back to it when the code returns or the session is closed: starting a thread
 * costs a few hundred microseconds on a small virtual machine, a pooled one a few dozen, and
 * every new instance's first turn paid it. When the code awaits a task that is not done it
 * parks, and the session feeds the next event. Because the code stays parked between turns, a
 * turn costs only its new events: a workflow of {@code n} steps costs O(n) in total rather than
 * the O(n²) of replaying the whole history at every step. A worker that lost the session
 * (eviction, restart, another worker took a turn) builds a new one by replaying the history
 * once.
 *
 * <p>Not thread-safe: one caller drives a session at a time.
 */
public final class ReplaySession implements AutoCloseable {
    public static final Duration DEFAULT_YIELD_TIMEOUT = Duration.ofSeconds(60);
    /**
     * Room for orchestration code working on results nested as deeply as the engine stores them
     * ({@link Limits#READ_MAX_DEPTH} levels): Jackson copies, compares and writes trees recursively.
     */
    private static final long STACK_SIZE = 1024 * 1024;
    /** Threads for orchestration code: as many as sessions are live, idle ones kept a while. */
    private static final ThreadPoolExecutor CARRIERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE,
            30, TimeUnit.SECONDS, new SynchronousQueue<>(), task -> {
                Thread t = new Thread(null, task, "orchestration (idle)", STACK_SIZE);
                t.setDaemon(true);
                return t;
            });

    private final String instanceId;
    private final int executionId;
    private final String name;
    private final Orchestration orchestration;
    private final Duration yieldTimeout;
    private final Limits limits;
    private final Context context = new Context();

    // Hand-off between the driving thread and the orchestration thread: whoever gives control
    // sets orchestrationRunning and unparks the other side, which parks until it sees the change.
    // One wake-up per hand-off; a monitor's notify and wait cost a second one whenever the woken
    // thread found the monitor still held. The volatile writes of orchestrationRunning order
    // everything else a side wrote before handing control over.
    private volatile boolean orchestrationRunning;
    private volatile boolean aborted;
    /** The orchestration's carrier thread, once its body runs. */
    private volatile Thread thread;
    /** The thread that drives the current turn (a dispatch loop's, an activity thread, a test's). */
    private volatile Thread driver;

    // Replay state, touched only by whichever side holds control (hand-off gives happens-before).
    private boolean replaying = true;
    private Instant now;
    private String input;
    private boolean started;
    private boolean finished;
    private Object output;
    private Throwable failure;
    private String continueAsNewInput;
    private boolean continueAsNew;
    private int nextTaskId;
    private long completionCounter;
    private long arrivalCounter;
    private TaskBase<?> blockedOn;
    private final Map<Integer, LeafTask<?>> openTasks = new HashMap<>();
    private final Map<String, Action> unconfirmed = new LinkedHashMap<>();
    private final List<Action> newActions = new ArrayList<>();
    private final List<TurnWrite> writes = new ArrayList<>();
    private final Map<String, Deque<BufferedEvent>> buffered = new HashMap<>();
    private final Map<String, Deque<EventWaitTask<?>>> waiters = new HashMap<>();
    private int eventsApplied;
    private boolean broken;

    public ReplaySession(String instanceId, int executionId, String name, Orchestration orchestration) {
        this(instanceId, executionId, name, orchestration, DEFAULT_YIELD_TIMEOUT);
    }

    public ReplaySession(String instanceId, int executionId, String name, Orchestration orchestration,
                         Duration yieldTimeout) {
        this(instanceId, executionId, name, orchestration, yieldTimeout, Limits.defaults());
    }

    /** A session whose orchestration code sees {@code limits} through {@link OrchestrationContext#limits()}. */
    public ReplaySession(String instanceId, int executionId, String name, Orchestration orchestration,
                         Duration yieldTimeout, Limits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.instanceId = Objects.requireNonNull(instanceId, "instanceId");
        this.executionId = executionId;
        this.name = Objects.requireNonNull(name, "name");
        this.orchestration = Objects.requireNonNull(orchestration, "orchestration");
        this.yieldTimeout = Objects.requireNonNull(yieldTimeout, "yieldTimeout");
    }

    public String instanceId() {
        return instanceId;
    }

    public int executionId() {
        return executionId;
    }

    /** How many history events this session has consumed: replayed ones plus committed turns. */
    public int eventsApplied() {
        return eventsApplied;
    }

    /** False once a turn failed or the orchestration finished: the session must not be reused. */
    public boolean isReusable() {
        return !broken && !finished && !aborted;
    }

    /**
     * Whether this instance's next turn is near: its orchestration waits for an activity, or
     * for a timer that fires within {@code horizon} of the last turn's time. A suspended session
     * holds a parked thread; one that waits only for signals, child orchestrations or later
     * timers may hold it for hours, so a worker keeps only sessions for which this is true.
     */
    public boolean expectsTurnWithin(Duration horizon) {
        Instant limit = now == null ? null : now.plus(horizon);
        for (LeafTask<?> task : openTasks.values()) {
            if (task.childId == null && (task.fireAt == null || limit == null || !task.fireAt.isAfter(limit))) {
                return true;
            }
        }
        return false;
    }

    /** Replays {@code past} then runs the turn; a divergence from history yields a failed turn. */
    public TurnResult replayAndRun(List<HistoryEvent> past, List<HistoryEvent> fresh) {
        try {
            replay(past);
        } catch (NonDeterminismException e) {
            return failedTurn(fresh, new FailureDetails("NonDeterminism", e.getMessage()));
        }
        return run(fresh);
    }

    /**
     * Feeds recorded history. Every decision the orchestration makes must match a recorded
     * decision event, in kind, task id and name.
     *
     * @throws NonDeterminismException when it does not
     */
    public void replay(List<HistoryEvent> past) {
        replaying = true;
        try {
            for (HistoryEvent event : past) {
                apply(event);
                eventsApplied++;
            }
            if (!unconfirmed.isEmpty()) {
                Action first = unconfirmed.values().iterator().next();
                throw new NonDeterminismException(instanceId, "replay " + describe(first)
                        + ", which the recorded history does not contain");
            }
        } catch (RuntimeException e) {
            broken = true;
            throw e;
        }
    }

    /**
     * Lets the orchestration react to a turn's new events and collects what it decides. Call
     * {@link #committed(TurnResult)} once the result is durable, before the next turn.
     */
    public TurnResult run(List<HistoryEvent> fresh) {
        replaying = false;
        newActions.clear();
        writes.clear();
        try {
            for (HistoryEvent event : fresh) {
                apply(event);
            }
        } catch (RuntimeException e) {
            broken = true;
            throw e;
        }
        List<HistoryEvent> history = new ArrayList<>(fresh);
        Instant turnTime = now != null ? now : Instant.EPOCH;
        for (Action action : newActions) {
            history.add(action.toEvent(turnTime));
        }
        TurnResult.Completion completion = null;
        if (finished) {
            completion = completion();
            history.add(completionEvent(completion, turnTime));
        }
        return new TurnResult(history, newActions, writes, completion);
    }

    /** Marks a turn's events as part of history, so the next turn starts after them. */
    public void committed(TurnResult result) {
        eventsApplied += result.history().size();
    }

    @Override
    public void close() {
        aborted = true;
        LockSupport.unpark(thread);
    }

    // ---------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------

    private void apply(HistoryEvent event) {
        if (event.type() == EventType.OrchestratorStarted || now == null) {
            now = event.timestamp();
        }
        switch (event.type()) {
            case OrchestratorStarted, ExecutionCompleted, ExecutionFailed, ContinuedAsNew -> {
            }
            case ExecutionStarted -> start(event.payload());
            case TaskScheduled, TimerCreated, SubOrchestrationCreated, SubOrchestrationCancelRequested -> confirm(event);
            case TaskCompleted, SubOrchestrationCompleted -> complete(event.taskId(), event.payload(), null);
            case TimerFired -> complete(event.taskId(), null, null);
            case TaskFailed, SubOrchestrationFailed ->
                    complete(event.taskId(), null, FailureDetails.fromJson(event.payload()));
            case EventRaised -> deliver(event.name(), event.payload());
            default -> throw new IllegalStateException("unhandled event type " + event.type());
        }
        resumeIfUnblocked();
    }

    private void start(String startInput) {
        if (started) {
            return;
        }
        started = true;
        input = startInput;
        driver = Thread.currentThread();
        orchestrationRunning = true;
        CARRIERS.execute(this::body);
        awaitYield();
    }

    private void confirm(HistoryEvent event) {
        if (!replaying) {
            return;
        }
        String key = key(event.type(), event.taskId());
        Action action = unconfirmed.remove(key);
        if (action == null) {
            String decided = unconfirmed.isEmpty() ? "made no such decision"
                    : "instead " + describe(unconfirmed.values().iterator().next());
            throw new NonDeterminismException(instanceId, "history records " + describe(event)
                    + " but on replay the orchestration " + decided);
        }
        String recordedName = event.name();
        String replayedName = recordedName;
        if (action instanceof Action.ScheduleActivity a) {
            replayedName = a.name();
        } else if (action instanceof Action.CreateSubOrchestration s) {
            replayedName = s.name();
        }
        if (!Objects.equals(recordedName, replayedName)) {
            throw new NonDeterminismException(instanceId, "history records " + describe(event)
                    + " but on replay the orchestration " + describe(action));
        }
    }

    private void complete(Integer taskId, String payload, FailureDetails failureDetails) {
        if (taskId == null) {
            return;
        }
        LeafTask<?> task = openTasks.remove(taskId);
        if (task != null) {
            task.finish(payload, failureDetails);
        }
        // An unknown id is a duplicate or a result for a task nobody waits on any more: ignored.
    }

    private void deliver(String eventName, String payload) {
        // Once the code has returned no wait can consume the event; a continue-as-new carries it over.
        Deque<EventWaitTask<?>> queue = finished ? null : waiters.get(eventName);
        while (queue != null && !queue.isEmpty()) {
            EventWaitTask<?> waiter = queue.poll();
            if (!waiter.isDone()) {
                waiter.deliver(payload);
                return;
            }
        }
        buffered.computeIfAbsent(eventName, n -> new ArrayDeque<>())
                .add(new BufferedEvent(++arrivalCounter, eventName, payload));
    }

    // ---------------------------------------------------------------------------------------
    // Hand-off with the orchestration thread
    // ---------------------------------------------------------------------------------------

    private void body() {
        Thread carrier = Thread.currentThread();
        thread = carrier;
        carrier.setName("orchestration " + instanceId);
        try {
            waitForControl();
            Object result = orchestration.run(context);
            output = result;
        } catch (Aborted a) {
            return;
        } catch (Throwable t) {
            failure = t;
        } finally {
            carrier.setName("orchestration (idle)");
            finished = true;
            orchestrationRunning = false;
            LockSupport.unpark(driver);
        }
    }

    private void waitForControl() {
        parkUntilControl();
        if (aborted) {
            throw new Aborted();
        }
    }

    private void resumeIfUnblocked() {
        if (started && !finished && blockedOn != null && blockedOn.isDone()) {
            driver = Thread.currentThread();
            orchestrationRunning = true;
            LockSupport.unpark(thread);
            awaitYield();
        }
    }

    /** Driving side: waits until the orchestration parks or finishes. */
    private void awaitYield() {
        long deadline = System.nanoTime() + yieldTimeout.toNanos();
        while (orchestrationRunning) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                aborted = true;
                LockSupport.unpark(thread);
                throw new DurableException("orchestration '" + name + "' (instance " + instanceId
                        + ") ran for more than " + yieldTimeout + " without awaiting a task;"
                        + " orchestration code must not block or loop: do long work in activities");
            }
            LockSupport.parkNanos(this, left);
            if (Thread.currentThread().isInterrupted() && orchestrationRunning) {
                // The interrupt stays set for the caller to see.
                aborted = true;
                LockSupport.unpark(thread);
                throw new DurableException("interrupted while running orchestration " + instanceId,
                        new InterruptedException());
            }
        }
    }

    /** Orchestration side: parks until the awaited task is done. */
    private void suspend(TaskBase<?> task) {
        blockedOn = task;
        orchestrationRunning = false;
        LockSupport.unpark(driver);
        parkUntilControl();
        blockedOn = null;
        if (aborted) {
            throw new Aborted();
        }
    }

    /**
     * Orchestration side: parks until the driver hands control back or the session is aborted.
     * An interrupt aborts the session (and stays set), as it cannot be waited through.
     */
    private void parkUntilControl() {
        while (!orchestrationRunning && !aborted) {
            LockSupport.park(this);
            if (Thread.currentThread().isInterrupted()) {
                aborted = true;
            }
        }
    }

    private void checkLive() {
        if (aborted) {
            throw new Aborted();
        }
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("OrchestrationContext used outside its orchestration's thread");
        }
    }

    /** Unwinds an orchestration thread whose session was closed. Not an Exception on purpose. */
    private static final class Aborted extends Error {
        Aborted() {
            super("orchestration session closed", null, false, false);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Decisions
    // ---------------------------------------------------------------------------------------

    private void decide(Action action) {
        if (replaying) {
            unconfirmed.put(key(action.toEvent(Instant.EPOCH).type(), action.taskId()), action);
        } else {
            newActions.add(action);
        }
    }

    private <T> LeafTask<T> newTask(JavaType type, String childId, Instant fireAt) {
        LeafTask<T> task = new LeafTask<>(nextTaskId++, type, childId, fireAt);
        openTasks.put(task.taskId, task);
        return task;
    }

    private LeafTask<Void> timer(Instant fireAt) {
        LeafTask<Void> task = newTask(JsonCodec.mapper().constructType(Void.class), null, fireAt);
        decide(new Action.CreateTimer(task.taskId, fireAt));
        return task;
    }

    private TurnResult.Completion completion() {
        if (continueAsNew && failure == null) {
            List<HistoryEvent> carried = buffered.values().stream()
                    .flatMap(Deque::stream)
                    .sorted(Comparator.comparingLong(BufferedEvent::arrival))
                    .map(b -> HistoryEvent.eventRaised(b.name(), b.payload(), now))
                    .toList();
            return new TurnResult.ContinuedAsNew(continueAsNewInput, carried);
        }
        if (failure != null) {
            return new TurnResult.Failed(FailureDetails.of(failure));
        }
        try {
            return new TurnResult.Completed(JsonCodec.toJson(output));
        } catch (DurableException e) {
            return new TurnResult.Failed(new FailureDetails("Serialization", e.getMessage()));
        }
    }

    private static HistoryEvent completionEvent(TurnResult.Completion completion, Instant at) {
        if (completion instanceof TurnResult.Completed c) {
            return new HistoryEvent(EventType.ExecutionCompleted, null, null, c.output(), at);
        }
        if (completion instanceof TurnResult.Failed f) {
            return new HistoryEvent(EventType.ExecutionFailed, null, null, f.failure().toJson(), at);
        }
        TurnResult.ContinuedAsNew n = (TurnResult.ContinuedAsNew) completion;
        return new HistoryEvent(EventType.ContinuedAsNew, null, null, n.input(), at);
    }

    private TurnResult failedTurn(List<HistoryEvent> fresh, FailureDetails details) {
        Instant at = fresh.isEmpty() ? Instant.EPOCH : fresh.get(0).timestamp();
        TurnResult.Failed failed = new TurnResult.Failed(details);
        List<HistoryEvent> history = new ArrayList<>(fresh);
        history.add(completionEvent(failed, at));
        return new TurnResult(history, List.of(), List.of(), failed);
    }

    private static String key(EventType type, Integer taskId) {
        return type.name() + '#' + taskId;
    }

    private static String describe(HistoryEvent e) {
        return switch (e.type()) {
            case TaskScheduled -> "activity '" + e.name() + "' as task " + e.taskId();
            case TimerCreated -> "a timer as task " + e.taskId();
            case SubOrchestrationCreated -> "sub-orchestration '" + e.name() + "' as task " + e.taskId();
            case SubOrchestrationCancelRequested -> "cancelling the sub-orchestration of task " + e.taskId();
            default -> e.type() + " for task " + e.taskId();
        };
    }

    private static String describe(Action a) {
        if (a instanceof Action.ScheduleActivity s) {
            return "scheduled activity '" + s.name() + "' as task " + s.taskId();
        }
        if (a instanceof Action.CreateSubOrchestration s) {
            return "started sub-orchestration '" + s.name() + "' as task " + s.taskId();
        }
        if (a instanceof Action.CreateTimer) {
            return "created a timer as task " + a.taskId();
        }
        return "cancelled the sub-orchestration of task " + a.taskId();
    }

    private record BufferedEvent(long arrival, String name, String payload) {
    }

    // ---------------------------------------------------------------------------------------
    // Tasks
    // ---------------------------------------------------------------------------------------

    private abstract class TaskBase<T> implements Task<T> {
        final ReplaySession owner = ReplaySession.this;

        /** Position in the order tasks finished in; meaningful once done. */
        abstract long order();

        abstract T result();

        @Override
        public T await() {
            checkLive();
            while (!isDone()) {
                suspend(this);
            }
            return result();
        }
    }

    private final class LeafTask<T> extends TaskBase<T> {
        final int taskId;
        final JavaType type;
        final String childId;
        /** A timer's firing time; {@code null} for an activity or a child orchestration. */
        final Instant fireAt;
        boolean done;
        boolean cancelled;
        String payload;
        FailureDetails failureDetails;
        long order;

        LeafTask(int taskId, JavaType type, String childId, Instant fireAt) {
            this.taskId = taskId;
            this.type = type;
            this.childId = childId;
            this.fireAt = fireAt;
        }

        void finish(String resultPayload, FailureDetails failed) {
            if (done) {
                return;
            }
            done = true;
            payload = resultPayload;
            failureDetails = failed;
            order = ++completionCounter;
        }

        @Override
        public boolean isDone() {
            return done;
        }

        @Override
        public boolean isFailed() {
            return done && (failureDetails != null || cancelled);
        }

        @Override
        long order() {
            return order;
        }

        @Override
        T result() {
            if (cancelled) {
                throw new TaskCancelledException();
            }
            if (failureDetails != null) {
                throw new TaskFailedException(failureDetails);
            }
            return JsonCodec.fromJson(payload, type);
        }

        @Override
        public void cancel() {
            checkLive();
            if (done) {
                return;
            }
            if (childId != null) {
                decide(new Action.CancelSubOrchestration(taskId, childId, "Cancelled by parent orchestration"));
            }
            openTasks.remove(taskId);
            cancelled = true;
            finish(null, null);
        }
    }

    private final class EventWaitTask<T> extends TaskBase<T> {
        final String eventName;
        final JavaType type;
        final Duration timeout;
        LeafTask<Void> timeoutTimer;
        boolean delivered;
        boolean cancelled;
        String payload;
        long order;

        EventWaitTask(String eventName, JavaType type, Duration timeout) {
            this.eventName = eventName;
            this.type = type;
            this.timeout = timeout;
        }

        void deliver(String data) {
            delivered = true;
            payload = data;
            order = ++completionCounter;
        }

        private boolean timedOut() {
            return !delivered && timeoutTimer != null && timeoutTimer.isDone();
        }

        @Override
        public boolean isDone() {
            return delivered || cancelled || timedOut();
        }

        @Override
        public boolean isFailed() {
            return cancelled || timedOut();
        }

        @Override
        long order() {
            return delivered || cancelled ? order : timeoutTimer.order();
        }

        @Override
        T result() {
            if (cancelled) {
                throw new TaskCancelledException();
            }
            if (!delivered) {
                throw new EventWaitTimeoutException(eventName, timeout);
            }
            return JsonCodec.fromJson(payload, type);
        }

        @Override
        public void cancel() {
            checkLive();
            if (!isDone()) {
                cancelled = true;
                order = ++completionCounter;
            }
        }
    }

    private final class AllOf<T> extends TaskBase<List<T>> {
        final List<TaskBase<T>> tasks;

        AllOf(List<TaskBase<T>> tasks) {
            this.tasks = tasks;
        }

        private TaskBase<T> firstFailure() {
            TaskBase<T> first = null;
            for (TaskBase<T> t : tasks) {
                if (t.isDone() && t.isFailed() && (first == null || t.order() < first.order())) {
                    first = t;
                }
            }
            return first;
        }

        @Override
        public boolean isDone() {
            return firstFailure() != null || tasks.stream().allMatch(Task::isDone);
        }

        @Override
        public boolean isFailed() {
            return firstFailure() != null;
        }

        @Override
        long order() {
            TaskBase<T> failed = firstFailure();
            return failed != null ? failed.order() : tasks.stream().mapToLong(TaskBase::order).max().orElse(0);
        }

        @Override
        List<T> result() {
            TaskBase<T> failed = firstFailure();
            if (failed != null) {
                failed.result(); // throws the branch's failure
            }
            List<T> results = new ArrayList<>(tasks.size());
            for (TaskBase<T> t : tasks) {
                results.add(t.result());
            }
            return results;
        }

        @Override
        public void cancel() {
            tasks.forEach(Task::cancel);
        }
    }

    private final class AnyOf extends TaskBase<Task<?>> {
        final List<TaskBase<?>> tasks;

        AnyOf(List<TaskBase<?>> tasks) {
            this.tasks = tasks;
        }

        private TaskBase<?> winner() {
            TaskBase<?> first = null;
            for (TaskBase<?> t : tasks) {
                if (t.isDone() && (first == null || t.order() < first.order())) {
                    first = t;
                }
            }
            return first;
        }

        @Override
        public boolean isDone() {
            return winner() != null;
        }

        @Override
        public boolean isFailed() {
            return false;
        }

        @Override
        long order() {
            return winner().order();
        }

        @Override
        Task<?> result() {
            return winner();
        }

        @Override
        public void cancel() {
            tasks.forEach(Task::cancel);
        }
    }

    // ---------------------------------------------------------------------------------------
    // The context handed to orchestration code
    // ---------------------------------------------------------------------------------------

    private final class Context implements OrchestrationContext {

        @Override
        public String instanceId() {
            return instanceId;
        }

        @Override
        public int executionId() {
            return executionId;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public <T> T input(Class<T> type) {
            return JsonCodec.fromJson(input, type);
        }

        @Override
        public String rawInput() {
            return input;
        }

        @Override
        public <T> Task<T> callActivity(String activityName, Object activityInput, Class<T> resultType) {
            return callActivity(activityName, activityInput, resultType, null);
        }

        @Override
        public <T> Task<T> callActivity(String activityName, Object activityInput, Class<T> resultType,
                                        String partitionKey) {
            checkLive();
            requireName("activity", activityName);
            LeafTask<T> task = newTask(JsonCodec.mapper().constructType(resultType), null, null);
            decide(new Action.ScheduleActivity(task.taskId, activityName, JsonCodec.toJson(activityInput),
                    partitionKey));
            return task;
        }

        @Override
        public Task<Void> createTimer(Duration delay) {
            Objects.requireNonNull(delay, "delay");
            if (delay.isNegative()) {
                throw new IllegalArgumentException("timer delay must not be negative, got " + delay);
            }
            return createTimer(now.plus(delay));
        }

        @Override
        public Task<Void> createTimer(Instant fireAt) {
            checkLive();
            Objects.requireNonNull(fireAt, "fireAt");
            return timer(fireAt);
        }

        @Override
        public <T> Task<T> waitForExternalEvent(String eventName, Class<T> type) {
            return waitFor(eventName, null, type);
        }

        @Override
        public <T> Task<T> waitForExternalEvent(String eventName, Duration timeout, Class<T> type) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("event wait timeout must be positive, got " + timeout);
            }
            return waitFor(eventName, timeout, type);
        }

        private <T> Task<T> waitFor(String eventName, Duration timeout, Class<T> type) {
            checkLive();
            requireName("event", eventName);
            EventWaitTask<T> wait = new EventWaitTask<>(eventName, JsonCodec.mapper().constructType(type), timeout);
            Deque<BufferedEvent> pending = buffered.get(eventName);
            if (pending != null && !pending.isEmpty()) {
                wait.deliver(pending.poll().payload());
                return wait;
            }
            if (timeout != null) {
                wait.timeoutTimer = timer(now.plus(timeout));
            }
            waiters.computeIfAbsent(eventName, n -> new ArrayDeque<>()).add(wait);
            return wait;
        }

        @Override
        public <T> Task<T> callSubOrchestration(String orchestrationName, String childId, Object childInput,
                                                Class<T> resultType) {
            checkLive();
            requireName("orchestration", orchestrationName);
            int taskId = nextTaskId;
            String id = childId != null ? childId : instanceId + "::" + executionId + "::" + taskId;
            LeafTask<T> task = newTask(JsonCodec.mapper().constructType(resultType), id, null);
            decide(new Action.CreateSubOrchestration(task.taskId, orchestrationName, id, JsonCodec.toJson(childInput)));
            return task;
        }

        @Override
        public void continueAsNew(Object newInput) {
            checkLive();
            continueAsNew = true;
            continueAsNewInput = JsonCodec.toJson(newInput);
        }

        @Override
        public <T> Task<List<T>> allOf(List<? extends Task<T>> tasks) {
            checkLive();
            List<TaskBase<T>> own = new ArrayList<>();
            for (Task<T> t : tasks) {
                own.add(owned(t));
            }
            return new AllOf<>(own);
        }

        @Override
        public Task<Task<?>> anyOf(List<? extends Task<?>> tasks) {
            checkLive();
            if (tasks.isEmpty()) {
                throw new IllegalArgumentException("anyOf needs at least one task");
            }
            List<TaskBase<?>> own = new ArrayList<>();
            for (Task<?> t : tasks) {
                own.add(owned(t));
            }
            return new AnyOf(own);
        }

        @SuppressWarnings("unchecked")
        private <T> TaskBase<T> owned(Task<T> task) {
            if (!(task instanceof TaskBase<?> base) || base.owner != ReplaySession.this) {
                throw new IllegalArgumentException("task does not belong to this orchestration");
            }
            return (TaskBase<T>) base;
        }

        @Override
        public Instant currentInstant() {
            return now;
        }

        @Override
        public boolean isReplaying() {
            return replaying;
        }

        @Override
        public Limits limits() {
            return limits;
        }

        @Override
        public void addTurnWrite(TurnWrite write) {
            checkLive();
            Objects.requireNonNull(write, "write");
            if (!replaying) {
                writes.add(write);
            }
        }

        private void requireName(String kind, String value) {
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException(kind + " name must not be blank");
            }
        }
    }
}
