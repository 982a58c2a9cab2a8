package io.robustok.tokenizer;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A minibatch of images for the tokenizer: {@code images} [N, 3, H, W] float in [-1, 1], optional class
 * {@code labels} (null when unknown; the tokenizer does not use them).
 */
public record ImageBatch(INDArray images, int[] labels) {
    public ImageBatch {
        if (images.rank() != 4 || images.size(1) != 3) {
            throw new IllegalArgumentException("images must be [N, 3, H, W], got " + java.util.Arrays.toString(images.shape()));
        }
    }

    public int size() {
        return (int) images.size(0);
    }
}
