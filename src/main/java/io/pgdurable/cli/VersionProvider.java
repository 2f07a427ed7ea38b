package io.pgdurable.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** Reports the build version from the jar manifest or the Maven metadata, whichever is present. */
final class VersionProvider implements IVersionProvider {

    private static final String POM_PROPERTIES = "/META-INF/maven/io.pgdurable/pg-durable/pom.properties";

    @Override
    public String[] getVersion() {
        return new String[] {"pg-durable " + version()};
    }

    static String version() {
        String fromManifest = Main.class.getPackage().getImplementationVersion();
        if (fromManifest != null) {
            return fromManifest;
        }
        try (InputStream in = Main.class.getResourceAsStream(POM_PROPERTIES)) {
            if (in != null) {
                Properties pom = new Properties();
                pom.load(in);
                String version = pom.getProperty("version");
                if (version != null) {
                    return version;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + POM_PROPERTIES, e);
        }
        return "(development build)";
    }
}
