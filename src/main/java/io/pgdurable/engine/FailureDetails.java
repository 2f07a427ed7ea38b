package io.pgdurable.engine;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Why a task or an orchestration failed: a short error type and a human message. Stored as JSON
 * in history and instance output.
 */
public record FailureDetails(@JsonProperty("type") String type, @JsonProperty("message") String message) {

    /** Describes a throwable, preferring the failure it wraps when it is one of ours. */
    public static FailureDetails of(Throwable t) {
        if (t instanceof TaskFailedException tfe) {
            return tfe.details();
        }
        String message = t.getMessage() != null ? t.getMessage() : t.getClass().getName();
        String type = t instanceof DurableException d ? d.failureType() : t.getClass().getSimpleName();
        return new FailureDetails(type, message);
    }

    public String toJson() {
        return JsonCodec.toJson(this);
    }

    public static FailureDetails fromJson(String json) {
        if (json == null) {
            return new FailureDetails("Unknown", "no failure details recorded");
        }
        try {
            FailureDetails d = JsonCodec.fromJson(json, FailureDetails.class);
            if (d != null && d.message() != null) {
                return d;
            }
        } catch (DurableException ignored) {
            // not our shape: keep the raw text below as the message
        }
        return new FailureDetails("Error", json);
    }
}
