package io.robustok.nn;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * 2-D position embeddings: the fixed sin-cos table used to initialise learned ones (MAE/TiTok style) and the
 * bilinear resampling that lets a grid of one size read the embedding of another (latent tokens on a 4x4 grid
 * reading a 8x8 patch-grid embedding; DINOv2's 37x37 table resized to 16x16 on import).
 */
public final class PosEmbed2d {
    private PosEmbed2d() {
    }

    /** sin-cos table [grid*grid, dim] (half the channels encode y, half x). */
    public static INDArray sinCos(int grid, int dim) {
        float[] v = new float[grid * grid * dim];
        int quarter = dim / 4;
        for (int y = 0; y < grid; y++) {
            for (int x = 0; x < grid; x++) {
                int row = (y * grid + x) * dim;
                for (int i = 0; i < quarter; i++) {
                    double omega = 1.0 / Math.pow(10000, i / (double) quarter);
                    v[row + i] = (float) Math.sin(y * omega);
                    v[row + quarter + i] = (float) Math.cos(y * omega);
                    v[row + 2 * quarter + i] = (float) Math.sin(x * omega);
                    v[row + 3 * quarter + i] = (float) Math.cos(x * omega);
                }
            }
        }
        return Nd4j.create(v, new long[]{(long) grid * grid, dim}, DataType.FLOAT);
    }

    /**
     * Matrix R [to*to, from*from] with {@code R x table} = the table bilinearly resampled from a from x from grid to
     * a to x to grid (align-corners = false, PyTorch's default). Identity when {@code to == from}.
     */
    public static INDArray resampleMatrix(int from, int to) {
        float[] m = new float[to * to * from * from];
        for (int y = 0; y < to; y++) {
            double[] wy = weights(y, from, to);
            for (int x = 0; x < to; x++) {
                double[] wx = weights(x, from, to);
                int row = (y * to + x) * from * from;
                m[row + (int) wy[0] * from + (int) wx[0]] += (float) (wy[1] * wx[1]);
                m[row + (int) wy[0] * from + (int) wx[2]] += (float) (wy[1] * wx[3]);
                m[row + (int) wy[2] * from + (int) wx[0]] += (float) (wy[3] * wx[1]);
                m[row + (int) wy[2] * from + (int) wx[2]] += (float) (wy[3] * wx[3]);
            }
        }
        return Nd4j.create(m, new long[]{(long) to * to, (long) from * from}, DataType.FLOAT);
    }

    /** {@code [i0, w0, i1, w1]}: the two source cells of output cell {@code i} and their weights. */
    private static double[] weights(int i, int from, int to) {
        double src = (i + 0.5) * from / to - 0.5;
        src = Math.max(0, Math.min(from - 1, src));
        int i0 = (int) Math.floor(src);
        int i1 = Math.min(from - 1, i0 + 1);
        double f = src - i0;
        return new double[]{i0, 1 - f, i1, f};
    }

    /** Resamples a table [from*from, dim] to [to*to, dim]. */
    public static INDArray resample(INDArray table, int from, int to) {
        if (from == to) return table.dup();
        return resampleMatrix(from, to).mmul(table.castTo(DataType.FLOAT));
    }
}
