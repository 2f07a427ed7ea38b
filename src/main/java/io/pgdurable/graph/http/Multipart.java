package io.pgdurable.graph.http;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/** A {@code multipart/form-data} body (RFC 7578) built from parts whose data is base64. */
final class Multipart {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Multipart() {
    }

    /** The body and the Content-Type that names its boundary. */
    record Encoded(byte[] body, String contentType) {
    }

    /**
     * Encodes the parts; each part's data is base64, white space allowed (PostgreSQL's
     * {@code encode(bytea, 'base64')} wraps its lines).
     *
     * @throws IllegalArgumentException naming the part whose data is not base64
     */
    static Encoded encode(List<HttpStepInput.Part> parts) {
        byte[] random = new byte[16];
        RANDOM.nextBytes(random);
        String boundary = "pg_durable-" + HexFormat.of().formatHex(random);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (HttpStepInput.Part part : parts) {
            byte[] data;
            try {
                data = Base64.getMimeDecoder().decode(strictBase64(part.dataB64(), part.name()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("Invalid base64 in part '" + part.name() + "': " + e.getMessage());
            }
            StringBuilder head = new StringBuilder();
            head.append("--").append(boundary).append("\r\n");
            head.append("Content-Disposition: form-data; name=\"").append(part.name()).append('"');
            if (part.filename() != null) {
                head.append("; filename=\"").append(part.filename()).append('"');
            }
            head.append("\r\n");
            if (part.contentType() != null) {
                head.append("Content-Type: ").append(part.contentType()).append("\r\n");
            }
            head.append("\r\n");
            out.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
            out.writeBytes(data);
            out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        return new Encoded(out.toByteArray(), "multipart/form-data; boundary=" + boundary);
    }

    /** The base64 text without white space, refusing any other character outside the alphabet. */
    private static String strictBase64(String text, String part) {
        String s = text.replaceAll("\\s", "");
        if (!s.matches("([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")) {
            throw new IllegalArgumentException("not valid base64");
        }
        return s;
    }
}
