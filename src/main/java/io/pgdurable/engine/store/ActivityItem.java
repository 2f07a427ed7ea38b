package io.pgdurable.engine.store;

import java.util.UUID;

/**
 * A claimed activity work item and the lease that proves the claim; {@code partitionKey} is the
 * fairness key it was claimed under.
 */
public record ActivityItem(long id, String instanceId, int executionId, int taskId, String name, String input,
                           UUID leaseToken, int attempt, String partitionKey) {
}
