package io.pgdurable.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Entry point of {@code java -jar pg-durable.jar}. Each task is a subcommand; {@code --help} and
 * {@code --version} are inherited by all of them.
 */
@Command(
        name = "pg-durable",
        description = "Durable workflow execution inside PostgreSQL.",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        scope = ScopeType.INHERIT,
        // Every subcommand of the jar is registered in this list.
        subcommands = {
                InstallCommand.class,
                InstallExtensionCommand.class,
                WorkerCommand.class,
                ReconcileCommand.class,
                BenchCommand.class,
                DashboardCommand.class,
        })
public final class Main implements Callable<Integer> {

    private static final Logger LOG = Logger.getLogger(Main.class.getName());

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        configureLogging();
        System.exit(commandLine().execute(args));
    }

    /** The command line with all subcommands and the one-line error reporting used by {@link #main}. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main())
                .setParameterExceptionHandler(Main::reportUsageError)
                .setExecutionExceptionHandler(Main::reportFailure);
    }

    /** Without a subcommand there is nothing to do: show what there is. */
    @Override
    public Integer call() {
        CommandLine cmd = spec.commandLine();
        cmd.getErr().println("Missing subcommand.");
        cmd.usage(cmd.getErr());
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** A usage error prints the problem and where to read about usage, not the whole usage text. */
    private static int reportUsageError(ParameterException error, String[] args) {
        CommandLine cmd = error.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println(cmd.getCommandName() + ": " + error.getMessage());
        UnmatchedArgumentException.printSuggestions(error, err);
        err.println("Run '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** A failed command prints one line naming the problem; the stack trace goes to the log at FINE. */
    private static int reportFailure(Exception failure, CommandLine cmd, ParseResult parsed) {
        cmd.getErr().println(cmd.getCommandName() + ": error: " + oneLine(failure));
        LOG.log(Level.FINE, "Command failed", failure);
        return cmd.getCommandSpec().exitCodeOnExecutionException();
    }

    static String oneLine(Throwable failure) {
        String message = failure.getMessage();
        if (message == null || message.isBlank()) {
            message = failure.getClass().getSimpleName();
        }
        return message.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    /**
     * Loads the one-line log format shipped in {@code logging.properties}, unless the user chose a
     * configuration of their own with {@code java.util.logging.config.file} or {@code .class}.
     */
    static void configureLogging() {
        if (System.getProperty("java.util.logging.config.file") != null
                || System.getProperty("java.util.logging.config.class") != null) {
            return;
        }
        try (InputStream in = Main.class.getResourceAsStream("logging.properties")) {
            if (in != null) {
                LogManager.getLogManager().readConfiguration(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the bundled logging.properties", e);
        }
    }
}
