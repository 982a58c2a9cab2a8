package io.robustok.eval;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * How to open a feature extractor, small enough to ship to Spark executors (each opens its own copy).
 *
 * @param kind "inception" (ADM's TF graph file) or "demo" (the demo CNN's model zip)
 * @param path the weights file
 */
public record FeatureExtractorSpec(String kind, String path) implements Serializable {
    public FeatureExtractor open() throws IOException {
        return switch (kind) {
            case "inception" -> InceptionV3Tf.load(Path.of(path));
            case "demo" -> DemoFeatureNet.load(Path.of(path));
            default -> throw new IllegalArgumentException("unknown feature extractor '" + kind + "': inception | demo");
        };
    }
}
