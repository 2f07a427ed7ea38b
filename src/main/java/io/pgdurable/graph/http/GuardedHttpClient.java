package io.pgdurable.graph.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.IDN;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.apache.hc.client5.http.ClientProtocolException;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.DefaultSchemePortResolver;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.BasicHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.DefaultHttpClientConnectionOperator;
import org.apache.hc.client5.http.impl.io.ManagedHttpClientConnectionFactory;
import org.apache.hc.client5.http.io.DetachedSocketFactory;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.HostnameVerificationPolicy;
import org.apache.hc.client5.http.ssl.HttpsSupport;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ConnectionClosedException;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.MalformedChunkCodingException;
import org.apache.hc.core5.http.MessageConstraintException;
import org.apache.hc.core5.http.NoHttpResponseException;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.net.URIAuthority;
import org.apache.hc.core5.util.Timeout;

/**
 * HTTP requests that check where they connect before they connect, on Apache HttpClient 5.
 *
 * <p>For each hop (the request, then every redirect it follows) the client resolves the URL's host
 * once through its {@link Resolver}, checks every address it gets with the {@link AddressPolicy}
 * and refuses the request if any is refused. Only then does HttpClient run the hop, with a
 * {@link DnsResolver} that answers with those checked addresses for that host and refuses any other
 * name, so no second look-up can hand it another address (DNS rebinding). An IP literal in the URL
 * is checked the same way without a look-up. TLS uses the URL's host name for SNI and the
 * certificate check (by the JDK and by HttpClient's verifier), though the connection goes to the
 * checked address. Each hop has a client and connection of its own, closed when the hop ends, so a
 * connection is never reused across two checks.
 *
 * <p>Redirects (301, 302, 303, 307, 308) are followed by this class, not HttpClient, at most
 * {@value #MAX_REDIRECTS} of them, each re-checked like the first hop; a 303, or a 301 or 302 of a
 * request other than GET, becomes a GET without a body, as browsers do. When a redirect leaves the
 * origin (scheme, host or port), the request's own headers are dropped: they often carry
 * credentials meant for the first host only.
 *
 * <p>The whole exchange, redirects included, must finish within the request's timeout: name
 * resolution, connecting, TLS, sending and reading. The response body is read up to the limit and
 * no further; response headers are bounded too. {@code Connection: close}; no proxy (system
 * properties are not read); no compression asked for; no cookies, authentication or retries. Why not
 * {@code java.net.http.HttpClient}: it resolves names itself (Java 17 offers no per-client
 * resolver) and will not connect to a checked address under the URL's host name.
 */
public final class GuardedHttpClient {
    public static final int MAX_REDIRECTS = 5;
    static final int MAX_HEADER_BYTES = 64 * 1024;
    static final int MAX_HEADERS = 200;
    private static final Pattern DOTTED_IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
    private static final String USER_AGENT = "pg_durable/" + version();

    /** Plain, unconnected sockets with no proxy; HttpClient connects them to the checked address. */
    public static final DetachedSocketFactory PLAIN_SOCKETS = proxy -> new Socket(Proxy.NO_PROXY);

