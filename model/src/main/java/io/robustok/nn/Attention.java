package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * Multi-head self-attention over a sequence of fixed length {@code len}, all positions attending to all
 * (no mask). Input and output are flat [N * len, D]. Parameters: fused {@code qkv} [D, 3D] (+ bias) and
 * {@code proj} [D, D] (+ bias), the layout of timm/DINOv2 after transposing their weights.
 */
public final class Attention {
    private Attention() {
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long len, long dim, int heads) {
        return apply(p, name, x, len, dim, heads, null);
    }

    /** With {@code onesCol} ([rows, 1] of ones, or null) the qkv bias is added by a rank-1 GEMM ({@link Linear}). */
    public static SDVariable apply(ParamStore p, String name, SDVariable x, long len, long dim, int heads, SDVariable onesCol) {
        ParamStore s = p.scope(name);
        SameDiff sd = p.sd();
        long dh = dim / heads;
        SDVariable qkv = onesCol == null ? Linear.apply(s, "qkv", x, dim, 3 * dim) : Linear.apply(s, "qkv", x, dim, 3 * dim, onesCol);
        // [N*L, 3D] -> [N, L, 3, H, dh] -> [3, N, H, L, dh]
        SDVariable t = sd.permute(qkv.reshape(-1, len, 3, heads, dh), 2, 0, 3, 1, 4);
        SDVariable[] parts = sd.split(t, 3, 0);
        SDVariable q = parts[0].reshape(-1, len, dh).mul(1.0 / Math.sqrt(dh));
        SDVariable k = parts[1].reshape(-1, len, dh);
        SDVariable v = parts[2].reshape(-1, len, dh);
        SDVariable scores = sd.mmul(q, k, false, true, false);          // [N*H, L, L]
        SDVariable attn = sd.nn().softmax(scores, 2);
        SDVariable o = sd.mmul(attn, v);                                 // [N*H, L, dh]
        // [N*H, L, dh] -> [N, H, L, dh] -> [N, L, H, dh] -> [N*L, D]
        SDVariable merged = sd.permute(o.reshape(-1, heads, len, dh), 0, 2, 1, 3).reshape(-1, dim);
        return Linear.apply(s, "proj", merged, dim, dim);
    }
}
