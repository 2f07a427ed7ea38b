package io.pgdurable.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.schema.SchemaInstaller;
import io.pgdurable.testing.TestCluster;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MainTest {

    private final TestCluster cluster = TestCluster.get();

    @Test
    void install_creates_the_schema_and_reports_each_file_and_the_version() throws SQLException {
        String db = cluster.createEmptyDatabase("cli_install");
        SchemaInstaller installer = new SchemaInstaller();

        Run run = run("install", "--url", cluster.jdbcUrl(db), "--user", TestCluster.SUPERUSER);

        assertThat(run.exitCode).as(run.err).isZero();
        for (var f : installer.shippedFiles()) {
            assertThat(run.out).contains("Applied " + f.file());
        }
        assertThat(run.out).contains("pg_durable is now at version 0.2.0.");
        assertThat(ledgerFiles(db)).isEqualTo(installer.shippedFiles().stream().map(f -> f.file()).sorted().toList());
    }

    @Test
    void install_on_a_current_schema_says_it_is_up_to_date() {
        String db = cluster.createDatabase("cli_install_again");

        Run run = run("install", "--url", cluster.jdbcUrl(db, TestCluster.SUPERUSER));

        assertThat(run.exitCode).as(run.err).isZero();
        assertThat(run.out).doesNotContain("Applied")
                .contains("pg_durable is up to date at version " + new SchemaInstaller().version() + ".");
    }

    @Test
    void help_is_available_on_the_main_command_and_on_subcommands() {
        Run main = run("--help");
        assertThat(main.exitCode).isZero();
        assertThat(main.out).contains("install");

        Run install = run("install", "--help");
        assertThat(install.exitCode).isZero();
        assertThat(install.out).contains("--url", "--user", "--password");
    }

    /**
     * A command's description is written as paragraphs that the help wraps: a line that ends
     * inside a sentence is one the next word would not have fitted on, give or take the few
     * columns picocli's wrapping leaves free. (Descriptions written as pre-broken lines longer
     * than the help's width came out with a line break wherever the source had one as well, a
     * word or two on a line of their own.)
     */
    /** Columns at the end of a line that picocli's wrapping may leave free. */
    private static final int WRAP_SLACK = 4;

    @Test
    void every_commands_description_is_wrapped_at_the_help_width_only() {
        CommandLine main = Main.commandLine();
        List<CommandLine> commands = new ArrayList<>(main.getSubcommands().values());
        commands.add(main);
        for (CommandLine command : commands) {
            int width = command.getUsageHelpWidth();
            List<String> lines = command.getHelp().description().lines().toList();
            assertThat(lines).as(command.getCommandName()).isNotEmpty();
            for (int i = 0; i + 1 < lines.size(); i++) {
                String line = lines.get(i).stripTrailing();
                if (line.endsWith(".") || line.endsWith(":")) {
                    continue; // a paragraph may end anywhere
                }
                String nextWord = lines.get(i + 1).strip().split(" ", 2)[0];
                assertThat(line.length() + 1 + nextWord.length())
                        .as("%s --help breaks its description after \"%s\" although \"%s\" fits on that line",
                                command.getCommandName(), line, nextWord)
                        .isGreaterThan(width - WRAP_SLACK);
            }
        }
    }

    @Test
    void version_is_available_on_the_main_command_and_on_subcommands() {
        assertThat(run("--version").out).startsWith("pg-durable ");
        Run install = run("install", "--version");
        assertThat(install.exitCode).isZero();
        assertThat(install.out).startsWith("pg-durable ");
    }

    @Test
    void unreachable_server_fails_with_one_line_naming_the_problem() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(TestCluster.HOST))) {
            closedPort = s.getLocalPort();
        }

        Run run = run("install", "--url", "jdbc:postgresql://127.0.0.1:" + closedPort + "/postgres?user=postgres");

        assertThat(run.exitCode).isEqualTo(1);
        assertThat(run.out).isEmpty();
        assertThat(run.err.strip().lines()).singleElement().asString()
                .startsWith("install: error: cannot connect to the database:")
                .contains("127.0.0.1:" + closedPort, "refused");
    }

    @Test
    void url_that_is_not_a_postgresql_jdbc_url_is_a_usage_error() {
        Run run = run("install", "--url", "mysql://localhost/db");

        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("--url must be a PostgreSQL JDBC URL", "mysql://localhost/db");
    }

    @Test
    void url_that_sets_current_schema_is_a_usage_error() {
        Run run = run("install", "--url", cluster.jdbcUrl("postgres", TestCluster.SUPERUSER) + "&currentSchema=public");

        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("the JDBC URL sets currentSchema, which pg_durable does not allow");
    }

    @Test
    void user_given_both_in_the_url_and_as_an_option_is_a_usage_error() {
        Run run = run("install", "--url", cluster.jdbcUrl("postgres", "alice"), "--user", "bob");

        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("the user is given twice");
    }

    @Test
    void a_worker_whose_per_role_share_is_every_thread_refuses_to_start_naming_the_option() {
        Run run = run("worker", "--url", cluster.jdbcUrl("postgres", TestCluster.SUPERUSER), "--threads", "4",
                "--max-activities-per-role", "4");

        assertThat(run.exitCode).isEqualTo(1);
        assertThat(run.err.strip().lines()).singleElement().asString()
                .startsWith("worker: error: --max-activities-per-role must be between 1 and 3, below the 4 activity"
                        + " threads (--threads)")
                .endsWith("got 4");
    }

    @Test
    void missing_url_is_a_usage_error() {
        Run run = run("install");

        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("--url");
    }

    @Test
    void a_result_limit_out_of_range_is_a_usage_error_naming_the_option_and_the_value() {
        Run run = run("worker", "--url", "jdbc:postgresql://127.0.0.1:1/postgres", "--max-result-depth", "5000");

        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("--max-result-depth must be between 1 and 1000, got 5000");
    }

    @Test
    void no_subcommand_is_a_usage_error_that_lists_the_subcommands() {
        Run run = run();

        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("Missing subcommand", "install");
    }

    @Test
    void the_dashboard_refuses_credentials_in_its_url_and_bad_options_naming_them() {
        Run credentials = run("dashboard", "--url", "jdbc:postgresql://127.0.0.1:1/app?user=postgres");
        assertThat(credentials.exitCode).isEqualTo(2);
        assertThat(credentials.err).contains("--url names a user or password");

        Run listen = run("dashboard", "--url", "jdbc:postgresql://127.0.0.1:1/app", "--listen", "8080");
        assertThat(listen.exitCode).isEqualTo(2);
        assertThat(listen.err).contains("--listen must be host:port", "'8080'");

        Run port = run("dashboard", "--url", "jdbc:postgresql://127.0.0.1:1/app", "--listen", "127.0.0.1:99999");
        assertThat(port.exitCode).isEqualTo(2);
        assertThat(port.err).contains("the port must be a number from 0 to 65535, got '99999'");

        Run sessions = run("dashboard", "--url", "jdbc:postgresql://127.0.0.1:1/app", "--max-sessions", "0");
        assertThat(sessions.exitCode).isEqualTo(2);
        assertThat(sessions.err).contains("--max-sessions must be from 1 to 1000, got 0");

        Run help = run("dashboard", "--help");
        assertThat(help.exitCode).isZero();
        assertThat(help.out).contains("--listen", "--session-idle-minutes", "--secure-cookies", "default: 127.0.0.1:");
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = Main.commandLine();
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        int exitCode = cmd.execute(args);
        return new Run(exitCode, out.toString(), err.toString());
    }

    private List<String> ledgerFiles(String db) throws SQLException {
        List<String> files = new ArrayList<>();
        try (Connection c = cluster.connect(db);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT file FROM df_engine.schema_files ORDER BY file COLLATE \"C\"")) {
            while (rs.next()) {
                files.add(rs.getString(1));
            }
        }
        return files;
    }

    private record Run(int exitCode, String out, String err) {
    }
}
