package io.robustok.eval;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST from its idx files (Debian package dataset-fashion-mnist: /usr/share/datasets/fashion-mnist),
 * as 32x32 RGB float NCHW in [-1, 1]: the layout the demo pipeline's reader produces from demo-data's PNGs
 * (28x28 gray with {@code data.fashion-mnist-pad} black pixels on every side, saved as RGB; 2 gives 32x32, 0 leaves
 * 28x28 for the reader to upscale). Used to train the demo feature network before, or without, prep.
 */
public final class FashionMnist {
    public static final String DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
    public static final int SIZE = 32;

    private FashionMnist() {
    }

    /** Images (n x 28 x 28, uint8) and labels of the train or test split; {@code limit} 0 means all. */
    public record Split(byte[] pixels, byte[] labels, int count) {
        /**
         * Images {@code from .. from+n} as float NCHW [n, 3, 32, 32] in [-1, 1] (row-major): each 28x28 image with
         * {@code pad} black pixels on every side, resized (bilinear) to 32 unless that already is its size.
         */
        public float[] toNchw32(int from, int n, int pad) {
            float[] out = new float[n * 3 * SIZE * SIZE];
            float[] up = new float[SIZE * SIZE];
            int side = 28 + 2 * pad;
            byte[] canvas = new byte[side * side];
            for (int i = 0; i < n; i++) {
                int off = (from + i) * 28 * 28;
                for (int y = 0; y < 28; y++) System.arraycopy(pixels, off + y * 28, canvas, (y + pad) * side + pad, 28);
                if (side == SIZE) {
                    for (int p = 0; p < SIZE * SIZE; p++) up[p] = canvas[p] & 0xff;
                } else {
                    resizeBilinear(canvas, 0, side, up, SIZE);
                }
                int o = i * 3 * SIZE * SIZE;
                for (int c = 0; c < 3; c++) {
                    for (int p = 0; p < SIZE * SIZE; p++) out[o + c * SIZE * SIZE + p] = up[p] / 127.5f - 1f;
                }
            }
            return out;
        }

        /** One-hot labels [n, 10]. */
        public float[] oneHot(int from, int n) {
            float[] y = new float[n * 10];
            for (int i = 0; i < n; i++) y[i * 10 + labels[from + i]] = 1f;
            return y;
        }
    }

    public static Split read(Path dir, boolean train, int limit) throws IOException {
        String p = train ? "train" : "t10k";
        byte[] img = idx(dir.resolve(p + "-images-idx3-ubyte.gz"), 2051, 16);
        byte[] lab = idx(dir.resolve(p + "-labels-idx1-ubyte.gz"), 2049, 8);
        int n = lab.length;
        if (limit > 0 && limit < n) n = limit;
        return new Split(img, lab, n);
    }

    private static byte[] idx(Path file, int magic, int headerBytes) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + " not found: install the Debian package dataset-fashion-mnist or set eval.feature-net.idx-dir");
        }
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file), 1 << 16)) {
            DataInputStream d = new DataInputStream(in);
            int m = d.readInt();
            if (m != magic) throw new IOException(file + ": bad idx magic " + m);
            d.skipNBytes(headerBytes - 4);
            return in.readAllBytes();
        }
    }

    /** Bilinear resize with half-pixel centres (OpenCV's INTER_LINEAR convention), gray u8 -> float 0..255. */
    static void resizeBilinear(byte[] src, int off, int s, float[] dst, int t) {
        double scale = (double) s / t;
        for (int y = 0; y < t; y++) {
            double sy = Math.max(0, (y + 0.5) * scale - 0.5);
            int y0 = Math.min((int) sy, s - 1), y1 = Math.min(y0 + 1, s - 1);
            double fy = sy - y0;
            for (int x = 0; x < t; x++) {
                double sx = Math.max(0, (x + 0.5) * scale - 0.5);
                int x0 = Math.min((int) sx, s - 1), x1 = Math.min(x0 + 1, s - 1);
                double fx = sx - x0;
                double a = src[off + y0 * s + x0] & 0xff, b = src[off + y0 * s + x1] & 0xff;
                double c = src[off + y1 * s + x0] & 0xff, d = src[off + y1 * s + x1] & 0xff;
                dst[y * t + x] = (float) ((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy);
            }
        }
    }
}
