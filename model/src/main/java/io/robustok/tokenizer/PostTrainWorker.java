package io.robustok.tokenizer;

import io.robustok.nn.Backprop;
import io.robustok.nn.ParamStore;
import io.robustok.train.AdamW;
import io.robustok.train.GradClip;
import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import io.robustok.train.Worker;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Executor-side decoder post-training (SPEC section 6): decode(mixed token ids) against the ORIGINAL image, with the
 * main training's reconstruction and GAN losses (no perturbation), the GAN on from step 0 against a freshly
 * initialised discriminator.
 *
 * <p>What is trained, and so what the {@link TrainState} holds: the decoder (its 64 -> width input projection
 * included), the discriminator, their AdamW moments, and three scalars that would otherwise live on one worker
 * only: the adaptive GAN weight measured at the previous step and LeCAM's two EMAs. Keeping them in the averaged
 * state makes a step a function of the broadcast state and the step's seed alone, so a run resumed from a
 * checkpoint ends where an uninterrupted one does. The encoder, latent tokens and quantiser are not used (the input
 * is token ids) and the codebook is a frozen graph input: none of them is in the state.
 */
public final class PostTrainWorker implements Worker<PairBatch> {
    static final List<String> METRICS = List.of("loss", "rec", "gan", "disc", "adaptive_weight", "psnr", "grad_norm");
    static final String ADAPTIVE = "gan#adaptive", LECAM_REAL = "gan#lecam_real", LECAM_FAKE = "gan#lecam_fake";

    private final TokenizerConfig cfg;
    private final PostTrainConfig pc;
    private final int batch;
    private final double gradClip;
    private final AdamW decOpt;
    private final AdamW discOpt;
    private final DiffAugment aug;
    private final SameDiff genGraph;
    private final SameDiff discGraph;
    private final LinkedHashMap<String, INDArray> decParams;
    private final LinkedHashMap<String, INDArray> discParams;
    private final LinkedHashMap<String, INDArray> optState = new LinkedHashMap<>();

    /**
     * @param codebook the tokenizer's raw codebook [K, codeDim] (quantizer/codebook), frozen
     */
    public PostTrainWorker(TokenizerConfig cfg, PostTrainConfig pc, double gradClip, INDArray codebook) {
        if (!cfg.lpipsWeights().isEmpty() || !cfg.dinov2Weights().isEmpty() || cfg.discType().equals("dino")) {
            throw new UnsupportedOperationException("posttrain: LPIPS and the DINO discriminator are not implemented in this "
                    + "version; leave tokenizer.weights.* empty and disc.type = patchgan");
        }
        this.cfg = cfg;
        this.pc = pc;
        this.batch = pc.batchSize();
        this.gradClip = gradClip;
        this.decOpt = new AdamW(pc.beta1(), pc.beta2(), pc.eps(), pc.weightDecay());
        this.discOpt = new AdamW(pc.beta1(), pc.beta2(), pc.eps(), pc.discWeightDecay());
        this.aug = new DiffAugment(cfg.diffAug(), cfg.imageSize(), cfg.cutout());

        discGraph = SameDiff.create();
        ParamStore ds = ParamStore.create(discGraph, pc.seed() + 1);
        buildDiscriminator(ds);
        discParams = ds.arrays();

        genGraph = SameDiff.create();
        Map<String, INDArray> shared = new HashMap<>(discParams);
        shared.put("quantizer/codebook", codebook.castTo(DataType.FLOAT).dup());
        ParamStore gs = ParamStore.shared(genGraph, shared, pc.seed());
        buildGenerator(gs);
        decParams = gs.arrays("decoder/");

        decOpt.init("dec", decParams, optState);
        discOpt.init("disc", discParams, optState);
        optState.put(ADAPTIVE, Nd4j.scalar(-1f));
        optState.put(LECAM_REAL, Nd4j.scalar(0f));
        optState.put(LECAM_FAKE, Nd4j.scalar(0f));
    }

