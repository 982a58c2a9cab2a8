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
 * <p>The draw is independent of the latents: which rank (0 = clean, r = the r-th nearest other code) each token
 * takes is decided here from the step seed. Only the images that drew a non-zero rank need their similarities: the
 * worker runs the encoder forward on those images alone (beta = 10% of the batch), picks the r-th nearest codes in
 * Java ({@link #nearest}), and feeds them to the training graph as {@code pertIds} + {@code pertMask}, where the
 * decoder input becomes {@code z + sg(zq_perturbed - z)}. (ND4J 1.0.0-M2.1's top_k op took ~150 s for 1024 x 512
 * at k = 100, and its Java wrapper passes k wrongly; a selection on the few perturbed rows costs nothing.)
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
            if (alphaMax < 0 || alphaMax > 1 || beta < 0 || beta > 1) throw new IllegalArgumentException("tokenizer.perturb: alpha-max and beta must be in [0, 1]");
            if (deltaMax < 1) throw new IllegalArgumentException("tokenizer.perturb.delta-max must be >= 1");
            if (rampEnd < rampStart) throw new IllegalArgumentException("tokenizer.perturb.ramp-end must be >= ramp-start");
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

    /**
     * Index of the {@code rank}-th most similar code (0 = the most similar, the clean code) in one row of
     * similarities, by a bounded min-heap: O(K log rank).
     */
    public static int nearest(INDArray sims, long row, int rank) {
        int k = (int) sims.size(1);
        if (rank >= k) throw new IllegalArgumentException("rank " + rank + " >= codebook size " + k);
        float[] v = sims.getRow(row).toFloatVector();
        // heap of the rank+1 best (value, index); its minimum is the rank-th best
        java.util.PriorityQueue<Integer> heap = new java.util.PriorityQueue<>(rank + 2,
                (a, b) -> v[a] != v[b] ? Float.compare(v[a], v[b]) : Integer.compare(b, a));
        for (int i = 0; i < k; i++) {
            heap.add(i);
            if (heap.size() > rank + 1) heap.poll();
        }
        return heap.peek();
    }

    /** Perturbed ids of all rows of {@code sims} [rows, K] for the given ranks (rank 0: the clean code). */
    public static int[] perturbedIds(INDArray sims, int[] rank) {
        if (rank.length != sims.size(0)) throw new IllegalArgumentException("ranks " + rank.length + " vs rows " + sims.size(0));
        int[] out = new int[rank.length];
        for (int i = 0; i < rank.length; i++) out[i] = nearest(sims, i, rank[i]);
        return out;
    }
}
