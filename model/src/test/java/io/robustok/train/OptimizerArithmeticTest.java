package io.robustok.train;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AdamW and gradient clipping against the formulas computed by hand in double precision. */
class OptimizerArithmeticTest {
    @Test
    void adamWBiasCorrectionAndDecayOnMatricesOnly() {
        double b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, lr = 0.01;
        AdamW opt = new AdamW(b1, b2, eps, wd);
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        p.put("w", Nd4j.create(new float[]{0.5f, -1f, 2f, 0.25f}, new long[]{2, 2}, DataType.FLOAT));
        p.put("b", Nd4j.create(new float[]{1f, -2f}, new long[]{2}, DataType.FLOAT));
        Map<String, INDArray> state = new HashMap<>();
        opt.init("g", p, state);
        double[] w = {0.5, -1, 2, 0.25}, b = {1, -2};
        double[] mw = new double[4], vw = new double[4], mb = new double[2], vb = new double[2];
        double[][] gw = {{0.1, -0.2, 0.3, 0.0}, {-0.05, 0.4, 0.1, 0.2}};
        double[][] gb = {{1.0, -0.5}, {0.2, 0.3}};
        for (int t = 1; t <= 2; t++) {
            Map<String, INDArray> g = Map.of("w", Nd4j.create(toFloat(gw[t - 1]), new long[]{2, 2}, DataType.FLOAT),
                    "b", Nd4j.create(toFloat(gb[t - 1]), new long[]{2}, DataType.FLOAT));
            opt.step("g", p, g, state, lr);
            double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
            for (int i = 0; i < 4; i++) {
                mw[i] = b1 * mw[i] + (1 - b1) * gw[t - 1][i];
                vw[i] = b2 * vw[i] + (1 - b2) * gw[t - 1][i] * gw[t - 1][i];
                w[i] = w[i] * (1 - lr * wd) - lr * (mw[i] / bc1) / (Math.sqrt(vw[i] / bc2) + eps);
            }
            for (int i = 0; i < 2; i++) {
                mb[i] = b1 * mb[i] + (1 - b1) * gb[t - 1][i];
                vb[i] = b2 * vb[i] + (1 - b2) * gb[t - 1][i] * gb[t - 1][i];
                b[i] = b[i] - lr * (mb[i] / bc1) / (Math.sqrt(vb[i] / bc2) + eps);   // no decay on a vector
            }
        }
        double[] gotW = p.get("w").reshape(4).toDoubleVector(), gotB = p.get("b").toDoubleVector();
        for (int i = 0; i < 4; i++) assertEquals(w[i], gotW[i], 1e-6, "w[" + i + "]");
        for (int i = 0; i < 2; i++) assertEquals(b[i], gotB[i], 1e-6, "b[" + i + "]");
        assertEquals(2, state.get("g#t").getDouble(0), 0);
    }

    @Test
    void clippingScalesToTheGlobalNorm() {
        INDArray a = Nd4j.create(new float[]{3f, 0f}, new long[]{2}, DataType.FLOAT);
        INDArray b = Nd4j.create(new float[]{0f, 4f, 0f}, new long[]{3}, DataType.FLOAT);
        double n = GradClip.clip(List.of(a, b), 1.0);
        assertEquals(5.0, n, 1e-6);
        assertEquals(3.0 / 5, a.getDouble(0), 1e-5);
        assertEquals(4.0 / 5, b.getDouble(1), 1e-5);
        // below the threshold (or with clipping off) nothing changes
        double m = GradClip.clip(List.of(a, b), 2.0);
        assertEquals(1.0, m, 1e-5);
        assertEquals(0.6, a.getDouble(0), 1e-5);
        GradClip.clip(List.of(a, b), 0);
        assertEquals(0.6, a.getDouble(0), 1e-5);
    }

    /**
     * The fused in-place update (arrays that own their buffers) and the element-wise one (views) agree: the same
     * parameters updated as a view of a larger array take the element-wise path.
     */
    @Test
    void fusedUpdateMatchesTheElementWiseForm() {
        AdamW opt = new AdamW(0.9, 0.95, 1e-8, 0.05);
        INDArray init = Nd4j.rand(DataType.FLOAT, 3, 5).subi(0.5);
        INDArray big = Nd4j.zeros(DataType.FLOAT, 4, 5);
        INDArray view = big.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 4), org.nd4j.linalg.indexing.NDArrayIndex.all());
        view.assign(init);
        assertTrue(view.isView());
        Map<String, INDArray> own = new HashMap<>(Map.of("w", init.dup())), viewed = new HashMap<>(Map.of("w", view));
        Map<String, INDArray> s1 = new HashMap<>(), s2 = new HashMap<>();
        opt.init("g", own, s1);
        opt.init("g", viewed, s2);
        for (int t = 0; t < 5; t++) {
            INDArray g = Nd4j.rand(DataType.FLOAT, 3, 5).subi(0.5).muli(t + 1);
            opt.step("g", own, Map.of("w", g), s1, 1e-2);
            opt.step("g", viewed, Map.of("w", g), s2, 1e-2);
        }
        double[] a = own.get("w").reshape(15).toDoubleVector(), b = view.dup().reshape(15).toDoubleVector();
        for (int i = 0; i < 15; i++) assertEquals(b[i], a[i], 1e-6 * Math.max(1, Math.abs(b[i])), "w[" + i + "]");
        assertTrue(!own.get("w").equalsWithEps(init, 1e-3), "the parameters moved");
    }

    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
