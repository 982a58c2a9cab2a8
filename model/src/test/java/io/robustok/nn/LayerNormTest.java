package io.robustok.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The GEMM-spread layer norm against the written-out one it replaced: outputs and every gradient. */
class LayerNormTest {
    /** The previous formulation: broadcasting ops along rows and columns. */
    private static SDVariable writtenOut(SameDiff sd, SDVariable x, SDVariable g, SDVariable b) {
        SDVariable mu = x.mean(true, 1);
        SDVariable xc = x.sub(mu);
        SDVariable var = sd.math().square(xc).mean(true, 1);
        SDVariable inv = sd.math().rsqrt(var.add(1e-6));
        return xc.mul(inv).mul(g).add(b);
    }

    private static Map<String, INDArray> run(INDArray x, INDArray g, INDArray b, INDArray r,
                                             Function<SDVariable[], SDVariable> f) {
        SameDiff sd = SameDiff.create();
        SDVariable xv = sd.var("x", x.dup()), gv = sd.var("g", g.dup()), bv = sd.var("b", b.dup());
        SDVariable y = f.apply(new SDVariable[]{xv, gv, bv, sd.constant(r)});
        sd.updateVariableNameAndReference(y, "y");
        // a loss that weights every output differently, so each gradient entry is exercised
        sd.updateVariableNameAndReference(sd.sum(y.mul(sd.constant(r))), "loss");
        sd.setLossVariables("loss");
        var og = sd.calculateGradientsAndOutputs(Map.of(), List.of("y"), List.of("x", "g", "b"));
        Map<String, INDArray> m = new java.util.HashMap<>(og.getGradients());
        m.put("y", og.getOutputs().get("y"));
        return m;
    }

    private static void close(INDArray want, INDArray got, double tol, String what) {
        assertArrayEquals(want.shape(), got.shape(), what);
        double err = want.sub(got).amaxNumber().doubleValue() / Math.max(1, want.amaxNumber().doubleValue());
        assertTrue(err < tol, what + ": max relative difference " + err);
    }

