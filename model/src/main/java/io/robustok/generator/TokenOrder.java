package io.robustok.generator;

import java.io.Serializable;
import java.util.SplittableRandom;

/**
 * RAR's randomized generation order (SPEC section 5): each training sequence is read in a uniformly random
 * permutation with probability r, otherwise in raster order; r = 1 until {@code annealStart}, falls linearly to 0 at
 * {@code annealEnd} (global steps; paper: 125k to 187.5k of 250k) and stays 0, so training ends as plain raster AR,
 * which is the order sampling uses.
 */
public record TokenOrder(long annealStart, long annealEnd) implements Serializable {

    public TokenOrder {
        if (annealStart < 0 || annealEnd < annealStart) {
            throw new IllegalArgumentException("generator.random-order: need 0 <= start <= end, got " + annealStart + ", " + annealEnd);
        }
    }

    /** Probability r of a random order at {@code globalStep}. */
    public double randomRatio(long globalStep) {
        if (globalStep < annealStart) return 1.0;
        if (globalStep >= annealEnd) return 0.0;
        return 1.0 - (double) (globalStep - annealStart) / (annealEnd - annealStart);
    }

    /** Orders for {@code n} sequences of {@code t} tokens: each a random permutation with probability r, else raster. */
    public static int[][] sample(int n, int t, double r, SplittableRandom rng) {
        int[][] o = new int[n][t];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < t; j++) o[i][j] = j;
            // draw the coin even when r is 0 or 1, so the stream of draws does not depend on r
            if (rng.nextDouble() < r) {
                for (int j = t - 1; j > 0; j--) { // Fisher-Yates
                    int k = rng.nextInt(j + 1);
                    int tmp = o[i][j];
                    o[i][j] = o[i][k];
                    o[i][k] = tmp;
                }
            }
        }
        return o;
    }
}
