package io.robustok.data;

import com.typesafe.config.Config;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Turns stored image rows into ND4J minibatches: NCHW float32, RGB, values in [-1, 1]. Spark-free; runs inside
 * every training step, so it decodes with OpenCV (JPEG at 1/2, 1/4, 1/8 scale in the decoder when the target
 * allows), reuses its buffers and touches each output float once.
 *
 * <p>Train transform (SPEC section 2, random-resized crop + flip): shorter side resized to an integer drawn
 * uniformly from [S, round(maxScale * S)] (256..320 at paper scale), a uniformly placed S x S crop, a horizontal
 * flip with probability 1/2 (unless built without flips: {@code data.flip = false}). Eval transform: shorter side to S, center crop. Downscaling averages areas,
 * upscaling (28 -> 32 for the demo data) is bicubic.
 *
 * <p>Seeded: {@link #batch} with the same records and seed gives the same tensor; image i of a batch draws from
 * its own generator derived from (seed, i), so the result does not depend on how a batch is split up.
 * Not thread-safe (one per thread: it owns native buffers); close it when done.
 */
public final class ImageBatcher implements AutoCloseable {
    private static final float[] LUT = new float[256];

    static {
        for (int i = 0; i < 256; i++) LUT[i] = i / 127.5f - 1f;
    }

    private final int size;
    private final int maxShort;
    private final boolean train;
    private final boolean flip;
    private final ImageCodec codec = new ImageCodec();
    private byte[] row = new byte[0];

    private ImageBatcher(int size, int maxShort, boolean train, boolean flip) {
        if (size < 1) throw new IllegalArgumentException("image size must be positive");
        this.size = size;
        this.maxShort = maxShort;
        this.train = train;
        this.flip = flip;
    }

    /** Random resized crop + flip at {@code size}, shorter side up to round(maxScale * size). */
    public static ImageBatcher train(int size, double maxScale) {
        return train(size, maxScale, true);
    }

    /**
     * Random resized crop at {@code size}, shorter side up to round(maxScale * size), and with {@code flip} a
     * horizontal flip with probability 1/2. The crops do not depend on {@code flip} (the same seed places them alike).
     */
    public static ImageBatcher train(int size, double maxScale, boolean flip) {
        if (maxScale < 1) throw new IllegalArgumentException("max-scale must be at least 1, got " + maxScale);
        return new ImageBatcher(size, (int) Math.round(maxScale * size), true, flip);
    }

    /** Shorter side to {@code size}, center crop. */
    public static ImageBatcher eval(int size) {
        return new ImageBatcher(size, size, false, false);
    }

    /** From the resolved root config: {@code data.image-size}, {@code data.max-scale}, {@code data.flip}. */
    public static ImageBatcher from(Config root, boolean train) {
        int s = root.getInt("data.image-size");
        return train ? train(s, root.getDouble("data.max-scale"), root.getBoolean("data.flip")) : eval(s);
    }

    public int size() {
        return size;
    }

    public boolean isTrain() {
        return train;
    }

    /** A minibatch: images [n, 3, S, S] and their labels. */
    public record Minibatch(INDArray images, int[] labels) {
    }

    /** Images and labels of {@code records}; augmentation seeded by {@code seed} (ignored by the eval transform). */
    public Minibatch batch(List<ImageRecord> records, long seed) {
        int n = records.size();
        float[] buf = new float[n * 3 * size * size];
        int[] labels = new int[n];
        fill(records, seed, buf);
        for (int i = 0; i < n; i++) labels[i] = records.get(i).label();
        return new Minibatch(Nd4j.create(buf, new long[]{n, 3, size, size}, 'c'), labels);
    }

    /** The same as {@link #batch} into a caller's array of at least n * 3 * S * S floats (NCHW). */
    public void fill(List<ImageRecord> records, long seed, float[] out) {
        int per = 3 * size * size;
        for (int i = 0; i < records.size(); i++) {
            transform(records.get(i), new SplittableRandom(mix(seed, i)), out, i * per);
        }
    }

    /** Writes one image, CHW RGB in [-1, 1], at {@code out[offset .. offset + 3 S S)}. */
    public void transform(ImageRecord r, SplittableRandom rng, float[] out, int offset) {
        int target = train ? size + rng.nextInt(maxShort - size + 1) : size;
        byte[] bytes = r.image();
        int f = ImageCodec.reduction(Math.min(r.width(), r.height()), target, ImageHeader.isJpeg(bytes));
        Mat m = codec.decodeBgr(bytes, f);
        if (m == null) throw new IllegalStateException("cannot decode " + r.key() + " (prep validated it: corrupt shard?)");
        Mat rs = null;
        try {
            rs = Math.min(m.cols(), m.rows()) == target ? m : ImageCodec.resizeShortSide(m, target);
            int w = rs.cols();
            int h = rs.rows();
            int x0 = train ? rng.nextInt(w - size + 1) : (w - size) / 2;
            int y0 = train ? rng.nextInt(h - size + 1) : (h - size) / 2;
            boolean mirror = train && rng.nextBoolean() && flip;
            copy(rs, x0, y0, mirror, out, offset);
        } finally {
            if (rs != null && rs != m) rs.close();
            m.close();
        }
    }

    /** BGR bytes of the crop to planar RGB floats; one native read per row. */
    private void copy(Mat bgr, int x0, int y0, boolean flip, float[] out, int offset) {
        int s = size;
        int plane = s * s;
        if (row.length < 3 * s) row = new byte[3 * s];
        for (int y = 0; y < s; y++) {
            BytePointer p = bgr.ptr(y0 + y);
            p.position(3L * x0).get(row, 0, 3 * s);
            int o = offset + y * s;
            for (int x = 0; x < s; x++) {
                int src = 3 * (flip ? s - 1 - x : x);
                out[o + x] = LUT[row[src + 2] & 0xff];             // R
                out[o + plane + x] = LUT[row[src + 1] & 0xff];     // G
                out[o + 2 * plane + x] = LUT[row[src] & 0xff];     // B
            }
        }
    }

    /** SplitMix64 of (seed, index): independent per-image streams. */
    static long mix(long seed, long i) {
        long z = seed + (i + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public void close() {
        codec.close();
    }
}
