package io.robustok.tokenizer;

import io.robustok.nn.LayerNorm;
import io.robustok.nn.Linear;
import io.robustok.nn.ParamStore;
import io.robustok.nn.Patchify;
import io.robustok.nn.PosEmbed2d;
import io.robustok.nn.VitBlock;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ops.impl.controlflow.compat.StopGradient;

/**
 * The tokenizer's networks as SameDiff subgraphs (SPEC section 2). Parameter names: {@code encoder/...},
 * {@code quantizer/codebook}, {@code decoder/...}. Token tensors are flat [N * L, width].
 */
final class TokenizerNet {
    private TokenizerNet() {
    }

    static SDVariable sg(SameDiff sd, SDVariable x) {
        return new StopGradient(sd, x).outputVariable();
    }

    /** {@code x * x}: the same-shape multiply, whose backward is several times faster than square's pow derivative. */
    static SDVariable square(SDVariable x) {
        return x.mul(x);
    }

    /** Row-wise l2 normalisation of [rows, dim]. */
    static SDVariable l2normalize(SameDiff sd, SDVariable x) {
        return x.div(sd.norm2(x, true, 1).add(1e-6));
    }

    /**
     * ViT encoder: patch tokens plus learnable latent tokens (on the latent grid, reading the same 2-D position
     * embedding; a two-entry level embedding tells the streams apart), full attention over both, the latent outputs
     * through the 1x1 projection width -> codeDim and l2-normalised.
     *
     * @return normalised encoder output z [N * T, codeDim]
     */
    static SDVariable encoder(ParamStore root, TokenizerConfig c, SDVariable image) {
        SameDiff sd = root.sd();
        ParamStore p = root.network("encoder");
        long d = c.width();
        int nP = c.patchTokens();
        int nT = c.tokens();
        SDVariable x = Linear.apply(p, "patch_embed", Patchify.patchify(sd, image, 3, c.imageSize(), c.patch()), c.patchDim(), d);
        SDVariable pos = p.normal("pos_embed", 0.02, nP, d);
        SDVariable level = p.normal("level_embed", 0.02, 2, d);
        SDVariable lvl0 = level.get(SDIndex.interval(0, 1), SDIndex.all());
        SDVariable lvl1 = level.get(SDIndex.interval(1, 2), SDIndex.all());
        SDVariable x3 = x.reshape(-1, nP, d).add(pos.add(lvl0));
        SDVariable latRow = p.normal("latent_tokens", 0.02, nT, d).add(latentPos(sd, c, pos)).add(lvl1);
        SDVariable seq = sd.concat(1, x3, broadcastRows(x3, latRow)).reshape(-1, d);
        int len = nP + nT;
        seq = VitBlock.stack(p, seq, len, c.encoderDepth(), c.blockSpec());
        seq = LayerNorm.apply(p, "norm", seq, d);
        SDVariable lat = seq.reshape(-1, len, d).get(SDIndex.all(), SDIndex.interval(nP, len), SDIndex.all()).reshape(-1, d);
        return l2normalize(sd, Linear.apply(p, "proj", lat, d, c.codeDim()));
    }

    /** The l2-normalised codebook [K, codeDim]. */
    static SDVariable codebook(ParamStore root, TokenizerConfig c) {
        SDVariable cb = root.network("quantizer").normal("codebook", 1.0, c.codebookSize(), c.codeDim());
        return l2normalize(root.sd(), cb);
    }

    /**
     * Quantizer outputs: similarities [rows, K], clean ids [rows], the two losses, the decoder input, and the clean
     * quantised latent with the straight-through gradient {@code z + sg(zq - z)} (the semantic loss reads it).
     */
    record Quantized(SDVariable sims, SDVariable ids, SDVariable codebookLoss, SDVariable commitLoss, SDVariable decoderIn,
                     SDVariable clean) {
    }

