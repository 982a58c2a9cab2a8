package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;

/**
 * Fully connected layer {@code y = x W + b} on rows: x is [rows, in], W is [in, out] (the transpose of PyTorch's
 * nn.Linear weight, which the weight mappings transpose on import), b is [out].
 *
 * <p>Token tensors are kept flat as [N * L, D] through the networks so that every linear layer is one GEMM
 * with no reshapes; only attention views them as [N, heads, L, dh].
 */
public final class Linear {
    private Linear() {
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long in, long out, boolean bias) {
        ParamStore s = p.scope(name);
        SDVariable w = s.normal("w", 0.02, in, out);
        SDVariable y = x.mmul(w);
        return bias ? y.add(s.zeros("b", out)) : y;
    }

    public static SDVariable apply(ParamStore p, String name, SDVariable x, long in, long out) {
        return apply(p, name, x, in, out, true);
    }
}
