package io.pgdurable.engine.store;

import java.time.Instant;

/** What the engine knows of an instance, as {@code df_engine.get_instance} reports it. */
public record InstanceInfo(String id, String name, String status, String input, String output, String parentId,
                           int executionId, Instant createdAt, Instant updatedAt, Instant completedAt) {

    public static boolean isTerminal(String status) {
        return "Completed".equals(status) || "Failed".equals(status) || "Cancelled".equals(status);
    }

    public boolean isTerminal() {
        return isTerminal(status);
    }
}