    /** x: rows with an offset and spread, as a residual stream has; gain g near 1, bias b, loss weights r. */
    private static INDArray[] residualInputs(long seed, int rows, int d) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.randn(DataType.FLOAT, rows, d).muli(3).addi(Nd4j.randn(DataType.FLOAT, rows, 1).muli(5).broadcast(rows, d));
        INDArray g = Nd4j.randn(DataType.FLOAT, d).addi(1), b = Nd4j.randn(DataType.FLOAT, d);
        return new INDArray[]{x, g, b, Nd4j.randn(DataType.FLOAT, rows, d)};
    }

    @Test
    void sameOutputsAndGradientsAsTheWrittenOutForm() {
        int d = 24;
        INDArray[] in = residualInputs(7, 37, d);
        INDArray x = in[0], g = in[1], b = in[2], r = in[3];
        Map<String, INDArray> ref = run(x, g, b, r, v -> writtenOut(v[0].getSameDiff(), v[0], v[1], v[2]));
        Map<String, INDArray> now = run(x, g, b, r, v -> LayerNorm.affine(v[0].getSameDiff(), v[0], v[1], v[2], d, 1e-6));
        for (String k : List.of("y", "x", "g", "b")) close(ref.get(k), now.get(k), 2e-5, k);
    }

    /**
     * The generator's layer norms (adaLN's without gain, QK-norm's with it) replaced ND4J's layer_norm op, which
     * divides by the standard deviation with no epsilon: with {@code eps = 1e-12} ({@code Rar.EPS}) the GEMM form gives
     * the op's outputs and gradients, also on rows as small as the initial embeddings (std 0.02).
     */
    @Test
    void withATinyEpsilonItIsNd4jsLayerNormOp() {
        Nd4j.getRandom().setSeed(13);
        int rows = 40, d = 16;
        for (double spread : new double[]{3, 0.02}) {
            INDArray x = Nd4j.randn(DataType.FLOAT, rows, d).muli(spread).addi(Nd4j.randn(DataType.FLOAT, rows, 1).muli(spread).broadcast(rows, d));
            INDArray g = Nd4j.randn(DataType.FLOAT, d).addi(1), b = Nd4j.randn(DataType.FLOAT, d);
            INDArray r = Nd4j.randn(DataType.FLOAT, rows, d);
            Map<String, INDArray> ref = run(x, g, b, r, v -> v[0].getSameDiff().nn().layerNorm(v[0], v[1], v[2], false, 1));
            Map<String, INDArray> now = run(x, g, b, r, v -> LayerNorm.affine(v[0].getSameDiff(), v[0], v[1], v[2], d, 1e-12));
            for (String k : List.of("y", "g", "b")) close(ref.get(k), now.get(k), 2e-5, k + " at spread " + spread);
            // dL/dx scales with 1 / std: compare relative to its own size
            close(ref.get("x").div(ref.get("x").amaxNumber()), now.get("x").div(ref.get("x").amaxNumber()), 2e-5, "x at spread " + spread);
        }
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        Nd4j.getRandom().setSeed(11);
        int rows = 5, d = 8;
        INDArray x = Nd4j.randn(DataType.DOUBLE, rows, d), g = Nd4j.randn(DataType.DOUBLE, d), b = Nd4j.randn(DataType.DOUBLE, d);
        INDArray r = Nd4j.randn(DataType.DOUBLE, rows, d);
        Function<SDVariable[], SDVariable> f = v -> LayerNorm.affine(v[0].getSameDiff(), v[0], v[1], v[2], d, 1e-6);
        INDArray gx = run(x, g, b, r, f).get("x");
        double h = 1e-6;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < d; j++) {
                INDArray xp = x.dup(), xm = x.dup();
                xp.putScalar(i, j, x.getDouble(i, j) + h);
                xm.putScalar(i, j, x.getDouble(i, j) - h);
                double fd = (run(xp, g, b, r, f).get("y").mul(r).sumNumber().doubleValue()
                        - run(xm, g, b, r, f).get("y").mul(r).sumNumber().doubleValue()) / (2 * h);
                assertTrue(Math.abs(fd - gx.getDouble(i, j)) < 1e-5 * Math.max(1, Math.abs(fd)),
                        "d loss / d x[" + i + "," + j + "]: finite difference " + fd + ", backward " + gx.getDouble(i, j));
            }
        }
    }

    /** Double-precision normalisation of one row, the reference for the Java kernels. */
    private static double[] xhat(double[] x, double eps) {
        double m = 0, v = 0;
        for (double a : x) m += a / x.length;
        for (double a : x) v += (a - m) * (a - m) / x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (x[i] - m) / Math.sqrt(v + eps);
        return y;
    }

    @Test
    void javaKernelsFollowTheFormulaAndItsFiniteDifferences() {
        assertTrue(JavaKernels.enabled(), "the tests run with --add-modules=jdk.incubator.vector (pom.xml jvm.opens)");
        java.util.Random rnd = new java.util.Random(5);
        for (int d : new int[]{32, 24, 128, 7}) {
            int rows = 6;
            double eps = d == 7 ? 1e-12 : 1e-6;
            float[] x = new float[rows * d], g = new float[rows * d];
            for (int r = 0; r < rows; r++) {
                double offset = rnd.nextGaussian() * 5, spread = r == 0 ? 0.02 : 3;
                for (int j = 0; j < d; j++) {
                    x[r * d + j] = (float) (offset + spread * rnd.nextGaussian());
                    g[r * d + j] = (float) rnd.nextGaussian();
                }
            }
            java.nio.ByteBuffer xb = floats(x), gb = floats(g), y = floats(new float[x.length]), dx = floats(new float[x.length]);
            LayerNormKernels.forward(xb, y, rows, d, eps);
            LayerNormKernels.backward(xb, gb, dx, rows, d, eps);
            for (int r = 0; r < rows; r++) {
                double[] row = new double[d];
                for (int j = 0; j < d; j++) row[j] = x[r * d + j];
                double[] want = xhat(row, eps);
                for (int j = 0; j < d; j++) {
                    assertEquals(want[j], y.getFloat(4 * (r * d + j)), 2e-5 * Math.max(1, Math.abs(want[j])), "xhat d=" + d + " [" + r + "," + j + "]");
                    // d/dx_j of sum_k g_k xhat_k, by central differences in double precision (scaled to the row's spread)
                    double h = 1e-4 * Math.max(1e-3, Math.abs(row[0] - row[1]));
                    double[] p = row.clone(), m = row.clone();
                    p[j] += h;
                    m[j] -= h;
                    double[] yp = xhat(p, eps), ym = xhat(m, eps);
                    double fd = 0;
                    for (int k = 0; k < d; k++) fd += g[r * d + k] * (yp[k] - ym[k]) / (2 * h);
                    double got = dx.getFloat(4 * (r * d + j));
                    assertTrue(Math.abs(fd - got) < 1e-3 * Math.max(1, Math.abs(fd)),
                            "dx d=" + d + " [" + r + "," + j + "]: finite difference " + fd + ", kernel " + got);
                }
            }
        }
    }

    private static java.nio.ByteBuffer floats(float[] v) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(4 * v.length).order(java.nio.ByteOrder.nativeOrder());
        for (int i = 0; i < v.length; i++) b.putFloat(4 * i, v[i]);
        return b;
    }

    @Test
    void javaKernelsGiveTheGemmFormsOutputsAndGradients() {
        int d = 32;
        INDArray[] in = residualInputs(17, 41, d);
        INDArray x = in[0], g = in[1], b = in[2], r = in[3];
        int[] count = new int[1];
        Function<SDVariable[], SDVariable> f = v -> {
            SDVariable y = LayerNorm.affine(v[0].getSameDiff(), v[0], v[1], v[2], d, 1e-6);
            count[0] = JavaKernels.count(v[0].getSameDiff(), false);
            return y;
        };
        try {
            System.setProperty(JavaKernels.FLAG, "false");
            Map<String, INDArray> ref = run(x, g, b, r, f);
            assertEquals(0, count[0]);
            System.setProperty(JavaKernels.FLAG, "true");
            Map<String, INDArray> now = run(x, g, b, r, f);
            assertEquals(1, count[0], "the layer norm ran in Java");
            for (String k : List.of("y", "x", "g", "b")) close(ref.get(k), now.get(k), 2e-5, k);
        } finally {
            System.clearProperty(JavaKernels.FLAG);
        }
    }
}
