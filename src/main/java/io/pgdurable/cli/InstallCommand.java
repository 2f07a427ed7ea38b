package io.pgdurable.cli;

import io.pgdurable.schema.InstallResult;
import io.pgdurable.schema.SchemaInstaller;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code install}: installs pg_durable's schemas, or upgrades them to this build's version. */
@Command(
        name = "install",
        description = {
                "Install pg_durable (schemas df and df_engine) into a database, or upgrade it to this build's"
                        + " version.",
                "Safe to run again and from several hosts at once: each step is applied once.",
                "For a database where pg_durable is an extension, use ALTER EXTENSION pg_durable UPDATE instead."
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
        for (String file : result.applied()) {
            out.println("Applied " + file);
        }
        out.printf(result.upToDate()
                        ? "pg_durable is up to date at version %s.%n"
                        : "pg_durable is now at version %s.%n",
                result.version());
        out.flush();
        return 0;
    }
}