    private static final ExecutorService LOOKUPS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "pg_durable-http-resolve");
        t.setDaemon(true);
        return t;
    });
    private static final ScheduledExecutorService DEADLINES = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pg_durable-http-deadline");
        t.setDaemon(true);
        return t;
    });

    private final AddressPolicy policy;
    private final Resolver resolver;
    private final DetachedSocketFactory sockets;
    private final SSLContext tls;

    /**
     * @param sockets where HttpClient gets its unconnected sockets ({@link #PLAIN_SOCKETS} outside
     *                tests; a test passes one whose sockets record the address and never dial)
     * @param tls     trust and keys for https
     */
    public GuardedHttpClient(AddressPolicy policy, Resolver resolver, DetachedSocketFactory sockets, SSLContext tls) {
        this.policy = policy;
        this.resolver = resolver;
        this.sockets = sockets;
        this.tls = tls;
    }

    static SSLContext defaultTls() {
        try {
            return SSLContext.getDefault();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no default TLS context", e);
        }
    }

    /**
     * A request. {@code headers} are sent in order after the client's own ({@code Host},
     * {@code User-Agent} and {@code Accept} unless given, {@code Connection}, {@code Content-Length}).
     */
    public record Request(String method, URI uri, Map<String, String> headers, byte[] body, Duration timeout,
                          int maxResponseBytes) {
    }

    /**
     * A final response (after redirects). Header names are lower case; a header sent more than once
     * has its values joined with ", ".
     */
    public record Response(int status, Map<String, String> headers, byte[] body, URI uri) {
    }

    /** One request in flight: {@link #abort()} stops it from another thread. */
    public final class Call {
        private final Request request;
        private final Object lock = new Object();
        private HttpUriRequestBase inFlight;
        private CloseableHttpClient client;
        private Future<List<InetAddress>> lookup;
        private volatile boolean aborted;
        private volatile boolean expired;

        private Call(Request request) {
            this.request = request;
        }

        /** Stops the request: its connection is closed and {@link #execute()} fails. Safe at any time. */
        public void abort() {
            aborted = true;
            stop();
        }

        private void expire() {
            expired = true;
            stop();
        }

        private void stop() {
            synchronized (lock) {
                if (lookup != null) {
                    lookup.cancel(true);
                }
                if (inFlight != null) {
                    inFlight.cancel();
                }
                if (client != null) {
                    client.close(CloseMode.IMMEDIATE);
                }
            }
        }

        private boolean stopped() {
            return aborted || expired;
        }

        public Response execute() throws HttpException {
            long deadline = System.nanoTime() + request.timeout().toNanos();
            ScheduledFuture<?> watchdog = DEADLINES.schedule(this::expire, request.timeout().toNanos(),
                    TimeUnit.NANOSECONDS);
            try {
                return run(deadline);
            } catch (IOException | CancellationException e) {
                throw translate(e);
            } finally {
                watchdog.cancel(false);
                synchronized (lock) {
                    inFlight = null;
                    lookup = null;
                    client = null;
                }
            }
        }

        private HttpException translate(Exception e) {
            String what = request.method() + " " + request.uri();
            if (aborted) {
                return new HttpException(HttpException.Kind.ABORTED, "HTTP " + what + " was stopped: its step was cancelled");
            }
            if (expired || e instanceof InterruptedIOException) {
                return timeout();
            }
            return new HttpException(HttpException.Kind.NETWORK, "HTTP " + what + " failed: " + describe(e), e);
        }

        private HttpException timeout() {
            return new HttpException(HttpException.Kind.TIMEOUT, "HTTP timeout after " + request.timeout().toSeconds()
                    + "s: " + request.method() + " " + request.uri() + " did not complete within the step's"
                    + " timeout_seconds (" + request.timeout().toSeconds() + ")");
        }

        private Response run(long deadline) throws IOException, HttpException {
            URI uri = request.uri();
            String method = request.method();
            byte[] body = request.body();
            Map<String, String> headers = request.headers();
            for (int hop = 0; ; hop++) {
                Target target = target(uri);
                Response response = exchange(target, method, headers, body, deadline);
                String location = response.headers().get("location");
                if (!isRedirect(response.status()) || location == null) {
                    return response;
                }
                if (hop >= MAX_REDIRECTS) {
                    throw new HttpException(HttpException.Kind.LIMIT, "HTTP " + request.method() + " " + request.uri()
                            + " was redirected more than " + MAX_REDIRECTS + " times; the limit is " + MAX_REDIRECTS
                            + " redirects (fixed)");
                }
                URI next;
                try {
                    next = uri.resolve(new URI(location.strip()));
                } catch (URISyntaxException | IllegalArgumentException e) {
                    throw new HttpException(HttpException.Kind.PROTOCOL, "HTTP " + method + " " + uri
                            + " redirected to an invalid URL: " + location);
                }
                int status = response.status();
                if (status == 303 || ((status == 301 || status == 302) && !method.equals("GET"))) {
                    method = "GET";
                    body = null;
                    headers = withoutBodyHeaders(headers);
                }
                if (!sameOrigin(uri, next)) {
                    headers = Map.of();
                }
                uri = next;
            }
        }

        /** One hop: check the target's addresses, then send the request to them and read the response. */
        private Response exchange(Target target, String method, Map<String, String> headers, byte[] body,
                                  long deadline) throws IOException, HttpException {
            List<InetAddress> addresses = resolve(target, deadline);
            Timeout left = Timeout.ofMilliseconds(timeoutMillis(deadline));
            HttpUriRequestBase http = new HttpUriRequestBase(method, target.uri());
            http.setScheme(target.tls() ? "https" : "http");
            http.setAuthority(new URIAuthority(target.host(), target.explicitPort()));
            http.setPath(target.requestTarget());
            http.setConfig(RequestConfig.custom()
                    .setRedirectsEnabled(false)
                    .setAuthenticationEnabled(false)
                    .setContentCompressionEnabled(false)
                    .setExpectContinueEnabled(false)
                    .setProtocolUpgradeEnabled(false)
                    .setHardCancellationEnabled(true)
                    .setConnectionRequestTimeout(left)
                    .setResponseTimeout(left)
                    .build());
            if (!has(headers, "accept")) {
                http.addHeader("Accept", "*/*");
            }
            http.addHeader("Connection", "close");
            // Header values are text the step's checks kept free of control characters; text outside
            // Latin-1 is sent as UTF-8, which servers pass through as opaque bytes.
            headers.forEach((k, v) -> http.addHeader(k, utf8Bytes(v)));
            if (body != null) {
                http.setEntity(new ByteArrayEntity(body, null));
            } else if (!method.equals("GET") && !method.equals("DELETE")) {
                http.setEntity(new ByteArrayEntity(new byte[0], null));
            }

            CloseableHttpClient hopClient = newClient(target, addresses, left);
            synchronized (lock) {
                client = hopClient;
                inFlight = http;
            }
            try (hopClient) {
                if (stopped()) {
                    throw new InterruptedIOException("stopped");
                }
                HttpHost host = new HttpHost(target.tls() ? "https" : "http", target.host(), target.port());
                try (ClassicHttpResponse response = hopClient.executeOpen(host, http, HttpClientContext.create())) {
                    Map<String, String> responseHeaders = headers(response, target.uri());
                    int code = response.getCode();
                    byte[] bytes = method.equals("HEAD") || code == 204 || code == 304 ? new byte[0]
                            : readBody(response.getEntity(), request.maxResponseBytes(), target.uri());
                    return new Response(response.getCode(), responseHeaders, bytes, target.uri());
                }
            } catch (MessageConstraintException e) {
                throw headerLimit(target.uri(), e);
            } catch (ClientProtocolException | MalformedChunkCodingException | NoHttpResponseException
                     | ConnectionClosedException e) {
                if (stopped()) {
                    throw e;
                }
                throw protocol(target.uri(), describe(e));
            } catch (IllegalStateException e) {
                // The hop's client was closed by abort() or the deadline just before it started.
                if (stopped()) {
                    throw new InterruptedIOException("stopped");
                }
                throw e;
            } finally {
                synchronized (lock) {
                    client = null;
                    inFlight = null;
                }
            }
        }

        /** The host's addresses, each checked; a refused one refuses the request. */
        private List<InetAddress> resolve(Target target, long deadline) throws HttpException, IOException {
            AddressPolicy.Refusal named = policy.refuseName(target.host());
            if (named != null) {
                throw refused(target, named, true);
            }
            List<InetAddress> addresses;
            if (target.literal() != null) {
                addresses = List.of(target.literal());
            } else {
                Future<List<InetAddress>> pending = LOOKUPS.submit(() -> resolver.resolve(target.host()));
                synchronized (lock) {
                    lookup = pending;
                }
                if (stopped()) {
                    pending.cancel(true);
                }
                try {
                    addresses = pending.get(remaining(deadline).toNanos(), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    pending.cancel(true);
                    throw timeout();
                } catch (InterruptedException e) {
                    pending.cancel(true);
                    Thread.currentThread().interrupt();
                    throw new HttpException(HttpException.Kind.ABORTED, "HTTP request to " + target.uri() + " was interrupted");
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UnknownHostException) {
                        throw new HttpException(HttpException.Kind.NETWORK, "HTTP request to " + target.uri()
                                + " failed: host '" + target.host() + "' could not be resolved");
                    }
                    throw new IOException(e.getCause());
                } finally {
                    synchronized (lock) {
                        lookup = null;
                    }
                }
            }
            if (addresses == null || addresses.isEmpty()) {
                throw new HttpException(HttpException.Kind.NETWORK, "HTTP request to " + target.uri()
                        + " failed: host '" + target.host() + "' has no address");
            }
            // Every address is checked, not only the one used: a name that mixes public and internal
            // addresses is refused as a whole.
            for (InetAddress a : addresses) {
                AddressPolicy.Refusal refusal = policy.refuse(target.host(), a);
                if (refusal != null) {
                    throw refused(target, refusal, target.literal() != null);
                }
            }
            return List.copyOf(addresses);
        }
    }

    /**
     * A client for one hop: it can reach the checked addresses of the hop's host and nothing else,
     * holds at most one connection, and is closed when the hop ends.
     */
    private CloseableHttpClient newClient(Target target, List<InetAddress> checked, Timeout left) {
        TlsSocketStrategy tlsStrategy = new DefaultClientTlsStrategy(tls, HostnameVerificationPolicy.BOTH,
                HttpsSupport.getDefaultHostnameVerifier());
        DefaultHttpClientConnectionOperator operator = new DefaultHttpClientConnectionOperator(sockets,
                DefaultSchemePortResolver.INSTANCE, new CheckedAddresses(target.host(), checked),
                RegistryBuilder.<TlsSocketStrategy>create().register("https", tlsStrategy).build());
        ManagedHttpClientConnectionFactory connections = ManagedHttpClientConnectionFactory.builder()
                .http1Config(Http1Config.custom()
                        .setMaxHeaderCount(MAX_HEADERS)
                        .setMaxLineLength(MAX_HEADER_BYTES)
                        .build())
                .build();
        BasicHttpClientConnectionManager manager = new BasicHttpClientConnectionManager(operator, connections);
        manager.setSocketConfig(SocketConfig.custom().setSoTimeout(left).build());
        manager.setConnectionConfig(ConnectionConfig.custom().setConnectTimeout(left).setSocketTimeout(left).build());
        manager.setTlsConfig(TlsConfig.custom().setHandshakeTimeout(left).build());
        return HttpClients.custom()
                .setConnectionManager(manager)
                .disableRedirectHandling()
                .disableAutomaticRetries()
                .disableContentCompression()
                .disableCookieManagement()
                .disableAuthCaching()
                .disableConnectionState()
                .setUserAgent(USER_AGENT)
                .build();
    }

    /**
     * Name resolution inside HttpClient: the checked addresses of the one host the hop goes to, and
     * an error for any other name, so HttpClient cannot look a name up again and get another answer.
     */
    static final class CheckedAddresses implements DnsResolver {
        private final String host;
        private final List<InetAddress> addresses;

        CheckedAddresses(String host, List<InetAddress> addresses) {
            this.host = host;
            this.addresses = List.copyOf(addresses);
        }

        private void check(String name) throws UnknownHostException {
            String n = name == null ? "" : name;
            if (n.startsWith("[") && n.endsWith("]")) {
                n = n.substring(1, n.length() - 1);
            }
            if (!n.equalsIgnoreCase(host)) {
                throw new UnknownHostException("'" + name + "' is not the checked host '" + host + "'");
            }
        }

        @Override
        public InetAddress[] resolve(String name) throws UnknownHostException {
            check(name);
            return addresses.toArray(new InetAddress[0]);
        }

        @Override
        public List<InetSocketAddress> resolve(String name, int port) throws UnknownHostException {
            check(name);
            List<InetSocketAddress> out = new ArrayList<>(addresses.size());
            for (InetAddress a : addresses) {
                out.add(new InetSocketAddress(a, port));
            }
            return out;
        }

        @Override
        public String resolveCanonicalHostname(String name) throws UnknownHostException {
            check(name);
            return host;
        }
    }

    /** Starts a request; run it with {@link Call#execute()}. */
    public Call newCall(Request request) {
        return new Call(request);
    }

    /** Sends a request and waits for its response. */
    public Response send(Request request) throws HttpException {
        return newCall(request).execute();
    }

    /** Response headers: names lower case, repeated ones joined with ", ", within the size limit. */
    private static Map<String, String> headers(ClassicHttpResponse response, URI uri) throws HttpException {
        Map<String, String> out = new LinkedHashMap<>();
        long size = 0;
        for (Header h : response.getHeaders()) {
            size += h.getName().length() + h.getValue().length() + 4;
            if (size > MAX_HEADER_BYTES) {
                throw headerBytesLimit(uri);
            }
            out.merge(h.getName().toLowerCase(Locale.ROOT), h.getValue().strip(), (a, b) -> a + ", " + b);
        }
        return out;
    }

    /** The body, at most the request's limit: refused outright when its declared length is larger. */
    private static byte[] readBody(HttpEntity entity, int max, URI uri) throws IOException, HttpException {
        if (entity == null) {
            return new byte[0];
        }
        long declared = entity.getContentLength();
        if (declared > max) {
            throw overLimit(uri, max);
        }
        try (InputStream in = entity.getContent()) {
            if (in == null) {
                return new byte[0];
            }
            byte[] bytes = in.readNBytes(max);
            if (bytes.length == max && in.read() >= 0) {
                throw overLimit(uri, max);
            }
            return bytes;
        }
    }

    private static HttpException overLimit(URI uri, int max) {
        return new HttpException(HttpException.Kind.LIMIT, "HTTP response body from " + uri
                + " is larger than " + max + " bytes, the limit set by " + HttpSettings.MAX_RESPONSE_SETTING);
    }

    private static HttpException headerBytesLimit(URI uri) {
        return new HttpException(HttpException.Kind.LIMIT, "HTTP response headers from " + uri
                + " are larger than " + MAX_HEADER_BYTES + " bytes; the limit is " + MAX_HEADER_BYTES + " bytes (fixed)");
    }

    private static HttpException headerLimit(URI uri, MessageConstraintException e) {
        String m = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
        if (m.contains("header count")) {
            return new HttpException(HttpException.Kind.LIMIT, "HTTP response from " + uri + " has more than "
                    + MAX_HEADERS + " headers; the limit is " + MAX_HEADERS + " (fixed)");
        }
        return headerBytesLimit(uri);
    }

    private static HttpException protocol(URI uri, String what) {
        return new HttpException(HttpException.Kind.PROTOCOL, "HTTP response from " + uri + " is unusable: " + what);
    }

    private static boolean has(Map<String, String> headers, String lowerName) {
        for (String k : headers.keySet()) {
            if (k.toLowerCase(Locale.ROOT).equals(lowerName)) {
                return true;
            }
        }
        return false;
    }

    /** The UTF-8 bytes of a header value, one char per byte: HttpClient writes each char as its low byte. */
    private static String utf8Bytes(String value) {
        return new String(value.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    }

    private static HttpException refused(Target target, AddressPolicy.Refusal refusal, boolean itself) {
        String how = itself ? "it is " : "it resolves to ";
        String rule = refusal.metadata()
                ? "HTTP steps may never reach cloud metadata services"
                : "HTTP steps may not reach loopback, private, link-local, multicast or other non-public addresses"
                        + " unless the operator allows the host in " + AllowList.SETTING + " (or the worker's "
                        + AllowList.OPTION + ")";
        return new HttpException(HttpException.Kind.REFUSED, "Blocked: refused to connect to '" + target.host()
                + "' for " + target.uri() + ": " + how + refusal.what() + "; " + rule);
    }

    /** Where one hop goes: scheme, host (as the URL has it), port, and the address when the host is an IP literal. */
    record Target(URI uri, boolean tls, String host, int port, InetAddress literal) {
        /** The port as the Host header names it: none when it is the scheme's default. */
        int explicitPort() {
            return port == (tls ? 443 : 80) ? -1 : port;
        }

        /** The path and query, percent-encoded where the URL holds characters outside ASCII. */
        String requestTarget() {
            URI ascii = URI.create(uri.toASCIIString());
            String path = ascii.getRawPath();
            String target = path == null || path.isEmpty() ? "/" : path;
            return ascii.getRawQuery() == null ? target : target + "?" + ascii.getRawQuery();
        }
    }

    /**
     * The target of a URL: an http or https URL with a host and no user information.
     *
     * @throws HttpException naming the URL when it is none of that
     */
    static Target target(URI uri) throws HttpException {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new HttpException(HttpException.Kind.REFUSED, "Blocked: unsupported URL scheme '" + scheme
                    + "' in " + uri + ". Only http and https are allowed.");
        }
        if (uri.getRawUserInfo() != null) {
            throw new HttpException(HttpException.Kind.REFUSED, "Blocked: the URL " + uri
                    + " carries user information (user:password@); put credentials in a header instead");
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw new HttpException(HttpException.Kind.PROTOCOL, "the URL " + uri + " has no valid host name");
        }
        InetAddress literal = null;
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
            literal = parseLiteral(host);
        } else if (DOTTED_IPV4.matcher(host).matches()) {
            literal = parseLiteral(host);
        } else {
            try {
                host = IDN.toASCII(host, IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
            } catch (IllegalArgumentException e) {
                throw new HttpException(HttpException.Kind.PROTOCOL, "the URL " + uri + " has no valid host name");
            }
        }
        int port = uri.getPort() < 0 ? (scheme.equals("https") ? 443 : 80) : uri.getPort();
        return new Target(uri, scheme.equals("https"), host, port, literal);
    }

    private static InetAddress parseLiteral(String host) throws HttpException {
        try {
            // An IP literal: parsed, never looked up (the caller checked its form).
            return InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new HttpException(HttpException.Kind.PROTOCOL, "'" + host + "' is not a valid IP address");
        }
    }

    static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    private static boolean sameOrigin(URI a, URI b) {
        try {
            Target x = target(a);
            Target y = target(b);
            return x.tls() == y.tls() && x.host().equals(y.host()) && x.port() == y.port();
        } catch (HttpException e) {
            return false;
        }
    }

    private static Map<String, String> withoutBodyHeaders(Map<String, String> headers) {
        Map<String, String> out = new LinkedHashMap<>();
        headers.forEach((k, v) -> {
            if (!k.toLowerCase(Locale.ROOT).startsWith("content-")) {
                out.put(k, v);
            }
        });
        return out;
    }


    static Duration remaining(long deadline) {
        long left = deadline - System.nanoTime();
        return Duration.ofNanos(Math.max(1_000_000L, left));
    }

    static int timeoutMillis(long deadline) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, remaining(deadline).toMillis()));
    }

    private static String describe(Exception e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    private static String version() {
        String v = GuardedHttpClient.class.getPackage() == null ? null
                : GuardedHttpClient.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
