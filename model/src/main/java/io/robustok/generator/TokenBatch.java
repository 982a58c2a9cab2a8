package io.robustok.generator;

/**
 * A generator minibatch: token ids [N][T] (raster order) and labels [N]. Generation orders and class dropout are
 * drawn by the worker at step time, from the step's seed and global step.
 */
public record TokenBatch(int[][] tokens, int[] labels) {

    public TokenBatch {
        if (tokens.length != labels.length) throw new IllegalArgumentException("one label per token row");
    }

    public int size() {
        return labels.length;
    }
}
