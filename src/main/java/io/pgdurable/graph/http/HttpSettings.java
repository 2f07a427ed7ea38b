package io.pgdurable.graph.http;

/**
 * The operator's HTTP settings: the allow-list and the size limits. They come from the server's
 * configuration files ({@code postgresql.conf} or {@code ALTER SYSTEM}), read by the worker before
 * each HTTP step, and from the worker's command line; never from a caller's session.
 *
 * @param allowList        hosts and networks let through the address policy ({@value AllowList#SETTING})
 * @param maxResponseBytes the largest response body read ({@value #MAX_RESPONSE_SETTING})
 * @param maxRequestBytes  the largest request body sent, after substitution ({@value #MAX_REQUEST_SETTING})
 */
public record HttpSettings(AllowList allowList, int maxResponseBytes, int maxRequestBytes) {
    public static final String MAX_RESPONSE_SETTING = "pg_durable.http_max_response_bytes";
    public static final String MAX_REQUEST_SETTING = "pg_durable.http_max_request_bytes";
    public static final int DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
    public static final int LOWEST_MAX_BYTES = 1024;
    public static final int HIGHEST_MAX_BYTES = 100 * 1024 * 1024;

    public HttpSettings {
        allowList = allowList == null ? AllowList.EMPTY : allowList;
        check(MAX_RESPONSE_SETTING, maxResponseBytes);
        check(MAX_REQUEST_SETTING, maxRequestBytes);
    }

    /** No allow-list, 10 MiB each way. */
    public static HttpSettings defaults() {
        return new HttpSettings(AllowList.EMPTY, DEFAULT_MAX_BYTES, DEFAULT_MAX_BYTES);
    }

    /**
     * The settings as the server's configuration gives them (null or blank: the default).
     *
     * @throws IllegalArgumentException naming the setting and the value when one is malformed
     */
    public static HttpSettings fromConfiguration(String allowed, String maxResponse, String maxRequest) {
        return new HttpSettings(AllowList.parse(allowed, AllowList.SETTING),
                bytes(MAX_RESPONSE_SETTING, maxResponse), bytes(MAX_REQUEST_SETTING, maxRequest));
    }

    /** These settings with {@code extra} entries on the allow-list. */
    public HttpSettings allowing(AllowList extra) {
        return new HttpSettings(allowList.with(extra), maxResponseBytes, maxRequestBytes);
    }

    private static int bytes(String name, String raw) {
        if (raw == null || raw.isBlank()) {
            return DEFAULT_MAX_BYTES;
        }
        String v = raw.strip();
        if (!v.matches("[0-9]{1,10}") || Long.parseLong(v) > HIGHEST_MAX_BYTES || Long.parseLong(v) < LOWEST_MAX_BYTES) {
            throw new IllegalArgumentException(message(name, raw));
        }
        return Integer.parseInt(v);
    }

    private static void check(String name, int value) {
        if (value < LOWEST_MAX_BYTES || value > HIGHEST_MAX_BYTES) {
            throw new IllegalArgumentException(message(name, String.valueOf(value)));
        }
    }

    private static String message(String name, String raw) {
        return name + " must be a whole number of bytes between " + LOWEST_MAX_BYTES + " and " + HIGHEST_MAX_BYTES
                + ", got '" + raw + "'";
    }
}
