package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;

/**
 * Pre-norm transformer block: {@code x + ls1 * attn(norm1(x))}, then {@code x + ls2 * mlp(norm2(x))}.
 * Layer scale (per-channel gains {@code ls1}, {@code ls2}, as in DINOv2) is optional so DINOv2 weights load
 * exactly; without it the block is the plain ViT block.
 */
public final class VitBlock {
    private VitBlock() {
    }

    /**
     * Hyper-parameters shared by every block of a stack. {@code exactGelu}: the MLP's GELU is the exact
     * {@code 0.5 x (1 + erf(x / sqrt 2))} that pretrained (PyTorch) weights were trained with, instead of ND4J's
     * sigmoid approximation {@code x sigmoid(1.702 x)} (cheaper; differs by up to 0.02).
     */
    public record Spec(long dim, int heads, double mlpRatio, boolean layerScale, boolean exactGelu) {
        public Spec {
            if (dim % heads != 0) throw new IllegalArgumentException("width " + dim + " is not a multiple of heads " + heads);
        }

        public Spec(long dim, int heads, double mlpRatio, boolean layerScale) {
            this(dim, heads, mlpRatio, layerScale, false);
        }
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long len, Spec spec) {
        ParamStore s = p.scope(name);
        SDVariable[] n1 = LayerNorm.applyWithOnes(s, "norm1", x, spec.dim());
        SDVariable a = Attention.apply(s, "attn", n1[0], len, spec.dim(), spec.heads(), n1[1]);
        if (spec.layerScale()) a = a.mul(s.constant("ls1", 1e-5, spec.dim()));
        x = x.add(a);
        SDVariable[] n2 = LayerNorm.applyWithOnes(s, "norm2", x, spec.dim());
        SDVariable m = Mlp.apply(s, "mlp", n2[0], spec.dim(), spec.mlpRatio(), spec.exactGelu(), n2[1]);
        if (spec.layerScale()) m = m.mul(s.constant("ls2", 1e-5, spec.dim()));
        return x.add(m);
    }

    /** {@code depth} blocks named {@code blocks.0 .. blocks.(depth-1)}. */
    public static SDVariable stack(ParamStore p, SDVariable x, long len, int depth, Spec spec) {
        for (int i = 0; i < depth; i++) x = apply(p, "blocks." + i, x, len, spec);
        return x;
    }

    /** Parameters of one block (for size checks). */
    public static long paramCount(Spec s) {
        long d = s.dim();
        long hidden = Math.round(d * s.mlpRatio());
        long n = 4 * d                          // two layer norms
                + d * 3 * d + 3 * d + d * d + d  // attention
                + d * hidden + hidden + hidden * d + d;
        return n + (s.layerScale() ? 2 * d : 0);
    }
}
