package io.pgdurable.schema;

import java.util.List;

/**
 * What one {@link SchemaInstaller#install} call did.
 *
 * @param previousVersion the version the database was at before the call, or null if pg_durable
 *                        was not installed
 * @param version         the version the database is at after the call
 * @param applied         the step and function files this call applied, in order (as recorded in
 *                        {@code df_engine.schema_files}); empty when the schema was already current
 */
public record InstallResult(String previousVersion, String version, List<String> applied) {

    public InstallResult {
        applied = List.copyOf(applied);
    }

    /** True if this call changed nothing. */
    public boolean upToDate() {
        return applied.isEmpty();
    }
}
