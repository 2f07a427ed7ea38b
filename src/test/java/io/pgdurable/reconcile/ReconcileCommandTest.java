package io.pgdurable.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgdurable.cli.Main;
import io.pgdurable.reconcile.ReconcileDatabase.Seed;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code java -jar pg-durable.jar reconcile}: one pass, its summary on stdout, exit 1 when it failed. */
class ReconcileCommandTest {
    private ReconcileDatabase db;

    @BeforeEach
    void freshDatabase() {
        db = ReconcileDatabase.create("reconcile_cli");
    }

    @Test
    void reconcile_runs_one_pass_and_prints_its_summary_as_json() throws Exception {
        db.seed(Seed.of(0x10, 3).agedAt(Instant.now().minus(Duration.ofDays(31))).nodes(2));
        db.seed(Seed.one(0x20).agedAt(Instant.now().minus(Duration.ofDays(1))));
        db.seed(Seed.one(0x30).engineOnly().agedAt(Instant.now().minus(Duration.ofDays(31))));

        Run run = run("reconcile", "--url", db.jdbcUrl());

        assertThat(run.exitCode).as(run.err).isZero();
        assertThat(run.err).isEmpty();
        JsonNode summary = new ObjectMapper().readTree(run.out);
        assertThat(summary.get("skipped").asBoolean()).isFalse();
        assertThat(summary.get("instances_removed").asLong()).isEqualTo(3);
        assertThat(summary.get("nodes_removed").asLong()).isEqualTo(6);
        assertThat(summary.get("engine_records_retired").asLong()).isEqualTo(3);
        assertThat(summary.get("orphans_reclaimed").asLong()).isEqualTo(1);
        assertThat(summary.get("duration_ms").isIntegralNumber()).isTrue();
        assertThat(summary.at("/settings/retention_days").asInt()).isEqualTo(ReconcileSettings.DEFAULT_RETENTION_DAYS);
        assertThat(summary.at("/settings/reconcile_interval").asInt())
                .isEqualTo(ReconcileSettings.DEFAULT_INTERVAL_SECONDS);
        assertThat(summary.at("/settings/hard_cap").asInt()).isEqualTo(Reconciler.HARD_CAP);
        assertThat(summary.has("error")).isFalse();
        assertThat(db.strings("SELECT trigger FROM df.reconcile_runs WHERE id = ?", summary.get("run_id").asLong()))
                .containsExactly("cli");
        assertThat(db.dfIds()).containsExactly(ReconcileDatabase.id(0x20));
    }

    @Test
    void reconcile_with_a_bad_setting_exits_one_names_the_setting_and_removes_nothing() throws Exception {
        db.seed(Seed.of(0x10, 3).agedAt(Instant.now().minus(Duration.ofDays(400))));
        db.set(ReconcileSettings.RETENTION_DAYS, "thirty");

        Run run = run("reconcile", "--url", db.jdbcUrl());

        assertThat(run.exitCode).isEqualTo(1);
        assertThat(run.err.strip().lines()).singleElement().asString()
                .startsWith("reconcile: error: ")
                .contains("pg_durable.retention_days", "'thirty'");
        JsonNode summary = new ObjectMapper().readTree(run.out);
        assertThat(summary.get("error").asText()).contains("pg_durable.retention_days", "'thirty'");
        assertThat(summary.get("instances_removed").asLong()).isZero();
        assertThat(db.dfIds()).hasSize(3);
        assertThat(db.engineRootIds()).hasSize(3);
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

    private record Run(int exitCode, String out, String err) {
    }
}
