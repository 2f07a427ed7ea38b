package io.pgdurable.engine.store;

import io.pgdurable.engine.DurableException;
import io.pgdurable.engine.JsonCodec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Starts, signals, cancels and queries orchestration instances through the engine's SQL
 * functions. Each method runs in its own autocommit transaction; the {@code Connection} forms
 * run in the caller's transaction instead.
 */
public final class EngineClient {
    private final DataSource dataSource;

    public EngineClient(DataSource dataSource) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    }

    /**
     * Starts an orchestration; a null id gets a random one. Returns the instance id. A dispatch
     * loop of some worker takes the first turn; code in a worker's own JVM can start with
     * {@code Worker.startOrchestration} instead, which commits the first turn with the start.
     */
    public String start(String orchestration, String instanceId, Object input) {
        return run(c -> start(c, orchestration, instanceId, input));
    }

    public String start(Connection c, String orchestration, String instanceId, Object input) throws SQLException {
        String id = instanceId != null ? instanceId : UUID.randomUUID().toString();
        try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.start_orchestration(?, ?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, orchestration);
            ps.setString(3, JsonCodec.toJson(input));
            ps.execute();
        }
        return id;
    }

    /** Delivers an external event; it is buffered until a wait consumes it. */
    public void raiseEvent(String instanceId, String eventName, Object data) {
        run(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.raise_event(?, ?, ?)")) {
                ps.setString(1, instanceId);
                ps.setString(2, eventName);
                ps.setString(3, JsonCodec.toJson(data));
                ps.execute();
            }
            return null;
        });
    }

    /** Cancels an instance and its running children; returns how many instances were cancelled. */
    public int cancel(String instanceId, String reason) {
        return run(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT df_engine.cancel(?, ?)")) {
                ps.setString(1, instanceId);
                ps.setString(2, reason);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getInt(1);
                }
            }
        });
    }

    public Optional<InstanceInfo> get(String instanceId) {
        return run(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT * FROM df_engine.get_instance(?)")) {
                ps.setString(1, instanceId);
                List<InstanceInfo> found = read(ps);
                return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
            }
        });
    }

    /** Newest first; {@code status} null lists all. */
    public List<InstanceInfo> list(String status, int limit) {
        return run(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT * FROM df_engine.list_instances(?, ?)")) {
                ps.setString(1, status);
                ps.setInt(2, limit);
                return read(ps);
            }
        });
    }

    /** Deletes terminal instances among {@code ids}; see {@code df_engine.delete_instances}. */
    public List<String> delete(List<String> ids, Instant terminalBefore, Integer limit) {
        return run(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT * FROM df_engine.delete_instances(?, ?, ?)")) {
                ps.setArray(1, c.createArrayOf("text", ids.toArray()));
                ps.setTimestamp(2, terminalBefore == null ? null : Timestamp.from(terminalBefore));
                ps.setObject(3, limit);
                List<String> deleted = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        deleted.add(rs.getString(1));
                    }
                }
                return deleted;
            }
        });
    }

    /** Polls until the instance is terminal. */
    public InstanceInfo awaitTerminal(String instanceId, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pause = 5;
        while (true) {
            Optional<InstanceInfo> info = get(instanceId);
            if (info.isPresent() && info.get().isTerminal()) {
                return info.get();
            }
            if (System.nanoTime() > deadline) {
                throw new DurableException("instance '" + instanceId + "' did not finish within " + timeout
                        + "; last status " + info.map(InstanceInfo::status).orElse("unknown"));
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DurableException("interrupted while waiting for " + instanceId, e);
            }
            pause = Math.min(pause * 2, 100);
        }
    }

    private static List<InstanceInfo> read(PreparedStatement ps) throws SQLException {
        List<InstanceInfo> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(new InstanceInfo(rs.getString("id"), rs.getString("name"), rs.getString("status"),
                        rs.getString("input"), rs.getString("output"), rs.getString("parent_id"),
                        rs.getInt("execution_id"), instant(rs, "created_at"), instant(rs, "updated_at"),
                        instant(rs, "completed_at")));
            }
        }
        return out;
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    private interface SqlWork<T> {
        T run(Connection c) throws SQLException;
    }

    private <T> T run(SqlWork<T> work) {
        try (Connection c = dataSource.getConnection()) {
            return work.run(c);
        } catch (SQLException e) {
            throw new DurableException(e.getMessage(), e.getSQLState(), e);
        }
    }
}
