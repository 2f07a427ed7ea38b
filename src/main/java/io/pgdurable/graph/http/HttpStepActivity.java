package io.pgdurable.graph.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.engine.Activity;
import io.pgdurable.engine.ActivityContext;
import io.pgdurable.graph.step.StepFailedException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;
import javax.sql.DataSource;
import org.apache.hc.client5.http.io.DetachedSocketFactory;

/**
 * Runs one HTTP or HTTP_MULTIPART step: checks that the submitting role still holds its HTTP grant,
 * reads the operator's settings, sends the request through a {@link GuardedHttpClient} and returns
 * the {@link ResponseEnvelope}. A 5xx response fails the step (its error quotes the start of the
 * body); any other status is returned for the workflow to look at ({@code $resp.status},
 * {@code $resp.ok}).
 *
 * <p>An HTTP step is at least once: a worker that dies after the request and before its completion
 * commits leaves the step to be tried again, and the request is sent again. The
 * {@value HttpTemplate#IDEMPOTENCY_KEY} placeholder gives a key that is the same for every try of
 * one step run, for servers that deduplicate by an idempotency header.
 */
public final class HttpStepActivity implements Activity {
    /**
     * The JDK module HttpClient's connection code links against (for TCP keep-alive options). A JVM
     * started around a named module, as PL/Java's is, resolves it only when asked to.
     */
    static final String NETWORK_MODULE = "jdk.net";
    private static final boolean NETWORK_MODULE_LOADED = ModuleLayer.boot().findModule(NETWORK_MODULE).isPresent();

    public static final String NAME = "df.http";

    /**
     * The role's grant and the operator's settings, in one round trip on the worker's own
     * connection. The settings come from the server's configuration files only: a SET, ALTER
     * DATABASE ... SET or ALTER ROLE ... SET of them is ignored. Schema-qualified throughout.
     */
    private static final String SETTINGS = """
            SELECT pg_catalog.has_function_privilege(?::pg_catalog.oid,
                       ?::pg_catalog.regprocedure::pg_catalog.oid, 'EXECUTE'),
                   (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) ?::pg_catalog.oid),
                   s.allowed, s.max_response, s.max_request
              FROM (SELECT max(f.setting) FILTER (WHERE f.name OPERATOR(pg_catalog.=) 'pg_durable.http_allowed_hosts') AS allowed,
                           max(f.setting) FILTER (WHERE f.name OPERATOR(pg_catalog.=) 'pg_durable.http_max_response_bytes') AS max_response,
                           max(f.setting) FILTER (WHERE f.name OPERATOR(pg_catalog.=) 'pg_durable.http_max_request_bytes') AS max_request
                      FROM (SELECT DISTINCT ON (pg_catalog.lower(c.name)) pg_catalog.lower(c.name) AS name, c.setting
                              FROM pg_catalog.pg_file_settings c
                             WHERE pg_catalog.lower(c.name) OPERATOR(pg_catalog.=) ANY (ARRAY['pg_durable.http_allowed_hosts',
                                   'pg_durable.http_max_response_bytes', 'pg_durable.http_max_request_bytes'])
                               AND c.applied
                             ORDER BY pg_catalog.lower(c.name), c.seqno DESC) f) s
            """;
    private static final Logger LOG = Logger.getLogger(HttpStepActivity.class.getName());
    /** insufficient_privilege */
    private static final String NO_PRIVILEGE = "42501";

    private final Supplier<DataSource> control;
    private final AllowList workerAllowList;
    private final Resolver resolver;
    private final DetachedSocketFactory sockets;
    private final SSLContext tls;

    /**
     * @param control         the worker's pool (for the grant and settings look-up)
     * @param workerAllowList entries from the worker's command line, added to the configuration's
     * @param resolver        name resolution ({@link Resolver#SYSTEM} outside tests)
     * @param sockets         unconnected sockets for the client ({@link GuardedHttpClient#PLAIN_SOCKETS}
     *                        outside tests)
     * @param tls             trust and keys for https
     */
    public HttpStepActivity(Supplier<DataSource> control, AllowList workerAllowList, Resolver resolver,
                            DetachedSocketFactory sockets, SSLContext tls) {
        this.control = control;
        this.workerAllowList = workerAllowList == null ? AllowList.EMPTY : workerAllowList;
        this.resolver = resolver;
        this.sockets = sockets;
        this.tls = tls;
    }

    public static HttpStepActivity system(Supplier<DataSource> control, AllowList workerAllowList) {
        return on(HttpNetwork.SYSTEM, control, workerAllowList);
    }

    /** Requests over {@code network}: {@link HttpNetwork#SYSTEM} in the worker, a closed one in tests. */
    public static HttpStepActivity on(HttpNetwork network, Supplier<DataSource> control, AllowList workerAllowList) {
        return new HttpStepActivity(control, workerAllowList, network.resolver(), network.sockets(),
                GuardedHttpClient.defaultTls());
    }

