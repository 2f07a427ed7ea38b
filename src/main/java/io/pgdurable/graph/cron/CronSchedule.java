package io.pgdurable.graph.cron;

import io.pgdurable.graph.model.GraphException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Objects;

/**
 * A five-field cron expression ({@code minute hour day-of-month month day-of-week}) evaluated in
 * UTC, with the grammar and day rule of Vixie cron as pg_cron and most Unix systems use it.
 *
 * <p>Each field is a comma-separated list of elements: {@code *}, {@code n}, {@code a-b},
 * {@code *}{@code /s}, {@code a-b/s} or {@code a/s} (from a to the field's maximum in steps of s).
 * Ranges: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or
 * SUN-SAT, where both 0 and 7 are Sunday. Names are case-insensitive; a range must not run
 * backwards; a step is 1 to the field's maximum. Fields are separated by spaces or tabs. Nothing
 * else is accepted: no {@code L}, {@code W}, {@code #}, {@code ?}, {@code H}, no seconds or year
 * field, no {@code @daily} macros.
 *
 * <p>Days: when both day-of-month and day-of-week are restricted (neither field starts with
 * {@code *}), a day matches if either matches ({@code 0 0 13 * 5} fires on every 13th and every
 * Friday); otherwise it must match both. An expression that can never fire, such as
 * {@code 0 0 30 2 *}, is rejected.
 *
 * <p>The original extension used a different dialect (Rust's cron crate: day-of-week 1-7 with
 * Sunday = 1); expressions are validated when the graph is built, so a stored step always parses.
 */
public final class CronSchedule {

