package io.pgdurable.graph.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.IDN;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * An HTTP/1.1 client that checks where it connects before it connects. For each hop (the request,
 * then every redirect it follows) it resolves the URL's host once, checks every address it gets
 * with the {@link AddressPolicy} and refuses the request if any is refused, then connects to a
 * checked address, so no second look-up can hand it another address (DNS rebinding). For https it
 * layers TLS over that connection with the URL's host name for SNI and the certificate check.
 *
 * <p>Redirects (301, 302, 303, 307, 308) are followed by the client itself, at most
 * {@value #MAX_REDIRECTS} of them, each re-checked like the first hop; a 303, or a 301 or 302 of a
 * request other than GET, becomes a GET without a body, as browsers do. When a redirect leaves the
 * origin (scheme, host or port), the request's own headers are dropped: they often carry
 * credentials meant for the first host only.
 *
 * <p>The whole exchange, redirects included, must finish within the request's timeout: name
 * resolution, connecting, TLS, sending and reading. The response body is read up to the limit and
 * no further. One connection per request ({@code Connection: close}); no proxy; no compression
 * asked for. Why not {@code java.net.http.HttpClient}: it resolves names itself (Java 17 offers no
 * per-client resolver) and will not connect to a checked address under the URL's host name.
 */
public final class GuardedHttpClient {
    public static final int MAX_REDIRECTS = 5;
    static final int MAX_HEADER_BYTES = 64 * 1024;
    static final int MAX_HEADERS = 200;
    private static final int MAX_INTERIM_RESPONSES = 10;
    private static final Pattern DOTTED_IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
    private static final String USER_AGENT = "pg_durable/" + version();

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
    private final Connector connector;
    private final SSLSocketFactory tls;

    public GuardedHttpClient(AddressPolicy policy, Resolver resolver, Connector connector, SSLSocketFactory tls) {
        this.policy = policy;
        this.resolver = resolver;
        this.connector = connector;
        this.tls = tls;
    }

    /** The system resolver, plain sockets and the JVM's default TLS. */
    public static GuardedHttpClient system(AddressPolicy policy) {
        return new GuardedHttpClient(policy, Resolver.SYSTEM, Connector.SYSTEM,
                (SSLSocketFactory) SSLSocketFactory.getDefault());
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
        private volatile Socket socket;
        private volatile boolean aborted;
        private volatile boolean expired;

        private Call(Request request) {
            this.request = request;
        }

        /** Stops the request: its socket is closed and {@link #execute()} fails. Safe at any time. */
        public void abort() {
            aborted = true;
            closeQuietly(socket);
        }

        private void expire() {
            expired = true;
            closeQuietly(socket);
        }

        public Response execute() throws HttpException {
            long deadline = System.nanoTime() + request.timeout().toNanos();
            ScheduledFuture<?> watchdog = DEADLINES.schedule(this::expire, request.timeout().toNanos(),
                    TimeUnit.NANOSECONDS);
            try {
                return run(deadline);
            } catch (IOException e) {
                throw translate(e);
            } finally {
                watchdog.cancel(false);
                closeQuietly(socket);
            }
        }

        private HttpException translate(IOException e) {
            String what = request.method() + " " + request.uri();
            if (aborted) {
                return new HttpException(HttpException.Kind.ABORTED, "HTTP " + what + " was stopped: its step was cancelled");
            }
            if (expired || e instanceof SocketTimeoutException) {
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

        private Response exchange(Target target, String method, Map<String, String> headers, byte[] body,
                                  long deadline) throws IOException, HttpException {
            List<InetAddress> addresses = resolve(target, deadline);
            closeQuietly(socket);  // the previous hop's connection, after a redirect
            IOException last = null;
            for (InetAddress address : addresses) {
                try {
                    socket = connector.connect(new InetSocketAddress(address, target.port()), remaining(deadline));
                } catch (IOException e) {
                    last = e;
                    if (aborted || expired) {
                        throw e;
                    }
                    continue;
                }
                if (aborted || expired) {
                    throw new IOException("stopped");
                }
                Socket s = socket;
                if (target.tls()) {
                    s = startTls(s, target, deadline);
                }
                socket = s;
                OutputStream out = s.getOutputStream();
                out.write(HttpWire.requestHead(method, target, headers, body, USER_AGENT));
                if (body != null) {
                    out.write(body);
                }
                out.flush();
                InputStream in = new DeadlineInput(s, deadline);
                HttpWire.Head head = null;
                for (int interim = 0; interim <= MAX_INTERIM_RESPONSES; interim++) {
                    head = HttpWire.readHead(in, target.uri());
                    if (head.status() >= 200 || head.status() == 101) {
                        break;
                    }
                }
                if (head.status() < 200) {
                    throw new HttpException(HttpException.Kind.PROTOCOL, "HTTP " + method + " " + target.uri()
                            + ": the server answered with status " + head.status() + " and no final response");
                }
                byte[] bytes = HttpWire.readBody(in, head, method, request.maxResponseBytes(), target.uri());
                return new Response(head.status(), head.headers(), bytes, target.uri());
            }
            throw last == null ? new IOException("no address to connect to") : last;
        }

        private List<InetAddress> resolve(Target target, long deadline) throws HttpException, IOException {
            AddressPolicy.Refusal named = policy.refuseName(target.host());
            if (named != null) {
                throw refused(target, named, true);
            }
            List<InetAddress> addresses;
            if (target.literal() != null) {
                addresses = List.of(target.literal());
            } else {
                Future<List<InetAddress>> lookup = LOOKUPS.submit(() -> resolver.resolve(target.host()));
                try {
                    addresses = lookup.get(remaining(deadline).toNanos(), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    lookup.cancel(true);
                    throw timeout();
                } catch (InterruptedException e) {
                    lookup.cancel(true);
                    Thread.currentThread().interrupt();
                    throw new HttpException(HttpException.Kind.ABORTED, "HTTP request to " + target.uri() + " was interrupted");
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UnknownHostException) {
                        throw new HttpException(HttpException.Kind.NETWORK, "HTTP request to " + target.uri()
                                + " failed: host '" + target.host() + "' could not be resolved");
                    }
                    throw new IOException(e.getCause());
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
            return addresses;
        }

        private Socket startTls(Socket plain, Target target, long deadline) throws IOException {
            SSLSocket s = (SSLSocket) tls.createSocket(plain, target.host(), target.port(), true);
            SSLParameters params = s.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            if (target.literal() == null) {
                params.setServerNames(List.of(new SNIHostName(target.host())));
            }
            s.setSSLParameters(params);
            socket = s;
            s.setSoTimeout(timeoutMillis(deadline));
            s.startHandshake();
            return s;
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
        String hostHeader() {
            String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
            int defaultPort = tls ? 443 : 80;
            return port == defaultPort ? h : h + ":" + port;
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

    private static String describe(IOException e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    private static void closeQuietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing to stop: nothing more to do
            }
        }
    }

    private static String version() {
        String v = GuardedHttpClient.class.getPackage() == null ? null
                : GuardedHttpClient.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** Reads from a socket, each read bounded by the time left before the deadline. */
    private static final class DeadlineInput extends InputStream {
        private final Socket socket;
        private final InputStream in;
        private final long deadline;

        DeadlineInput(Socket socket, long deadline) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.deadline = deadline;
        }

        private void arm() throws IOException {
            if (deadline - System.nanoTime() <= 0) {
                throw new SocketTimeoutException("deadline passed");
            }
            socket.setSoTimeout(timeoutMillis(deadline));
        }

        @Override
        public int read() throws IOException {
            arm();
            return in.read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            arm();
            return in.read(b, off, len);
        }
    }
}
