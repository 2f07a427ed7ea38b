package io.pgdurable.pljava;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Where a Java function running inside a backend connects back to. PL/Java's own connection
 * ({@code jdbc:default:connection}) belongs to the calling transaction and cannot commit, so work
 * that commits in batches (reconciliation, the worker) opens ordinary JDBC connections to the same
 * server and database, as the current user (the owner of the SECURITY DEFINER wrappers
 * {@code df.reconcile()} and {@code df.run_worker()}), over TCP to {@code pg_durable.loopback_host}
 * (default {@code 127.0.0.1}) on the server's own port. {@code pg_hba.conf} must let that role in
 * from there: {@code trust} for 127.0.0.1, or a password in the server OS user's
 * {@code ~/.pgpass}, which pgjdbc reads.
 */
final class Loopback {
    static final String HOST_SETTING = "pg_durable.loopback_host";
    private static final String DEFAULT_HOST = "127.0.0.1";

    private final String host;
    private final int port;
    private final String database;
    private final String user;

    private Loopback(String host, int port, String database, String user) {
        this.host = host;
        this.port = port;
        this.database = database;
        this.user = user;
    }

    /** Reads the target from the calling session, through PL/Java's default connection. */
    static Loopback fromCallingSession() throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:default:connection");
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('port'), current_database(), current_user,"
                     + " current_setting('" + HOST_SETTING + "', true)")) {
            rs.next();
            String host = rs.getString(4);
            return new Loopback(host == null || host.isBlank() ? DEFAULT_HOST : host.strip(),
                    Integer.parseInt(rs.getString(1)), rs.getString(2), rs.getString(3));
        }
    }

    String jdbcUrl() {
        return "jdbc:postgresql://" + host + ":" + port + "/" + database;
    }

    String user() {
        return user;
    }

    String database() {
        return database;
    }

    PGSimpleDataSource dataSource(String applicationName) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setServerNames(new String[] {host});
        ds.setPortNumbers(new int[] {port});
        ds.setDatabaseName(database);
        ds.setUser(user);
        ds.setApplicationName(applicationName);
        return ds;
    }
}
