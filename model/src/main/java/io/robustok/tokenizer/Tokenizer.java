package io.robustok.tokenizer;

import io.robustok.nn.ParamStore;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A trained tokenizer for the later stages: images [N, 3, H, W] in [-1, 1] to token ids [N, T] and back, built from
 * a parameter map (the EMA weights of the tokenizer stage). No perturbation, ever, except in
 * {@link #decodePerturbed} for pFID (SPEC section 4). Batches are split into chunks of {@code chunk} images.
 * Not thread-safe.
 */
public final class Tokenizer {
    private final TokenizerConfig cfg;
    private final SameDiff encodeGraph;
    private final SameDiff decodeGraph;
    private final int maxDelta;
    private final int chunk;

    /**
     * @param params   parameter tensors by name (a TrainState's params or EMA params; extra entries such as the
     *                 discriminator are ignored); the arrays are used as they are, not copied
     * @param maxDelta largest delta {@link #decodePerturbed} will be asked for
     * @param chunk    images per graph call
     */
    public Tokenizer(TokenizerConfig cfg, Map<String, INDArray> params, int maxDelta, int chunk) {
        this.cfg = cfg;
        this.maxDelta = Math.max(1, Math.min(maxDelta, cfg.codebookSize()));
        this.chunk = chunk;
        encodeGraph = SameDiff.create();
        ParamStore ep = ParamStore.frozen(encodeGraph, params);
        SDVariable image = encodeGraph.placeHolder("image", DataType.FLOAT, -1, 3, cfg.imageSize(), cfg.imageSize());
        SDVariable z = TokenizerNet.encoder(ep, cfg, image);
        SDVariable sims = encodeGraph.mmul(z, TokenizerNet.codebook(ep, cfg), false, true, false);
        encodeGraph.updateVariableNameAndReference(sims, "sims");
        encodeGraph.updateVariableNameAndReference(encodeGraph.argmax(sims, 1), "ids");

        decodeGraph = SameDiff.create();
        ParamStore dp = ParamStore.frozen(decodeGraph, params);
        SDVariable ids = decodeGraph.placeHolder("ids", DataType.INT, -1);
        SDVariable zq = decodeGraph.gather(TokenizerNet.codebook(dp, cfg), ids, 0);
        SDVariable img = TokenizerNet.toImage(decodeGraph, cfg, TokenizerNet.decoder(dp, cfg, zq).pixels());
        decodeGraph.updateVariableNameAndReference(img, "recon");
    }

    public TokenizerConfig config() {
        return cfg;
    }

    /** Token ids [N, T] (INT) of images [N, 3, H, W]. */
    public INDArray encode(INDArray images) {
        return run(images, "ids").castTo(DataType.INT).reshape(images.size(0), cfg.tokens());
    }

    /** Images [N, 3, H, W] decoded from ids [N, T]. */
    public INDArray decode(INDArray ids) {
        long n = ids.size(0);
        List<INDArray> parts = new ArrayList<>();
        for (long s = 0; s < n; s += chunk) {
            long e = Math.min(n, s + chunk);
            INDArray flat = ids.get(NDArrayIndex.interval(s, e), NDArrayIndex.all()).castTo(DataType.INT).dup().reshape(-1);
            parts.add(decodeGraph.output(Map.of("ids", flat), "recon").get("recon"));
        }
        return parts.size() == 1 ? parts.get(0) : Nd4j.concat(0, parts.toArray(new INDArray[0]));
    }

    /**
     * pFID's input (SPEC section 4): every image perturbed (beta = 1) with the operator of SPEC section 3, then decoded.
     */
    public INDArray decodePerturbed(INDArray images, double alpha, int delta, long seed) {
        if (delta > maxDelta) throw new IllegalArgumentException("delta " + delta + " > maxDelta " + maxDelta + " this tokenizer was built for");
        INDArray sims = run(images, "sims");
        int[] ranks = LatentPerturbation.drawRanks((int) images.size(0), cfg.tokens(), alpha, delta, 1.0, seed);
        int[] ids = LatentPerturbation.perturbedIds(sims, ranks);
        return decode(Nd4j.create(ids, new long[]{images.size(0), cfg.tokens()}, DataType.INT));
    }

    /** Output {@code name} ("ids" or "sims", rows = N * T) of the encode graph, chunked. */
    INDArray run(INDArray images, String name) {
        long n = images.size(0);
        List<INDArray> parts = new ArrayList<>();
        for (long s = 0; s < n; s += chunk) {
            long e = Math.min(n, s + chunk);
            INDArray x = images.get(NDArrayIndex.interval(s, e), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all()).dup();
            parts.add(encodeGraph.output(Map.of("image", x), name).get(name));
        }
        return parts.size() == 1 ? parts.get(0) : Nd4j.concat(0, parts.toArray(new INDArray[0]));
    }
}
