package io.robustok.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bias added by a rank-1 GEMM against the broadcasting add it replaced, after a layer norm as in the blocks. */
class LinearTest {
    private static Map<String, INDArray> run(boolean rank1) {
        Nd4j.getRandom().setSeed(4);
        SameDiff sd = SameDiff.create();
        INDArray xa = Nd4j.randn(DataType.FLOAT, 29, 12);
        SDVariable x = sd.var("x", xa);
        ParamStore p = ParamStore.create(sd, 9);
        SDVariable[] n = LayerNorm.applyWithOnes(p, "norm", x, 12);
        SDVariable y = rank1 ? Linear.apply(p, "fc", n[0], 12, 40, n[1]) : Linear.apply(p, "fc", n[0], 12, 40);
        // non-zero biases, so the bias path is exercised forward too
        sd.getVariable("fc.b").setArray(Nd4j.randn(DataType.FLOAT, 40));
        sd.updateVariableNameAndReference(y, "y");
        sd.updateVariableNameAndReference(sd.sum(y.mul(sd.constant(Nd4j.randn(DataType.FLOAT, 29, 40)))), "loss");
        sd.setLossVariables("loss");
        OutAndGrad og = Backprop.run(sd, Map.of(), List.of("y"), List.of("x", "fc.w", "fc.b", "norm.g", "norm.b"));
        Map<String, INDArray> m = new HashMap<>(og.getGradients());
        m.put("y", og.getOutputs().get("y"));
        return m;
    }

    @Test
    void rankOneBiasGivesTheBroadcastAddsOutputsAndGradients() {
        Map<String, INDArray> ref = run(false), now = run(true);
        for (String k : List.of("y", "x", "fc.w", "fc.b", "norm.g", "norm.b")) {
            assertArrayEquals(ref.get(k).shape(), now.get(k).shape(), k);
            double err = ref.get(k).sub(now.get(k)).amaxNumber().doubleValue() / Math.max(1e-3, ref.get(k).amaxNumber().doubleValue());
            assertTrue(err < 1e-5, k + ": max relative difference " + err);
        }
        // the bias gradient is the column sum of dL/dy: a zero gradient would pass a comparison of two broken forms
        assertTrue(ref.get("fc.b").amaxNumber().doubleValue() > 0.1);
    }
}
