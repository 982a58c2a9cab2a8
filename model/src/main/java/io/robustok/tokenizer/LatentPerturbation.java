package io.robustok.tokenizer;

import com.typesafe.config.Config;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.SplittableRandom;

/**
 * Latent perturbation of main training (SPEC section 3), the paper's central trick: a fraction beta of the
 * images in a batch has each latent token, with probability alpha, replaced by a code drawn uniformly from the
 * delta nearest codes of its encoder output (its own clean code included, so the effective replacement rate is
 * alpha * (1 - 1/delta)). The decoder sees the perturbed codes; the encoder still gets straight-through gradients.
 *
 * <p>The draw is independent of the latents: which rank (0 = clean, 1..delta-1 = the k-th nearest other code)
 * each token takes is decided here from the step seed, and the graph turns ranks into codes with the top-delta
 * indices it computes anyway ({@link TokenizerGraphs}). So one forward/backward pass does the whole step.
 * Never used by encode/decode; pFID uses {@link Tokenizer#decodePerturbed}.
 */
public final class LatentPerturbation {
    private LatentPerturbation() {
    }

    /**
     * The per-epoch schedule (SPEC section 3): ratio = 1 before {@code rampStart}, linear to {@code endRatio} at
     * {@code rampEnd}, {@code endRatio} after; alpha = alphaMax * ratio, delta = floor(deltaMax * ratio), beta const.
     */
    public record Schedule(boolean enabled, double alphaMax, int deltaMax, double beta, double rampStart, double rampEnd,
                           double endRatio) implements Serializable {
        public Schedule {
            if (alphaMax < 0 || alphaMax > 1 || beta < 0 || beta > 1) throw new IllegalArgumentException("perturb: alpha-max and beta must be in [0, 1]");
            if (deltaMax < 1) throw new IllegalArgumentException("perturb.delta-max must be >= 1");
            if (rampEnd < rampStart) throw new IllegalArgumentException("perturb.ramp-end must be >= ramp-start");
        }

        /** SPEC section 3 numbers. */
        public static Schedule paper() {
            return new Schedule(true, 1.0, 100, 0.1, 40, 120, 0.5);
        }

        public static Schedule off() {
            return new Schedule(false, 0, 1, 0, 0, 0, 1);
        }

        public static Schedule from(Config p) {
            return new Schedule(p.getBoolean("enabled"), p.getDouble("alpha-max"), p.getInt("delta-max"), p.getDouble("beta"),
                    p.getDouble("ramp-start"), p.getDouble("ramp-end"), p.getDouble("end-ratio"));
        }

        public double ratio(double epoch) {
            if (epoch < rampStart) return 1.0;
            if (epoch >= rampEnd || rampEnd == rampStart) return endRatio;
            return 1.0 + (endRatio - 1.0) * (epoch - rampStart) / (rampEnd - rampStart);
        }

        public double alpha(double epoch) {
            return enabled ? alphaMax * ratio(epoch) : 0;
        }

        public int delta(double epoch) {
            // the epsilon keeps floor(100 * 0.5) at 50 when the ratio comes out as 0.49999999
            return enabled ? Math.max(1, (int) Math.floor(deltaMax * ratio(epoch) + 1e-9)) : 1;
        }

        public double beta() {
            return enabled ? beta : 0;
        }
    }

    /**
     * Draws the rank each token takes: 0 keeps the clean code, r in [1, delta) takes the r-th nearest other code.
     *
     * @param images number of images N
     * @param tokens tokens per image T
     * @param beta   probability that an image is perturbed at all (Bernoulli per image; the paper's "fraction")
     * @return ranks [N * T], image-major
     */
    public static int[] drawRanks(int images, int tokens, double alpha, int delta, double beta, long seed) {
        int[] rank = new int[images * tokens];
        if (alpha <= 0 || delta <= 1 || beta <= 0) return rank;
        SplittableRandom r = new SplittableRandom(seed);
        for (int n = 0; n < images; n++) {
            if (r.nextDouble() >= beta) continue;
            for (int t = 0; t < tokens; t++) {
                if (r.nextDouble() < alpha) rank[n * tokens + t] = r.nextInt(delta); // itself included
            }
        }
        return rank;
    }

    /** The ranks as [rows, 2] (row, rank) pairs for gatherNd into a [rows, k] top-k index table. */
    public static INDArray gatherIndices(int[] rank) {
        int[] v = new int[rank.length * 2];
        for (int i = 0; i < rank.length; i++) {
            v[2 * i] = i;
            v[2 * i + 1] = rank[i];
        }
        return Nd4j.create(v, new long[]{rank.length, 2}, DataType.INT);
    }

    /**
     * Reference form on arrays: the perturbed ids given the top-k code ids of every token ([rows, k], column 0 the
     * clean code) and the drawn ranks.
     */
    public static int[] apply(INDArray topIds, int[] rank) {
        int rows = (int) topIds.size(0);
        if (rank.length != rows) throw new IllegalArgumentException("ranks " + rank.length + " vs rows " + rows);
        int[] out = new int[rows];
        for (int i = 0; i < rows; i++) {
            if (rank[i] >= topIds.size(1)) throw new IllegalArgumentException("rank " + rank[i] + " >= top-k " + topIds.size(1));
            out[i] = topIds.getInt(i, rank[i]);
        }
        return out;
    }
}
