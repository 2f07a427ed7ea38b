package io.pgdurable;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * target/pg-durable.jar unpacks every runtime dependency into one jar, and the extension bundle
 * ships that jar: it must carry what their licences ask for when they are passed on, namely the
 * list of bundled artifacts with their licences, and each dependency's own LICENSE and NOTICE
 * files under META-INF/licenses/<artifactId>/ (see CONTRIBUTING.md, Build).
 */
class BundledLicencesTest {
    private static final Path PROJECT = Path.of(System.getProperty("pgdurable.test.projectDir", "."));
    private static final Path JAR = PROJECT.resolve("target/pg-durable.jar");
    private static final String THIRD_PARTY = "META-INF/THIRD-PARTY.txt";

    @Test
    void the_jar_lists_the_bundled_artifacts_with_their_versions_and_licences() throws IOException {
        try (JarFile jar = new JarFile(JAR.toFile())) {
            String list = text(jar, THIRD_PARTY);

            assertThat(list).containsPattern(line("Apache-2.0", "org.apache.httpcomponents.client5:httpclient5",
                    bundledVersion(jar, "org.apache.httpcomponents.client5", "httpclient5")));
            assertThat(list).containsPattern(line("Apache-2.0", "com.zaxxer:HikariCP",
                    bundledVersion(jar, "com.zaxxer", "HikariCP")));
            assertThat(list).containsPattern(line("Apache-2.0", "com.fasterxml.jackson.core:jackson-databind",
                    bundledVersion(jar, "com.fasterxml.jackson.core", "jackson-databind")));
            // pgjdbc's jar carries no pom.properties; the driver on the test class path is the same one.
            assertThat(list).containsPattern(line("BSD-2-Clause", "org.postgresql:postgresql",
                    org.postgresql.util.DriverInfo.DRIVER_VERSION));
            assertThat(list).containsPattern(line("MIT", "org.slf4j:slf4j-api",
                    bundledVersion(jar, "org.slf4j", "slf4j-api")));
            assertThat(list).containsPattern(line("Apache-2.0", "info.picocli:picocli", picocli.CommandLine.VERSION));
        }
    }

    @Test
    void every_artifact_unpacked_into_the_jar_is_on_the_list() throws IOException {
        try (JarFile jar = new JarFile(JAR.toFile())) {
            String list = text(jar, THIRD_PARTY);
            List<String> bundled = new ArrayList<>();
            for (JarEntry e : Collections.list(jar.entries())) {
                String[] parts = e.getName().split("/");
                if (parts.length == 5 && e.getName().startsWith("META-INF/maven/")
                        && parts[4].equals("pom.properties") && !parts[2].equals("io.pgdurable")) {
                    bundled.add(parts[2] + ":" + parts[3] + ":" + bundledVersion(jar, parts[2], parts[3]));
                }
            }
            assertThat(bundled).as("artifacts with a pom.properties in the jar").hasSizeGreaterThanOrEqualTo(5);
            assertThat(bundled).allSatisfy(gav -> assertThat(list).contains("(" + gav + " "));
        }
    }

    @Test
    void the_jar_carries_the_notice_of_each_apache_dependency_that_has_one() throws IOException {
        try (JarFile jar = new JarFile(JAR.toFile())) {
            assertThat(text(jar, "META-INF/licenses/httpclient5/NOTICE"))
                    .contains("Apache HttpClient")
                    .contains("This product includes software developed at")
                    .contains("The Apache Software Foundation");
            assertThat(text(jar, "META-INF/licenses/httpcore5/NOTICE")).contains("Apache HttpComponents Core");
            assertThat(text(jar, "META-INF/licenses/httpcore5/LICENSE")).contains("Apache License")
                    .contains("Version 2.0");
            assertThat(text(jar, "META-INF/licenses/jackson-databind/NOTICE")).contains("Jackson");
            assertThat(text(jar, "META-INF/licenses/postgresql/LICENSE")).contains("PostgreSQL Global Development Group");
            assertThat(text(jar, "META-INF/licenses/slf4j-api/LICENSE.txt")).contains("QOS.ch");
        }
    }