    /**
     * Placeholders: ids [N*T] INT, image [N,3,H,W], ganWeight (scalar) and the fake's DiffAugment parameters. Outputs:
     * loss, rec, gan, recon, headIn and the gradients of the two probes (the adaptive weight, as in main training).
     */
    private void buildGenerator(ParamStore p) {
        SameDiff sd = p.sd();
        SDVariable ids = sd.placeHolder("ids", DataType.INT, -1);
        SDVariable image = sd.placeHolder("image", DataType.FLOAT, -1, 3, cfg.imageSize(), cfg.imageSize());
        // the codebook is frozen: its rows enter the decoder behind a stop-gradient
        SDVariable zq = TokenizerNet.sg(sd, TokenizerNet.lookup(sd, TokenizerNet.codebook(p, cfg), ids, cfg.codebookSize()));
        TokenizerNet.Decoded dec = TokenizerNet.decoder(p, cfg, zq);
        SDVariable y = dec.pixels();
        long rows = (long) batch * cfg.patchTokens();
        SDVariable yRec = y.add(sd.var("probeRec", Nd4j.zeros(DataType.FLOAT, rows, cfg.patchDim())));
        sd.updateVariableNameAndReference(dec.headIn(), "headIn");
        SDVariable recon = TokenizerNet.toImage(sd, cfg, yRec);
        sd.updateVariableNameAndReference(recon, "recon");
        SDVariable rec = sd.mean(sd.math().square(recon.sub(image)));
        SDVariable yGan = y.add(sd.var("probeGan", Nd4j.zeros(DataType.FLOAT, rows, cfg.patchDim())));
        SDVariable fake = aug.apply(sd, "fake", TokenizerNet.toImage(sd, cfg, yGan));
        SDVariable gan = sd.mean(PatchGan.apply(p, fake, cfg.discChannels(), cfg.discLayers())).neg();
        sd.updateVariableNameAndReference(gan, "gan");
        SDVariable loss = rec.mul(cfg.recWeight()).add(gan.mul(sd.placeHolder("ganWeight", DataType.FLOAT)));
        sd.updateVariableNameAndReference(rec, "rec");
        sd.updateVariableNameAndReference(loss, "loss");
        sd.setLossVariables("loss");
    }

    /** Hinge loss with LeCAM on DiffAugmented real and (detached) fake images: main training's discriminator step. */
    private void buildDiscriminator(ParamStore p) {
        SameDiff sd = p.sd();
        int s = cfg.imageSize();
        SDVariable real = aug.apply(sd, "real", sd.placeHolder("real", DataType.FLOAT, -1, 3, s, s));
        SDVariable fake = aug.apply(sd, "fake", sd.placeHolder("fake", DataType.FLOAT, -1, 3, s, s));
        SDVariable logits = PatchGan.apply(p, sd.concat(0, real, fake), cfg.discChannels(), cfg.discLayers());
        SDVariable[] rf = sd.split(logits, 2, 0);
        SDVariable hinge = sd.mean(sd.nn().relu(rf[0].rsub(1.0), 0)).add(sd.mean(sd.nn().relu(rf[1].add(1.0), 0)));
        SDVariable emaReal = sd.placeHolder("emaReal", DataType.FLOAT);
        SDVariable emaFake = sd.placeHolder("emaFake", DataType.FLOAT);
        SDVariable lecam = sd.mean(sd.math().square(sd.nn().relu(rf[0].sub(emaFake), 0)))
                .add(sd.mean(sd.math().square(sd.nn().relu(emaReal.sub(rf[1]), 0))));
        sd.updateVariableNameAndReference(hinge.add(lecam.mul(cfg.lecamWeight())), "dloss");
        sd.updateVariableNameAndReference(hinge, "hinge");
        sd.updateVariableNameAndReference(sd.mean(rf[0]), "meanReal");
        sd.updateVariableNameAndReference(sd.mean(rf[1]), "meanFake");
        sd.setLossVariables("dloss");
    }

    /** The decoder's parameters (live arrays), by full name. */
    Map<String, INDArray> decoderParams() {
        return decParams;
    }

    @Override
    public void load(TrainState state) {
        for (Map.Entry<String, INDArray> e : decParams.entrySet()) copy(state.params(), e.getKey(), e.getValue());
        for (Map.Entry<String, INDArray> e : discParams.entrySet()) copy(state.params(), e.getKey(), e.getValue());
        for (Map.Entry<String, INDArray> e : optState.entrySet()) copy(state.optState(), e.getKey(), e.getValue());
    }

    private static void copy(Map<String, INDArray> from, String name, INDArray into) {
        INDArray v = from.get(name);
        if (v == null) throw new IllegalArgumentException("state has no tensor " + name + ", expected shape " + java.util.Arrays.toString(into.shape()));
        if (!java.util.Arrays.equals(v.shape(), into.shape())) {
            throw new IllegalArgumentException("tensor " + name + " has shape " + java.util.Arrays.toString(v.shape())
                    + ", expected " + java.util.Arrays.toString(into.shape()));
        }
        into.assign(v);
    }

    @Override
    public TrainState state() {
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>(decParams);
        p.putAll(discParams);
        return new TrainState(p, optState);
    }

