package io.pgdurable.reconcile;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;

/**
 * What one reconciliation pass did.
 *
 * @param runId                id of its row in {@code df.reconcile_runs}, or null when skipped
 * @param skipped              another pass held the lock, so this one did nothing
 * @param instancesRemoved     expired terminal df instances removed
 * @param nodesRemoved         their df.nodes rows removed
 * @param engineRecordsRetired engine instances removed with them (roots; children and history go too)
 * @param orphansReclaimed     engine instances without a df row that were removed
 * @param duration             how long the pass took
 * @param settings             the settings it used, or null when they were invalid
 * @param error                why it failed, or null
 */
public record ReconcileResult(Long runId, boolean skipped, long instancesRemoved, long nodesRemoved,
                              long engineRecordsRetired, long orphansReclaimed, Duration duration,
                              ReconcileSettings settings, String error) {

    static ReconcileResult skipped(Duration duration) {
        return new ReconcileResult(null, true, 0, 0, 0, 0, duration, null,
                null);
    }

    public boolean ok() {
        return error == null;
    }

    /** The summary {@code df.reconcile()} returns. */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        if (runId != null) {
            o.put("run_id", runId);
        }
        o.put("skipped", skipped);
        o.put("instances_removed", instancesRemoved);
        o.put("nodes_removed", nodesRemoved);
        o.put("engine_records_retired", engineRecordsRetired);
        o.put("orphans_reclaimed", orphansReclaimed);
        o.put("duration_ms", duration.toMillis());
        ObjectNode s = o.putObject("settings");
        if (settings != null) {
            s.put("retention_days", settings.retentionDays());
            s.put("reconcile_interval", settings.intervalSeconds());
        }
        s.put("hard_cap", Reconciler.HARD_CAP);
        if (error != null) {
            o.put("error", error);
        }
        return o;
    }
}
