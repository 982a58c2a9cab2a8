package io.robustok.jobs.posttrain;

import io.robustok.data.ImageRecord;

import java.io.Serializable;

/**
 * One post-training record: the original train image and the generator-mixed token ids of the same key. A plain
 * class, not a record, because Spark ships it with Kryo.
 */
public final class PairedImage implements Serializable {
    private static final long serialVersionUID = 1L;
    ImageRecord image;
    int[] mixed;

    PairedImage() {
    }

    PairedImage(ImageRecord image, int[] mixed) {
        this.image = image;
        this.mixed = mixed;
    }

    public ImageRecord image() {
        return image;
    }

    public int[] mixed() {
        return mixed;
    }
}
