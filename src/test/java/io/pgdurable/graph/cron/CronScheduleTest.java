package io.pgdurable.graph.cron;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import io.pgdurable.graph.model.GraphException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CronScheduleTest {

    private record Case(boolean valid, String expression) {
    }

    static List<Case> cases() throws IOException {
        List<Case> out = new ArrayList<>();
        try (InputStream in = CronScheduleTest.class.getResourceAsStream("cron-cases.txt");
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                int tab = line.indexOf('\t');
                String verdict = line.substring(0, tab);
                assertThat(verdict).isIn("valid", "invalid");
                out.add(new Case(verdict.equals("valid"), line.substring(tab + 1)));
            }
        }
        return out;
    }

    private static Instant at(String utc) {
        return Instant.parse(utc);
    }

    private static Instant next(String expression, String afterUtc) {
        return CronSchedule.parse(expression).next(at(afterUtc));
    }

    @Test
    void shared_cases_are_accepted_or_rejected_as_listed() throws IOException {
        List<Case> cases = cases();
        assertThat(cases).hasSizeGreaterThanOrEqualTo(30);
        for (Case c : cases) {
            if (c.valid()) {
                assertThat(CronSchedule.parse(c.expression()).expression()).as(c.expression())
                        .isEqualTo(c.expression());
            } else {
                Throwable t = catchThrowable(() -> CronSchedule.parse(c.expression()));
                assertThat(t).as("'%s' should be rejected", c.expression()).isInstanceOf(GraphException.class);
                assertThat(t.getMessage()).startsWith("Invalid cron expression '" + c.expression() + "': ");
            }
        }
    }

    @Test
    void error_messages_say_what_is_wrong() {
        assertThatThrownBy(() -> CronSchedule.parse("60 * * * *"))
                .hasMessage("Invalid cron expression '60 * * * *': minute value 60 is out of range 0-59");
        assertThatThrownBy(() -> CronSchedule.parse("* * * *"))
                .hasMessage("Invalid cron expression '* * * *': expected 5 fields (minute hour day-of-month month"
                        + " day-of-week), found 4");
        assertThatThrownBy(() -> CronSchedule.parse("0 0 L * *"))
                .hasMessage("Invalid cron expression '0 0 L * *': day-of-month element 'L' is not valid: expected"
                        + " numbers (L, W, #, ? and H are not supported)");
        assertThatThrownBy(() -> CronSchedule.parse("0 0 * * FRI-MON"))
                .hasMessage("Invalid cron expression '0 0 * * FRI-MON': day-of-week range 'FRI-MON' runs backwards");
        assertThatThrownBy(() -> CronSchedule.parse("*/0 * * * *"))
                .hasMessage("Invalid cron expression '*/0 * * * *': minute step 0 is out of range 1-59");
        assertThatThrownBy(() -> CronSchedule.parse("0 0 31 4 *"))
                .hasMessage("Invalid cron expression '0 0 31 4 *': it never fires: none of the months has any of the"
                        + " days of the month");
        assertThatThrownBy(() -> CronSchedule.parse(null))
                .hasMessage("Invalid cron expression 'null': no expression given");
    }

    @Test
    void next_is_strictly_after_and_on_a_whole_minute() {
        assertThat(next("*/15 * * * *", "2024-06-15T12:30:00Z")).isEqualTo(at("2024-06-15T12:45:00Z"));
        assertThat(next("*/15 * * * *", "2024-06-15T12:44:59.999Z")).isEqualTo(at("2024-06-15T12:45:00Z"));
        assertThat(next("*/15 * * * *", "2024-06-15T12:45:00Z")).isEqualTo(at("2024-06-15T13:00:00Z"));
        assertThat(next("* * * * *", "2024-06-15T12:30:00.000000001Z")).isEqualTo(at("2024-06-15T12:31:00Z"));
        assertThat(next("59 23 31 12 *", "2024-12-31T23:59:00Z")).isEqualTo(at("2025-12-31T23:59:00Z"));
    }

    @Test
    void sunday_is_zero_and_seven_and_names_work() {
        // 2024-06-15 is a Saturday.
        assertThat(next("0 0 * * 0", "2024-06-15T12:30:00Z")).isEqualTo(at("2024-06-16T00:00:00Z"));
        assertThat(next("0 0 * * 7", "2024-06-15T12:30:00Z")).isEqualTo(at("2024-06-16T00:00:00Z"));
        assertThat(next("0 0 * * sun", "2024-06-15T12:30:00Z")).isEqualTo(at("2024-06-16T00:00:00Z"));
        assertThat(next("30 9 * * MON-FRI", "2024-06-15T12:30:00Z")).isEqualTo(at("2024-06-17T09:30:00Z"));
        assertThat(next("0 0 * * 7/2", "2024-06-16T00:00:00Z")).isEqualTo(at("2024-06-23T00:00:00Z"));
        assertThat(next("0 0 1 JAN *", "2024-06-15T12:30:00Z")).isEqualTo(at("2025-01-01T00:00:00Z"));
        assertThat(CronSchedule.parse("0 0 * * SUN-SAT")).isEqualTo(CronSchedule.parse("0 0 * * *"));
    }

    @Test
    void restricted_day_of_month_and_day_of_week_match_either() {
        // The 13th or any Friday.
        assertThat(next("0 0 13 * 5", "2024-06-15T12:30:00Z")).isEqualTo(at("2024-06-21T00:00:00Z"));
        assertThat(next("0 0 13 * 5", "2024-07-12T00:00:00Z")).isEqualTo(at("2024-07-13T00:00:00Z"));
        // February 29 or any Monday in February.
        assertThat(next("0 0 29 2 1", "2024-03-01T00:00:00Z")).isEqualTo(at("2025-02-03T00:00:00Z"));
    }

    @Test
    void a_day_field_starting_with_a_star_makes_both_day_fields_match() {
        // Odd days of the month that are Mondays.
        assertThat(next("0 0 */2 * 1", "2024-06-15T12:30:00Z")).isEqualTo(at("2024-06-17T00:00:00Z"));
        assertThat(next("0 0 */2 * 1", "2024-06-17T00:00:00Z")).isEqualTo(at("2024-07-01T00:00:00Z"));
    }

    @Test
    void days_one_to_seven_with_a_weekday_is_not_the_first_weekday_of_the_month() {
        // As in every Vixie-style cron: days 1-7 or any Monday, not "the first Monday".
        assertThat(next("0 12 1-7 * MON", "2024-06-15T00:00:00Z")).isEqualTo(at("2024-06-17T12:00:00Z"));
        assertThat(next("0 12 1-7 * MON", "2024-06-30T00:00:00Z")).isEqualTo(at("2024-07-01T12:00:00Z"));
        assertThat(next("0 12 1-7 * MON", "2024-07-01T12:00:00Z")).isEqualTo(at("2024-07-02T12:00:00Z"));
    }

    @Test
    void rare_dates_are_found() {
        assertThat(next("0 0 29 2 *", "2024-03-01T00:00:00Z")).isEqualTo(at("2028-02-29T00:00:00Z"));
        assertThat(next("0 0 29 2 *", "2096-03-01T00:00:00Z")).isEqualTo(at("2104-02-29T00:00:00Z"));
        // February 29 that is a Monday (the day-of-month field starts with '*', so both must match).
        assertThat(next("0 0 */28 2 1", "2024-03-01T00:00:00Z")).isEqualTo(at("2027-02-01T00:00:00Z"));
        assertThat(next("0 0 29/1 2 1", "2024-03-01T00:00:00Z")).isEqualTo(at("2025-02-03T00:00:00Z"));
    }

    @Test
    void next_agrees_with_a_minute_by_minute_scan() {
        Random random = new Random(20240615);
        for (int k = 0; k < 300; k++) {
            String expression = randomExpression(random, true);
            CronSchedule schedule = CronSchedule.parse(expression);
            Instant after = at("2024-01-01T00:00:00Z").plusSeconds(random.nextInt(3 * 365 * 24 * 3600))
                    .plusNanos(random.nextBoolean() ? 0 : random.nextInt(1_000_000_000));
            Instant expected = Oracle.scan(expression, after, 60 * 24 * 45);
            Instant actual = schedule.next(after);
            if (expected == null) {
                assertThat(actual).as(expression + " after " + after).isAfter(after.plus(45, ChronoUnit.DAYS));
            } else {
                assertThat(actual).as(expression + " after " + after).isEqualTo(expected);
            }
        }
    }

    @Test
    void next_agrees_with_cron_utils_where_their_semantics_coincide() {
        CronParser parser = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));
        Random random = new Random(7);
        int compared = 0;
        while (compared < 300) {
            String expression = randomExpression(random, false);
            String[] f = expression.split(" ");
            boolean starDom = f[2].startsWith("*");
            boolean starDow = f[4].startsWith("*");
            // cron-utils treats */n in a day field as restricting (OR); Vixie cron as unrestricting (AND).
            if ((starDom && !f[2].equals("*")) || (starDow && !f[4].equals("*"))) {
                continue;
            }
            ExecutionTime executionTime = ExecutionTime.forCron(parser.parse(expression));
            ZonedDateTime after = ZonedDateTime.of(2024, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC)
                    .plusMinutes(random.nextInt(3 * 365 * 24 * 60));
            ZonedDateTime expected = executionTime.nextExecution(after).orElseThrow();
            assertThat(CronSchedule.parse(expression).next(after.toInstant())).as(expression + " after " + after)
                    .isEqualTo(expected.toInstant());
            compared++;
        }
    }

    /** A random expression of the grammar; with names and 7 unless {@code numericOnly}. */
    private static String randomExpression(Random r, boolean withNames) {
        int[][] ranges = {{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, withNames ? 7 : 6}};
        StringBuilder sb = new StringBuilder();
        for (int f = 0; f < 5; f++) {
            if (f > 0) {
                sb.append(' ');
            }
            int lo = ranges[f][0];
            int hi = ranges[f][1];
            if (f == 3 && !withNames) {
                hi = 12;
            }
            if (r.nextInt(3) == 0) {
                sb.append('*');
                continue;
            }
            int elements = 1 + r.nextInt(3);
            for (int e = 0; e < elements; e++) {
                if (e > 0) {
                    sb.append(',');
                }
                int a = lo + r.nextInt(hi - lo + 1);
                int b = a + r.nextInt(hi - a + 1);
                int step = 1 + r.nextInt(Math.max(1, Math.min(hi, 10)));
                String av = name(f, a, r, withNames);
                String bv = name(f, b, r, withNames);
                switch (r.nextInt(5)) {
                    case 0 -> sb.append(av);
                    case 1 -> sb.append(av).append('-').append(bv);
                    case 2 -> sb.append("*/").append(step);
                    case 3 -> sb.append(av).append('-').append(bv).append('/').append(step);
                    default -> sb.append(av).append('/').append(step);
                }
            }
        }
        String expression = sb.toString();
        try {
            CronSchedule.parse(expression);
            return expression;
        } catch (GraphException neverFires) {
            return randomExpression(r, withNames);
        }
    }

    private static String name(int field, int value, Random r, boolean withNames) {
        if (!withNames || !r.nextBoolean()) {
            return Integer.toString(value);
        }
        if (field == 3) {
            String[] months = {"jan", "FEB", "Mar", "apr", "MAY", "jun", "JUL", "aug", "SEP", "oct", "NOV", "dec"};
            return months[value - 1];
        }
        if (field == 4 && value < 7) {
            return new String[] {"sun", "MON", "Tue", "wed", "THU", "fri", "SAT"}[value];
        }
        return Integer.toString(value);
    }

    /** An independent, naive reading of the same rules, for cross-checking. */
    private static final class Oracle {

        static Instant scan(String expression, Instant after, int minutes) {
            String[] f = expression.trim().split("\\s+");
            boolean[][] sets = new boolean[5][];
            int[][] ranges = {{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}};
            for (int i = 0; i < 5; i++) {
                sets[i] = expand(f[i], ranges[i][0], ranges[i][1], i);
            }
            sets[4][0] |= sets[4][7];
            boolean either = !f[2].startsWith("*") && !f[4].startsWith("*");
            LocalDateTime t = LocalDateTime.ofInstant(after, ZoneOffset.UTC)
                    .truncatedTo(ChronoUnit.MINUTES)
                    .plusMinutes(1);
            for (int k = 0; k < minutes; k++, t = t.plusMinutes(1)) {
                boolean dom = sets[2][t.getDayOfMonth()];
                boolean dow = sets[4][t.getDayOfWeek().getValue() % 7];
                if (sets[0][t.getMinute()] && sets[1][t.getHour()] && sets[3][t.getMonthValue()]
                        && (either ? dom || dow : dom && dow)) {
                    return t.toInstant(ZoneOffset.UTC);
                }
            }
            return null;
        }

        private static boolean[] expand(String field, int lo, int hi, int index) {
            boolean[] set = new boolean[hi + 1];
            for (String e : field.split(",")) {
                String[] stepParts = e.split("/");
                int step = stepParts.length > 1 ? Integer.parseInt(stepParts[1]) : 1;
                String base = stepParts[0];
                int from;
                int to;
                if (base.equals("*")) {
                    from = lo;
                    to = hi;
                } else if (base.contains("-")) {
                    from = number(base.split("-")[0], index);
                    to = number(base.split("-")[1], index);
                } else {
                    from = number(base, index);
                    to = stepParts.length > 1 ? hi : from;
                }
                for (int v = from; v <= to; v += step) {
                    set[v] = true;
                }
            }
            return set;
        }

        private static int number(String s, int index) {
            String u = s.toUpperCase();
            List<String> months =
                    List.of("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC");
            List<String> days = List.of("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT");
            if (index == 3 && months.contains(u)) {
                return months.indexOf(u) + 1;
            }
            if (index == 4 && days.contains(u)) {
                return days.indexOf(u);
            }
            return Integer.parseInt(s);
        }
    }
}
