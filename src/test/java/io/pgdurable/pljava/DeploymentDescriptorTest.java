package io.pgdurable.pljava;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The PL/Java deployment descriptor must declare every Java entry point, and only real ones, and
 * must remove exactly what it creates. Runs everywhere, with or without PL/Java.
 */
class DeploymentDescriptorTest {
    private static final Path PROJECT = DescriptorCommands.PROJECT;
    private static final Pattern JAVA_TARGET = Pattern.compile("AS '([\\w.]+)\\.(\\w+)'");
    private static final Pattern CREATED = Pattern.compile("CREATE OR REPLACE FUNCTION (df\\.\\w+)\\(([^)]*)\\)");
    private static final Pattern DROPPED = Pattern.compile("DROP FUNCTION IF EXISTS (df\\.\\w+)\\(([^)]*)\\)");

    private static String descriptor() throws IOException {
        return DescriptorCommands.descriptor();
    }

    private static String section(String ddr, String action) {
        return DescriptorCommands.section(ddr, action);
    }

    @Test
    void every_command_reads_as_one_statement_under_pljavas_rules() throws IOException {
        // PL/Java splits an action group at semicolons outside quotes and takes a command that
        // starts with BEGIN <name> for an implementor block: a PL/pgSQL body must be quoted.
        for (String action : List.of("INSTALL", "REMOVE")) {
            List<String> commands = DescriptorCommands.split(section(descriptor(), action));
            assertThat(commands).as(action).isNotEmpty();
            assertThat(commands).as(action).allSatisfy(c -> assertThat(c)
                    .matches("(?s)(CREATE OR REPLACE FUNCTION|REVOKE|GRANT|COMMENT ON|DROP FUNCTION IF EXISTS) .*"));
        }
    }

    @Test
    void run_worker_and_its_java_half_accept_the_same_seconds() throws IOException {
        // df.run_worker checks the range; df._worker_start checks it again for direct callers.
        String runWorker = DescriptorCommands.installCommand("CREATE OR REPLACE FUNCTION df.run_worker(");
        assertThat(runWorker).contains("seconds NOT BETWEEN 1 AND " + InDatabaseWorker.MAX_SECONDS)
                .contains("seconds must be between 1 and " + InDatabaseWorker.MAX_SECONDS);
    }

    @Test
    void the_pljava_extension_declares_the_same_functions_as_the_descriptor_and_ensures_its_jar_first()
            throws IOException {
        // pg_durable_pljava cannot install its jar while it is being created, so it declares the
        // descriptor's functions itself; they must stay the same, apart from the jar check.
        String extension = Files.readString(PROJECT.resolve("src/main/extension/pg_durable_pljava--0.2.0.sql"));
        List<String> declared = DescriptorCommands.split(section(descriptor(), "INSTALL"));
        assertThat(declared).isNotEmpty();
        for (String command : declared) {
            String expected = command.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION")
                    .replace("    PERFORM df._worker_start(seconds);",
                            "    PERFORM df._pljava_ensure_jar();\n    PERFORM df._worker_start(seconds);");
            assertThat(extension).as("the extension script holds, as in the descriptor:%n%s", command)
                    .contains(expected);
        }
    }

    @Test
    void every_public_entry_point_is_declared_and_every_declaration_has_an_entry_point() throws Exception {
        String install = section(descriptor(), "INSTALL");
        Set<String> declared = new TreeSet<>();
        Matcher m = JAVA_TARGET.matcher(install);
        while (m.find()) {
            Class<?> owner = Class.forName(m.group(1));
            List<Method> candidates = Arrays.stream(owner.getMethods())
                    .filter(x -> x.getName().equals(m.group(2)) && Modifier.isStatic(x.getModifiers()))
                    .toList();
            assertThat(candidates).as("public static %s.%s", m.group(1), m.group(2)).isNotEmpty();
            declared.add(m.group(2));
        }
        Set<String> entryPoints = new TreeSet<>();
        for (Method method : Functions.class.getDeclaredMethods()) {
            if (Modifier.isPublic(method.getModifiers()) && Modifier.isStatic(method.getModifiers())) {
                entryPoints.add(method.getName());
            }
        }
        assertThat(declared).as("entry points declared in the descriptor").isEqualTo(entryPoints);
    }

    @Test
    void remove_actions_drop_exactly_the_functions_the_install_actions_create_and_no_table() throws IOException {
        String ddr = descriptor();
        Set<String> created = signatures(CREATED, section(ddr, "INSTALL"));
        Set<String> dropped = signatures(DROPPED, section(ddr, "REMOVE"));
        assertThat(created).isNotEmpty().isEqualTo(dropped);
        assertThat(section(ddr, "REMOVE")).doesNotContainIgnoringCase("DROP TABLE").doesNotContainIgnoringCase("DROP SCHEMA");
    }

    @Test
    void generated_install_script_holds_every_step_and_function_file_in_order() throws IOException {
        String install = Files.readString(PROJECT.resolve("target/pljava-deploy/install.sql"));
        assertThat(install).doesNotContain(io.pgdurable.schema.ScriptGenerator.TEMPLATE_MARKER);
        String fresh = install.substring(install.indexOf("\\if :pgd_fresh"), install.indexOf("\\elif :pgd_legacy"));
        int at = 0;
        for (var f : new io.pgdurable.schema.SchemaInstaller().shippedFiles()) {
            int applied = fresh.indexOf("\n-- " + f.file() + "\n", at);
            assertThat(applied).as("install.sql applies %s after the previous file", f.file()).isGreaterThan(at);
            assertThat(fresh).as("install.sql records %s", f.file()).contains("'" + f.checksum() + "'");
            at = applied;
        }
    }

    @Test
    void the_built_jar_carries_the_descriptor_and_names_it_in_its_manifest() throws IOException {
        Path jar = PROJECT.resolve("target/pg-durable.jar");
        assertThat(jar).exists();
        try (JarFile file = new JarFile(jar.toFile())) {
            assertThat(file.getEntry("pljava-deploy/pg_durable.ddr")).isNotNull();
            java.util.jar.Attributes section = file.getManifest().getAttributes("pljava-deploy/pg_durable.ddr");
            assertThat(section).as("manifest section of the descriptor").isNotNull();
            assertThat(section.getValue("SQLJDeploymentDescriptor")).isEqualToIgnoringCase("TRUE");
            String inJar = new String(file.getInputStream(file.getEntry("pljava-deploy/pg_durable.ddr")).readAllBytes(),
                    StandardCharsets.UTF_8);
            assertThat(inJar).isEqualTo(descriptor());
        }
    }

    private static Set<String> signatures(Pattern p, String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = p.matcher(text);
        while (m.find()) {
            out.add(m.group(1) + "(" + m.group(2).replaceAll("\\s*\\w+\\s+(\\w+)(\\s+DEFAULT\\s+\\w+)?", "$1").strip() + ")");
        }
        return out;
    }
}
