package io.robustok.data;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * One training image as the trainer sees it: what {@link ImageShards#rdd} and {@link ImageParquet#read} return
 * and what {@link ImageBatcher} turns into tensors. A plain class rather than a record because Spark ships it
 * with Kryo, which cannot set the fields of a record.
 */
public final class ImageRecord implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String key;
    private final int label;
    private final byte[] image;
    private final int width;
    private final int height;

    /**
     * @param key    relative path in the input, e.g. "train/n01440764/n01440764_10026.JPEG"
     * @param label  index of the class in the sorted class folder names
     * @param image  encoded 8-bit RGB image (JPEG or PNG)
     * @param width  of the stored image
     * @param height of the stored image
     */
    public ImageRecord(String key, int label, byte[] image, int width, int height) {
        this.key = key;
        this.label = label;
        this.image = image;
        this.width = width;
        this.height = height;
    }

    public String key() {
        return key;
    }

    public int label() {
        return label;
    }

    public byte[] image() {
        return image;
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ImageRecord r && label == r.label && width == r.width && height == r.height
                && key.equals(r.key) && Arrays.equals(image, r.image);
    }

    @Override
    public int hashCode() {
        return Objects.hash(key, label, width, height, Arrays.hashCode(image));
    }

    @Override
    public String toString() {
        return "ImageRecord[" + key + ", label " + label + ", " + width + "x" + height + ", " + image.length + " bytes]";
    }
}
