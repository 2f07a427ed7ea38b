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

    void countTurns(int n);

    void countActivities(int n);
}
