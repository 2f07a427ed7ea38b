package io.pgdurable.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpStatus;
import io.javalin.http.staticfiles.Location;
import io.pgdurable.db.ConnectionSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The web dashboard: instances, one instance's graph and history, an overview and the workers,
 * for people who sign in with their own PostgreSQL role and password.
 *
 * <p>Security, in short (USER_GUIDE "The web dashboard" says more):
 * <ul>
 *   <li>Signing in opens a database connection as the role with its password, so the server's
 *       {@code pg_hba.conf} decides who may; the session then runs every query on that connection,
 *       as that role (see {@link Sessions}). The dashboard has no credentials of its own.</li>
 *   <li>The session cookie is random, {@code HttpOnly} and {@code SameSite=Strict}; every POST needs
 *       the session's anti-forgery token besides (the sign-in form a token of its own, bound to a
 *       cookie), and a cross-site {@code Origin} is refused.</li>
 *   <li>Pages are static; scripts build them from JSON with text nodes only, and a strict
 *       Content-Security-Policy forbids inline script, so values from the database cannot run.</li>
 *   <li>Request bodies, filters, texts shown, pages and sessions all have limits.</li>
 * </ul>
 */
public final class DashboardServer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(DashboardServer.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    static final String SESSION_COOKIE = "pgd_session";
    static final String LOGIN_COOKIE = "pgd_login";
    static final String CSRF_HEADER = "X-CSRF-Token";
    static final long MAX_REQUEST_BYTES = 2L * 1024 * 1024;
    static final int MAX_ROLE = 63;
    static final int MAX_PASSWORD = 1_000;
    /** Sign-ins connecting to the database at once; more wait their turn. */
    static final int SIGN_IN_CONCURRENCY = 4;
    /** How long a sign-in waits for its turn before it is refused. */
    static final Duration SIGN_IN_WAIT = Duration.ofSeconds(30);
    /** How long a role's password check ({@link #refuseUncheckedPasswords}) is trusted. */
    static final Duration PASSWORD_CHECK_INTERVAL = Duration.ofMinutes(10);
    static final int MAX_CHECKED_ROLES = 10_000;

    private static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
            + " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /** How to run: where the database is, where to listen, and the sessions' limits. */
    public record Config(ConnectionSpec database, String host, int port, Duration idleTimeout,
                         Duration maxLifetime, int maxSessions, boolean secureCookies, Clock clock) {
    }

    private final Config config;
    private final Sessions sessions;
    private final Semaphore signIns = new Semaphore(SIGN_IN_CONCURRENCY);
    /** Roles whose password the server was seen to check, until when that is trusted. */
    private final Map<String, Instant> passwordChecked = new java.util.concurrent.ConcurrentHashMap<>();
    private final Javalin app;
    private final ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dashboard-session-sweeper");
        t.setDaemon(true);
        return t;
    });

    private DashboardServer(Config config) {
        this.config = config;
        this.sessions = new Sessions(config.clock(), config.idleTimeout(), config.maxLifetime(), config.maxSessions());
        this.app = Javalin.create(c -> {
            c.showJavalinBanner = false;
            c.http.maxRequestSize = MAX_REQUEST_BYTES;
            c.staticFiles.add(s -> {
                s.hostedPath = "/assets";
                s.directory = "/dashboard";
                s.location = Location.CLASSPATH;
                s.headers = Map.of("Cache-Control", "no-cache");
                s.skipFileFunction = req -> req.getRequestURI().endsWith(".html");
            });
            c.staticFiles.enableWebjars();
        });
        routes();
    }

    /** Starts the dashboard on {@code config.host():config.port()} (port 0: any free port). */
    public static DashboardServer start(Config config) {
        DashboardServer server = new DashboardServer(config);
        server.app.start(config.host(), config.port());
        // Expired sessions' connections are closed within a minute, used or not.
        server.sweeper.scheduleWithFixedDelay(server.sessions::expire, 1, 1, TimeUnit.MINUTES);
        return server;
    }

    /** The port the dashboard listens on. */
    public int port() {
        return app.port();
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        app.stop();
        sessions.close();
    }

    // -----------------------------------------------------------------------------------------
    // Routes
    // -----------------------------------------------------------------------------------------

    private void routes() {
        app.before(this::secureHeaders);
        app.before(this::checkOrigin);
        app.get("/login", this::loginPage);
        app.post("/login", this::signIn);
        app.post("/logout", this::signOut);
        app.get("/", ctx -> page(ctx, "instances.html"));
        app.get("/instances/{id}", ctx -> page(ctx, "instance.html"));
        app.get("/overview", ctx -> page(ctx, "overview.html"));
        app.get("/workers", ctx -> page(ctx, "workers.html"));
        app.get("/api/session", this::sessionInfo);
        app.get("/api/instances", ctx -> json(ctx, read(ctx, c -> DashboardData.instances(c, listFilter(ctx)))));
        app.get("/api/instances/{id}", ctx -> {
            String id = DashboardData.instanceId(ctx.pathParam("id"));
            Sessions.Session s = session(ctx);
            json(ctx, s.withConnection(c -> DashboardData.instance(c, id, s.role)));
        });
        app.post("/api/instances/{id}/signal", ctx -> {
            String id = DashboardData.instanceId(ctx.pathParam("id"));
            JsonNode body = body(ctx);
            String message = write(ctx, c -> DashboardData.signal(c, id, text(body, "name"), text(body, "data")));
            json(ctx, JSON.createObjectNode().put("message", message));
        });
        app.post("/api/instances/{id}/cancel", ctx -> {
            String id = DashboardData.instanceId(ctx.pathParam("id"));
            JsonNode body = body(ctx);
            String message = write(ctx, c -> DashboardData.cancel(c, id, text(body, "reason")));
            json(ctx, JSON.createObjectNode().put("message", message));
        });
        app.get("/api/overview", ctx -> {
            int minutes = intParam(ctx, "minutes", 60, 1, DashboardData.MAX_MINUTES);
            json(ctx, read(ctx, c -> DashboardData.overview(c, minutes)));
        });
        app.get("/api/workers", ctx -> json(ctx, read(ctx, DashboardData::workers)));
        app.exception(DashboardException.class, (e, ctx) -> refuse(ctx, e.status(), e.getMessage()));
        app.exception(Redirect.class, (e, ctx) -> ctx.redirect(e.location, HttpStatus.SEE_OTHER));
        app.exception(SQLException.class, (e, ctx) -> databaseError(ctx, e));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.log(Level.WARNING, "dashboard request " + ctx.method() + " " + ctx.path() + " failed", e);
            refuse(ctx, 500, "the dashboard failed to answer; its log has the details");
        });
        app.error(404, ctx -> {
            if (ctx.result() == null || ctx.result().isEmpty()) {
                refuse(ctx, 404, "no such page: " + DashboardData.clip(ctx.path(), 200));
            }
        });
    }

    private void secureHeaders(Context ctx) {
        ctx.header("Content-Security-Policy", CSP);
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("X-Frame-Options", "DENY");
        ctx.header("Referrer-Policy", "no-referrer");
        if (!ctx.path().startsWith("/assets/") && !ctx.path().startsWith("/webjars/")) {
            ctx.header("Cache-Control", "no-store");
        }
    }

    /**
     * A browser names the page a POST comes from in {@code Origin}; one from another site is refused
     * before anything else, whatever cookies came with it. (The anti-forgery token is the main fence;
     * this one costs nothing.)
     */
    private void checkOrigin(Context ctx) {
        if (ctx.method() != HandlerType.POST) {
            return;
        }
        String origin = ctx.header("Origin");
        if (origin == null || origin.equals("null")) {
            return;
        }
        String host = ctx.header("Host");
        try {
            URI o = URI.create(origin);
            String authority = o.getRawAuthority();
            if (host != null && host.equalsIgnoreCase(authority)) {
                return;
            }
        } catch (IllegalArgumentException e) {
            // refused below
        }
        throw new DashboardException(403, "refused: the request comes from another site (Origin "
                + DashboardData.clip(origin, 200) + ")");
    }

    // -----------------------------------------------------------------------------------------
    // Signing in and out
    // -----------------------------------------------------------------------------------------

    private void loginPage(Context ctx) {
        String token = Sessions.randomToken();
        setCookie(ctx, LOGIN_COOKIE, token, -1);
        ctx.html(resource("login.html").replace("{{csrf}}", token));
    }

    private void signIn(Context ctx) throws SQLException, InterruptedException {
        String cookie = ctx.cookie(LOGIN_COOKIE);
        String token = ctx.formParam("csrf");
        if (cookie == null || token == null || !java.security.MessageDigest.isEqual(
                cookie.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8))) {
            throw new DashboardException(403, "refused: the sign-in form's token is missing or stale; load /login again");
        }
        String role = ctx.formParam("role");
        String password = ctx.formParam("password");
        if (role == null || role.isBlank() || role.length() > MAX_ROLE || role.indexOf('\0') >= 0
                || password == null || password.isEmpty() || password.length() > MAX_PASSWORD
                || password.indexOf('\0') >= 0) {
            throw new Redirect("/login?error=refused");
        }
        Connection c;
        if (!signIns.tryAcquire(SIGN_IN_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new DashboardException(503, "too many sign-ins are waiting for the database; try again shortly");
        }
        try {
            refuseUncheckedPasswords(role);
            c = config.database().withUser(role).withPassword(password)
                    .withApplicationName("pg-durable dashboard").open();
        } catch (SQLException e) {
            LOG.log(Level.INFO, "dashboard sign-in as " + role + " refused: " + e.getMessage());
            throw new Redirect("/login?error=refused");
        } finally {
            signIns.release();
        }
        boolean superuser;
        try {
            try (Statement st = c.createStatement()) {
                st.execute("SET statement_timeout = '15s'");
                st.execute("SET idle_in_transaction_session_timeout = '60s'");
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT r.rolsuper FROM pg_catalog.pg_roles r"
                    + " WHERE r.rolname OPERATOR(pg_catalog.=) current_user");
                 ResultSet rs = ps.executeQuery()) {
                superuser = rs.next() && rs.getBoolean(1);
            }
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        Sessions.Session previous = current(ctx);
        if (previous != null) {
            sessions.end(previous);
        }
        Sessions.Session s = sessions.open(role, superuser, c);
        setCookie(ctx, LOGIN_COOKIE, "", 0);
        setCookie(ctx, SESSION_COOKIE, s.id, -1);
        ctx.redirect("/", HttpStatus.SEE_OTHER);
    }

    /**
     * Signing in proves something only if the server checks the password. Where {@code pg_hba.conf}
     * lets the role in from the dashboard's address without one ({@code trust}, as a worker's own
     * address usually does), a random password gets in too: then nobody signs in as that role, and
     * the log says why. A role that passed is trusted for {@link #PASSWORD_CHECK_INTERVAL} (each check
     * is a failed login in the server's log).
     */
    private void refuseUncheckedPasswords(String role) {
        Instant now = config.clock().instant();
        Instant checkedUntil = passwordChecked.get(role);
        if (checkedUntil != null && now.isBefore(checkedUntil)) {
            return;
        }
        try (Connection probe = config.database().withUser(role).withPassword(Sessions.randomToken())
                .withApplicationName("pg-durable dashboard").open()) {
            LOG.log(Level.WARNING, "dashboard sign-in as " + role + " refused: the server let a random password in,"
                    + " so pg_hba.conf does not check passwords for this role from the dashboard's address"
                    + " (trust?); give the dashboard an address that needs one (USER_GUIDE, The web dashboard)");
        } catch (SQLException expected) {
            // Each check is one failed login in the server's log: at most one per role and interval.
            if (passwordChecked.size() >= MAX_CHECKED_ROLES) {
                passwordChecked.clear();
            }
            passwordChecked.put(role, now.plus(PASSWORD_CHECK_INTERVAL));
            return;
        }
        passwordChecked.remove(role);
        throw new Redirect("/login?error=unchecked");
    }

    private void signOut(Context ctx) {
        Sessions.Session s = current(ctx);
        if (s != null) {
            String token = ctx.formParam("csrf");
            if (!s.csrfMatches(token) && !s.csrfMatches(ctx.header(CSRF_HEADER))) {
                throw new DashboardException(403, "refused: sign-out without this session's anti-forgery token");
            }
            sessions.end(s);
        }
        setCookie(ctx, SESSION_COOKIE, "", 0);
        ctx.redirect("/login", HttpStatus.SEE_OTHER);
    }

    private void setCookie(Context ctx, String name, String value, int maxAge) {
        StringBuilder c = new StringBuilder(name).append('=').append(value)
                .append("; Path=/; HttpOnly; SameSite=Strict");
        if (maxAge >= 0) {
            c.append("; Max-Age=").append(maxAge);
        }
        if (config.secureCookies()) {
            c.append("; Secure");
        }
        ctx.res().addHeader("Set-Cookie", c.toString());
    }

    // -----------------------------------------------------------------------------------------
    // Pages and the API
    // -----------------------------------------------------------------------------------------

    private void page(Context ctx, String name) {
        if (current(ctx) == null) {
            throw new Redirect("/login");
        }
        ctx.html(resource(name));
    }

    private void sessionInfo(Context ctx) {
        Sessions.Session s = session(ctx);
        ObjectNode out = JSON.createObjectNode();
        out.put("role", s.role);
        out.put("csrf", s.csrf);
        out.put("superuser", s.superuser);
        out.put("database", config.database().database());
        out.put("expiresAt", sessions.expiresAt(s).toString());
        json(ctx, out);
    }

    /** The live session the request's cookie names, or null. */
    private Sessions.Session current(Context ctx) {
        return sessions.find(ctx.cookie(SESSION_COOKIE));
    }

    /** The request's live session, or a 401 that sends the page to sign in again. */
    private Sessions.Session session(Context ctx) {
        Sessions.Session s = current(ctx);
        if (s == null) {
            throw new DashboardException(401, "not signed in, or the session expired; sign in again");
        }
        return s;
    }

    private <T> T read(Context ctx, Sessions.SqlWork<T> work) throws SQLException {
        return run(session(ctx), work);
    }

    /** A change: the session's anti-forgery token must come with it in {@value #CSRF_HEADER}. */
    private <T> T write(Context ctx, Sessions.SqlWork<T> work) throws SQLException {
        Sessions.Session s = session(ctx);
        if (!s.csrfMatches(ctx.header(CSRF_HEADER))) {
            throw new DashboardException(403, "refused: the request lacks this session's anti-forgery token ("
                    + CSRF_HEADER + ")");
        }
        return run(s, work);
    }

    /** Runs {@code work} as the session's role; a broken connection ends the session. */
    private <T> T run(Sessions.Session s, Sessions.SqlWork<T> work) throws SQLException {
        try {
            return s.withConnection(work);
        } catch (SQLException e) {
            if (e.getSQLState() != null && e.getSQLState().startsWith("08")) {
                sessions.end(s);
                throw new DashboardException(401, "the session's database connection was lost; sign in again");
            }
            throw e;
        }
    }

    private static DashboardData.ListFilter listFilter(Context ctx) {
        String status = emptyToNull(ctx.queryParam("status"));
        if (status != null && !DashboardData.STATUSES.contains(status)) {
            throw new DashboardException(400, "status '" + DashboardData.clip(status, 100)
                    + "' is not one of pending, running, completed, failed, cancelled");
        }
        String label = emptyToNull(ctx.queryParam("label"));
        if (label != null && label.length() > DashboardData.MAX_LABEL_FILTER) {
            throw new DashboardException(400, "the label filter is " + label.length()
                    + " characters long; labels have at most " + DashboardData.MAX_LABEL_FILTER);
        }
        String after = emptyToNull(ctx.queryParam("after"));
        return new DashboardData.ListFilter(status, label, instant(ctx, "from"), instant(ctx, "to"),
                after == null ? null : DashboardData.Cursor.decode(after),
                intParam(ctx, "limit", DashboardData.DEFAULT_PAGE, 1, DashboardData.MAX_PAGE));
    }

    private static Instant instant(Context ctx, String name) {
        String text = emptyToNull(ctx.queryParam(name));
        if (text == null) {
            return null;
        }
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            throw new DashboardException(400, "'" + name + "' must be an ISO-8601 instant like 2026-12-03T10:15:30Z, got '"
                    + DashboardData.clip(text, 100) + "'");
        }
    }

    private static int intParam(Context ctx, String name, int fallback, int min, int max) {
        String text = emptyToNull(ctx.queryParam(name));
        if (text == null) {
            return fallback;
        }
        try {
            int v = Integer.parseInt(text);
            if (v >= min && v <= max) {
                return v;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new DashboardException(400, "'" + name + "' must be a whole number from " + min + " to " + max
                + ", got '" + DashboardData.clip(text, 100) + "'");
    }

    private static JsonNode body(Context ctx) {
        try {
            JsonNode body = JSON.readTree(ctx.body());
            if (body == null || !body.isObject()) {
                throw new DashboardException(400, "the request body must be a JSON object");
            }
            return body;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new DashboardException(400, "the request body is not JSON: " + e.getOriginalMessage());
        }
    }

    private static String text(JsonNode body, String member) {
        JsonNode v = body.path(member);
        if (v.isMissingNode() || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new DashboardException(400, "'" + member + "' must be a string");
        }
        return v.asText();
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private static void json(Context ctx, JsonNode body) {
        ctx.contentType("application/json; charset=utf-8");
        ctx.result(body.toString());
    }

    private static void refuse(Context ctx, int status, String message) {
        ctx.status(status);
        if (ctx.path().startsWith("/api/") || ctx.method() == HandlerType.POST) {
            json(ctx, JSON.createObjectNode().put("error", message));
        } else {
            ctx.contentType("text/plain; charset=utf-8");
            ctx.result(message);
        }
    }

    /**
     * A database error as the person should see it: the server's message for errors in what they
     * asked (a bad signal payload, an instance that already ended), a generic one otherwise.
     */
    private static void databaseError(Context ctx, SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        if (state.startsWith("22") || state.startsWith("42") || state.startsWith("55") || state.startsWith("P0")
                || state.startsWith("23")) {
            refuse(ctx, state.equals("42501") ? 403 : 400, DashboardData.clip(String.valueOf(e.getMessage()), 2_000));
            return;
        }
        LOG.log(Level.WARNING, "dashboard request " + ctx.method() + " " + ctx.path() + " failed", e);
        refuse(ctx, 500, "the database could not answer (SQLSTATE " + state + "); the dashboard's log has the details");
    }

    private static String resource(String name) {
        try (InputStream in = DashboardServer.class.getResourceAsStream("/dashboard/" + name)) {
            if (in == null) {
                throw new IllegalStateException("the dashboard's page " + name + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends the browser elsewhere (303). */
    private static final class Redirect extends RuntimeException {
        final String location;

        Redirect(String location) {
            super(location, null, false, false);
            this.location = location;
        }
    }
}
