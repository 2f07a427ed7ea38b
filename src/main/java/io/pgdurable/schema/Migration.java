package io.pgdurable.schema;

import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One versioned schema script, e.g. {@code 003_retention.sql} with version 3.
 *
 * @param version the leading integer of the file name; positive and unique within a migration list
 * @param name    the file name as listed in {@code migrations.list}, recorded in the ledger
 */
public record Migration(int version, String name) {

    private static final Pattern FILE_NAME = Pattern.compile("(\\d+)_[A-Za-z0-9_.-]*\\.sql");

    public Migration {
        Objects.requireNonNull(name, "name");
        if (version <= 0) {
            throw new IllegalArgumentException("migration version must be positive, got " + version + " for " + name);
        }
    }

    /**
     * Parses a file name of the form {@code <version>_<description>.sql}.
     *
     * @throws IllegalArgumentException if the name does not have that form
     */
    public static Migration fromFileName(String fileName) {
        Matcher m = FILE_NAME.matcher(fileName);
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "migration file name must look like 001_description.sql, got '" + fileName + "'");
        }
        return new Migration(Integer.parseInt(m.group(1)), fileName);
    }
}
