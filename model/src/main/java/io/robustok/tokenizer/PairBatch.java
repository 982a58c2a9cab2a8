package io.robustok.tokenizer;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A post-training minibatch: {@code ids} [N, T] (INT) token sequences, the generator-mixed ones, and {@code images}
 * [N, 3, H, W] in [-1, 1], the original images the decoder must reconstruct from them.
 */
public record PairBatch(INDArray ids, INDArray images) {
    public PairBatch {
        if (images.rank() != 4 || images.size(1) != 3) {
            throw new IllegalArgumentException("images must be [N, 3, H, W], got " + java.util.Arrays.toString(images.shape()));
        }
        if (ids.rank() != 2 || ids.size(0) != images.size(0)) {
            throw new IllegalArgumentException("ids must be [N, T] with N = " + images.size(0) + ", got " + java.util.Arrays.toString(ids.shape()));
        }
    }

    public int size() {
        return (int) images.size(0);
    }
}
