package io.pgdurable.security;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The hostile substitution corpus, {@code src/test/resources/security/hostile-values.txt}: values
 * that would change a statement if they were pasted into its text (quotes, backslashes, dollar
 * quotes, comment openers, second statements, Unicode and control characters, look-alike
 * placeholders, very long values, ...). The file's header describes its escapes.
 */
public final class HostileValues {
    private static final String RESOURCE = "/security/hostile-values.txt";
    private static final String REPEAT = "@repeat(";
    private static List<String> values;

    private HostileValues() {
    }

    /** Every value of the corpus, in file order; no two are equal. */
    public static synchronized List<String> all() {
        if (values == null) {
            values = load();
        }
        return values;
    }

    /** Values no longer than {@code maxBytes} bytes of UTF-8. */
    public static List<String> upTo(int maxBytes) {
        return all().stream().filter(v -> v.getBytes(StandardCharsets.UTF_8).length <= maxBytes).toList();
    }

    /** A value made printable for test names and messages: escapes as in the file, clipped. */
    public static String describe(String value) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < value.length() && sb.length() < 60; i++) {
            char c = value.charAt(i);
            if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\r') {
                sb.append("\\r");
            } else if (c == '\t') {
                sb.append("\\t");
            } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || Character.isSurrogate(c)
                    || Character.getType(c) == Character.FORMAT) {
                sb.append(String.format("\\u%04X", (int) c));
            } else {
                sb.append(c);
            }
        }
        String shown = sb.length() < 60 ? sb.toString() : sb + "…";
        return value.length() > 60 ? shown + " (" + value.length() + " chars)" : shown;
    }

    private static List<String> load() {
        String text;
        try (InputStream in = HostileValues.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + RESOURCE);
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        String[] lines = text.split("\n", -1);
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String value = parse(line, n + 1);
            if (!seen.add(value)) {
                throw new IllegalStateException(RESOURCE + " line " + (n + 1) + " repeats an earlier value");
            }
            out.add(value);
        }
        return List.copyOf(out);
    }

    private static String parse(String line, int lineNumber) {
        if (line.equals("@empty")) {
            return "";
        }
        if (line.startsWith(REPEAT)) {
            int comma = line.indexOf(',');
            int close = line.indexOf(')', comma + 1);
            if (comma < 0 || close < 0) {
                throw new IllegalStateException(RESOURCE + " line " + lineNumber + ": expected @repeat(N,UNIT)SUFFIX");
            }
            int count = Integer.parseInt(line.substring(REPEAT.length(), comma));
            String unit = unescape(line.substring(comma + 1, close), lineNumber);
            return unit.repeat(count) + unescape(line.substring(close + 1), lineNumber);
        }
        if (line.startsWith("@")) {
            throw new IllegalStateException(RESOURCE + " line " + lineNumber + ": unknown directive " + line);
        }
        return unescape(line, lineNumber);
    }

    private static String unescape(String s, int lineNumber) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (i + 1 >= s.length()) {
                throw new IllegalStateException(RESOURCE + " line " + lineNumber + ": a lone backslash at the end");
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'b' -> sb.append('\b');
                case '\\' -> sb.append('\\');
                case 'u' -> {
                    if (i + 4 >= s.length()) {
                        throw new IllegalStateException(RESOURCE + " line " + lineNumber + ": short \\u escape");
                    }
                    sb.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> throw new IllegalStateException(RESOURCE + " line " + lineNumber
                        + ": unknown escape \\" + e + " (write a backslash as \\\\)");
            }
        }
        return sb.toString();
    }
}
