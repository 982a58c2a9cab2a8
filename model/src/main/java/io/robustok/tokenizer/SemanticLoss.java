package io.robustok.tokenizer;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * The semantic loss (SPEC section 2): the frozen DINOv2 CLS feature of the input image, through the tokenizer's own
 * width -> code-dim projection, against the spatial mean of the quantised latent, as CLIP's symmetric InfoNCE with
 * logit scale 1 and no normalisation: {@code logits = (cls W + b) mean_t(zq)^T}, loss = mean of the cross-entropies
 * of rows and of columns with the diagonal as the target. The batch is the graph's batch: across parameter-averaging
 * workers, each worker's own batch (the official code's all-gathered global batch has no equivalent there).
 */
final class SemanticLoss {
    private SemanticLoss() {
    }

    /**
     * @param cls    DINOv2 CLS features [N, D] (frozen: a placeholder)
     * @param projW  the encoder's projection [D, codeDim] (our [in, out] layout)
     * @param projB  its bias [codeDim]
     * @param zq     quantised latent rows [N * tokens, codeDim]
     */
    static SDVariable apply(SameDiff sd, SDVariable cls, SDVariable projW, SDVariable projB, SDVariable zq, int tokens, int codeDim) {
        SDVariable a = cls.mmul(projW).add(projB);                                // [N, c]
        SDVariable b = zq.reshape(-1, tokens, codeDim).mean(false, 1);             // [N, c]
        SDVariable logits = a.mmul(sd.transpose(b));                               // [N, N]
        SDVariable diag = sd.sum(a.mul(b), false, 1);                              // logits[i, i]
        SDVariable rows = logSumExp(sd, logits, 1).sub(diag);
        SDVariable cols = logSumExp(sd, logits, 0).sub(diag);
        return sd.mean(rows).add(sd.mean(cols)).mul(0.5);
    }

    /** Numerically stable log-sum-exp along {@code dim} (the shift carries no gradient, as its effect cancels). */
    private static SDVariable logSumExp(SameDiff sd, SDVariable x, int dim) {
        SDVariable m = TokenizerNet.sg(sd, sd.max(x, true, dim));
        SDVariable lse = sd.math().log(sd.sum(sd.math().exp(x.sub(m)), true, dim)).add(m);
        return lse.reshape(-1);
    }
}
