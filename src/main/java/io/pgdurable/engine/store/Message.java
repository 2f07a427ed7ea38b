package io.pgdurable.engine.store;

/** A message taken from the orchestrator queue for a turn. */
public record Message(long id, String instanceId, Integer executionId, String kind, Integer taskId, String name,
                      String payload) {
}
