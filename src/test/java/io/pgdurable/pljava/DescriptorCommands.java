package io.pgdurable.pljava;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The SQL commands of one action group of the deployment descriptor, split the way PL/Java's
 * descriptor reader splits them: at semicolons outside single- and double-quoted text, with a
 * backslash escaping the next character.
 */
final class DescriptorCommands {
    static final Path PROJECT = Path.of(System.getProperty("pgdurable.test.projectDir", "."));

    private DescriptorCommands() {
    }

    static String descriptor() throws IOException {
        return Files.readString(PROJECT.resolve("pljava-deploy/pg_durable.ddr"), StandardCharsets.UTF_8);
    }

    /** The text between {@code BEGIN <action>} and {@code END <action>}. */
    static String section(String ddr, String action) {
        int from = ddr.indexOf("BEGIN " + action);
        int to = ddr.indexOf("END " + action);
        if (from < 0 || to < from) {
            throw new IllegalArgumentException("the descriptor has no " + action + " group");
        }
        return ddr.substring(from + ("BEGIN " + action).length(), to);
    }

    /** The commands of {@code section}; fails on an unterminated quote. */
    static List<String> split(String section) {
        List<String> commands = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < section.length(); i++) {
            char c = section.charAt(i);
            if (c == '\\' && i + 1 < section.length()) {
                current.append(c).append(section.charAt(++i));
            } else if (c == '\'' || c == '"') {
                if (quote == 0) {
                    quote = c;
                } else if (quote == c) {
                    quote = 0;
                }
                current.append(c);
            } else if (c == ';' && quote == 0) {
                commands.add(current.toString().strip());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        if (quote != 0) {
            throw new IllegalArgumentException("unterminated " + quote + " in: " + current);
        }
        if (!current.toString().isBlank()) {
            throw new IllegalArgumentException("text after the last semicolon: " + current.toString().strip());
        }
        return commands;
    }

    /** The one command of the INSTALL group that starts with {@code prefix}. */
    static String installCommand(String prefix) throws IOException {
        List<String> matching = split(section(descriptor(), "INSTALL")).stream()
                .filter(c -> c.startsWith(prefix))
                .toList();
        if (matching.size() != 1) {
            throw new IllegalStateException(matching.size() + " INSTALL commands start with " + prefix);
        }
        return matching.get(0);
    }
}
