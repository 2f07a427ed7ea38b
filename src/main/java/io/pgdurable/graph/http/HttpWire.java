package io.pgdurable.graph.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** HTTP/1.1 on the wire: the request head the client writes, and the response it reads, bounded. */
final class HttpWire {
    private HttpWire() {
    }

    /** A response's status and headers (names lower case, repeated headers joined with ", "). */
    record Head(int status, Map<String, String> headers) {
    }

    static byte[] requestHead(String method, GuardedHttpClient.Target target, Map<String, String> headers,
                              byte[] body, String userAgent) {
        StringBuilder sb = new StringBuilder(256);
        sb.append(method).append(' ').append(target.requestTarget()).append(" HTTP/1.1\r\n");
        sb.append("Host: ").append(target.hostHeader()).append("\r\n");
        if (!has(headers, "user-agent")) {
            sb.append("User-Agent: ").append(userAgent).append("\r\n");
        }
        if (!has(headers, "accept")) {
            sb.append("Accept: */*\r\n");
        }
        sb.append("Connection: close\r\n");
        if (body != null) {
            sb.append("Content-Length: ").append(body.length).append("\r\n");
        } else if (!method.equals("GET") && !method.equals("DELETE")) {
            sb.append("Content-Length: 0\r\n");
        }
        headers.forEach((k, v) -> sb.append(k).append(": ").append(v).append("\r\n"));
        sb.append("\r\n");
        // Header values are text the config checked for control characters; non-Latin-1 text is
        // sent as UTF-8, which servers pass through as opaque bytes.
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static boolean has(Map<String, String> headers, String lowerName) {
        for (String k : headers.keySet()) {
            if (k.toLowerCase(Locale.ROOT).equals(lowerName)) {
                return true;
            }
        }
        return false;
    }

    static Head readHead(InputStream in, URI uri) throws IOException, HttpException {
        int[] budget = {GuardedHttpClient.MAX_HEADER_BYTES};
        String statusLine = line(in, budget, uri);
        if (statusLine == null) {
            throw protocol(uri, "the server closed the connection without a response");
        }
        if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' ') {
            throw protocol(uri, "the server's response does not start with an HTTP/1.x status line");
        }
        int status;
        try {
            status = Integer.parseInt(statusLine.substring(9, 12));
        } catch (NumberFormatException e) {
            throw protocol(uri, "the server's status line has no valid status code");
        }
        if (status < 100 || status > 999) {
            throw protocol(uri, "the server's status line has no valid status code");
        }
        Map<String, String> headers = new LinkedHashMap<>();
        String last = null;
        int count = 0;
        while (true) {
            String l = line(in, budget, uri);
            if (l == null) {
                throw protocol(uri, "the server closed the connection inside the response headers");
            }
            if (l.isEmpty()) {
                return new Head(status, headers);
            }
            if ((l.charAt(0) == ' ' || l.charAt(0) == '\t') && last != null) {
                headers.put(last, headers.get(last) + " " + l.strip());  // obsolete line folding
                continue;
            }
            int colon = l.indexOf(':');
            if (colon <= 0) {
                throw protocol(uri, "the server sent a malformed response header");
            }
            if (++count > GuardedHttpClient.MAX_HEADERS) {
                throw new HttpException(HttpException.Kind.LIMIT, "HTTP response from " + uri + " has more than "
                        + GuardedHttpClient.MAX_HEADERS + " headers; the limit is " + GuardedHttpClient.MAX_HEADERS
                        + " (fixed)");
            }
            String name = l.substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = l.substring(colon + 1).strip();
            headers.merge(name, value, (a, b) -> a + ", " + b);
            last = name;
        }
    }

