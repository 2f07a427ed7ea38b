package io.pgdurable.schema;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * One schema source file as the ledger {@code df_engine.schema_files} records it.
 *
 * @param file            the path under {@code sql/}, e.g. {@code steps/001_baseline.sql}
 * @param kind            {@code step} (applied once, never edited once released) or
 *                        {@code functions} (re-applied in full on every install and upgrade)
 * @param release         for a step, the release it first shipped in (its first line
 *                        {@code -- release: X}); for a function file, the release being installed
 * @param checksum        SHA-256 of the file's bytes, lower-case hex
 * @param requiresDrained a step whose second line is {@code -- requires: drained}: it cannot keep
 *                        in-flight work, so an upgrade that applies it refuses while any engine
 *                        instance is not finished
 * @param text            the file's content
 */
public record SchemaFile(String file, String kind, String release, String checksum, boolean requiresDrained,
                         String text) {

    /** The kind of a step file. */
    public static final String STEP = "step";
    /** The kind of a function file. */
    public static final String FUNCTIONS = "functions";

    public SchemaFile {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(release, "release");
        Objects.requireNonNull(checksum, "checksum");
        Objects.requireNonNull(text, "text");
    }

    /** True for a step file. */
    public boolean isStep() {
        return STEP.equals(kind);
    }

    /** SHA-256 of {@code bytes}, lower-case hex. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }

    /** SHA-256 of {@code text} encoded as UTF-8, lower-case hex. */
    public static String sha256(String text) {
        return sha256(text.getBytes(StandardCharsets.UTF_8));
    }
}
