package io.robustok.tokenizer;

import java.io.Serializable;

/**
 * Codebook usage over an epoch (SPEC section 2: no restarts, usage is logged): a count per code that workers
 * sum with {@link #merge}, as an evaluator's reset / update / result.
 */
public final class CodeUsage implements Serializable {
    private final long[] counts;
    private long total;

    public CodeUsage(int codebookSize) {
        counts = new long[codebookSize];
    }

    public void add(int[] ids) {
        for (int id : ids) counts[id]++;
        total += ids.length;
    }

    public CodeUsage merge(CodeUsage other) {
        if (other.counts.length != counts.length) throw new IllegalArgumentException("codebook sizes differ");
        for (int i = 0; i < counts.length; i++) counts[i] += other.counts[i];
        total += other.total;
        return this;
    }

    public void reset() {
        java.util.Arrays.fill(counts, 0);
        total = 0;
    }

    public long total() {
        return total;
    }

    public long count(int code) {
        return counts[code];
    }

    /** Fraction of codes used at least once. */
    public double usedFraction() {
        int used = 0;
        for (long c : counts) if (c > 0) used++;
        return used / (double) counts.length;
    }

    /** Entropy of the code distribution in nats (ln K when uniform). */
    public double entropy() {
        if (total == 0) return 0;
        double h = 0;
        for (long c : counts) {
            if (c == 0) continue;
            double p = c / (double) total;
            h -= p * Math.log(p);
        }
        return h;
    }

    /** exp(entropy): the effective number of codes in use. */
    public double perplexity() {
        return Math.exp(entropy());
    }
}
