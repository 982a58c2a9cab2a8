package io.robustok.train;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Collection;

/** Global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_): one norm over all tensors. */
public final class GradClip {
    private GradClip() {
    }

    /** L2 norm over all {@code grads} together. */
    public static double globalNorm(Collection<INDArray> grads) {
        double s = 0;
        for (INDArray g : grads) {
            double n = g.norm2Number().doubleValue();
            s += n * n;
        }
        return Math.sqrt(s);
    }

    /**
     * Scales {@code grads} in place so their global norm is at most {@code maxNorm} (0 or less: no clipping).
     *
     * @return the norm before clipping
     */
    public static double clip(Collection<INDArray> grads, double maxNorm) {
        double n = globalNorm(grads);
        if (maxNorm > 0 && n > maxNorm) {
            double f = maxNorm / (n + 1e-6);
            for (INDArray g : grads) g.muli(f);
        }
        return n;
    }
}
