package io.pgdurable.schema;

import java.util.List;

/**
 * What one {@link SchemaInstaller#install} call did.
 *
 * @param applied        the migrations this call applied, in order; empty when the schema was already current
 * @param currentVersion the highest version recorded in the ledger after the call (0 if none)
 */
public record InstallResult(List<Migration> applied, int currentVersion) {

    public InstallResult {
        applied = List.copyOf(applied);
    }

    /** The versions this call applied, in order. */
    public List<Integer> appliedVersions() {
        return applied.stream().map(Migration::version).toList();
    }

    /** True if this call changed nothing. */
    public boolean upToDate() {
        return applied.isEmpty();
    }
}
