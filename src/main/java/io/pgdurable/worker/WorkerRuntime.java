package io.pgdurable.worker;

import io.pgdurable.engine.Registry;
import javax.sql.DataSource;

/** What the dispatch loops share with the worker that runs them. */
interface WorkerRuntime {
    WorkerConfig config();

    Registry registry();

    DataSource dataSource();

    SessionCache sessions();

    Wakeup orchestrationWakeup();

    Wakeup activityWakeup();

    boolean stopping();

    /**
     * Something may have revoked leases of claimed activity items (a cancel was notified): check
     * them now rather than at the next periodic renewal.
     */
    void activityLeasesMayBeLost();

    void countTurns(int n);

    void countActivities(int n);

    /**
     * Where the activities this worker's turns schedule may go at once, without a claim; {@code
     * null} when they all go through the queue (the short path is off).
     */
    LocalActivities localActivities();

    /** A turn committed on the short path, in its step's transaction (counted as a turn too). */
    void countShortPathTurn();
}
