package io.robustok.eval;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A network that turns images into features for FID and precision/recall, and logits for the Inception Score
 * (SPEC section 7; section 9 at demo scale). Every metric is labelled with {@link #name()} and
 * {@link #checksum()}: numbers from different feature networks are not comparable.
 *
 * <p>Input: either uint8 NHWC {@code [n, h, w, 3]} (ADM's sample layout) or floating-point NCHW
 * {@code [n, 3, h, w]} in [-1, 1] (the project's image layout); {@link Images} converts between them the way
 * ADM's sampler quantizes. Not thread-safe; on Spark open one per partition through a {@link FeatureExtractorSpec}.
 */
public interface FeatureExtractor extends AutoCloseable {
    /** E.g. {@code inception-v3-tf/pool_3} or {@code demo-cnn/penultimate}. */
    String name();

    /** SHA-256 (hex) of the weights file the network was loaded from. */
    String checksum();

    int featureDim();

    /** Number of logits, 0 when the network has no classifier head. */
    int classes();

    Features extract(INDArray images);

    /** {@code name@checksum[0..12]}, the label written next to every metric. */
    default String label() {
        return name() + "@" + checksum().substring(0, Math.min(12, checksum().length()));
    }

    @Override
    default void close() {
    }
}
