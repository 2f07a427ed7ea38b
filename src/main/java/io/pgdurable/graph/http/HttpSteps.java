package io.pgdurable.graph.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.graph.sql.SubstitutionContext;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns an HTTP or HTTP_MULTIPART node's config into the activity's input: checks the config
 * (the same rules as {@code df._http_problem}, for graphs that reached the worker some other way),
 * fills the placeholders, and checks the result again (a substituted value must not break the URL
 * or add a header line).
 */
public final class HttpSteps {
    public static final int DEFAULT_TIMEOUT_SECONDS = 30;
    public static final int MAX_TIMEOUT_SECONDS = 3600;

    private static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "DELETE", "PATCH");
    private static final Set<String> MULTIPART_METHODS = Set.of("POST", "PUT", "PATCH");
    private static final Set<String> RESERVED = Set.of("host", "content-length", "transfer-encoding", "connection",
            "upgrade", "expect", "te", "trailer", "keep-alive");
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    private static final Pattern CONTROL = Pattern.compile("[\\x00-\\x08\\x0a-\\x1f\\x7f]");
    private static final Pattern QUOTE_OR_CONTROL = Pattern.compile("[\\x00-\\x1f\\x7f\"]");

    private HttpSteps() {
    }

    /** Who the step runs for. */
    public record Submitter(String instanceId, String role, Long roleOid) {
    }

    /**
     * The activity input for node {@code nodeId} of type {@code type} with config {@code config}.
     *
     * @throws GraphException naming the problem when the config or a filled-in value is unusable
     */
    public static HttpStepInput prepare(String type, String nodeId, String config, SubstitutionContext ctx,
                                        Submitter submitter) {
        boolean multipart = "HTTP_MULTIPART".equals(type);
        JsonNode c;
        try {
            c = JsonCodec.mapper().readTree(config);
        } catch (Exception e) {
            c = null;
        }
        if (c == null || !c.isObject()) {
            throw new GraphException(type + " node " + nodeId + ": its config is not a JSON object");
        }
        String method = text(c, "method", type, nodeId).toUpperCase(Locale.ROOT);
        if (!(multipart ? MULTIPART_METHODS : METHODS).contains(method)) {
            throw new GraphException(multipart
                    ? "Invalid HTTP method for multipart: " + method + ". Must be POST, PUT, or PATCH"
                    : "Invalid HTTP method: " + method + ". Must be GET, POST, PUT, DELETE, or PATCH");
        }
        int timeout = timeout(c.get("timeout_seconds"));
        HttpTemplate template = new HttpTemplate(ctx);

        String url = template.fill(text(c, "url", type, nodeId), "url").strip();
        try {
            URI uri = new URI(url);
            if (uri.getScheme() == null || !Set.of("http", "https").contains(uri.getScheme().toLowerCase(Locale.ROOT))
                    || uri.getHost() == null) {
                throw new GraphException("the url of " + type + " node " + nodeId + " must be an http:// or"
                        + " https:// URL with a host, got '" + url + "'");
            }
        } catch (URISyntaxException e) {
            throw new GraphException("the url of " + type + " node " + nodeId + " is not a valid URL after"
                    + " substitution: '" + url + "' (" + e.getReason() + ")");
        }

        Map<String, String> headers = new LinkedHashMap<>();
        JsonNode h = c.get("headers");
        if (h != null && !h.isNull()) {
            if (!h.isObject()) {
                throw new GraphException("headers must be a JSON object of text values");
            }
            Iterator<Map.Entry<String, JsonNode>> it = h.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                if (!TOKEN.matcher(name).matches()) {
                    throw new GraphException("header name \"" + name + "\" is not a valid HTTP header name");
                }
                String lower = name.toLowerCase(Locale.ROOT);
                if (RESERVED.contains(lower)) {
                    throw new GraphException("header \"" + name + "\" is set by pg_durable itself and may not be given");
                }
                if (multipart && lower.equals("content-type")) {
                    continue;  // the multipart body owns its Content-Type (it names the boundary)
                }
                if (!e.getValue().isTextual()) {
                    throw new GraphException("header \"" + name + "\" must have a text value");
                }
                String value = template.fill(e.getValue().textValue(), "header " + name);
                if (CONTROL.matcher(value).find()) {
                    throw new GraphException("header \"" + name + "\" has a control character (such as a line break)"
                            + " in its value after substitution");
                }
                headers.put(name, value);
            }
        }

        String body = null;
        List<HttpStepInput.Part> parts = null;
        if (multipart) {
            parts = parts(c.get("parts"), template);
        } else {
            JsonNode b = c.get("body");
            if (b != null && !b.isNull()) {
                if (!b.isTextual()) {
                    throw new GraphException("HTTP body must be text or null");
                }
                body = template.fill(b.textValue(), "body");
            }
        }
        return new HttpStepInput(submitter.instanceId(), nodeId, submitter.role(), submitter.roleOid(), type, method,
                url, headers, body, parts, timeout);
    }

    private static List<HttpStepInput.Part> parts(JsonNode p, HttpTemplate template) {
        if (p == null || !p.isArray() || p.isEmpty()) {
            throw new GraphException("parts must be a non-empty JSON array of part objects");
        }
        List<HttpStepInput.Part> out = new ArrayList<>();
        int index = 0;
        for (JsonNode part : p) {
            String at = "parts[" + index + "]";
            if (!part.isObject() || !part.path("name").isTextual() || !part.path("data_b64").isTextual()) {
                throw new GraphException(at + " must be an object with \"name\" and \"data_b64\" strings");
            }
            String name = template.fill(part.get("name").textValue(), at + ".name");
            String filename = optional(part, "filename", at);
            filename = filename == null ? null : template.fill(filename, at + ".filename");
            String contentType = optional(part, "content_type", at);
            for (String v : new String[] {name, filename, contentType}) {
                if (v != null && QUOTE_OR_CONTROL.matcher(v).find()) {
                    throw new GraphException(at + " (\"" + name + "\"): its name, filename and content_type may not"
                            + " contain double quotes or control characters");
                }
            }
            String data = part.get("data_b64").textValue();
            if (data.indexOf('$') >= 0 || data.indexOf('{') >= 0) {
                if (!HttpTemplate.isWholeReference(data)) {
                    throw new GraphException(at + " (\"" + name + "\"): data_b64 may hold base64 or one placeholder"
                            + " standing for the whole value ($name, $name.col or {name}), not a placeholder mixed"
                            + " with other text");
                }
                data = template.fill(data.strip(), at + ".data_b64");
            }
            out.add(new HttpStepInput.Part(name, filename, contentType, data));
            index++;
        }
        return out;
    }

    private static String optional(JsonNode part, String field, String at) {
        JsonNode v = part.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new GraphException(at + ": \"" + field + "\" must be a string");
        }
        return v.textValue();
    }

    private static String text(JsonNode c, String field, String type, String nodeId) {
        JsonNode v = c.get(field);
        if (v == null || !v.isTextual()) {
            throw new GraphException(type + " node " + nodeId + ": its config needs \"" + field + "\", a string");
        }
        return v.textValue();
    }

    private static int timeout(JsonNode t) {
        if (t == null || t.isNull()) {
            return DEFAULT_TIMEOUT_SECONDS;
        }
        if (!t.isIntegralNumber() || !t.canConvertToLong()) {
            throw new GraphException("timeout_seconds must be a whole number of seconds, got " + t);
        }
        long v = t.longValue();
        if (v <= 0) {
            throw new GraphException("Timeout must be positive");
        }
        if (v > MAX_TIMEOUT_SECONDS) {
            throw new GraphException("timeout_seconds must be at most " + MAX_TIMEOUT_SECONDS + " (one hour), got " + v);
        }
        return (int) v;
    }
}
