package io.robustok.tokenizer;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * DiffAugment (Zhao et al. 2020), colour, translation and cutout in that order, applied to real and fake before the
 * discriminator (SPEC section 2). Differentiable, so the generator's GAN gradient passes through it.
 *
 * <p>The random parameters are drawn in Java per step and fed as placeholders: colour as three per-image scalars
 * (brightness {@code x + (r - 0.5)}, saturation {@code (x - mean_c) * 2r + mean_c}, contrast
 * {@code (x - mean_chw) * (r + 0.5) + mean_chw}, r uniform in [0, 1)), translation as two shift matrices per image
 * (out = Sy x img x Sx^T, zero fill, shifts up to 1/8 of the side), cutout as a 0/1 mask with a square of
 * {@code cutout} times the side zeroed (the official configuration: 0.2; DiffAugment's default 0.5). The graph thus
 * stays fixed while every image gets its own augmentation.
 */
final class DiffAugment {
    private final List<String> policies;
    private final int size;
    private final double cutoutRatio;

    DiffAugment(List<String> policies, int size, double cutoutRatio) {
        this.policies = policies;
        this.size = size;
        this.cutoutRatio = cutoutRatio;
    }

    boolean color() {
        return policies.contains("color");
    }

    boolean translation() {
        return policies.contains("translation");
    }

    boolean cutout() {
        return policies.contains("cutout");
    }

    /** Adds the augmentation of {@code x} [N, 3, H, W] under placeholder names {@code prefix + "ShiftY"} etc. */
    SDVariable apply(SameDiff sd, String prefix, SDVariable x) {
        if (color()) {
            x = x.add(sd.placeHolder(prefix + "Brightness", DataType.FLOAT, -1, 1, 1, 1));
            SDVariable m = x.mean(true, 1);
            x = x.sub(m).mul(sd.placeHolder(prefix + "Saturation", DataType.FLOAT, -1, 1, 1, 1)).add(m);
            SDVariable m2 = x.mean(true, 1, 2, 3);
            x = x.sub(m2).mul(sd.placeHolder(prefix + "Contrast", DataType.FLOAT, -1, 1, 1, 1)).add(m2);
        }
        if (translation()) {
            SDVariable sy = sd.placeHolder(prefix + "ShiftY", DataType.FLOAT, -1, size, size);
            SDVariable sxT = sd.placeHolder(prefix + "ShiftXT", DataType.FLOAT, -1, size, size);
            SDVariable flat = x.reshape(-1, size, size);                    // [N*3, H, W]
            x = sd.mmul(sd.mmul(sy, flat), sxT).reshape(-1, 3, size, size);
        }
        if (cutout()) x = x.mul(sd.placeHolder(prefix + "Mask", DataType.FLOAT, -1, 1, size, size));
        return x;
    }

    /** Draws the placeholders for {@code n} images. */
    void draw(Map<String, INDArray> ph, String prefix, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        if (color()) {
            float[] br = new float[n], sat = new float[n], con = new float[n];
            for (int i = 0; i < n; i++) {
                br[i] = (float) (r.nextDouble() - 0.5);
                sat[i] = (float) (r.nextDouble() * 2);
                con[i] = (float) (r.nextDouble() + 0.5);
            }
            ph.put(prefix + "Brightness", Nd4j.create(br, new long[]{n, 1, 1, 1}, DataType.FLOAT));
            ph.put(prefix + "Saturation", Nd4j.create(sat, new long[]{n, 1, 1, 1}, DataType.FLOAT));
            ph.put(prefix + "Contrast", Nd4j.create(con, new long[]{n, 1, 1, 1}, DataType.FLOAT));
        }
        if (translation()) {
            int maxShift = Math.max(1, (int) (size * 0.125 + 0.5));
            float[] sy = new float[n * 3 * size * size];
            float[] sxT = new float[n * 3 * size * size];
            for (int i = 0; i < n; i++) {
                int dy = r.nextInt(-maxShift, maxShift + 1);
                int dx = r.nextInt(-maxShift, maxShift + 1);
                for (int c = 0; c < 3; c++) {
                    int base = (i * 3 + c) * size * size;
                    for (int row = 0; row < size; row++) {
                        int src = row - dy;   // output row takes input row - dy
                        if (src >= 0 && src < size) sy[base + row * size + src] = 1;
                        int srcX = row - dx;  // column 'row' of the output takes input column row - dx: (Sx^T)[srcX, row] = 1
                        if (srcX >= 0 && srcX < size) sxT[base + srcX * size + row] = 1;
                    }
                }
            }
            ph.put(prefix + "ShiftY", Nd4j.create(sy, new long[]{n * 3L, size, size}, DataType.FLOAT));
            ph.put(prefix + "ShiftXT", Nd4j.create(sxT, new long[]{n * 3L, size, size}, DataType.FLOAT));
        }
        if (cutout()) {
            int cut = Math.max(1, (int) (size * cutoutRatio + 0.5));
            float[] m = new float[n * size * size];
            java.util.Arrays.fill(m, 1f);
            for (int i = 0; i < n; i++) {
                int cy = r.nextInt(size + (1 - cut % 2));
                int cx = r.nextInt(size + (1 - cut % 2));
                for (int y = Math.max(0, cy - cut / 2); y < Math.min(size, cy - cut / 2 + cut); y++) {
                    for (int x = Math.max(0, cx - cut / 2); x < Math.min(size, cx - cut / 2 + cut); x++) {
                        m[i * size * size + y * size + x] = 0;
                    }
                }
            }
            ph.put(prefix + "Mask", Nd4j.create(m, new long[]{n, 1, size, size}, DataType.FLOAT));
        }
    }
}
