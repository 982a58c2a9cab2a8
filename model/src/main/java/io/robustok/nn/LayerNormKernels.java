package io.robustok.nn;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Vector API kernels of the layer norm's normalisation over rows of length d: {@code xhat = (x - mean) * r} with
 * {@code r = 1 / sqrt(var + eps)} (biased variance, two passes), and its input gradient
 * {@code dx = r * (g - mean(g) - xhat * mean(g * xhat))}; the statistics are recomputed from x in the backward pass.
 * Loaded only when the JVM has the jdk.incubator.vector module ({@link JavaKernels}).
 */
final class LayerNormKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder O = ByteOrder.nativeOrder();

    private LayerNormKernels() {
    }

    private static float sum(ByteBuffer x, int off, int d) {
        int j = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int end = S.loopBound(d); j < end; j += S.length()) acc = acc.add(FloatVector.fromByteBuffer(S, x, 4 * (off + j), O));
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; j < d; j++) s += x.getFloat(4 * (off + j));
        return s;
    }

    private static float centeredSquares(ByteBuffer x, int off, int d, float mean) {
        int j = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int end = S.loopBound(d); j < end; j += S.length()) {
            FloatVector c = FloatVector.fromByteBuffer(S, x, 4 * (off + j), O).sub(mean);
            acc = c.fma(c, acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; j < d; j++) {
            float c = x.getFloat(4 * (off + j)) - mean;
            s += c * c;
        }
        return s;
    }

    static void forward(ByteBuffer x, ByteBuffer y, int rows, int d, double eps) {
        for (int r = 0; r < rows; r++) {
            int off = r * d;
            float mean = sum(x, off, d) / d;
            float inv = (float) (1 / Math.sqrt(centeredSquares(x, off, d, mean) / d + eps));
            int j = 0;
            for (int end = S.loopBound(d); j < end; j += S.length()) {
                FloatVector.fromByteBuffer(S, x, 4 * (off + j), O).sub(mean).mul(inv).intoByteBuffer(y, 4 * (off + j), O);
            }
            for (; j < d; j++) y.putFloat(4 * (off + j), (x.getFloat(4 * (off + j)) - mean) * inv);
        }
    }

    static void backward(ByteBuffer x, ByteBuffer g, ByteBuffer dx, int rows, int d, double eps) {
        for (int r = 0; r < rows; r++) {
            int off = r * d;
            float mean = sum(x, off, d) / d;
            float inv = (float) (1 / Math.sqrt(centeredSquares(x, off, d, mean) / d + eps));
            // mean(g) and mean(g * xhat)
            FloatVector ag = FloatVector.zero(S), agx = FloatVector.zero(S);
            int j = 0;
            for (int end = S.loopBound(d); j < end; j += S.length()) {
                FloatVector gv = FloatVector.fromByteBuffer(S, g, 4 * (off + j), O);
                FloatVector xh = FloatVector.fromByteBuffer(S, x, 4 * (off + j), O).sub(mean).mul(inv);
                ag = ag.add(gv);
                agx = gv.fma(xh, agx);
            }
            float sg = ag.reduceLanes(VectorOperators.ADD), sgx = agx.reduceLanes(VectorOperators.ADD);
            for (int k = j; k < d; k++) {
                float gv = g.getFloat(4 * (off + k));
                sg += gv;
                sgx += gv * (x.getFloat(4 * (off + k)) - mean) * inv;
            }
            float mg = sg / d, mgx = sgx / d;
            j = 0;
            for (int end = S.loopBound(d); j < end; j += S.length()) {
                FloatVector gv = FloatVector.fromByteBuffer(S, g, 4 * (off + j), O);
                FloatVector xh = FloatVector.fromByteBuffer(S, x, 4 * (off + j), O).sub(mean).mul(inv);
                gv.sub(mg).sub(xh.mul(mgx)).mul(inv).intoByteBuffer(dx, 4 * (off + j), O);
            }
            for (; j < d; j++) {
                float xh = (x.getFloat(4 * (off + j)) - mean) * inv;
                dx.putFloat(4 * (off + j), (g.getFloat(4 * (off + j)) - mg - xh * mgx) * inv);
            }
        }
    }
}
