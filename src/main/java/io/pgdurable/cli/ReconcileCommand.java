package io.pgdurable.cli;

import io.pgdurable.reconcile.ReconcileResult;
import io.pgdurable.reconcile.Reconciler;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.util.concurrent.Callable;
import javax.sql.DataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code reconcile}: one reconciliation pass now, for installs without PL/Java's df.reconcile(). */
@Command(
        name = "reconcile",
        description = {
                "Run one reconciliation pass now and print what it did: remove expired terminal instances"
                        + " (beyond the newest 10,000 or older than pg_durable.retention_days) and reclaim orphaned"
                        + " engine records. Connect as the schema owner. Exits 1 if the pass failed, e.g. on a bad"
                        + " setting."
        })
final class ReconcileCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions database;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws SQLException {
        DataSource ds = database.spec("pg-durable reconcile").dataSource();
        try (Connection probe = ds.getConnection()) {
            probe.isValid(5);
        } catch (SQLException e) {
            throw new SQLException("cannot connect to the database: " + e.getMessage(), e.getSQLState(), e);
        }
        ReconcileResult result = new Reconciler(ds, Clock.systemUTC()).runOnce(Reconciler.Trigger.CLI, null);
        PrintWriter out = spec.commandLine().getOut();
        out.println(result.toJson().toPrettyString());
        out.flush();
        if (!result.ok()) {
            spec.commandLine().getErr().println("reconcile: error: " + result.error());
            return 1;
        }
        return 0;
    }
}
