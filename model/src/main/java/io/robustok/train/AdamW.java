package io.robustok.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * AdamW on named ND4J arrays, updating parameters in place (Loshchilov and Hutter 2019: decay decoupled from
 * the adaptive step). State lives in the caller's {@link TrainState#optState()} as {@code "<param>#m"} and
 * {@code "<param>#v"}, plus one step counter {@code "<group>#t"} per optimizer group for bias correction, so the
 * master averages and checkpoints it like any other tensor.
 *
 * <p>Weight decay applies to tensors of rank >= 2 only (matrices, conv kernels, embeddings), not to biases,
 * norm gains or layer scales, the usual convention. SPEC section 2 uses decay 0 for the tokenizer.
 *
 * @param beta1 first-moment decay (SPEC section 2: 0.9)
 * @param beta2 second-moment decay (SPEC section 2: 0.95)
 */
public record AdamW(double beta1, double beta2, double eps, double weightDecay) implements java.io.Serializable {

    /** Zero state for {@code params} under group name {@code group}, written into {@code optState}. */
    public void init(String group, Map<String, INDArray> params, Map<String, INDArray> optState) {
        params.forEach((k, v) -> {
            optState.put(k + "#m", Nd4j.zeros(v.dataType(), v.shape()));
            optState.put(k + "#v", Nd4j.zeros(v.dataType(), v.shape()));
        });
        optState.put(group + "#t", Nd4j.scalar(0f));
    }

    /**
     * One update of every parameter that has a gradient in {@code grads}.
     *
     * @param lr learning rate of this step (peak lr times the schedule's multiplier)
     */
    public void step(String group, Map<String, INDArray> params, Map<String, INDArray> grads, Map<String, INDArray> optState, double lr) {
        INDArray tArr = optState.get(group + "#t");
        if (tArr == null) throw new IllegalStateException("optimizer state " + group + "#t missing");
        // averaged counters can come back fractional; the bias correction only needs the magnitude
        double t = Math.round(tArr.getDouble(0)) + 1;
        tArr.assign(t);
        double bc1 = 1 - Math.pow(beta1, t);
        double bc2 = 1 - Math.pow(beta2, t);
        double stepSize = lr / bc1;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray g = grads.get(e.getKey());
            if (g == null) continue;
            INDArray w = e.getValue();
            INDArray m = optState.get(e.getKey() + "#m");
            INDArray v = optState.get(e.getKey() + "#v");
            if (m == null || v == null) throw new IllegalStateException("optimizer state of " + e.getKey() + " missing");
            boolean decay = weightDecay > 0 && w.rank() >= 2;
            if (flat(w) && flat(g) && flat(m) && flat(v) && w.length() == g.length()) {
                fused(w, g, m, v, decay ? (float) (1 - lr * weightDecay) : 1f, (float) bc2, (float) stepSize);
                continue;
            }
            m.muli(beta1).addi(g.mul(1 - beta1));
            v.muli(beta2).addi(g.mul(g).muli(1 - beta2));
            if (decay) w.muli(1 - lr * weightDecay);
            // w -= lr/bc1 * m / (sqrt(v / bc2) + eps)
            INDArray denom = Transforms.sqrt(v.div(bc2), false).addi(eps);
            w.subi(m.div(denom).muli(stepSize));
        }
    }

    /** A float array that owns its whole buffer in row-major order (what parameters, moments and gradients are). */
    private static boolean flat(INDArray a) {
        return a.dataType() == DataType.FLOAT && !a.isView() && a.ordering() == 'c' && a.data().length() == a.length();
    }

    /**
     * The update of {@link #step} in one pass over the four buffers, in place, in float: the element-wise form
     * allocates four temporaries per tensor per step. Same operations in the same order as the element-wise form.
     */
    private void fused(INDArray w, INDArray g, INDArray m, INDArray v, float decay, float bc2, float stepSize) {
        FloatBuffer wb = buffer(w), gb = buffer(g), mb = buffer(m), vb = buffer(v);
        float b1 = (float) beta1, c1 = (float) (1 - beta1), b2 = (float) beta2, c2 = (float) (1 - beta2), e = (float) eps;
        int n = (int) w.length();
        for (int i = 0; i < n; i++) {
            float gi = gb.get(i);
            float mi = mb.get(i) * b1 + gi * c1;
            float vi = vb.get(i) * b2 + gi * gi * c2;
            mb.put(i, mi);
            vb.put(i, vi);
            float wi = wb.get(i) * decay;
            wb.put(i, wi - mi / ((float) Math.sqrt(vi / bc2) + e) * stepSize);
        }
    }

    private static FloatBuffer buffer(INDArray a) {
        return a.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }
}
