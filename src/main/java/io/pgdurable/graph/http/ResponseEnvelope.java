package io.pgdurable.graph.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.JsonCodec;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The result of an HTTP step, as the original returns it:
 * {@code {"status":200,"body":"...","encoding":"text","headers":{...},"ok":true,"duration_ms":12}}.
 *
 * <p>{@code encoding} is {@code text} when the body is the response's text, {@code base64} when
 * the body holds the base64 of the response's bytes. A body is text when its {@code Content-Type}
 * declares a textual type ({@code text/*}, {@code +json}, {@code +xml}, {@code +yaml}, JSON, XML,
 * JavaScript, form data, GraphQL, YAML), decoded with the charset the header names (UTF-8 when it
 * names none or one this JVM does not know); otherwise the bytes decide: valid UTF-8 is text,
 * anything else base64. A body holding a NUL character is always base64, because PostgreSQL's
 * text and jsonb cannot store one.
 */
public final class ResponseEnvelope {
    /** Bytes of a failed response's body quoted in the step's error message. */
    static final int ERROR_PREVIEW_CHARS = 512;

    private static final Set<String> TEXTUAL = Set.of("application/json", "application/xml", "application/javascript",
            "application/ecmascript", "application/x-www-form-urlencoded", "application/graphql", "application/yaml",
            "application/x-yaml");

    private ResponseEnvelope() {
    }

    /** The body as the envelope carries it. */
    public record Body(String text, String encoding) {
    }

    public static ObjectNode of(GuardedHttpClient.Response response, long durationMs) {
        Body body = body(response.headers().get("content-type"), response.body());
        ObjectNode out = JsonCodec.nodes().objectNode();
        out.put("status", response.status());
        out.put("body", body.text());
        out.put("encoding", body.encoding());
        ObjectNode headers = out.putObject("headers");
        for (Map.Entry<String, String> h : response.headers().entrySet()) {
            headers.put(h.getKey(), h.getValue());
        }
        out.put("ok", response.status() >= 200 && response.status() < 300);
        out.put("duration_ms", durationMs);
        return out;
    }

    /** Text or base64, as the class comment says. */
    public static Body body(String contentType, byte[] bytes) {
        if (declaresText(contentType)) {
            String text = new String(bytes, charset(contentType));
            if (text.indexOf('\0') < 0) {
                return new Body(text, "text");
            }
            return base64(bytes);
        }
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
            if (text.indexOf('\0') < 0) {
                return new Body(text, "text");
            }
        } catch (CharacterCodingException e) {
            // not UTF-8: binary
        }
        return base64(bytes);
    }

    private static Body base64(byte[] bytes) {
        return new Body(Base64.getEncoder().encodeToString(bytes), "base64");
    }

    /** Whether a Content-Type value declares a textual body. */
    static boolean declaresText(String contentType) {
        String mime = mime(contentType);
        if (mime.isEmpty()) {
            return false;
        }
        return mime.startsWith("text/") || mime.endsWith("+json") || mime.endsWith("+xml") || mime.endsWith("+yaml")
                || TEXTUAL.contains(mime);
    }

    private static String mime(String contentType) {
        if (contentType == null) {
            return "";
        }
        String first = contentType.split(",", 2)[0];
        return first.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
    }

    private static Charset charset(String contentType) {
        for (String param : contentType.split(",", 2)[0].split(";")) {
            String p = param.strip();
            if (p.toLowerCase(Locale.ROOT).startsWith("charset=")) {
                String name = p.substring(8).strip().replace("\"", "");
                try {
                    return Charset.forName(name);
                } catch (RuntimeException e) {
                    return StandardCharsets.UTF_8;
                }
            }
        }
        return StandardCharsets.UTF_8;
    }

    /** The start of a body for an error message. */
    static String preview(Body body) {
        String t = body.text();
        if (t.length() <= ERROR_PREVIEW_CHARS) {
            return t;
        }
        return t.substring(0, ERROR_PREVIEW_CHARS) + "... [truncated, " + t.length()
                + (body.encoding().equals("base64") ? " base64 characters" : " characters") + " in all]";
    }
}
