package io.robustok.generator;

import java.io.Serializable;

/**
 * One training record of the generator: an image's class and its tokenizer token ids in raster order (SPEC section
 * 5: pre-tokenized data, never images).
 *
 * @param label  class in [0, num-classes)
 * @param tokens T token ids in [0, codebook-size)
 */
public record TokenRow(int label, int[] tokens) implements Serializable {
}
