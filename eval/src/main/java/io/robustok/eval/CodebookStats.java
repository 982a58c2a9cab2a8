package io.robustok.eval;

import java.io.Serializable;

/**
 * Token-usage statistics of a codebook over a set of token ids (SPEC section 2: usage is logged; no EMA or
 * restarts hide dead codes): usage = fraction of codes used at least once, entropy of the empirical code
 * distribution (nats and bits), perplexity = exp(entropy) (the effective number of codes; K when uniform).
 * Counts merge, so partitions fold with Spark's aggregate.
 */
public final class CodebookStats implements Serializable {
    private static final long serialVersionUID = 1L;
    private final long[] counts;

    public CodebookStats(int codebookSize) {
        if (codebookSize <= 0) throw new IllegalArgumentException("codebook size must be positive");
        counts = new long[codebookSize];
    }

    public CodebookStats update(int[] tokens) {
        for (int t : tokens) {
            if (t < 0 || t >= counts.length) throw new IllegalArgumentException("token " + t + " outside codebook of " + counts.length);
            counts[t]++;
        }
        return this;
    }

    public CodebookStats update(long[] tokens) {
        for (long t : tokens) {
            if (t < 0 || t >= counts.length) throw new IllegalArgumentException("token " + t + " outside codebook of " + counts.length);
            counts[(int) t]++;
        }
        return this;
    }

    public CodebookStats merge(CodebookStats other) {
        if (other.counts.length != counts.length) throw new IllegalArgumentException("codebook sizes differ");
        for (int i = 0; i < counts.length; i++) counts[i] += other.counts[i];
        return this;
    }

    public int codebookSize() {
        return counts.length;
    }

    public long total() {
        long n = 0;
        for (long c : counts) n += c;
        return n;
    }

    public int used() {
        int u = 0;
        for (long c : counts) if (c > 0) u++;
        return u;
    }

    /** Fraction of the codebook used at least once. */
    public double usage() {
        return (double) used() / counts.length;
    }

    /** Entropy of the empirical code distribution, in nats. */
    public double entropy() {
        long n = total();
        if (n == 0) return 0;
        double h = 0;
        for (long c : counts) {
            if (c > 0) {
                double p = (double) c / n;
                h -= p * Math.log(p);
            }
        }
        return h;
    }

    public double entropyBits() {
        return entropy() / Math.log(2);
    }

    public double perplexity() {
        return Math.exp(entropy());
    }

    public long[] counts() {
        return counts.clone();
    }
}
