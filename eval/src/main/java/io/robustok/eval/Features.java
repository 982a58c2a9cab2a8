package io.robustok.eval;

/**
 * What a {@link FeatureExtractor} returns for a batch of n images: features (n x dim, row-major) and, when the
 * network has a classifier head, logits (n x classes) for the Inception Score.
 */
public record Features(int count, int dim, float[] features, int classes, float[] logits) {
    public Features {
        if (features.length != (long) count * dim) throw new IllegalArgumentException("features are not " + count + "x" + dim);
        if (logits != null && logits.length != (long) count * classes) throw new IllegalArgumentException("logits are not " + count + "x" + classes);
    }

    public boolean hasLogits() {
        return logits != null;
    }
}
