package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;

/** Two-layer MLP {@code fc2(gelu(fc1(x)))}, hidden width {@code dim * ratio}; GELU exact (erf) or ND4J's sigmoid approximation ({@link Gelu}). */
public final class Mlp {
    private Mlp() {
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long dim, double ratio) {
        return apply(p, name, x, dim, ratio, false);
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long dim, double ratio, boolean exactGelu) {
        return apply(p, name, x, dim, ratio, exactGelu, null);
    }

    /** With {@code onesCol} ([rows, 1] of ones, or null) fc1's bias is added by a rank-1 GEMM ({@link Linear}). */
    public static SDVariable apply(ParamStore p, String name, SDVariable x, long dim, double ratio, boolean exactGelu, SDVariable onesCol) {
        ParamStore s = p.scope(name);
        long hidden = Math.round(dim * ratio);
        SDVariable pre = onesCol == null ? Linear.apply(s, "fc1", x, dim, hidden) : Linear.apply(s, "fc1", x, dim, hidden, onesCol);
        SDVariable h = exactGelu ? FrozenVit.gelu(p.sd(), pre) : Gelu.apply(p.sd(), pre);
        return Linear.apply(s, "fc2", h, hidden, dim);
    }
}
