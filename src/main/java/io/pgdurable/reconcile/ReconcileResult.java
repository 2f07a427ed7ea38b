package io.pgdurable.reconcile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.JsonCodec;
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
 * @param moreRemaining        a pass in one transaction stopped at the hard cap of instances it
 *                             removes: more may be due, for the next pass (batched passes: false)
 * @param duration             how long the pass took
 * @param settings             the settings it used, or null when they were invalid
 * @param error                why it failed, or null
 */
public record ReconcileResult(Long runId, boolean skipped, long instancesRemoved, long nodesRemoved,
                              long engineRecordsRetired, long orphansReclaimed, boolean moreRemaining,
                              Duration duration, ReconcileSettings settings, String error) {

    static ReconcileResult skipped(Duration duration) {
        return new ReconcileResult(null, true, 0, 0, 0, 0, false, duration, null, null);
    }

    /** Reads the summary {@link #toJson()} writes, as {@code df_engine.reconcile_pass} returns it. */
    static ReconcileResult fromJson(String json) {
        JsonNode o = JsonCodec.tree(json);
        JsonNode s = o.path("settings");
        ReconcileSettings settings = s.has("retention_days")
                ? new ReconcileSettings(s.get("retention_days").asInt(), s.get("reconcile_interval").asInt())
                : null;
        return new ReconcileResult(o.hasNonNull("run_id") ? o.get("run_id").asLong() : null,
                o.path("skipped").asBoolean(), o.path("instances_removed").asLong(), o.path("nodes_removed").asLong(),
                o.path("engine_records_retired").asLong(), o.path("orphans_reclaimed").asLong(),
                o.path("more_remaining").asBoolean(), Duration.ofMillis(o.path("duration_ms").asLong()), settings,
                o.hasNonNull("error") ? o.get("error").asText() : null);
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
        o.put("more_remaining", moreRemaining);
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
