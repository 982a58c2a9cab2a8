package io.robustok.nn;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java GELU kernels against the formula, finite differences, and ND4J's gelu op they replace in the graphs. */
class GeluTest {
    @AfterEach
    void flagOff() {
        System.clearProperty(JavaKernels.FLAG);
    }

    private static double gelu(double x) {
        return x / (1 + Math.exp(-1.702 * x));
    }

    private static ByteBuffer floats(float[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(4 * v.length).order(ByteOrder.nativeOrder());
        for (int i = 0; i < v.length; i++) b.putFloat(4 * i, v[i]);
        return b;
    }

    @Test
    void kernelsFollowTheFormulaAndItsFiniteDifferences() {
        assertTrue(Gelu.fast(), "the tests run with --add-modules=jdk.incubator.vector (pom.xml jvm.opens)");
        java.util.Random r = new java.util.Random(3);
        // a length that is not a multiple of the vector width, so the scalar tail runs too
        float[] x = new float[1003];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 4);
        float[] edge = {0f, 1e-3f, -1e-3f, 20f, -20f, 90f, -90f, 200f, -200f};
        System.arraycopy(edge, 0, x, 0, edge.length);
        ByteBuffer xb = floats(x), y = floats(new float[x.length]), d = floats(new float[x.length]);
        GeluKernels.forward(xb, y, x.length);
        GeluKernels.derivative(xb, d, x.length);
        double h = 1e-4;
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            assertEquals(gelu(v), y.getFloat(4 * i), 2e-6 * Math.max(1, Math.abs(v)), "gelu(" + v + ")");
            double fd = (gelu(v + h) - gelu(v - h)) / (2 * h);
            assertEquals(fd, d.getFloat(4 * i), 2e-6 + 1e-6 * Math.abs(v), "gelu'(" + v + ")");
        }
    }

    /** An MLP as the networks build it, its output and the gradients of x and every weight. */
    private static Map<String, INDArray> mlp(boolean fast, boolean backprop) {
        System.setProperty(JavaKernels.FLAG, Boolean.toString(fast));
        Nd4j.getRandom().setSeed(11);
        SameDiff sd = SameDiff.create();
        INDArray xa = Nd4j.randn(DataType.FLOAT, 37, 24).muli(2);
        SDVariable x = sd.var("x", xa);
        ParamStore p = ParamStore.create(sd, 5);
        SDVariable y = Mlp.apply(p, "mlp", x, 24, 4);
        // an abs and a sign of their own in the same graph must stay what they are
        SDVariable other = sd.math().abs(x).add(sd.math().sign(x));
        sd.updateVariableNameAndReference(y, "y");
        sd.updateVariableNameAndReference(other, "other");
        INDArray w = Nd4j.randn(DataType.FLOAT, 37, 24);
        sd.updateVariableNameAndReference(sd.sum(y.mul(sd.constant(w))).add(sd.sum(other)), "loss");
        sd.setLossVariables("loss");
        assertEquals(fast ? 1 : 0, Gelu.count(sd));
        List<String> wrt = List.of("x", "mlp.fc1.w", "mlp.fc1.b", "mlp.fc2.w", "mlp.fc2.b");
        OutAndGrad og = backprop ? Backprop.run(sd, Map.of(), List.of("y", "other"), wrt)
                : sd.calculateGradientsAndOutputs(Map.of(), List.of("y", "other"), wrt);
        Map<String, INDArray> m = new HashMap<>();
        og.getGradients().forEach((k, v) -> m.put(k, v.dup()));
        og.getOutputs().forEach((k, v) -> m.put(k, v.dup()));
        m.put("inference y", sd.output(Map.of(), "y").get("y").dup());
        m.put("|x| + sign(x)", Transforms.abs(xa, true).add(Transforms.sign(xa, true)));
        return m;
    }

    private static void close(INDArray want, INDArray got, double tol, String what) {
        assertArrayEquals(want.shape(), got.shape(), what);
        double err = want.sub(got).amaxNumber().doubleValue() / Math.max(1e-3, want.amaxNumber().doubleValue());
        assertTrue(err < tol, what + ": max relative difference " + err);
    }

    @Test
    void theMlpGivesNd4jsOutputsAndGradients() {
        Map<String, INDArray> ref = mlp(false, true);
        for (boolean backprop : new boolean[]{true, false}) {
            Map<String, INDArray> now = mlp(true, backprop);
            for (String k : List.of("y", "inference y", "x", "mlp.fc1.w", "mlp.fc1.b", "mlp.fc2.w", "mlp.fc2.b"))
                close(ref.get(k), now.get(k), 1e-5, k + (backprop ? " (Backprop)" : " (SameDiff)"));
            assertEquals(now.get("|x| + sign(x)"), now.get("other"), "abs and sign outside the GELU");
        }
    }

    @Test
    void gradientsMatchFiniteDifferencesThroughTheGraph() {
        System.setProperty(JavaKernels.FLAG, "true");
        Nd4j.getRandom().setSeed(2);
        SameDiff sd = SameDiff.create();
        INDArray xa = Nd4j.randn(DataType.DOUBLE, 6, 5).castTo(DataType.FLOAT);
        SDVariable x = sd.var("x", xa);
        SDVariable y = Gelu.apply(sd, x.mul(1.5));
        INDArray w = Nd4j.randn(DataType.FLOAT, 6, 5);
        sd.updateVariableNameAndReference(sd.sum(y.mul(sd.constant(w))), "loss");
        sd.setLossVariables("loss");
        INDArray g = Backprop.run(sd, Map.of(), List.of("loss"), List.of("x")).getGradients().get("x").dup();
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 5; j++) {
                double v = 1.5 * xa.getDouble(i, j);
                double fd = 1.5 * w.getDouble(i, j) * (gelu(v + 1e-5) - gelu(v - 1e-5)) / 2e-5;
                assertEquals(fd, g.getDouble(i, j), 1e-5 * Math.max(1, Math.abs(fd)), "dL/dx[" + i + "," + j + "]");
            }
        }
    }
}