    @Override
    public Object run(ActivityContext ctx) throws Exception {
        HttpStepInput step = ctx.input(HttpStepInput.class);
        String what = step.method() + " " + step.url();
        if (!NETWORK_MODULE_LOADED) {
            throw new StepFailedException("HTTP " + what + " cannot run in this JVM: HTTP steps need the module "
                    + NETWORK_MODULE + ", which it has not loaded. Under PL/Java add --add-modules=" + NETWORK_MODULE
                    + " to pljava.vmoptions (operator guide, section 1.5)", "55000", null);
        }
        HttpSettings settings = settings(step);

        Map<String, String> headers = new LinkedHashMap<>();
        String key = null;
        for (Map.Entry<String, String> h : (step.headers() == null ? Map.<String, String>of() : step.headers()).entrySet()) {
            String value = h.getValue();
            if (value.contains(HttpTemplate.IDEMPOTENCY_KEY)) {
                key = key == null ? idempotencyKey(ctx) : key;
                value = value.replace(HttpTemplate.IDEMPOTENCY_KEY, key);
            }
            headers.put(h.getKey(), value);
        }
        byte[] body = null;
        if (step.multipart()) {
            Multipart.Encoded encoded;
            try {
                encoded = Multipart.encode(step.parts());
            } catch (IllegalArgumentException e) {
                throw new StepFailedException(e.getMessage());
            }
            headers.put("Content-Type", encoded.contentType());
            body = encoded.body();
        } else if (step.body() != null) {
            body = step.body().getBytes(StandardCharsets.UTF_8);
        }
        if (body != null && body.length > settings.maxRequestBytes()) {
            throw new StepFailedException("HTTP " + what + ": the request body is " + body.length
                    + " bytes, more than the limit of " + settings.maxRequestBytes() + " bytes set by "
                    + HttpSettings.MAX_REQUEST_SETTING, "54000", null);
        }

        GuardedHttpClient client = new GuardedHttpClient(new AddressPolicy(settings.allowList()), resolver, sockets, tls);
        GuardedHttpClient.Request request = new GuardedHttpClient.Request(step.method(), URI.create(step.url()), headers,
                body, Duration.ofSeconds(step.timeoutSeconds()), settings.maxResponseBytes());
        GuardedHttpClient.Call call = client.newCall(request);
        long started = System.nanoTime();
        GuardedHttpClient.Response response;
        try (ActivityContext.Registration stop = ctx.onLeaseLost(call::abort)) {
            response = call.execute();
        } catch (HttpException e) {
            if (e.kind() == HttpException.Kind.REFUSED) {
                // Someone's workflow aimed at an address it may not reach: worth the operator's notice.
                LOG.info(() -> "HTTP node " + step.nodeId() + " of instance " + step.instanceId() + " (role "
                        + step.role() + ") was refused: " + e.getMessage());
            }
            throw new StepFailedException(e.getMessage(), e.kind() == HttpException.Kind.LIMIT ? "54000" : null, null);
        }
        long millis = Duration.ofNanos(System.nanoTime() - started).toMillis();
        ObjectNode envelope = ResponseEnvelope.of(response, millis);
        if (response.status() >= 500) {
            ResponseEnvelope.Body b = new ResponseEnvelope.Body(envelope.path("body").asText(),
                    envelope.path("encoding").asText());
            throw new StepFailedException("HTTP " + what + " returned " + response.status() + ": "
                    + ResponseEnvelope.preview(b));
        }
        return envelope;
    }

    /**
     * The step's idempotency key: a digest of the engine instance, generation and task, which stay
     * the same when the worker tries the same step again and differ for every other step run (a
     * loop's next pass, a branch, another node).
     */
    static String idempotencyKey(ActivityContext ctx) {
        String source = ctx.instanceId() + "\n" + ctx.executionId() + "\n" + ctx.taskId();
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(source.getBytes(StandardCharsets.UTF_8));
            return "pgd-" + HexFormat.of().formatHex(digest, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpSettings settings(HttpStepInput step) throws SQLException {
        if (step.roleOid() == null) {
            throw new StepFailedException("Blocked: HTTP node " + step.nodeId() + " of instance " + step.instanceId()
                    + " has no submitting role, so its HTTP grant cannot be checked");
        }
        String function = step.multipart() ? "df.http_multipart(text,text,jsonb,jsonb,integer)"
                : "df.http(text,text,text,jsonb,integer)";
        try (Connection c = control.get().getConnection(); PreparedStatement ps = c.prepareStatement(SETTINGS)) {
            ps.setLong(1, step.roleOid());
            ps.setString(2, function);
            ps.setLong(3, step.roleOid());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                String role = rs.getString(2) == null ? step.role() : rs.getString(2);
                if (!rs.getBoolean(1)) {
                    throw new StepFailedException("Blocked: role '" + role + "' does not have EXECUTE privilege on "
                            + function + ", so HTTP node " + step.nodeId() + " cannot run. Grant it with"
                            + " SELECT df.grant_usage('" + role + "', include_http => true).", NO_PRIVILEGE, null);
                }
                try {
                    return HttpSettings.fromConfiguration(rs.getString(3), rs.getString(4), rs.getString(5))
                            .allowing(workerAllowList);
                } catch (IllegalArgumentException e) {
                    throw new StepFailedException("HTTP node " + step.nodeId() + " cannot run: " + e.getMessage()
                            + " (in the server's configuration)", "22023", null);
                }
            }
        } catch (SQLException e) {
            if (NO_PRIVILEGE.equals(e.getSQLState())) {
                throw new StepFailedException("HTTP node " + step.nodeId() + " cannot run: the worker's role may not"
                        + " read the server's configuration (pg_catalog.pg_file_settings), where the HTTP settings"
                        + " are; connect the worker as a superuser", NO_PRIVILEGE, null);
            }
            throw e;
        }
    }
}