    /** A line without its CRLF (or LF), decoded as Latin-1; null at end of stream before any byte. */
    private static String line(InputStream in, int[] budget, URI uri) throws IOException, HttpException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int b = in.read();
            if (b < 0) {
                return sb.length() == 0 ? null : sb.toString();
            }
            if (--budget[0] < 0) {
                throw new HttpException(HttpException.Kind.LIMIT, "HTTP response headers from " + uri
                        + " are larger than " + GuardedHttpClient.MAX_HEADER_BYTES + " bytes; the limit is "
                        + GuardedHttpClient.MAX_HEADER_BYTES + " bytes (fixed)");
            }
            if (b == '\n') {
                int n = sb.length();
                return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
            }
            sb.append((char) b);
        }
    }

    /** The body: chunked, by Content-Length, or up to the end of the connection; at most {@code max} bytes. */
    static byte[] readBody(InputStream in, Head head, String method, int max, URI uri) throws IOException, HttpException {
        int status = head.status();
        if (method.equals("HEAD") || status == 204 || status == 304 || status < 200) {
            return new byte[0];
        }
        Limited out = new Limited(max, uri);
        try {
            readBodyInto(in, head, out, uri);
        } catch (OverLimit e) {
            throw out.overLimit();
        }
        return out.toByteArray();
    }

    private static void readBodyInto(InputStream in, Head head, Limited out, URI uri) throws IOException, HttpException {
        String te = head.headers().get("transfer-encoding");
        if (te != null && te.toLowerCase(Locale.ROOT).strip().endsWith("chunked")) {
            chunked(in, out, uri);
            return;
        }
        String cl = head.headers().get("content-length");
        if (cl != null) {
            String v = cl.contains(",") ? cl.substring(0, cl.indexOf(',')).strip() : cl.strip();
            if (!v.matches("[0-9]{1,18}") || (cl.contains(",") && !allSame(cl))) {
                throw protocol(uri, "the server sent an invalid Content-Length '" + cl + "'");
            }
            long length = Long.parseLong(v);
            if (length > out.max) {
                throw out.overLimit();
            }
            copy(in, out, length, uri);
            return;
        }
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
        }
    }

    private static boolean allSame(String list) {
        String first = null;
        for (String p : list.split(",")) {
            String v = p.strip();
            if (first == null) {
                first = v;
            } else if (!first.equals(v)) {
                return false;
            }
        }
        return true;
    }

    private static void chunked(InputStream in, Limited out, URI uri) throws IOException, HttpException {
        int[] budget = {GuardedHttpClient.MAX_HEADER_BYTES};
        while (true) {
            String sizeLine = line(in, budget, uri);
            if (sizeLine == null) {
                throw protocol(uri, "the server closed the connection inside a chunked body");
            }
            int semi = sizeLine.indexOf(';');
            String hex = (semi < 0 ? sizeLine : sizeLine.substring(0, semi)).strip();
            if (!hex.matches("[0-9A-Fa-f]{1,15}")) {
                throw protocol(uri, "the server sent a malformed chunk size");
            }
            long size = Long.parseLong(hex, 16);
            if (size == 0) {
                // Trailers, then the empty line.
                String trailer;
                do {
                    trailer = line(in, budget, uri);
                } while (trailer != null && !trailer.isEmpty());
                return;
            }
            if (out.size() + size > out.max) {
                throw out.overLimit();
            }
            copy(in, out, size, uri);
            String end = line(in, budget, uri);
            if (end == null || !end.isEmpty()) {
                throw protocol(uri, "the server sent a malformed chunk");
            }
            budget[0] = GuardedHttpClient.MAX_HEADER_BYTES;
        }
    }

    private static void copy(InputStream in, Limited out, long length, URI uri) throws IOException, HttpException {
        byte[] buf = new byte[8192];
        long left = length;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw protocol(uri, "the server closed the connection before the end of the body");
            }
            out.write(buf, 0, n);
            left -= n;
        }
    }

    private static HttpException protocol(URI uri, String what) {
        return new HttpException(HttpException.Kind.PROTOCOL, "HTTP response from " + uri + " is unusable: " + what);
    }

    /** A buffer that refuses to grow past the response limit. */
    private static final class Limited extends ByteArrayOutputStream {
        final int max;
        private final URI uri;

        Limited(int max, URI uri) {
            super(8192);
            this.max = max;
            this.uri = uri;
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            if ((long) count + len > max) {
                throw new OverLimit();
            }
            super.write(b, off, len);
        }

        HttpException overLimit() {
            return new HttpException(HttpException.Kind.LIMIT, "HTTP response body from " + uri
                    + " is larger than " + max + " bytes, the limit set by " + HttpSettings.MAX_RESPONSE_SETTING);
        }
    }

    /** Thrown by {@link Limited#write}; {@link #readBody} turns it into the limit's error. */
    static final class OverLimit extends RuntimeException {
        OverLimit() {
            super(null, null, false, false);
        }
    }
}
