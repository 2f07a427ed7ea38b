package io.pgdurable.bench;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The parts of the benchmark, in the order they run. */
public enum Scenario {
    /** The database's own single-row INSERT commit rate, without the engine. */
    CEILING,
    /**
     * A short-path step's writes (its row, three history events, the next queue item in and the
     * last one out) committed by the ceiling's clients without the engine: what the data model
     * itself costs on this database. Not among the defaults.
     */
    FLOOR,
    /**
     * The database's side of a step on the short path alone: one session drives one orchestration
     * through {@code df_engine.complete_and_advance} in a loop, without a worker. Not among the
     * defaults.
     */
    COMPLETION,
    /** Many multi-step orchestrations at once. */
    THROUGHPUT,
    /** Single-step orchestrations, one at a time. */
    LATENCY,
    /** One long sequential orchestration against a short one. */
    LONG,
    /** Many df workflows of SQL steps, started with df.start. */
    DF,
    /** Single-step df workflows, one at a time: from the df.start call to the worker's end of it. */
    DF_LATENCY,
    /**
     * As {@link #DF_LATENCY}, with workflows of a JOIN of two one-step branches followed by a
     * step: what starting and joining branches costs. Not among the defaults.
     */
    DF_JOIN,
    /**
     * Single {@code df.start} calls of chains of 1, 10, 100 and 250 SQL steps built with {@code ~>},
     * each rolled back: what a start costs its caller as the graph grows. No worker; not among
     * the defaults.
     */
    DF_START,
    /**
     * The df workload again, run by {@code df.run_worker} inside a backend instead of an in-process
     * worker. Needs the PL/Java jar installed; not among the defaults.
     */
    IN_DATABASE,
    /**
     * One role floods the worker with one-step workflows, then another role starts one: how many
     * of the flood's steps finish before the other role's step runs. Not among the defaults.
     */
    FAIRNESS,
    /**
     * The df workload and single df.start calls with 0, 100,000 and 1,000,000 finished instances
     * in the database, then with 10,000 waiting on signals: cost must not grow with history.
     * Writes that history and leaves it; not among the defaults.
     */
    SCALE;

    /** The scenarios run when none are named. */
    public static final String DEFAULTS = "ceiling,throughput,latency,long,df,df-latency";

    /** The name used on the command line. */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Reads a comma-separated list such as {@code ceiling,latency}; order and repeats do not
     * matter, since scenarios always run in declaration order.
     */
    public static Set<Scenario> parseList(String list) {
        EnumSet<Scenario> chosen = EnumSet.noneOf(Scenario.class);
        for (String part : list.split(",")) {
            String name = part.strip();
            if (name.isEmpty()) {
                continue;
            }
            chosen.add(parse(name));
        }
        if (chosen.isEmpty()) {
            throw new IllegalArgumentException("no scenario chosen: expected a comma-separated list of "
                    + String.join(", ", labels()));
        }
        return chosen;
    }

    private static Scenario parse(String name) {
        for (Scenario s : values()) {
            if (s.label().equals(name.toLowerCase(Locale.ROOT))) {
                return s;
            }
        }
        List<String> labels = labels();
        throw new IllegalArgumentException("unknown scenario '" + name + "': expected "
                + String.join(", ", labels.subList(0, labels.size() - 1)) + " or " + labels.get(labels.size() - 1));
    }

    /** Every scenario's name, in order. */
    private static List<String> labels() {
        return Arrays.stream(values()).map(Scenario::label).toList();
    }
}
