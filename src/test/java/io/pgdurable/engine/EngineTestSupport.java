package io.pgdurable.engine;

import static org.assertj.core.api.Assertions.fail;

import io.pgdurable.engine.replay.EventType;
import io.pgdurable.engine.store.EngineClient;
import io.pgdurable.testing.Poll;
import io.pgdurable.testing.TestCluster;
import io.pgdurable.worker.Worker;
import io.pgdurable.worker.WorkerConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.postgresql.ds.PGSimpleDataSource;

/** Shared plumbing for the engine's real-database tests: workers, SQL probes and bounded waits. */
final class EngineTestSupport {

    /** Generous bound for anything a healthy worker does within milliseconds. */
    static final Duration PATIENCE = Duration.ofSeconds(15);

    private final TestCluster cluster = TestCluster.get();
    private final String db;

    EngineTestSupport(String db) {
        this.db = cluster.createDatabase(db);
    }

    String db() {
        return db;
    }

    /** A worker tuned for tests: short poll interval and shutdown grace. */
    Worker startWorker(Registry registry) {
        return startWorker(registry, UnaryOperator.identity());
    }

    Worker startWorker(Registry registry, UnaryOperator<WorkerConfig.Builder> tuning) {
        WorkerConfig.Builder builder = WorkerConfig.builder(cluster.jdbcUrl(db))
                .user(TestCluster.SUPERUSER)
                .pollInterval(Duration.ofMillis(50))
                .shutdownGrace(Duration.ofSeconds(2))
                .activityThreads(8);
        return Worker.start(tuning.apply(builder).build(), registry);
    }

    /** A client of its own, for acting on instances while no worker runs. */
    EngineClient client() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(cluster.jdbcUrl(db));
        ds.setUser(TestCluster.SUPERUSER);
        return new EngineClient(ds);
    }

    Connection connect() throws SQLException {
        return cluster.connect(db);
    }

    /** The single {@code bigint}/{@code integer} value of a query. */
    long count(String sql, Object... params) {
        Object value = single(sql, params);
        return value == null ? 0 : ((Number) value).longValue();
    }

    String text(String sql, Object... params) {
        Object value = single(sql, params);
        return value == null ? null : value.toString();
    }

    Instant instant(String sql, Object... params) {
        Object value = single(sql, params);
        return value == null ? null : ((Timestamp) value).toInstant();
    }

    boolean exists(String sql, Object... params) {
        return count("SELECT count(*) FROM (" + sql + ") found", params) > 0;
    }

    /** Rows queued for the instance in the orchestrator and activity queues together. */
    long queuedWork(String instanceId) {
        return count("SELECT (SELECT count(*) FROM df_engine.orchestrator_queue WHERE instance_id = ?)"
                + " + (SELECT count(*) FROM df_engine.activity_queue WHERE instance_id = ?)", instanceId, instanceId);
    }

    /**
     * The instance's engine rows as text (status, history, queued messages and activities), for
     * the message of a test that gave up waiting on it.
     */
    String describe(String instanceId) {
        StringBuilder out = new StringBuilder("instance ").append(instanceId).append(": ");
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement("""
                SELECT 'instance ' || status || ' gen ' || execution_id FROM df_engine.instances WHERE id = $1
                UNION ALL
                (SELECT 'history ' || execution_id || ':' || seq || ' ' || event_type || coalesce(' #' || task_id, '')
                        || coalesce(' ' || name, '') || coalesce(' ' || left(payload, 40), '')
                   FROM df_engine.history WHERE instance_id = $1 ORDER BY execution_id, seq)
                UNION ALL
                (SELECT 'message ' || id || ' gen ' || coalesce(execution_id::text, '-') || ' ' || kind
                        || coalesce(' ' || name, '') || ' visible ' || visible_at
                   FROM df_engine.orchestrator_queue WHERE instance_id = $1 ORDER BY id)
                UNION ALL
                (SELECT 'activity ' || id || ' ' || name || ' owner ' || coalesce(lease_owner, '-')
                        || ' visible ' || visible_at || ' attempts ' || attempts
                   FROM df_engine.activity_queue WHERE instance_id = $1 ORDER BY id)
                """.replace("$1", "?"))) {
            for (int i = 1; i <= 4; i++) {
                ps.setString(i, instanceId);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.append("\n  ").append(rs.getString(1));
                }
            }
        } catch (SQLException e) {
            out.append("(could not read: ").append(e.getMessage()).append(')');
        }
        return out.toString();
    }

    String status(String instanceId) {
        return text("SELECT status FROM df_engine.instances WHERE id = ?", instanceId);
    }

    /** Whether the instance's current generation recorded an event of this type. */
    boolean historyHas(String instanceId, EventType type) {
        return exists("SELECT 1 FROM df_engine.history h JOIN df_engine.instances i"
                + " ON i.id = h.instance_id AND i.execution_id = h.execution_id"
                + " WHERE h.instance_id = ? AND h.event_type = ?", instanceId, type.name());
    }

    private Object single(String sql, Object... params) {
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return rs.getObject(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("query failed: " + sql, e);
        }
    }

    /** Polls {@code condition} until it holds, failing the test with {@code what} after {@link #PATIENCE}. */
    static void await(String what, BooleanSupplier condition) {
        await(what, PATIENCE, condition);
    }

    static void await(String what, Duration timeout, BooleanSupplier condition) {
        Poll.until(timeout, what, condition::getAsBoolean);
    }

    /** Awaits a latch from test code, failing with {@code what} when it does not open in time. */
    static void await(String what, CountDownLatch latch) {
        try {
            if (!latch.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)) {
                fail("timed out after " + PATIENCE + " waiting until " + what);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted waiting until " + what);
        }
    }

    /** Blocks an activity until the test opens the latch; an activity must never hang a test run. */
    static void hold(CountDownLatch latch) throws InterruptedException {
        if (!latch.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("the test never released this activity");
        }
    }
}
