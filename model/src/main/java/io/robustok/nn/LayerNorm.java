package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;

/** Layer normalisation over the last axis of [rows, D] with gain and bias (eps 1e-6 as in timm's ViT). */
public final class LayerNorm {
    private LayerNorm() {
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long dim) {
        ParamStore s = p.scope(name);
        SDVariable g = s.ones("g", dim);
        SDVariable b = s.zeros("b", dim);
        // Written out rather than nn.layerNorm: the native op's eps is fixed and its backward allocated more.
        SDVariable mu = x.mean(true, 1);
        SDVariable xc = x.sub(mu);
        SDVariable var = p.sd().math().square(xc).mean(true, 1);
        SDVariable inv = p.sd().math().rsqrt(var.add(1e-6));
        return xc.mul(inv).mul(g).add(b);
    }
}
