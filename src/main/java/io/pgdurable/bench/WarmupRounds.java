package io.pgdurable.bench;

import java.io.PrintWriter;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.sql.SQLException;
import java.util.Locale;
import java.util.function.DoubleSupplier;

/**
 * Repeats a scenario's warm-up round until the JIT compiler has settled: until a round during
 * which the compiler threads used less CPU than a tenth of the round's wall time, or the most
 * rounds allowed ({@code --warmup-rounds}). On a two-core machine the compiler runs behind the
 * load for tens of seconds (its threads compete with the worker and PostgreSQL for the same
 * cores), so one fixed round left a large part of the measured run's CPU to compilation that a
 * long-running worker pays once. The compiler's CPU comes from /proc; elsewhere the JVM's own
 * compilation time (which also counts the compiler's waits for a core) stands in, and where
 * neither is known one round is run. For workflows run by {@code df.run_worker}, the compiler
 * watched is that of the backend's JVM (PL/Java's), whose threads are in /proc as well when the
 * database runs on this machine.
 */
final class WarmupRounds {
    /** The compiler's share of a round's wall time under which the JIT counts as settled. */
    static final double SETTLED_SHARE = 0.10;

    /** One unmeasured round of a scenario's workload. */
    interface Round {
        void run() throws SQLException;
    }

    private WarmupRounds() {
    }

    /** Runs {@code round} until this JVM's JIT settles or {@code maxRounds} ran, printing each round's figures. */
    static void repeat(PrintWriter out, String name, int maxRounds, Round round) throws SQLException {
        repeat(out, name, maxRounds, WarmupRounds::compilerMillis, round);
    }

    /**
     * Runs {@code round} until the JIT whose CPU time so far {@code compiler} reads (in ms, -1 when
     * unknown) settles or {@code maxRounds} ran, printing each round's figures.
     */
    static void repeat(PrintWriter out, String name, int maxRounds, DoubleSupplier compiler, Round round)
            throws SQLException {
        for (int i = 1; i <= maxRounds; i++) {
            double compiledBefore = compiler.getAsDouble();
            long started = System.nanoTime();
            round.run();
            double wallMillis = (System.nanoTime() - started) / 1e6;
            double compiledAfter = compiler.getAsDouble();
            if (compiledBefore < 0 && compiledAfter >= 0) {
                // A JVM that started during the round (PL/Java's, at the worker's first call).
                compiledBefore = 0;
            }
            boolean known = compiledBefore >= 0 && compiledAfter >= 0;
            double compiled = Math.max(0, compiledAfter - compiledBefore);
            boolean settled = !known || compiled < SETTLED_SHARE * wallMillis;
            out.printf(Locale.ROOT, "%s: warm-up round %d took %.2f s, JIT compiler %s%s%n", name, i,
                    wallMillis / 1000, known ? String.format(Locale.ROOT, "%.0f ms", compiled) : "time unknown",
                    settled ? "; settled" : i == maxRounds ? "; not settled after --warmup-rounds=" + maxRounds : "");
            out.flush();
            if (settled) {
                return;
            }
        }
    }

    /** Single-workflow runs per round of a latency scenario's own warm-up ({@link #singles}). */
    static final int SINGLE_RUNS = 100;

    /**
     * A latency scenario's own warm-up, after the shared one: rounds of {@value #SINGLE_RUNS} runs
     * of {@code one} (a single workflow, started and awaited) until the JIT whose CPU time
     * {@code compiler} reads settles on that path. The shared warm-up runs it a few times a round
     * and counts as settled once the compiler keeps up with the many-workflow part; the compiler
     * then spent about a third of one core compiling the single-workflow path during the measured
     * samples, which a long-running worker pays once. {@code what} names the runs in the printed line.
     */
    static void singles(PrintWriter out, String name, String what, int maxRounds, DoubleSupplier compiler, Round one)
            throws SQLException {
        out.printf(Locale.ROOT, "%s: warm-up, rounds of %d %s ...%n", name, SINGLE_RUNS, what);
        out.flush();
        repeat(out, name, maxRounds, compiler, () -> {
            for (int i = 0; i < SINGLE_RUNS; i++) {
                one.run();
            }
        });
    }

    /** This JVM's compiler's CPU so far, else its compilation time, else -1. */
    static double compilerMillis() {
        double cpu = CostMeter.compilerCpuMillis();
        if (cpu >= 0) {
            return cpu;
        }
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
    }
}
