package io.robustok.eval;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The two image layouts evaluation meets: uint8 NHWC (ADM's sample batches, PNG-quality samples of SPEC
 * section 7) and float NCHW in [-1, 1] (what the tokenizer decodes and the data reader produces).
 */
public final class Images {
    private Images() {
    }

    public static boolean isUint8Nhwc(INDArray images) {
        return images.dataType() == DataType.UINT8 && images.rank() == 4 && images.size(3) == 3;
    }

    /** uint8 NHWC array from raw bytes (n x h x w x 3, row-major), as read from an ADM sample batch. */
    public static INDArray fromBytes(byte[] data, int n, int h, int w) {
        if (data.length != (long) n * h * w * 3) throw new IllegalArgumentException("expected " + n + "x" + h + "x" + w + "x3 bytes");
        return Nd4j.createFromArray(data).castTo(DataType.UINT8).reshape('c', n, h, w, 3);
    }

    /**
     * Float NCHW in [-1, 1] to uint8 NHWC bytes as the official RobusTok/TiTok samplers do it:
     * {@code clamp(127.5 x + 128, 0, 255)} then truncation, i.e. {@code (x + 1) * 127.5} ROUNDED to the nearest level
     * (ADM's own {@code ((x + 1) * 127.5).clamp(0, 255)} truncates, half a level darker on average). In-memory samples
     * and their saved batch give the same metrics; uint8 -> [-1, 1] -> uint8 is the identity.
     */
    public static byte[] toUint8Bytes(INDArray images) {
        if (isUint8Nhwc(images)) return toBytes(images);
        checkNchw(images);
        float[] f = images.permute(0, 2, 3, 1).dup('c').castTo(DataType.FLOAT).data().asFloat();
        byte[] out = new byte[f.length];
        for (int i = 0; i < f.length; i++) {
            float v = f[i] * 127.5f + 128f;
            out[i] = (byte) (int) Math.max(0f, Math.min(255f, v));
        }
        return out;
    }

    private static byte[] toBytes(INDArray u8) {
        INDArray c = u8.dup('c');
        int[] ints = c.castTo(DataType.INT32).data().asInt();
        byte[] b = new byte[ints.length];
        for (int i = 0; i < ints.length; i++) b[i] = (byte) ints[i];
        return b;
    }

    /** uint8 NHWC array of the images (quantizing float input as {@link #toUint8Bytes} does). */
    public static INDArray toUint8Nhwc(INDArray images) {
        if (isUint8Nhwc(images)) return images;
        checkNchw(images);
        return fromBytes(toUint8Bytes(images), (int) images.size(0), (int) images.size(2), (int) images.size(3));
    }

    /** Float32 NCHW in [-1, 1]; uint8 input maps v -> v / 127.5 - 1. */
    public static INDArray toFloatNchw(INDArray images) {
        if (isUint8Nhwc(images)) {
            return images.castTo(DataType.FLOAT).permute(0, 3, 1, 2).dup('c').divi(127.5).subi(1.0);
        }
        checkNchw(images);
        return images.dataType() == DataType.FLOAT ? images : images.castTo(DataType.FLOAT);
    }

    private static void checkNchw(INDArray images) {
        if (images.rank() != 4 || images.size(1) != 3 || !images.dataType().isFPType()) {
            throw new IllegalArgumentException("images must be uint8 [n,h,w,3] or float [n,3,h,w] in [-1,1], got "
                    + images.dataType() + " " + java.util.Arrays.toString(images.shape()));
        }
    }
}
