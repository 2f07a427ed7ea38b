package io.pgdurable.cli;

import io.pgdurable.schema.InstallResult;
import io.pgdurable.schema.Migration;
import io.pgdurable.schema.SchemaInstaller;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code install}: creates the {@code df_engine} schema, or upgrades it to this build's version. */
@Command(
        name = "install",
        description = {
                "Create the df_engine schema in a database, or upgrade it to this build's version.",
                "Safe to run again and from several hosts at once: each migration is applied once."
        })
final class InstallCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions database;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws SQLException {
        SchemaInstaller installer = new SchemaInstaller();
        InstallResult result;
        try (Connection c = database.open("pg-durable install")) {
            result = installer.install(c);
        }
        PrintWriter out = spec.commandLine().getOut();
        for (Migration m : result.applied()) {
            out.println("Applied " + m.name());
        }
        out.printf(result.upToDate()
                        ? "Schema %s is up to date at version %d.%n"
                        : "Schema %s is now at version %d.%n",
                SchemaInstaller.SCHEMA, result.currentVersion());
        out.flush();
        return 0;
    }
}
