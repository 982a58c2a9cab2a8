package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Layer normalisation over the last axis of [rows, D] with gain and bias (eps 1e-6 as in timm's ViT).
 *
 * <p>Written so that every elementwise op sees two arrays of the same shape: the row means and the row scales are
 * spread back over the D columns by a rank-1 GEMM with a row of ones (and the gain over the rows by a column of
 * ones) instead of a broadcasting multiply. In ND4J 1.0.0-M2.1 the backward of a broadcasting {@code multiply}
 * tiles both operands to the full shape in a generic loop (about 10x the cost of the same-shape op), and
 * {@code layer_norm_bp} and {@code square}'s {@code pow} derivative are as slow; the GEMMs and same-shape
 * elementwise ops are not. The result is the written-out {@code (x - mean) / sqrt(var + eps) * g + b} up to float
 * rounding ({@code LayerNormTest}).
 */
public final class LayerNorm {
    private LayerNorm() {
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long dim) {
        ParamStore s = p.scope(name);
        SDVariable g = s.ones("g", dim);
        SDVariable b = s.zeros("b", dim);
        return affine(p.sd(), x, g, b, dim, 1e-6);
    }

    /**
     * {@link #apply}, and the [rows, 1] column of ones it made, for the layers that follow
     * ({@link Linear#apply(ParamStore, String, SDVariable, long, long, SDVariable)}).
     */
    public static SDVariable[] applyWithOnes(ParamStore p, String name, SDVariable x, long dim) {
        ParamStore s = p.scope(name);
        return affineWithOnes(p.sd(), x, s.ones("g", dim), s.zeros("b", dim), dim, 1e-6);
    }

    /** {@code normalize(x) * g + b} on [rows, dim] with g and b of shape [dim]. */
    public static SDVariable affine(SameDiff sd, SDVariable x, SDVariable g, SDVariable b, long dim, double eps) {
        return affineWithOnes(sd, x, g, b, dim, eps)[0];
    }

    private static SDVariable[] affineWithOnes(SameDiff sd, SDVariable x, SDVariable g, SDVariable b, long dim, double eps) {
        SDVariable[] n = normalized(sd, x, dim, eps);
        // [rows, 1] of ones times g [1, dim]: the gain on every row
        SDVariable onesCol = n[1];
        return new SDVariable[]{n[0].mul(onesCol.mmul(g.reshape(1, dim))).add(b), onesCol};
    }

    /** A [rows, 1] column of ones for [rows, D] x, made from x's shape by integer ops (so no gradient flows into it). */
    public static SDVariable onesColumn(SameDiff sd, SDVariable x) {
        SDVariable rows = sd.shape(x).get(SDIndex.interval(0, 1));
        return sd.fill(sd.concat(0, rows, sd.constant(Nd4j.createFromArray(1L))), x.dataType(), 1.0);
    }

    /** {@code (x - mean) / sqrt(var + eps)} along the last axis of [rows, dim] (biased variance, as PyTorch). */
    public static SDVariable normalize(SameDiff sd, SDVariable x, long dim, double eps) {
        return normalized(sd, x, dim, eps)[0];
    }

    /**
     * The normalised rows of [rows, dim] and a [rows, 1] column of ones. With the Java kernels ({@link JavaKernels}:
     * the Vector API module is present) the normalisation is one op forward and one backward, computed in Java;
     * else the GEMM form below.
     */
    private static SDVariable[] normalized(SameDiff sd, SDVariable x, long dim, double eps) {
        DataType t = x.dataType();
        if (JavaKernels.enabled() && t == DataType.FLOAT) {
            JavaKernels.of(sd).layerNorm(x.name(), eps);
            return new SDVariable[]{sd.math().cube(x), onesColumn(sd, x)};
        }
        SDVariable avg = sd.constant(Nd4j.valueArrayOf(new long[]{dim, 1}, 1.0 / dim, t));
        SDVariable onesRow = sd.constant(Nd4j.ones(t, 1, dim));
        SDVariable xc = x.sub(x.mmul(avg).mmul(onesRow));
        SDVariable inv = sd.math().rsqrt(xc.mul(xc).mmul(avg).add(eps));
        // no gradient flows through onesLike
        return new SDVariable[]{xc.mul(inv.mmul(onesRow)), sd.onesLike(inv)};
    }
}
