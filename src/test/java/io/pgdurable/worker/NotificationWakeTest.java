package io.pgdurable.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.db.ArrivalSocketFactory;
import io.pgdurable.engine.Registry;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.engine.store.InstanceInfo;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A worker idling between polls takes an orchestration started elsewhere when the start's NOTIFY
 * arrives, not at its next poll: here the poll interval is an hour, so only the listener can have
 * woken it. Once with the listener's own socket factory (woken as the bytes arrive) and once with
 * a URL that names a socket factory, where the listener wakes the loops when pgjdbc hands over
 * the notification.
 */
class NotificationWakeTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @Test
    void a_start_elsewhere_wakes_an_idle_worker() throws Exception {
        runStarts("notify_wake", null);
    }

    @Test
    void a_start_elsewhere_wakes_an_idle_worker_whose_url_names_a_socket_factory() throws Exception {
        // A factory of the URL's is kept; this one, without its key, is a plain socket factory.
        runStarts("notify_wake_own_factory",
                ArrivalSocketFactory.FACTORY_PROPERTY + "=" + ArrivalSocketFactory.class.getName());
    }

    private static void runStarts(String name, String urlParameters) throws Exception {
        TestCluster cluster = TestCluster.get();
        String db = cluster.createDatabase(name);
        Registry registry = new Registry()
                .activity("double", ctx -> ctx.input(Integer.class) * 2)
                .orchestration("doubles", ctx -> ctx.callActivity("double", ctx.input(Integer.class),
                        Integer.class).await());
        String url = cluster.jdbcUrl(db);
        WorkerConfig config = WorkerConfig.builder(urlParameters == null ? url : url + "?" + urlParameters)
                .user("postgres").pollInterval(Duration.ofHours(1)).build();
        try (Worker worker = Worker.start(config, registry); Connection admin = cluster.connect(db)) {
            awaitListening(admin);
            EngineClient client = new EngineClient(worker.dataSource());
            for (int i = 1; i <= 3; i++) {
                String id = client.start("doubles", null, i);
                InstanceInfo info = client.awaitTerminal(id, BOUND);
                assertThat(info.status()).as(id).isEqualTo("Completed");
                assertThat(info.output()).as(id).isEqualTo(Integer.toString(2 * i));
            }
        }
    }

    /** Waits until the worker's listener has run its LISTEN, so the first start's NOTIFY reaches it. */
    private static void awaitListening(Connection admin) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + BOUND.toNanos();
        try (Statement s = admin.createStatement()) {
            while (true) {
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE application_name = 'pg_durable listener' AND query LIKE 'LISTEN%'"
                        + " AND datname = current_database()")) {
                    rs.next();
                    if (rs.getLong(1) > 0) {
                        return;
                    }
                }
                assertThat(System.nanoTime()).as("the listener to have run its LISTEN").isLessThan(deadline);
                Thread.sleep(20);
            }
        }
    }
}