    /**
     * l2-normalised quantizer (SPEC section 2) with the latent perturbation (SPEC section 3).
     * Nearest code on the unit sphere = largest cosine. Codebook loss {@code mean((zq - sg[z])^2)} and commitment
     * {@code commitment * mean((sg[zq] - z)^2)} use the CLEAN code; the decoder gets {@code z + sg(zq' - z)} where
     * zq' is the clean code, or the code {@code pertIds[row]} where {@code pertMask[row] = 1}.
     *
     * @param z        normalised encoder output [rows, codeDim]
     * @param cb       normalised codebook [K, codeDim]
     * @param pertIds  [rows] int, replacement code per row (ignored where the mask is 0); null: no perturbation input
     * @param pertMask [rows, 1] float, 1 where the token is replaced
     */
    static Quantized quantize(SameDiff sd, SDVariable z, SDVariable cb, int codebookSize, SDVariable pertIds, SDVariable pertMask,
                              double commitment) {
        SDVariable sims = sd.mmul(z, cb, false, true, false);
        SDVariable ids = sd.argmax(sims, 1);
        sd.updateVariableNameAndReference(ids, "ids");
        SDVariable zq = lookup(sd, cb, ids, codebookSize);
        SDVariable codebook = sd.mean(square(zq.sub(sg(sd, z))));
        SDVariable commit = sd.mean(square(sg(sd, zq).sub(z))).mul(commitment);
        SDVariable code = zq;
        if (pertIds != null) {
            SDVariable zqPerturbed = lookup(sd, cb, pertIds, codebookSize);
            code = zq.add(zqPerturbed.sub(zq).mul(pertMask));
            sd.updateVariableNameAndReference(code, "zqDecoderInput");
        }
        SDVariable decoderIn = z.add(sg(sd, code.sub(z)));
        SDVariable clean = pertIds == null ? decoderIn : z.add(sg(sd, zq.sub(z)));
        return new Quantized(sims, ids, codebook, commit, decoderIn, clean);
    }

    /**
     * Rows of {@code table} [K, dim] at {@code ids} [rows] as one-hot x table: a GEMM forward and backward
     * (gather's backward in this SameDiff version is a slow, name-clashing loop).
     */
    static SDVariable lookup(SameDiff sd, SDVariable table, SDVariable ids, int rows) {
        return sd.oneHot(ids, rows).mmul(table);
    }

    /** Output of the decoder: the head's input (for the adaptive GAN weight) and the pixel rows. */
    record Decoded(SDVariable headIn, SDVariable pixels) {
    }

    /**
     * Decoder: projection codeDim -> width on the latent tokens, one learnable mask token per patch position, position
     * and level embeddings, ViT blocks, and a linear head from the mask-token outputs to 3 x p x p pixels.
     *
     * @param zq code vectors [N * T, codeDim]
     * @return pixel rows [N * P, 3 p p] (unpatchify to get images) and the head input [N * P, width]
     */
    static Decoded decoder(ParamStore root, TokenizerConfig c, SDVariable zq) {
        SameDiff sd = root.sd();
        ParamStore p = root.network("decoder");
        long d = c.width();
        int nP = c.patchTokens();
        int nT = c.tokens();
        SDVariable h = Linear.apply(p, "proj_in", zq, c.codeDim(), d);
        SDVariable pos = p.normal("pos_embed", 0.02, nP, d);
        SDVariable level = p.normal("level_embed", 0.02, 2, d);
        SDVariable lvl0 = level.get(SDIndex.interval(0, 1), SDIndex.all());
        SDVariable lvl1 = level.get(SDIndex.interval(1, 2), SDIndex.all());
        SDVariable lat3 = h.reshape(-1, nT, d).add(latentPos(sd, c, pos).add(lvl1));
        SDVariable maskRow = pos.add(p.normal("mask_token", 0.02, 1, d)).add(lvl0);
        SDVariable seq = sd.concat(1, broadcastRows(lat3, maskRow), lat3).reshape(-1, d);
        int len = nP + nT;
        seq = VitBlock.stack(p, seq, len, c.decoderDepth(), c.blockSpec());
        seq = LayerNorm.apply(p, "norm", seq, d);
        SDVariable out = seq.reshape(-1, len, d).get(SDIndex.all(), SDIndex.interval(0, nP), SDIndex.all()).reshape(-1, d);
        return new Decoded(out, Linear.apply(p, "head", out, d, c.patchDim()));
    }

    static SDVariable toImage(SameDiff sd, TokenizerConfig c, SDVariable pixels) {
        return Patchify.unpatchify(sd, pixels, 3, c.imageSize(), c.patch());
    }

    /** Position embedding of the latent grid: the patch grid's, bilinearly resampled when the grids differ. */
    private static SDVariable latentPos(SameDiff sd, TokenizerConfig c, SDVariable pos) {
        if (c.latentGrid() == c.patchGrid()) return pos;
        return sd.constant(PosEmbed2d.resampleMatrix(c.patchGrid(), c.latentGrid())).mmul(pos);
    }

    /** [rows, D] repeated for every image of {@code like} [N, *, D]: [N, rows, D], with no batch size in the graph. */
    private static SDVariable broadcastRows(SDVariable like, SDVariable rows) {
        SDVariable zeros = like.get(SDIndex.all(), SDIndex.interval(0, 1), SDIndex.all()).mul(0.0);
        return zeros.add(rows);
    }
}
