package io.pgdurable.dashboard;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The signed-in people. A session is a random 256-bit id (the cookie), the role that signed in, its
 * own anti-forgery token, and the one database connection opened with the role's password at sign
 * in: every query of the session runs on it, as that role, so the database's privileges and
 * row-level security decide what it sees. The password is not kept; when the connection breaks the
 * person signs in again.
 *
 * <p>A session ends at sign-out, after {@code idleTimeout} without a request, or {@code maxLifetime}
 * after sign-in, whichever is first; its connection is closed then. At most {@code maxSessions} are
 * open at once.
 */
final class Sessions implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Sessions.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    /** One signed-in person. Requests of one session run one at a time on its connection. */
    static final class Session {
        final String id;
        final String role;
        final String csrf;
        final boolean superuser;
        final Instant signedInAt;
        private final Connection connection;
        private volatile Instant lastSeen;

        Session(String id, String role, boolean superuser, Connection connection, Instant now) {
            this.id = id;
            this.role = role;
            this.csrf = randomToken();
            this.superuser = superuser;
            this.connection = connection;
            this.signedInAt = now;
            this.lastSeen = now;
        }

        /** Runs {@code work} on the session's connection, alone. */
        <T> T withConnection(SqlWork<T> work) throws SQLException {
            synchronized (connection) {
                return work.run(connection);
            }
        }

        boolean csrfMatches(String token) {
            return token != null && MessageDigest.isEqual(csrf.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                    token.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }

        private void close() {
            try {
                connection.close();
            } catch (SQLException e) {
                LOG.log(Level.FINE, "closing a dashboard session's connection", e);
            }
        }
    }

    /** Work on a session's connection. */
    @FunctionalInterface
    interface SqlWork<T> {
        T run(Connection c) throws SQLException;
    }

    private final Map<String, Session> byId = new ConcurrentHashMap<>();
    private final Clock clock;
    private final Duration idleTimeout;
    private final Duration maxLifetime;
    private final int maxSessions;

    Sessions(Clock clock, Duration idleTimeout, Duration maxLifetime, int maxSessions) {
        this.clock = clock;
        this.idleTimeout = idleTimeout;
        this.maxLifetime = maxLifetime;
        this.maxSessions = maxSessions;
    }

    /** A new random token: 32 bytes, hex. */
    static String randomToken() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /**
     * Opens a session for {@code role} on {@code connection}, or closes the connection and throws
     * when {@code maxSessions} are open already.
     */
    Session open(String role, boolean superuser, Connection connection) {
        expire();
        synchronized (byId) {
            if (byId.size() >= maxSessions) {
                try {
                    connection.close();
                } catch (SQLException e) {
                    LOG.log(Level.FINE, "closing a refused session's connection", e);
                }
                throw new DashboardException(503, "too many people are signed in (the limit, --max-sessions, is "
                        + maxSessions + "); try again when someone signs out or a session expires");
            }
            Session s = new Session(randomToken(), role, superuser, connection, clock.instant());
            byId.put(s.id, s);
            return s;
        }
    }

    /** The live session with this id, its idle clock restarted; null if there is none or it expired. */
    Session find(String id) {
        if (id == null) {
            return null;
        }
        Session s = byId.get(id);
        if (s == null) {
            return null;
        }
        Instant now = clock.instant();
        if (expired(s, now)) {
            end(s);
            return null;
        }
        s.lastSeen = now;
        return s;
    }

    /** When {@code s} ends unless it is used again. */
    Instant expiresAt(Session s) {
        Instant idle = s.lastSeen.plus(idleTimeout);
        Instant hard = s.signedInAt.plus(maxLifetime);
        return idle.isBefore(hard) ? idle : hard;
    }

    void end(Session s) {
        if (byId.remove(s.id, s)) {
            s.close();
        }
    }

    /** Ends every expired session; returns how many. */
    int expire() {
        Instant now = clock.instant();
        List<Session> gone = new ArrayList<>();
        for (Session s : byId.values()) {
            if (expired(s, now)) {
                gone.add(s);
            }
        }
        gone.forEach(this::end);
        return gone.size();
    }

    int size() {
        return byId.size();
    }

    private boolean expired(Session s, Instant now) {
        return !now.isBefore(expiresAt(s));
    }

    @Override
    public void close() {
        List.copyOf(byId.values()).forEach(this::end);
    }
}
