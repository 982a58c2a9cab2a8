package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;

/** Two-layer MLP {@code fc2(gelu(fc1(x)))}, hidden width {@code dim * ratio}. */
public final class Mlp {
    private Mlp() {
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long dim, double ratio) {
        ParamStore s = p.scope(name);
        long hidden = Math.round(dim * ratio);
        SDVariable h = p.sd().nn().gelu(Linear.apply(s, "fc1", x, dim, hidden));
        return Linear.apply(s, "fc2", h, hidden, dim);
    }
}
