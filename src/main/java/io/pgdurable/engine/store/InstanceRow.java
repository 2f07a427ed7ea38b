package io.pgdurable.engine.store;

/**
 * An instance locked for an orchestration turn, with its current generation's event count and
 * its fairness key (which its children and activity items inherit).
 */
public record InstanceRow(String id, String name, String status, int executionId, int eventCount,
                          String parentId, Integer parentExecutionId, Integer parentTaskId, String partitionKey) {

    public boolean isTerminal() {
        return InstanceInfo.isTerminal(status);
    }
}
