package io.robustok.nn;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Vector API kernels of {@code gelu(x) = x * s}, {@code s = sigmoid(1.702 x)}, and its derivative
 * {@code s + 1.702 x s (1 - s)}, over float buffers in native byte order. {@code exp} is 2^(x log2 e): the integer part
 * goes into the exponent bits, 2^f for |f| <= 0.5 is a degree-7 Taylor polynomial (relative error ~1e-7). Loaded only
 * when the JVM has the jdk.incubator.vector module ({@link Gelu}).
 */
final class GeluKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float K = 1.702f;
    private static final ByteOrder O = ByteOrder.nativeOrder();

    private GeluKernels() {
    }

    static void forward(ByteBuffer x, ByteBuffer y, int n) {
        int i = 0;
        for (int end = S.loopBound(n); i < end; i += S.length()) {
            FloatVector v = FloatVector.fromByteBuffer(S, x, 4 * i, O);
            v.div(exp(v.mul(-K)).add(1f)).intoByteBuffer(y, 4 * i, O);
        }
        for (; i < n; i++) {
            float v = x.getFloat(4 * i);
            y.putFloat(4 * i, v / (1f + (float) Math.exp(-K * v)));
        }
    }

    static void derivative(ByteBuffer x, ByteBuffer d, int n) {
        int i = 0;
        for (int end = S.loopBound(n); i < end; i += S.length()) {
            FloatVector v = FloatVector.fromByteBuffer(S, x, 4 * i, O);
            FloatVector s = FloatVector.broadcast(S, 1f).div(exp(v.mul(-K)).add(1f));
            v.mul(K).mul(s).mul(s.neg().add(1f)).add(s).intoByteBuffer(d, 4 * i, O);
        }
        for (; i < n; i++) {
            float v = x.getFloat(4 * i);
            float s = 1f / (1f + (float) Math.exp(-K * v));
            d.putFloat(4 * i, s + K * v * s * (1f - s));
        }
    }

    /** e^x, clamped to 2^[-126, 126]. */
    static FloatVector exp(FloatVector x) {
        FloatVector t = x.mul(1.442695041f).max(-126f).min(126f);
        FloatVector m = t.add(12582912f); // 1.5 * 2^23: t rounded to an integer sits in m's low mantissa bits
        FloatVector f = t.sub(m.sub(12582912f)).mul(0.6931471806f);
        FloatVector p = FloatVector.broadcast(S, 1.9841270e-4f);
        p = p.fma(f, FloatVector.broadcast(S, 1.3888889e-3f));
        p = p.fma(f, FloatVector.broadcast(S, 8.3333333e-3f));
        p = p.fma(f, FloatVector.broadcast(S, 4.1666667e-2f));
        p = p.fma(f, FloatVector.broadcast(S, 1.6666667e-1f));
        p = p.fma(f, FloatVector.broadcast(S, 0.5f));
        p = p.fma(f, FloatVector.broadcast(S, 1f));
        p = p.fma(f, FloatVector.broadcast(S, 1f));
        IntVector e = ((IntVector) m.reinterpretAsInts()).sub(0x4B400000 - 127).lanewise(VectorOperators.LSHL, 23);
        return ((FloatVector) e.reinterpretAsFloats()).mul(p);
    }
}