    private static final int SEARCH_DAYS = 400 * 366 + 1;
    private static final String[] MONTH_NAMES =
            {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    private static final String[] DAY_NAMES = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    private static final int[] MAX_DAYS = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    private enum Field {
        MINUTE("minute", 0, 59, null),
        HOUR("hour", 0, 23, null),
        DAY_OF_MONTH("day-of-month", 1, 31, null),
        MONTH("month", 1, 12, MONTH_NAMES),
        DAY_OF_WEEK("day-of-week", 0, 7, DAY_NAMES);

        final String label;
        final int min;
        final int max;
        final String[] names;

        Field(String label, int min, int max, String[] names) {
            this.label = label;
            this.min = min;
            this.max = max;
            this.names = names;
        }
    }

    private final String expression;
    private final long minutes;
    private final long hours;
    private final long daysOfMonth;
    private final long months;
    private final long daysOfWeek;
    private final boolean eitherDay;

    private CronSchedule(String expression, long[] sets, boolean eitherDay) {
        this.expression = expression;
        this.minutes = sets[0];
        this.hours = sets[1];
        this.daysOfMonth = sets[2];
        this.months = sets[3];
        long dow = sets[4];
        if ((dow & (1L << 7)) != 0) {
            dow = (dow | 1L) & ~(1L << 7);
        }
        this.daysOfWeek = dow;
        this.eitherDay = eitherDay;
    }

    /**
     * Parses and validates {@code expression}.
     *
     * @throws GraphException {@code Invalid cron expression '<expression>': <reason>}
     */
    public static CronSchedule parse(String expression) {
        if (expression == null) {
            throw invalid(null, "no expression given");
        }
        String trimmed = expression.strip();
        if (trimmed.isEmpty()) {
            throw invalid(expression, "the expression is empty");
        }
        String[] parts = trimmed.split("[ \\t]+");
        if (parts.length != 5) {
            throw invalid(expression, "expected 5 fields (minute hour day-of-month month day-of-week), found "
                    + parts.length);
        }
        Field[] fields = Field.values();
        long[] sets = new long[5];
        for (int f = 0; f < 5; f++) {
            sets[f] = parseField(expression, fields[f], parts[f]);
        }
        boolean domRestricted = !parts[2].startsWith("*");
        boolean dowRestricted = !parts[4].startsWith("*");
        CronSchedule schedule = new CronSchedule(expression, sets, domRestricted && dowRestricted);
        if (!schedule.eitherDay && !schedule.someMonthHasADay()) {
            throw invalid(expression, "it never fires: none of the months has any of the days of the month");
        }
        return schedule;
    }

    /** The expression as given. */
    public String expression() {
        return expression;
    }

    /** The first time the schedule fires strictly after {@code after}, in UTC, at a whole minute. */
    public Instant next(Instant after) {
        LocalDateTime start = LocalDateTime.ofInstant(after, ZoneOffset.UTC)
                .truncatedTo(ChronoUnit.MINUTES)
                .plusMinutes(1);
        LocalDate day = start.toLocalDate();
        int fromMinute = start.getHour() * 60 + start.getMinute();
        for (int k = 0; k < SEARCH_DAYS; k++) {
            if (!has(months, day.getMonthValue())) {
                day = day.withDayOfMonth(1).plusMonths(1);
                fromMinute = 0;
                continue;
            }
            if (dayMatches(day)) {
                int minuteOfDay = firstMinuteFrom(fromMinute);
                if (minuteOfDay >= 0) {
                    return day.atTime(minuteOfDay / 60, minuteOfDay % 60).toInstant(ZoneOffset.UTC);
                }
            }
            day = day.plusDays(1);
            fromMinute = 0;
        }
        throw new IllegalStateException("cron expression '" + expression + "' has no time in 400 years after " + after);
    }

    @Override
    public String toString() {
        return expression;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CronSchedule c && c.minutes == minutes && c.hours == hours && c.daysOfMonth == daysOfMonth
                && c.months == months && c.daysOfWeek == daysOfWeek && c.eitherDay == eitherDay;
    }

    @Override
    public int hashCode() {
        return Objects.hash(minutes, hours, daysOfMonth, months, daysOfWeek, eitherDay);
    }

    private boolean dayMatches(LocalDate day) {
        boolean dom = has(daysOfMonth, day.getDayOfMonth());
        boolean dow = has(daysOfWeek, day.getDayOfWeek().getValue() % 7);
        return eitherDay ? dom || dow : dom && dow;
    }

    private int firstMinuteFrom(int minuteOfDay) {
        for (int h = minuteOfDay / 60; h < 24; h++) {
            if (!has(hours, h)) {
                continue;
            }
            for (int m = h == minuteOfDay / 60 ? minuteOfDay % 60 : 0; m < 60; m++) {
                if (has(minutes, m)) {
                    return h * 60 + m;
                }
            }
        }
        return -1;
    }

    private boolean someMonthHasADay() {
        for (int month = 1; month <= 12; month++) {
            if (has(months, month) && (daysOfMonth & ((1L << (MAX_DAYS[month] + 1)) - 2)) != 0) {
                return true;
            }
        }
        return false;
    }

    private static boolean has(long set, int v) {
        return (set & (1L << v)) != 0;
    }

    private static long parseField(String expression, Field field, String text) {
        long set = 0;
        for (String element : text.split(",", -1)) {
            if (element.isEmpty()) {
                throw invalid(expression, field.label + " field '" + text + "' has an empty list element");
            }
            set |= parseElement(expression, field, element);
        }
        return set;
    }

    private static long parseElement(String expression, Field field, String element) {
        String base = element;
        int step = 1;
        int slash = element.indexOf('/');
        if (slash >= 0) {
            base = element.substring(0, slash);
            String stepText = element.substring(slash + 1);
            if (!stepText.matches("[0-9]{1,9}")) {
                throw invalid(expression, field.label + " element '" + element
                        + "' needs a whole-number step after '/'");
            }
            step = Integer.parseInt(stepText);
            if (step < 1 || step > field.max) {
                throw invalid(expression, field.label + " step " + step + " is out of range 1-" + field.max);
            }
        }
        int from;
        int to;
        if (base.equals("*")) {
            from = field.min;
            to = field.max;
        } else {
            int dash = base.indexOf('-');
            if (dash >= 0) {
                from = value(expression, field, base.substring(0, dash), element);
                to = value(expression, field, base.substring(dash + 1), element);
                if (from > to) {
                    throw invalid(expression, field.label + " range '" + base + "' runs backwards");
                }
            } else {
                from = value(expression, field, base, element);
                to = slash >= 0 ? field.max : from;
            }
        }
        long set = 0;
        for (int v = from; v <= to; v += step) {
            set |= 1L << v;
        }
        return set;
    }

    private static int value(String expression, Field field, String text, String element) {
        if (text.matches("[0-9]{1,9}")) {
            int v = Integer.parseInt(text);
            if (v < field.min || v > field.max) {
                throw invalid(expression, field.label + " value " + v + " is out of range "
                        + field.min + "-" + field.max);
            }
            return v;
        }
        if (field.names != null) {
            String upper = text.toUpperCase(Locale.ROOT);
            for (int k = 0; k < field.names.length; k++) {
                if (field.names[k].equals(upper)) {
                    return field == Field.MONTH ? k + 1 : k;
                }
            }
        }
        String allowed = field.names == null ? "numbers" : "numbers or names such as " + field.names[0];
        String hint = element.matches(".*[LWHlwh#?].*") ? " (L, W, #, ? and H are not supported)" : "";
        throw invalid(expression, field.label + " element '" + element + "' is not valid: expected " + allowed + hint);
    }

    private static GraphException invalid(String expression, String reason) {
        return new GraphException("Invalid cron expression '" + expression + "': " + reason);
    }
}
