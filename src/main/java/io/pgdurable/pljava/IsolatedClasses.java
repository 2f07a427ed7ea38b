package io.pgdurable.pljava;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.security.CodeSource;
import java.security.ProtectionDomain;
import java.security.cert.Certificate;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.Map;

/**
 * The installed jar's classes, loaded from memory for threads that must never call into the
 * backend. PL/Java's own class loader reads classes through the backend (SPI), which only the
 * thread running the SQL function may safely do: a worker thread loading a class while the
 * backend handles a cancel or terminate request could take that request itself. So the worker's
 * threads run on classes defined from a snapshot of the jar's entries, read once by the calling
 * thread. The classes keep the jar's code source, {@code sqlj:<jar name>}, so the grants in
 * {@code pg_durable.policy} apply to them unchanged.
 */
final class IsolatedClasses extends ClassLoader {
    private static final String SCHEME = "sqlj";

    private final Map<String, byte[]> entries;
    private final ProtectionDomain domain;
    private final URLStreamHandler handler = new MemoryHandler();

    private IsolatedClasses(String jarName, Map<String, byte[]> entries) throws MalformedURLException {
        super("pg_durable-isolated", ClassLoader.getPlatformClassLoader());
        this.entries = entries;
        URL codeBase = new URL(null, SCHEME + ":" + jarName, handler);
        this.domain = new ProtectionDomain(new CodeSource(codeBase, (Certificate[]) null), null, this, null);
    }

    /** Reads every entry of the installed jar {@code jarName}, on the calling thread. */
    static IsolatedClasses snapshot(Connection session, String jarName) throws SQLException {
        String sql = """
                SELECT e.entryname, e.entryimage
                  FROM sqlj.jar_entry e JOIN sqlj.jar_repository r ON r.jarid = e.jarid
                 WHERE r.jarname = ?
                """;
        Map<String, byte[]> entries = new HashMap<>();
        try (PreparedStatement ps = session.prepareStatement(sql)) {
            ps.setString(1, jarName);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    entries.put(rs.getString(1), rs.getBytes(2));
                }
            }
        }
        if (entries.isEmpty()) {
            throw new SQLException("no jar named '" + jarName + "' is installed (sqlj.install_jar)", "42704");
        }
        try {
            return new IsolatedClasses(jarName, entries);
        } catch (MalformedURLException e) {
            throw new SQLException("cannot form the code source of jar " + jarName, "XX000", e);
        }
    }

    /** A fingerprint of the installed jar, to tell when a snapshot is stale after replace_jar. */
    static String fingerprint(Connection session, String jarName) throws SQLException {
        String sql = """
                SELECT r.jarid || ':' || count(e.entryid) || ':' || coalesce(max(e.entryid), 0)
                  FROM sqlj.jar_repository r LEFT JOIN sqlj.jar_entry e ON e.jarid = r.jarid
                 WHERE r.jarname = ? GROUP BY r.jarid
                """;
        try (PreparedStatement ps = session.prepareStatement(sql)) {
            ps.setString(1, jarName);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        byte[] bytes = entries.get(name.replace('.', '/') + ".class");
        if (bytes == null) {
            throw new ClassNotFoundException(name);
        }
        return defineClass(name, bytes, 0, bytes.length, domain);
    }

    @Override
    protected URL findResource(String name) {
        if (!entries.containsKey(name)) {
            return null;
        }
        try {
            return new URL(null, SCHEME + ":/" + name, handler);
        } catch (MalformedURLException e) {
            return null;
        }
    }

    @Override
    protected Enumeration<URL> findResources(String name) {
        URL url = findResource(name);
        return url == null ? Collections.emptyEnumeration() : Collections.enumeration(java.util.List.of(url));
    }

    /** Serves resource URLs from the snapshot. */
    private final class MemoryHandler extends URLStreamHandler {
        @Override
        protected URLConnection openConnection(URL url) throws IOException {
            String path = url.getPath().startsWith("/") ? url.getPath().substring(1) : url.getPath();
            byte[] bytes = entries.get(path);
            if (bytes == null) {
                throw new IOException("no entry " + path + " in the jar snapshot");
            }
            return new URLConnection(url) {
                @Override
                public void connect() {
                    connected = true;
                }

                @Override
                public InputStream getInputStream() {
                    return new ByteArrayInputStream(bytes);
                }
            };
        }
    }
}
