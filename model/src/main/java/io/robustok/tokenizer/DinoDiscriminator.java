package io.robustok.tokenizer;

import io.robustok.nn.FrozenVit;
import io.robustok.nn.ParamStore;
import io.robustok.nn.Resample;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The paper's discriminator (SPEC section 2; StyleGAN-T's projected DINO discriminator as the official code uses it):
 * a frozen DINO ViT-S/16 at 224 px and five small trainable heads, one per feature map: the position-embedded tokens
 * and the outputs of blocks 2, 5, 8 and 11, each as patch tokens plus the CLS token (the "readout"), channels x tokens.
 * A head is {@code SNConv1d(k=1) -> BatchNormLocal -> LeakyReLU(0.2)}, then a residual
 * {@code (SNConv1d(k=9, circular) -> BatchNormLocal -> LeakyReLU(0.2) + x) / sqrt 2}, then {@code SNConv1d(k=1)} to one
 * logit per token; the logits of all heads are concatenated, [N, 5 * 196].
 *
 * <p>Input: images in [-1, 1] (after DiffAugment), mapped to [0, 1], then either area-resized to 224 or, with
 * probability {@code cropProb} when larger, a random 224 crop (one for the batch); ImageNet-normalised. Both are a
 * separable matrix fed per step ({@code <prefix>Ry}, {@code <prefix>Rx}, [224, S]), so one graph serves both.
 *
 * <p>Spectral norm (one power iteration per step, PyTorch's {@code spectral_norm} in training mode): the vectors u
 * live in the optimizer state as {@code <weight>#u} (averaged and checkpointed with it); {@link #powerIteration}
 * updates them in Java and feeds u and v; the graph divides the kernel by {@code sigma = u^T W v} (u, v constant, so
 * the gradient flows through W in sigma as in PyTorch). BatchNormLocal normalises over virtual batches of 8 images
 * and the tokens, with batch statistics only (no running statistics to average). Head weights are under {@code disc/}
 * with StyleGAN-T's names ({@code heads.0.main.0.0.weight_orig}, ...). Head kernels start N(0, 0.02) (scale is
 * irrelevant under spectral norm), biases at 0.
 */
final class DinoDiscriminator {
    static final int[] HOOKS = {2, 5, 8, 11};
    static final int VIRTUAL_BATCH = 8;
    private final FrozenVit dino;
    private final int batch;
    private final int size;
    private final long ch;
    private final int len;

    /**
     * @param dinoWeights timm-named DINO ViT tensors (at least 12 blocks)
     * @param heads       attention heads of the DINO ViT (ViT-S: 6)
     * @param batch       images per call (the virtual batches split it)
     * @param size        side of the input images
     */
    DinoDiscriminator(Map<String, INDArray> dinoWeights, int heads, int batch, int size) {
        this.dino = new FrozenVit(dinoWeights, heads);
        if (dino.depth() < 12) throw new IllegalArgumentException("tokenizer.weights.dino: the discriminator reads blocks 2, 5, 8, 11; the file has " + dino.depth());
        int groups = (batch + VIRTUAL_BATCH - 1) / VIRTUAL_BATCH;
        if (batch % groups != 0) {
            throw new IllegalArgumentException("tokenizer.batch-size " + batch + " does not split into equal virtual batches of at most "
                    + VIRTUAL_BATCH + " for the DINO discriminator's BatchNormLocal (use a multiple of 8, or 1-8)");
        }
        if (size < dino.resolution()) throw new IllegalArgumentException("DINO discriminator needs images of at least " + dino.resolution() + " px, got " + size);
        this.batch = batch;
        this.size = size;
        this.ch = dino.dim();
        this.len = dino.grid() * dino.grid();
    }

    int resolution() {
        return dino.resolution();
    }

    /** Names of the spectrally normalised kernels, per head: 1x1, residual 9-tap, logit 1x1. */
    List<String> spectralKernels() {
        List<String> n = new ArrayList<>();
        for (int h = 0; h <= HOOKS.length; h++) {
            n.add("disc/heads." + h + ".main.0.0.weight_orig");
            n.add("disc/heads." + h + ".main.1.fn.0.weight_orig");
            n.add("disc/heads." + h + ".cls.weight_orig");
        }
        return n;
    }

    /**
     * Logits [N, 5 * tokens] of images x [N, 3, S, S] in [-1, 1]; {@code prefix} names the crop/resize placeholders.
     * The heads' parameters are created in {@code root} under {@code disc/} on the first call and reused after.
     */
    SDVariable logits(ParamStore root, SDVariable x, String prefix) {
        SameDiff sd = root.sd();
        int res = dino.resolution();
        SDVariable ry = sd.getVariable(prefix + "Ry") != null ? sd.getVariable(prefix + "Ry") : sd.placeHolder(prefix + "Ry", DataType.FLOAT, res, size);
        SDVariable rx = sd.getVariable(prefix + "Rx") != null ? sd.getVariable(prefix + "Rx") : sd.placeHolder(prefix + "Rx", DataType.FLOAT, res, size);
        SDVariable x01 = Resample.resize(sd, x.add(1.0).mul(0.5), ry, rx, 3, size, size, res, res);
        List<SDVariable> outs = dino.forward(sd, "dino/", FrozenVit.imagenetNormalize(sd, x01));
        ParamStore p = root.network("disc");
        List<SDVariable> logits = new ArrayList<>();
        for (int h = 0; h <= HOOKS.length; h++) {
            SDVariable t = outs.get(h == 0 ? 0 : 1 + HOOKS[h - 1]).reshape(-1, len + 1, ch);
            SDVariable readout = t.get(SDIndex.all(), SDIndex.interval(1, len + 1), SDIndex.all())
                    .add(t.get(SDIndex.all(), SDIndex.interval(0, 1), SDIndex.all())).reshape(-1, ch);
            logits.add(head(p, "heads." + h, readout).reshape(-1, len));
        }
        return sd.concat(1, logits.toArray(new SDVariable[0]));
    }

    private SDVariable head(ParamStore p, String name, SDVariable x) {
        SameDiff sd = p.sd();
        SDVariable h = block(p, name + ".main.0", x, 1);
        SDVariable r = block(p, name + ".main.1.fn", h, 9);
        h = r.add(h).mul(1 / Math.sqrt(2));
        return snConv(p, name + ".cls", h, ch, 1, 1);
    }

    private SDVariable block(ParamStore p, String name, SDVariable x, int k) {
        SDVariable h = snConv(p, name + ".0", x, ch, ch, k);
        h = batchNormLocal(p, name + ".1", h);
        return p.sd().nn().leakyRelu(h, 0.2);
    }

    /**
     * Spectrally normalised Conv1d over the tokens of each image, on rows [N * L, in]; PyTorch kernel layout
     * [out, in, k]; k > 1 pads circularly by k / 2.
     */
    private SDVariable snConv(ParamStore p, String name, SDVariable x, long in, long out, int k) {
        SameDiff sd = p.sd();
        ParamStore s = p.scope(name);
        SDVariable w = reuse(s, "weight_orig") != null ? reuse(s, "weight_orig") : s.normal("weight_orig", 0.02, out, in, k);
        SDVariable b = reuse(s, "bias") != null ? reuse(s, "bias") : s.zeros("bias", out);
        String full = s.name("weight_orig");
        SDVariable u = existingOr(sd, "sn/" + full + "/u", out);
        SDVariable v = existingOr(sd, "sn/" + full + "/v", in * k);
        SDVariable sigma = sd.sum(w.reshape(out, in * k).mmul(v.reshape(-1, 1)).mul(u.reshape(-1, 1)));
        SDVariable wsn = w.div(sigma);
        if (k == 1) return x.mmul(sd.transpose(wsn.reshape(out, in))).add(b);
        int pad = k / 2;
        SDVariable x3 = x.reshape(-1, len, in);
        SDVariable padded = sd.concat(1, x3.get(SDIndex.all(), SDIndex.interval(len - pad, len), SDIndex.all()), x3,
                x3.get(SDIndex.all(), SDIndex.interval(0, pad), SDIndex.all()));
        SDVariable[] taps = new SDVariable[k];
        for (int t = 0; t < k; t++) taps[t] = padded.get(SDIndex.all(), SDIndex.interval(t, t + len), SDIndex.all());
        SDVariable cols = sd.concat(2, taps).reshape(-1, k * in);                  // column (tap, channel)
        SDVariable kernel = sd.permute(wsn, 2, 1, 0).reshape(k * in, out);         // [k, in, out]
        return cols.mmul(kernel).add(b);
    }

    /** The variable {@code local} of scope {@code s} when an earlier call (real vs fake) created it, else null. */
    private static SDVariable reuse(ParamStore s, String local) {
        return s.sd().hasVariable(s.name(local)) ? s.sd().getVariable(s.name(local)) : null;
    }

    private static SDVariable existingOr(SameDiff sd, String name, long n) {
        SDVariable v = sd.getVariable(name);
        return v != null ? v : sd.placeHolder(name, DataType.FLOAT, n);
    }

    /** StyleGAN-T's BatchNormLocal on rows [N * L, C]: statistics per channel over virtual batches of images and tokens. */
    private SDVariable batchNormLocal(ParamStore p, String name, SDVariable x) {
        SameDiff sd = p.sd();
        ParamStore s = p.scope(name);
        SDVariable g = reuse(s, "weight") != null ? reuse(s, "weight") : s.ones("weight", ch);
        SDVariable b = reuse(s, "bias") != null ? reuse(s, "bias") : s.zeros("bias", ch);
        int groups = (batch + VIRTUAL_BATCH - 1) / VIRTUAL_BATCH;
        SDVariable xg = x.reshape(groups, -1, ch);
        SDVariable mu = xg.mean(true, 1);
        SDVariable xc = xg.sub(mu);
        SDVariable var = sd.math().square(xc).mean(true, 1);
        return xc.mul(sd.math().rsqrt(var.add(1e-5))).reshape(-1, ch).mul(g).add(b);
    }

    /** Fresh u vectors (normalised Gaussian, as PyTorch's spectral_norm starts) for every kernel, into {@code state}. */
    void initSpectralState(Map<String, INDArray> params, Map<String, INDArray> state, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (String n : spectralKernels()) {
            long out = params.get(n).size(0);
            double[] u = new double[(int) out];
            for (int i = 0; i < u.length; i++) u[i] = gaussian(r);
            state.put(n + "#u", Nd4j.create(normalize(u), new long[]{out}, DataType.FLOAT));
        }
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    /**
     * One power iteration per kernel ({@code v = normalize(W^T u)}, {@code u = normalize(W v)}): updates u in
     * {@code state} and feeds u and v as the placeholders of the graphs.
     */
    void powerIteration(Map<String, INDArray> params, Map<String, INDArray> state, Map<String, INDArray> ph) {
        for (String n : spectralKernels()) {
            INDArray w = params.get(n);
            INDArray mat = w.reshape(w.size(0), w.length() / w.size(0)).castTo(DataType.DOUBLE);
            INDArray u = state.get(n + "#u").castTo(DataType.DOUBLE).reshape(-1, 1);
            INDArray v = unit(mat.transpose().mmul(u));
            INDArray uNew = unit(mat.mmul(v));
            state.get(n + "#u").assign(uNew.reshape(-1).castTo(DataType.FLOAT));
            ph.put("sn/" + n + "/u", uNew.reshape(-1).castTo(DataType.FLOAT));
            ph.put("sn/" + n + "/v", v.reshape(-1).castTo(DataType.FLOAT));
        }
    }

    private static INDArray unit(INDArray x) {
        return x.div(Math.max(x.norm2Number().doubleValue(), 1e-12));
    }

    private static double[] normalize(double[] x) {
        double n = 0;
        for (double d : x) n += d * d;
        n = Math.max(Math.sqrt(n), 1e-12);
        for (int i = 0; i < x.length; i++) x[i] /= n;
        return x;
    }

    /**
     * The input transform of one call: with probability {@code cropProb} (and images larger than the resolution) a
     * random crop, else an area resize; fed as {@code <prefix>Ry}, {@code <prefix>Rx}.
     */
    void drawView(Map<String, INDArray> ph, String prefix, double cropProb, long seed) {
        int res = dino.resolution();
        SplittableRandom r = new SplittableRandom(seed);
        if (size > res && r.nextDouble() < cropProb) {
            view(ph, prefix, r.nextInt(size - res + 1), r.nextInt(size - res + 1));
        } else {
            view(ph, prefix, -1, -1);
        }
    }

    /** A crop at (top, left), or an area resize when top < 0. */
    void view(Map<String, INDArray> ph, String prefix, int top, int left) {
        int res = dino.resolution();
        ph.put(prefix + "Ry", Resample.toArray(top < 0 ? Resample.area(size, res) : Resample.crop(size, res, top)));
        ph.put(prefix + "Rx", Resample.toArray(top < 0 ? Resample.area(size, res) : Resample.crop(size, res, left)));
    }

    /** Everything of the file that is not DINO's own ViT (StyleGAN-T checkpoints prefix the backbone with "dino."). */
    static LinkedHashMap<String, INDArray> backbone(Map<String, INDArray> file) {
        LinkedHashMap<String, INDArray> m = new LinkedHashMap<>();
        file.forEach((k, v) -> {
            if (k.startsWith("dino.")) m.put(k.substring(5), v);
            else if (!k.startsWith("heads.")) m.put(k, v);
        });
        return m;
    }
}
