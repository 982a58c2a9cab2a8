package io.robustok.cli;

import java.io.PrintStream;

/**
 * SameDiff 1.0.0-M2.1 prints one "Added differentiated op NAME" line to System.out for every op of a graph when it
 * builds the graph's gradient function (an unconditional println in SameDiff.createGradFunction). A model has
 * hundreds of ops, so a training log would open with hundreds of such lines; this drops exactly those lines and
 * passes everything else through.
 */
final class QuietStdout extends PrintStream {
    static final String NOISE = "Added differentiated op ";

    private QuietStdout(PrintStream out) {
        super(out, true);
    }

    /** Installs the filter on System.out once (idempotent). */
    static synchronized void install() {
        if (!(System.out instanceof QuietStdout)) System.setOut(new QuietStdout(System.out));
    }

    @Override
    public void println(String x) {
        if (x != null && x.startsWith(NOISE)) return;
        super.println(x);
    }
}