    @Override
    public double[] step(PairBatch b, StepContext ctx) {
        if (b.size() != batch) throw new IllegalArgumentException("batch of " + b.size() + " pairs, the graph expects " + batch);
        Map<String, INDArray> ph = new HashMap<>();
        ph.put("ids", b.ids().castTo(DataType.INT).dup('c').reshape(-1));
        ph.put("image", b.images());
        aug.draw(ph, "fake", batch, ctx.seed() ^ 0x5DEECE66DL);
        double adaptive = optState.get(ADAPTIVE).getDouble(0);
        if (adaptive < 0) adaptive = measureAdaptive(ph);
        double used = cfg.ganWeight() * adaptive;
        ph.put("ganWeight", Nd4j.scalar((float) used));

        // 1. decoder step: reconstruction + adaptively weighted GAN loss, one backward
        List<String> wrt = new ArrayList<>(decParams.keySet());
        wrt.addAll(List.of("probeRec", "probeGan"));
        OutAndGrad r = Backprop.run(genGraph, ph, List.of("loss", "rec", "gan", "headIn", "recon"), wrt);
        Map<String, INDArray> o = r.getOutputs();
        Map<String, INDArray> grads = r.getGradients();
        optState.get(ADAPTIVE).assign(adaptiveWeight(o.get("headIn"), grads.get("probeRec"), grads.get("probeGan"), used));
        List<INDArray> decGrads = new ArrayList<>();
        for (String k : decParams.keySet()) decGrads.add(grads.get(k));
        double gradNorm = GradClip.clip(decGrads, gradClip);
        decOpt.step("dec", decParams, grads, optState, pc.lr() * ctx.lrScale());

        // 2. discriminator step on this step's (detached) reconstructions
        Map<String, INDArray> dph = new HashMap<>();
        dph.put("real", b.images());
        dph.put("fake", o.get("recon"));
        aug.draw(dph, "real", batch, ctx.seed() ^ 0x2545F4914F6CDD1DL);
        aug.draw(dph, "fake", batch, ctx.seed() ^ 0x9E3779B97F4A7C15L);
        double emaReal = optState.get(LECAM_REAL).getDouble(0), emaFake = optState.get(LECAM_FAKE).getDouble(0);
        dph.put("emaReal", Nd4j.scalar((float) emaReal));
        dph.put("emaFake", Nd4j.scalar((float) emaFake));
        OutAndGrad dr = Backprop.run(discGraph, dph, List.of("dloss", "hinge", "meanReal", "meanFake"),
                new ArrayList<>(discParams.keySet()));
        discOpt.step("disc", discParams, dr.getGradients(), optState, pc.discLr() * ctx.lrScale());
        double d = cfg.lecamDecay();
        optState.get(LECAM_REAL).assign(d * emaReal + (1 - d) * dr.getOutputs().get("meanReal").getDouble(0));
        optState.get(LECAM_FAKE).assign(d * emaFake + (1 - d) * dr.getOutputs().get("meanFake").getDouble(0));

        double rec = o.get("rec").getDouble(0);
        double[] metrics = {o.get("loss").getDouble(0), rec, o.get("gan").getDouble(0), dr.getOutputs().get("hinge").getDouble(0),
                used, TokenizerWorker.psnr(rec), gradNorm};
        Backprop.recycle(genGraph, r);
        Backprop.recycle(discGraph, dr);
        return metrics;
    }

    /** The first step measures the adaptive weight (no earlier step to take it from). */
    private double measureAdaptive(Map<String, INDArray> ph) {
        ph.put("ganWeight", Nd4j.scalar(1f));
        OutAndGrad r = Backprop.run(genGraph, ph, List.of("headIn"), List.of("probeRec", "probeGan"));
        return adaptiveWeight(r.getOutputs().get("headIn"), r.getGradients().get("probeRec"), r.getGradients().get("probeGan"), 1.0);
    }

    /** VQGAN's ||grad_W L_rec|| / (||grad_W L_gan|| + 1e-4) at the linear head W, clamped to [0, adaptive-max]. */
    private double adaptiveWeight(INDArray headIn, INDArray gRec, INDArray gGanScaled, double ganScale) {
        double nRec = headIn.transpose().mmul(gRec).norm2Number().doubleValue();
        double nGan = headIn.transpose().mmul(gGanScaled).norm2Number().doubleValue() / Math.max(ganScale, 1e-12);
        return Math.max(0, Math.min(cfg.adaptiveMax(), nRec / (nGan + 1e-4)));
    }
}
