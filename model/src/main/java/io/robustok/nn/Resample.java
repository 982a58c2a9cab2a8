package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Resampling of images and of pretrained tensors, written as 1-D matrices applied separably (rows, then columns).
 *
 * <ul>
 *   <li>{@link #bicubic}: PyTorch's {@code F.interpolate(mode="bicubic", antialias=True, align_corners=False)}, the
 *   Keys cubic with a = -0.5 widened by the scale when shrinking (what timm uses for position tables and kernels);</li>
 *   <li>{@link #area}: {@code mode="area"}, i.e. adaptive average pooling;</li>
 *   <li>{@link #patchKernel}: timm's {@code resample_patch_embed} (FlexiViT's pseudo-inverse resize), which keeps
 *   {@code <resize(x), resize(w)> = <x, w>} so a 14x14 patch kernel still sees the same image content at 16x16;</li>
 *   <li>{@link #positionTable}: timm's {@code resample_abs_pos_embed} (bicubic, anti-aliased, prefix tokens kept).</li>
 * </ul>
 * All matrices are computed in double precision; PretrainedGoldenTest checks them against PyTorch.
 */
public final class Resample {
    private Resample() {
    }

    /** [out][in] weights of PyTorch's anti-aliased bicubic resize of a length-{@code in} signal to {@code out}. */
    public static double[][] bicubic(int in, int out) {
        double scale = in / (double) out;
        double support = scale >= 1 ? 2 * scale : 2;
        double invScale = scale >= 1 ? 1 / scale : 1;
        double[][] m = new double[out][in];
        for (int i = 0; i < out; i++) {
            double center = scale * (i + 0.5);
            int lo = Math.max((int) (center - support + 0.5), 0);
            int hi = Math.min((int) (center + support + 0.5), in);
            double total = 0;
            for (int j = lo; j < hi; j++) {
                m[i][j] = cubic((j - center + 0.5) * invScale);
                total += m[i][j];
            }
            if (total != 0) for (int j = lo; j < hi; j++) m[i][j] /= total;
        }
        return m;
    }

    /** Keys' cubic convolution kernel with a = -0.5 (PyTorch's anti-aliased filter). */
    private static double cubic(double x) {
        double a = -0.5;
        x = Math.abs(x);
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    /** [out][in] weights of {@code mode="area"}: output i averages inputs floor(i*in/out) .. ceil((i+1)*in/out)-1. */
    public static double[][] area(int in, int out) {
        double[][] m = new double[out][in];
        for (int i = 0; i < out; i++) {
            int lo = (int) Math.floor(i * (double) in / out);
            int hi = (int) Math.ceil((i + 1) * (double) in / out);
            for (int j = lo; j < hi; j++) m[i][j] = 1.0 / (hi - lo);
        }
        return m;
    }

    /** [out][in] selection of {@code out} consecutive inputs starting at {@code offset} (a crop). */
    public static double[][] crop(int in, int out, int offset) {
        if (offset < 0 || offset + out > in) throw new IllegalArgumentException("crop of " + out + " at " + offset + " outside " + in);
        double[][] m = new double[out][in];
        for (int i = 0; i < out; i++) m[i][offset + i] = 1;
        return m;
    }

    public static INDArray toArray(double[][] m) {
        return Nd4j.create(m).castTo(DataType.FLOAT);
    }

    /**
     * Images [N, C, H, W] resized in the graph with {@code ry} [H', H] on rows and {@code rx} [W', W] on columns
     * (constants or placeholders): {@code ry x img x rx^T}. Differentiable.
     */
    public static SDVariable resize(SameDiff sd, SDVariable img, SDVariable ry, SDVariable rx, int channels, int h, int w, int outH, int outW) {
        SDVariable cols = img.reshape(-1, w).mmul(sd.transpose(rx));                     // [N*C*H, W']
        SDVariable t = sd.permute(cols.reshape(-1, h, outW), 0, 2, 1).reshape(-1, h);    // [N*C*W', H]
        SDVariable rows = t.mmul(sd.transpose(ry));                                        // [N*C*W', H']
        return sd.permute(rows.reshape(-1, outW, outH), 0, 2, 1).reshape(-1, channels, outH, outW);
    }

    /** {@code m x t} for a matrix [out][in] and a table [in, D] (double precision, float result). */
    private static double[][] apply(double[][] m, double[][] t) {
        int out = m.length, in = m[0].length, d = t[0].length;
        double[][] r = new double[out][d];
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < in; j++) {
                double w = m[i][j];
                if (w == 0) continue;
                for (int k = 0; k < d; k++) r[i][k] += w * t[j][k];
            }
        }
        return r;
    }

    /**
     * timm's {@code resample_abs_pos_embed}: table [prefix + g*g, D] (a leading 1 axis is accepted and kept) whose
     * last g*g rows are a square grid, resized to [prefix + to*to, D] with {@link #bicubic}.
     */
    public static INDArray positionTable(INDArray table, int prefix, int to) {
        boolean lead = table.rank() == 3;
        INDArray t = (lead ? table.reshape(table.size(1), table.size(2)) : table).castTo(DataType.DOUBLE);
        int n = (int) t.size(0), d = (int) t.size(1);
        int g = (int) Math.round(Math.sqrt(n - prefix));
        if (g * g != n - prefix) throw new IllegalArgumentException("position table of " + n + " rows is not " + prefix + " + a square grid");
        INDArray out;
        if (g == to) {
            out = t.dup();
        } else {
            double[][] r = bicubic(g, to);
            double[][] grid = t.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(prefix, n), org.nd4j.linalg.indexing.NDArrayIndex.all()).toDoubleMatrix();
            // rows of the grid are (y, x) raster: resize along x within each y, then along y
            double[][] alongX = new double[g * to][d];
            for (int y = 0; y < g; y++) {
                double[][] row = new double[g][];
                for (int x = 0; x < g; x++) row[x] = grid[y * g + x];
                double[][] rx = apply(r, row);
                for (int x = 0; x < to; x++) alongX[y * to + x] = rx[x];
            }
            double[][] res = new double[prefix + to * to][];
            for (int p = 0; p < prefix; p++) res[p] = t.getRow(p).toDoubleVector();
            for (int x = 0; x < to; x++) {
                double[][] col = new double[g][];
                for (int y = 0; y < g; y++) col[y] = alongX[y * to + x];
                double[][] ry = apply(r, col);
                for (int y = 0; y < to; y++) res[prefix + y * to + x] = ry[y];
            }
            out = Nd4j.create(res);
        }
        out = out.castTo(DataType.FLOAT);
        return lead ? out.reshape(1, out.size(0), out.size(1)) : out;
    }

    /**
     * timm's {@code resample_patch_embed}: kernel [D, C, p, p] to [D, C, q, q] by the pseudo-inverse of the bicubic
     * resize B [q, p] (per axis; the 2-D resize is B (x) B, whose pseudo-inverse factors the same way):
     * {@code w' = P w P^T} with {@code P = pinv(B^T)}.
     */
    public static INDArray patchKernel(INDArray w, int q) {
        int p = (int) w.size(3);
        if (w.size(2) != p) throw new IllegalArgumentException("patch kernel is not square: " + java.util.Arrays.toString(w.shape()));
        if (p == q) return w.castTo(DataType.FLOAT).dup();
        double[][] pm = pinvTransposed(bicubic(p, q));                  // [q][p]
        int d = (int) w.size(0), c = (int) w.size(1);
        double[] src = w.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        float[] dst = new float[d * c * q * q];
        for (int k = 0; k < d * c; k++) {
            int base = k * p * p;
            double[][] tmp = new double[q][p];                           // P x w
            for (int i = 0; i < q; i++) {
                for (int a = 0; a < p; a++) {
                    double s = 0;
                    for (int b = 0; b < p; b++) s += pm[i][b] * src[base + b * p + a];
                    tmp[i][a] = s;
                }
            }
            for (int i = 0; i < q; i++) {
                for (int j = 0; j < q; j++) {
                    double s = 0;
                    for (int a = 0; a < p; a++) s += tmp[i][a] * pm[j][a];
                    dst[k * q * q + i * q + j] = (float) s;
                }
            }
        }
        return Nd4j.create(dst, new long[]{d, c, q, q}, DataType.FLOAT);
    }

    /**
     * pinv(B^T) for B [q][p]: with q >= p and B of full column rank, B^T has full row rank and
     * pinv(B^T) = B (B^T B)^-1; with q < p, pinv(B^T) = (B B^T)^-1 B. Solved by Gauss-Jordan in double precision.
     */
    static double[][] pinvTransposed(double[][] b) {
        int q = b.length, p = b[0].length;
        if (q >= p) {
            double[][] btb = new double[p][p];
            for (int i = 0; i < p; i++) for (int j = 0; j < p; j++) for (int k = 0; k < q; k++) btb[i][j] += b[k][i] * b[k][j];
            double[][] inv = invert(btb);
            double[][] r = new double[q][p];
            for (int i = 0; i < q; i++) for (int j = 0; j < p; j++) for (int k = 0; k < p; k++) r[i][j] += b[i][k] * inv[k][j];
            return r;
        }
        double[][] bbt = new double[q][q];
        for (int i = 0; i < q; i++) for (int j = 0; j < q; j++) for (int k = 0; k < p; k++) bbt[i][j] += b[i][k] * b[j][k];
        double[][] inv = invert(bbt);
        double[][] r = new double[q][p];
        for (int i = 0; i < q; i++) for (int j = 0; j < p; j++) for (int k = 0; k < q; k++) r[i][j] += inv[i][k] * b[k][j];
        return r;
    }

    private static double[][] invert(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, m[i], 0, n);
            m[i][n + i] = 1;
        }
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) piv = r;
            double[] t = m[col];
            m[col] = m[piv];
            m[piv] = t;
            double d = m[col][col];
            if (Math.abs(d) < 1e-12) throw new IllegalArgumentException("resize matrix is singular");
            for (int j = 0; j < 2 * n; j++) m[col][j] /= d;
            for (int r = 0; r < n; r++) {
                if (r == col || m[r][col] == 0) continue;
                double f = m[r][col];
                for (int j = 0; j < 2 * n; j++) m[r][j] -= f * m[col][j];
            }
        }
        double[][] inv = new double[n][n];
        for (int i = 0; i < n; i++) System.arraycopy(m[i], n, inv[i], 0, n);
        return inv;
    }
}