    @Test
    void each_bundled_notice_is_the_one_its_own_jar_ships() throws IOException {
        // Copied byte for byte from the dependency jars on the test class path (the same artifacts).
        List<String> compared = new ArrayList<>();
        try (JarFile jar = new JarFile(JAR.toFile())) {
            for (URL url : Collections.list(getClass().getClassLoader().getResources("META-INF/NOTICE"))) {
                if (!url.toString().startsWith("jar:")) {
                    continue; // this project's own, under target/classes
                }
                String artifact = artifactOf(url);
                JarEntry bundled = jar.getJarEntry("META-INF/licenses/" + artifact + "/NOTICE");
                if (artifact.startsWith("httpc") || artifact.startsWith("jackson-")) {
                    assertThat(bundled).as("NOTICE of %s in the jar", artifact).isNotNull();
                }
                if (bundled != null) {
                    try (InputStream own = url.openStream(); InputStream copy = jar.getInputStream(bundled)) {
                        assertThat(copy.readAllBytes()).as(artifact).isEqualTo(own.readAllBytes());
                    }
                    compared.add(artifact);
                }
            }
        }
        assertThat(compared).contains("httpclient5", "httpcore5", "httpcore5-h2", "jackson-databind",
                "jackson-core", "jackson-annotations");
    }

    @Test
    void no_dependency_licence_stands_in_the_place_of_the_projects_own() throws IOException {
        // Unpacking the dependencies into one jar used to leave the first one's LICENSE and NOTICE
        // in META-INF, as though they were this project's.
        try (JarFile jar = new JarFile(JAR.toFile())) {
            for (String name : List.of("LICENSE", "NOTICE")) {
                Path own = PROJECT.resolve(name);
                JarEntry entry = jar.getJarEntry("META-INF/" + name);
                if (Files.exists(own)) {
                    assertThat(entry).as("META-INF/%s", name).isNotNull();
                    assertThat(text(jar, "META-INF/" + name)).isEqualTo(Files.readString(own));
                } else {
                    assertThat(entry).as("META-INF/%s without one in the repository", name).isNull();
                }
            }
            assertThat(jar.getJarEntry("META-INF/LICENSE.txt")).isNull();
            assertThat(jar.getJarEntry("META-INF/DEPENDENCIES")).isNull();
        }
    }

    private static Pattern line(String licence, String groupAndArtifact, String version) {
        return Pattern.compile("(?m)^\\s*\\(" + Pattern.quote(licence) + "\\) .* \\("
                + Pattern.quote(groupAndArtifact + ":" + version) + " ");
    }

    private static String bundledVersion(JarFile jar, String group, String artifact) throws IOException {
        JarEntry e = jar.getJarEntry("META-INF/maven/" + group + "/" + artifact + "/pom.properties");
        assertThat(e).as("pom.properties of %s:%s in the jar", group, artifact).isNotNull();
        Properties p = new Properties();
        try (InputStream in = jar.getInputStream(e)) {
            p.load(in);
        }
        return p.getProperty("version");
    }

    private static String text(JarFile jar, String name) throws IOException {
        JarEntry e = jar.getJarEntry(name);
        assertThat(e).as("%s in %s", name, JAR).isNotNull();
        try (InputStream in = jar.getInputStream(e)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** {@code httpcore5} for {@code jar:file:/.../httpcore5-5.4.4.jar!/META-INF/NOTICE}. */
    private static String artifactOf(URL url) {
        String path = url.toString();
        String file = path.substring(0, path.indexOf(".jar!")).replaceAll(".*/", "");
        return file.replaceAll("-\\d[^-]*(-SNAPSHOT)?$", "");
    }
}
