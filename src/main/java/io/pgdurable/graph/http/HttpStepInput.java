package io.pgdurable.graph.http;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * What an HTTP step activity needs: the request after substitution and whom it runs for. Built by
 * the graph orchestration, so it is part of history.
 *
 * @param type    {@code HTTP} or {@code HTTP_MULTIPART}
 * @param headers the request's own headers, in order; values may still hold
 *                {@value HttpTemplate#IDEMPOTENCY_KEY}, which the activity fills
 * @param body    the body of an HTTP step, or null
 * @param parts   the parts of a multipart step, or null
 */
public record HttpStepInput(@JsonProperty("instance_id") String instanceId,
                            @JsonProperty("node_id") String nodeId,
                            @JsonProperty("role") String role,
                            @JsonProperty("role_oid") Long roleOid,
                            @JsonProperty("type") String type,
                            @JsonProperty("method") String method,
                            @JsonProperty("url") String url,
                            @JsonProperty("headers") Map<String, String> headers,
                            @JsonProperty("body") String body,
                            @JsonProperty("parts") List<Part> parts,
                            @JsonProperty("timeout_seconds") int timeoutSeconds) {

    /** A multipart part: its form field name, optional file name and type, and its data as base64. */
    public record Part(@JsonProperty("name") String name,
                       @JsonProperty("filename") String filename,
                       @JsonProperty("content_type") String contentType,
                       @JsonProperty("data_b64") String dataB64) {
    }

    boolean multipart() {
        return "HTTP_MULTIPART".equals(type);
    }
}
