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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Executor-side tokenizer training (SPEC sections 2-3). Graphs are built once; each step feeds placeholders and
 * updates the parameter arrays in place.
 *
 * <p>Three graphs share one set of parameter arrays: the generator step without GAN (before the GAN start epoch),
 * the generator step with the GAN term, and the discriminator step.
 *
 * <p>Adaptive GAN weight (VQGAN): ||dL_rec/dW|| / ||dL_gan/dW|| at the decoder head W. Because the head is linear,
 * y = h W + b, each norm is ||h^T dL/dy||: zero "probe" tensors are added to y on the rec branch and on the GAN
 * branch, and their gradients (dL/dy of each branch) come out of the same backward pass as the weight gradients,
 * so no second backward is needed. The weight multiplying the GAN loss in step t is the one measured in step t-1 (the
 * first GAN step measures it first): a one-step lag in a slowly varying, clamped scalar, in exchange for a single
 * backward pass per step.
 *
 * <p>GAN state that is not a parameter (the adaptive weight of the last step, LeCAM's EMAs of the discriminator's
 * mean outputs) lives in the optimizer state as scalars ({@link #ADAPTIVE}, {@link #LECAM_REAL}, {@link #LECAM_FAKE}):
 * it is loaded with the state at the start of every round, averaged over the workers like the AdamW moments and
 * checkpointed with them. A round therefore computes the same thing whichever executor (or cached worker) runs a
 * partition, and a run resumed from a checkpoint continues exactly. With trainer.average-updater = false the driver
 * keeps its optimizer state, so every round starts these from their initial values (measure the weight, EMAs at 0).
 */
public final class TokenizerWorker implements Worker<ImageBatch> {
    private static final Logger LOG = LoggerFactory.getLogger(TokenizerWorker.class);
    static final List<String> METRICS = List.of("loss", "rec", "codebook", "commit", "perceptual", "gan", "disc",
            "adaptive_weight", "psnr", "alpha", "delta", "perturbed", "perplexity", "usage", "grad_norm", "semantic");
    /** Optimizer-state scalar: adaptive GAN weight measured in the last step; negative = not measured yet. */
    static final String ADAPTIVE = "gan#adaptive";
    /** Optimizer-state scalars: LeCAM's EMAs of the discriminator's mean output on real and on fake images. */
    static final String LECAM_REAL = "gan#lecam_real";
    static final String LECAM_FAKE = "gan#lecam_fake";
    /**
     * Optimizer-state vector [K] with tokenizer.restart-dead-every &gt; 0: each code's use, an EMA over steps (decay
     * {@link #USE_DECAY}) of its count among the step's clean code choices times K / tokens (1 = a uniform share).
     */
    static final String CODE_USE = "quantizer#use";
    static final double USE_DECAY = 0.9;
    /** A code whose use is below this is dead: no token chose it for about 65 steps (0.9^65 = 1e-3). */
    static final double DEAD_USE = 1e-3;

    private final TokenizerConfig cfg;
    private final int batch;
    private final double gradClip;
    private final AdamW genOpt;
    private final AdamW discOpt;
    private final DiffAugment aug;
    private final int maxDelta;
    /** LPIPS-VGG16 of the perceptual loss; null when tokenizer.weights.lpips is not set. */
    private final Lpips lpips;
    /** Frozen DINOv2 CLS feature of the semantic loss; null when tokenizer.weights.dinov2 is not set. */
    private final Dinov2.Feature semantic;
    /** The frozen-DINO discriminator (disc.type = dino); null for the PatchGAN. */
    private final DinoDiscriminator dino;

    private final SameDiff recGraph;
    /** Encoder + similarities only, sharing the parameter arrays: the perturbation's nearest-code search. */
    private final SameDiff simsGraph;
    private SameDiff ganGraph;
    private SameDiff discGraph;
    private final LinkedHashMap<String, INDArray> tokParams;
    private LinkedHashMap<String, INDArray> discParams = new LinkedHashMap<>();
    private final LinkedHashMap<String, INDArray> optState = new LinkedHashMap<>();

    private final CodeUsage usage;
    private int usageEpoch = -1;

    public TokenizerWorker(TokenizerConfig cfg, double gradClip) {
        this.cfg = cfg;
        this.batch = cfg.batchSize();
        this.gradClip = gradClip;
        this.genOpt = new AdamW(cfg.beta1(), cfg.beta2(), cfg.eps(), cfg.weightDecay());
        this.discOpt = new AdamW(cfg.beta1(), cfg.beta2(), cfg.eps(), cfg.discWeightDecay());
        this.aug = new DiffAugment(cfg.diffAug(), cfg.imageSize(), cfg.cutout());
        this.maxDelta = cfg.codebookSize();
        this.usage = new CodeUsage(cfg.codebookSize());
        cfg.requireWeightFiles();
        Map<String, INDArray> dinov2 = null;
        try {
            lpips = cfg.lpipsWeights().isEmpty() || cfg.perceptualWeight() == 0 ? null : Lpips.read(Path.of(cfg.lpipsWeights()));
            if (!cfg.dinov2Weights().isEmpty()) dinov2 = Dinov2.read(Path.of(cfg.dinov2Weights()), "tokenizer.weights.dinov2");
            dino = !cfg.discType().equals("dino") ? null : new DinoDiscriminator(DinoDiscriminator.backbone(
                    Dinov2.read(Path.of(cfg.dinoWeights()), "tokenizer.weights.dino")), -1, batch, cfg.imageSize());
        } catch (IOException e) {
            throw new UncheckedIOException("tokenizer: reading pretrained weights: " + e.getMessage(), e);
        }
        semantic = dinov2 == null || cfg.semanticWeight() == 0 ? null : new Dinov2.Feature(dinov2, -1, cfg.imageSize(), 224);
        LOG.info("tokenizer: perceptual loss {}, semantic loss {}, DINOv2 initialisation {}, discriminator = {}",
                lpips != null ? "LPIPS-VGG16 x " + cfg.perceptualWeight() : "OFF (tokenizer.weights.lpips not set)",
                semantic != null ? "DINOv2 InfoNCE x " + cfg.semanticWeight() : "OFF (tokenizer.weights.dinov2 not set)",
                dinov2 != null ? "ON" : "OFF", dino != null ? "frozen DINO ViT-S/16 + heads" : "patchgan from scratch");

        recGraph = SameDiff.create();
        ParamStore store = ParamStore.create(recGraph, cfg.seed());
        buildGenerator(store, false);
        tokParams = store.arrays();
        if (dinov2 != null) LOG.info("tokenizer: {}", Dinov2.initTokenizer(dinov2, tokParams, cfg).summary());
        genOpt.init("gen", tokParams, optState);
        if (cfg.restartDeadEvery() > 0) optState.put(CODE_USE, Nd4j.ones(DataType.FLOAT, cfg.codebookSize()));
        simsGraph = SameDiff.create();
        ParamStore ss = ParamStore.frozen(simsGraph, tokParams);
        SDVariable img = simsGraph.placeHolder("image", DataType.FLOAT, -1, 3, cfg.imageSize(), cfg.imageSize());
        SDVariable zEnc = TokenizerNet.encoder(ss, cfg, img);
        simsGraph.updateVariableNameAndReference(zEnc, "z");
        SDVariable sims = simsGraph.mmul(zEnc, TokenizerNet.codebook(ss, cfg), false, true, false);
        simsGraph.updateVariableNameAndReference(sims, "sims");
        if (cfg.ganEnabled()) {
            discGraph = SameDiff.create();
            ParamStore ds = ParamStore.create(discGraph, cfg.seed() + 1);
            buildDiscriminator(ds);
            discParams = ds.arrays();
            discOpt.init("disc", discParams, optState);
            optState.put(ADAPTIVE, Nd4j.scalar(-1.0));
            optState.put(LECAM_REAL, Nd4j.scalar(0.0));
            optState.put(LECAM_FAKE, Nd4j.scalar(0.0));
            if (dino != null) dino.initSpectralState(discParams, optState, cfg.seed() + 2);
            ganGraph = SameDiff.create();
            Map<String, INDArray> all = new HashMap<>(tokParams);
            all.putAll(discParams);
            buildGenerator(ParamStore.frozen(ganGraph, all), true);
        }
    }

    /**
     * The generator-side graph. Placeholders: image [N,3,H,W], pertIds [N*T] and pertMask [N*T, 1] of the perturbation; with
     * GAN also ganWeight (scalar) and the fake's DiffAugment parameters. Outputs: loss, rec, codebook, commit, ids,
     * recon (+ gan, headIn and the probes' gradients with GAN).
     */
    private void buildGenerator(ParamStore p, boolean gan) {
        SameDiff sd = p.sd();
        int rows = batch * cfg.tokens();
        SDVariable image = sd.placeHolder("image", DataType.FLOAT, -1, 3, cfg.imageSize(), cfg.imageSize());
        SDVariable pertIds = sd.placeHolder("pertIds", DataType.INT, -1);
        SDVariable pertMask = sd.placeHolder("pertMask", DataType.FLOAT, -1, 1);

        // quantize (SPEC section 2): nearest code on the unit sphere = largest cosine; losses on the CLEAN code
        SDVariable z = TokenizerNet.encoder(p, cfg, image);
        sd.updateVariableNameAndReference(z, "encoded");
        SDVariable cb = TokenizerNet.codebook(p, cfg);
        TokenizerNet.Quantized q = TokenizerNet.quantize(sd, z, cb, cfg.codebookSize(), pertIds, pertMask, cfg.commitment());
        SDVariable codebook = q.codebookLoss();
        SDVariable commit = q.commitLoss();
        SDVariable decoderIn = q.decoderIn();

        TokenizerNet.Decoded dec = TokenizerNet.decoder(p, cfg, decoderIn);
        SDVariable y = dec.pixels();
        SDVariable yRec = y;
        if (gan) {
            yRec = y.add(sd.var("probeRec", Nd4j.zeros(DataType.FLOAT, rows / cfg.tokens() * cfg.patchTokens(), cfg.patchDim())));
            sd.updateVariableNameAndReference(dec.headIn(), "headIn");
        }
        SDVariable recon = TokenizerNet.toImage(sd, cfg, yRec);
        sd.updateVariableNameAndReference(recon, "recon");
        // every loss compares with the CLEAN input image (SPEC section 3, point 5)
        SDVariable rec = sd.mean(TokenizerNet.square(recon.sub(image)));
        SDVariable loss = rec.mul(cfg.recWeight()).add(codebook).add(commit);
        if (lpips != null) {
            SDVariable perceptual = sd.mean(lpips.distance(sd, image, recon));
            sd.updateVariableNameAndReference(perceptual, "perceptual");
            loss = loss.add(perceptual.mul(cfg.perceptualWeight()));
        }
        if (semantic != null) {
            SDVariable cls = sd.placeHolder("dinoCls", DataType.FLOAT, -1, semantic.dim());
            SDVariable sem = SemanticLoss.apply(sd, cls, sd.getVariable("encoder/proj.w"), sd.getVariable("encoder/proj.b"), q.clean(),
                    cfg.tokens(), cfg.codeDim());
            sd.updateVariableNameAndReference(sem, "semantic");
            loss = loss.add(sem.mul(cfg.semanticWeight()));
        }
        if (gan) {
            SDVariable yGan = y.add(sd.var("probeGan", Nd4j.zeros(DataType.FLOAT, (long) batch * cfg.patchTokens(), cfg.patchDim())));
            SDVariable fake = aug.apply(sd, "fake", TokenizerNet.toImage(sd, cfg, yGan));
            SDVariable logits = dino != null ? dino.logits(p, fake, "fakeView") : PatchGan.apply(p, fake, cfg.discChannels(), cfg.discLayers());
            SDVariable ganLoss = sd.mean(logits).neg();
            sd.updateVariableNameAndReference(ganLoss, "gan");
            loss = loss.add(ganLoss.mul(sd.placeHolder("ganWeight", DataType.FLOAT)));
        }
        sd.updateVariableNameAndReference(rec, "rec");
        sd.updateVariableNameAndReference(codebook, "codebook");
        sd.updateVariableNameAndReference(commit, "commit");
        sd.updateVariableNameAndReference(loss, "loss");
        sd.setLossVariables("loss");
    }

    /**
     * The official discriminator loss on DiffAugmented real and (detached) fake images:
     * {@code 0.5 (mean relu(1 - D(real)) + mean relu(1 + D(fake)))} plus LeCAM (Yu et al. 2021) on the batch means,
     * {@code lecam x (relu(mean D(real) - EMA fake)^2 + relu(EMA real - mean D(fake))^2)}.
     */
    private void buildDiscriminator(ParamStore p) {
        SameDiff sd = p.sd();
        int s = cfg.imageSize();
        SDVariable real = aug.apply(sd, "real", sd.placeHolder("real", DataType.FLOAT, -1, 3, s, s));
        SDVariable fake = aug.apply(sd, "fake", sd.placeHolder("fake", DataType.FLOAT, -1, 3, s, s));
        SDVariable lr;
        SDVariable lf;
        if (dino != null) {
            // separate calls: BatchNormLocal's virtual batches then hold only real or only fake images, as in the official code
            lr = dino.logits(p, real, "realView");
            lf = dino.logits(p, fake, "fakeView");
        } else {
            // both through one call: a single set of parameter variables
            SDVariable[] rf = sd.split(PatchGan.apply(p, sd.concat(0, real, fake), cfg.discChannels(), cfg.discLayers()), 2, 0);
            lr = rf[0];
            lf = rf[1];
        }
        SDVariable hinge = sd.mean(sd.nn().relu(lr.rsub(1.0), 0)).add(sd.mean(sd.nn().relu(lf.add(1.0), 0))).mul(0.5);
        SDVariable emaReal = sd.placeHolder("emaReal", DataType.FLOAT);
        SDVariable emaFake = sd.placeHolder("emaFake", DataType.FLOAT);
        SDVariable meanReal = sd.mean(lr);
        SDVariable meanFake = sd.mean(lf);
        SDVariable lecam = sd.math().square(sd.nn().relu(meanReal.sub(emaFake), 0))
                .add(sd.math().square(sd.nn().relu(emaReal.sub(meanFake), 0)));
        SDVariable loss = hinge.add(lecam.mul(cfg.lecamWeight()));
        sd.updateVariableNameAndReference(loss, "dloss");
        sd.updateVariableNameAndReference(hinge, "hinge");
        sd.updateVariableNameAndReference(meanReal, "meanReal");
        sd.updateVariableNameAndReference(meanFake, "meanFake");
        sd.setLossVariables("dloss");
    }

    /**
     * Data-dependent codebook initialisation: every code becomes the (normalised) encoder output of a distinct latent
     * token of {@code images} under the current weights, plus a little noise. With random codes on the sphere, the
     * encoder outputs of an untrained network (which vary mostly by token position) sit near a handful of codes and a
     * small demo run never leaves them (usage of 1-2 %); codes drawn from the encoder's own outputs start in use.
     * The codebook loss and the straight-through estimator are unchanged; nothing is restarted later.
     *
     * @param images [N, 3, H, W] in [-1, 1]; N x tokens should be at least codebook-size (fewer: rows repeat)
     */
    void initCodebookFromData(INDArray images, long seed) {
        INDArray z = simsGraph.output(Map.of("image", images), "z").get("z");
        int rows = (int) z.size(0), k = cfg.codebookSize();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        int[] perm = new int[rows];
        for (int i = 0; i < rows; i++) perm[i] = i;
        for (int i = rows - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        INDArray cb = tokParams.get("quantizer/codebook");
        INDArray noise = Nd4j.randn(seed, new long[]{k, cfg.codeDim()}).castTo(cb.dataType()).muli(0.01);
        for (int c = 0; c < k; c++) cb.putRow(c, z.getRow(perm[c % rows]).castTo(cb.dataType()).add(noise.getRow(c)));
    }

    /**
     * Data-dependent decoder head: its bias becomes the mean pixel patch of {@code images} (patch rows laid out
     * (c, py, px), as the head emits them), and with {@code zeroWeights} its weights become zero, so the untrained
     * decoder already outputs (about) the mean image. Without it, learning the mean image is the decoder's first lesson,
     * and its gradient reaches the encoder through the straight-through estimator as one direction shared by every
     * token: at demo scale it drives all encoder outputs onto one code within ~40 steps, the codes initialised from
     * data die there, and few come back (BENCHMARKS.md, "Codebook usage of the demo tokenizer").
     *
     * @param images [N, 3, H, W] in [-1, 1]
     */
    void initHeadFromData(INDArray images, boolean zeroWeights) {
        int p = cfg.patch(), g = cfg.imageSize() / p;
        INDArray b = tokParams.get("decoder/head.b");
        INDArray mean = images.castTo(b.dataType()).dup().reshape(images.size(0), 3, g, p, g, p).mean(0, 2, 4);
        b.assign(mean.reshape(b.shape()));
        if (zeroWeights) tokParams.get("decoder/head.w").assign(0);
    }

    /**
     * Updates each code's use ({@link #CODE_USE}) with this step's clean choices {@code ids}; with {@code encoded}
     * (this step's normalised encoder outputs [tokens, codeDim]) every dead code (use below {@link #DEAD_USE}) becomes a
     * distinct one of them, drawn with {@code seed}, its AdamW moments zero and its use 1. Not in the paper (off by
     * default): at demo scale most codes otherwise stop being chosen early and never come back.
     *
     * @return how many codes restarted
     */
    int updateUseAndRestart(int[] ids, INDArray encoded, long seed) {
        INDArray useArr = optState.get(CODE_USE);
        float[] use = useArr.toFloatVector();
        int k = use.length;
        float[] share = new float[k];
        for (int id : ids) share[id] += (float) k / ids.length;
        for (int i = 0; i < k; i++) use[i] = (float) (USE_DECAY * use[i] + (1 - USE_DECAY) * share[i]);
        int restarted = 0;
        if (encoded != null) {
            INDArray cb = tokParams.get("quantizer/codebook");
            INDArray m = optState.get("quantizer/codebook#m"), v = optState.get("quantizer/codebook#v");
            int rows = (int) encoded.size(0);
            int[] order = new int[rows];
            for (int i = 0; i < rows; i++) order[i] = i;
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed ^ 0x3C6EF372FE94F82BL);
            for (int i = 0; i < k && restarted < rows; i++) {
                if (use[i] >= DEAD_USE) continue;
                int j = restarted + rnd.nextInt(rows - restarted); // partial Fisher-Yates: distinct rows
                int row = order[j];
                order[j] = order[restarted];
                order[restarted] = row;
                cb.putRow(i, encoded.getRow(row).castTo(cb.dataType()));
                m.putRow(i, Nd4j.zeros(m.dataType(), m.size(1)));
                v.putRow(i, Nd4j.zeros(v.dataType(), v.size(1)));
                use[i] = 1;
                restarted++;
            }
        }
        useArr.assign(Nd4j.createFromArray(use));
        return restarted;
    }

    /** The official codebook initialisation: every entry uniform in [-1/K, 1/K] (the graph l2-normalises the rows). */
    void initCodebookUniform(long seed) {
        INDArray cb = tokParams.get("quantizer/codebook");
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        float[] v = new float[(int) cb.length()];
        double k = cfg.codebookSize();
        for (int i = 0; i < v.length; i++) v[i] = (float) ((rnd.nextDouble() * 2 - 1) / k);
        cb.assign(Nd4j.create(v, cb.shape(), cb.dataType()));
    }

    @Override
    public void load(TrainState state) {
        Map<String, INDArray> p = state.params();
        for (Map.Entry<String, INDArray> e : tokParams.entrySet()) copy(p, e.getKey(), e.getValue());
        for (Map.Entry<String, INDArray> e : discParams.entrySet()) copy(p, e.getKey(), e.getValue());
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
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>(tokParams);
        p.putAll(discParams);
        return new TrainState(p, optState);
    }

    @Override
    public double[] step(ImageBatch b, StepContext ctx) {
        if (b.size() != batch) throw new IllegalArgumentException("batch of " + b.size() + " images, the graph expects " + batch);
        double epoch = ctx.epochFraction();
        if (ctx.epoch() != usageEpoch) {
            usage.reset();
            usageEpoch = ctx.epoch();
        }
        // 1. perturbation draw for this step (SPEC section 3)
        LatentPerturbation.Schedule sch = cfg.perturb();
        double alpha = sch.alpha(epoch);
        int delta = Math.min(sch.delta(epoch), maxDelta);
        int[] ranks = LatentPerturbation.drawRanks(batch, cfg.tokens(), alpha, delta, sch.beta(), ctx.seed());
        Map<String, INDArray> ph = new HashMap<>();
        ph.put("image", b.images());
        perturbationInputs(ph, b.images(), ranks);
        if (semantic != null) ph.put("dinoCls", semantic.cls(b.images()));

        // 2. generator step: forward, all losses, one backward
        boolean ganOn = cfg.ganEnabled() && epoch >= cfg.ganStartEpoch();
        List<String> outs = new ArrayList<>(List.of("loss", "rec", "codebook", "commit", "ids"));
        boolean restartStep = cfg.restartDeadEvery() > 0 && (ctx.globalStep() + 1) % cfg.restartDeadEvery() == 0;
        if (restartStep) outs.add("encoded");
        if (lpips != null) outs.add("perceptual");
        if (semantic != null) outs.add("semantic");
        List<String> wrt = new ArrayList<>(tokParams.keySet());
        SameDiff g = recGraph;
        double usedWeight = 0;
        double adaptive = 0;
        if (ganOn) {
            g = ganGraph;
            aug.draw(ph, "fake", batch, ctx.seed() ^ 0x5DEECE66DL);
            if (dino != null) {
                dino.powerIteration(discParams, optState, ph);
                dino.drawView(ph, "fakeView", cfg.cropProb(), ctx.seed() ^ 0x632BE59BD9B4E019L);
            }
            adaptive = optState.get(ADAPTIVE).getDouble(0);
            if (adaptive < 0) adaptive = measureAdaptive(ph);
            usedWeight = cfg.ganWeight() * adaptive;
            ph.put("ganWeight", Nd4j.scalar((float) usedWeight));
            outs.addAll(List.of("gan", "headIn", "recon"));
            wrt.addAll(List.of("probeRec", "probeGan"));
        }
        OutAndGrad r = Backprop.run(g, ph, outs, wrt);
        Map<String, INDArray> o = r.getOutputs();
        Map<String, INDArray> grads = r.getGradients();
        double gan = 0;
        if (ganOn) {
            gan = o.get("gan").getDouble(0);
            adaptive = adaptiveWeight(o.get("headIn"), grads.get("probeRec"), grads.get("probeGan"), usedWeight);
            optState.get(ADAPTIVE).assign(adaptive);
        }
        List<INDArray> tokGrads = new ArrayList<>();
        for (String k : tokParams.keySet()) tokGrads.add(grads.get(k));
        double gradNorm = GradClip.clip(tokGrads, gradClip);
        genOpt.step("gen", tokParams, grads, optState, cfg.lr() * ctx.lrScale());

        // 3. discriminator step on the reconstruction of this step (detached)
        double disc = 0;
        OutAndGrad dr = null;
        if (ganOn) {
            Map<String, INDArray> dph = new HashMap<>();
            dph.put("real", b.images());
            dph.put("fake", o.get("recon"));
            aug.draw(dph, "real", batch, ctx.seed() ^ 0x2545F4914F6CDD1DL);
            aug.draw(dph, "fake", batch, ctx.seed() ^ 0x9E3779B97F4A7C15L);
            if (dino != null) {
                dino.powerIteration(discParams, optState, dph);
                dino.drawView(dph, "realView", cfg.cropProb(), ctx.seed() ^ 0x7F4A7C159E3779B9L);
                dino.drawView(dph, "fakeView", cfg.cropProb(), ctx.seed() ^ 0x14057B7EF767814FL);
            }
            INDArray emaReal = optState.get(LECAM_REAL);
            INDArray emaFake = optState.get(LECAM_FAKE);
            dph.put("emaReal", Nd4j.scalar((float) emaReal.getDouble(0)));
            dph.put("emaFake", Nd4j.scalar((float) emaFake.getDouble(0)));
            dr = Backprop.run(discGraph, dph, List.of("dloss", "hinge", "meanReal", "meanFake"),
                    new ArrayList<>(discParams.keySet()));
            discOpt.step("disc", discParams, dr.getGradients(), optState, cfg.discLr() * cfg.discLrScale(epoch));
            disc = dr.getOutputs().get("hinge").getDouble(0);
            double d = cfg.lecamDecay();
            emaReal.assign(d * emaReal.getDouble(0) + (1 - d) * dr.getOutputs().get("meanReal").getDouble(0));
            emaFake.assign(d * emaFake.getDouble(0) + (1 - d) * dr.getOutputs().get("meanFake").getDouble(0));
        }

        // 4. codes' use; dead codes restart at this step's encoder outputs
        int[] ids = o.get("ids").toIntVector();
        if (cfg.restartDeadEvery() > 0) {
            int restarted = updateUseAndRestart(ids, restartStep ? o.get("encoded") : null, ctx.seed());
            if (restarted > 0) LOG.info("tokenizer: restarted {} dead codes at step {}", restarted, ctx.globalStep());
        }

        // 5. metrics
        CodeUsage batchUsage = new CodeUsage(cfg.codebookSize());
        batchUsage.add(ids);
        usage.add(ids);
        int perturbed = 0;
        for (int k : ranks) if (k != 0) perturbed++;
        double rec = o.get("rec").getDouble(0);
        double[] metrics = {o.get("loss").getDouble(0), rec, o.get("codebook").getDouble(0), o.get("commit").getDouble(0),
                lpips != null ? o.get("perceptual").getDouble(0) : 0.0,
                gan, disc, ganOn ? adaptive : 0.0, psnr(rec), alpha, delta, perturbed / (double) ranks.length,
                batchUsage.perplexity(), usage.usedFraction(), gradNorm, semantic != null ? o.get("semantic").getDouble(0) : 0.0};
        // every output and gradient has been read: the next step reuses their memory
        Backprop.recycle(g, r);
        if (dr != null) Backprop.recycle(discGraph, dr);
        return metrics;
    }

    /**
     * Fills pertIds / pertMask: for the images that drew any non-zero rank, one encoder forward on those images only
     * gives the similarities from which the r-th nearest codes are picked (see {@link LatentPerturbation}).
     */
    void perturbationInputs(Map<String, INDArray> ph, INDArray images, int[] ranks) {
        int nT = cfg.tokens();
        int[] ids = new int[ranks.length];
        float[] mask = new float[ranks.length];
        List<Integer> touched = new ArrayList<>();
        for (int n = 0; n < batch; n++) {
            for (int t = 0; t < nT; t++) {
                if (ranks[n * nT + t] != 0) {
                    touched.add(n);
                    break;
                }
            }
        }
        if (!touched.isEmpty()) {
            // The batch of this forward is rounded up to a quarter of the step's batch (the extra rows stay zero and
            // their similarities unread): with the exact count every step had another shape, and the graph's array
            // cache, keyed by shape, allocated fresh (zero-filled, page-faulted) activations each time (BENCHMARKS.md,
            // "Fresh memory every step").
            INDArray sub = Nd4j.create(DataType.FLOAT, subBatchRows(touched.size(), batch), 3, cfg.imageSize(), cfg.imageSize());
            for (int i = 0; i < touched.size(); i++) sub.putSlice(i, images.slice(touched.get(i)));
            INDArray sims = simsGraph.output(Map.of("image", sub), "sims").get("sims");
            for (int i = 0; i < touched.size(); i++) {
                int n = touched.get(i);
                for (int t = 0; t < nT; t++) {
                    int r = ranks[n * nT + t];
                    if (r == 0) continue;
                    ids[n * nT + t] = LatentPerturbation.nearest(sims, (long) i * nT + t, r);
                    mask[n * nT + t] = 1;
                }
            }
        }
        ph.put("pertIds", Nd4j.createFromArray(ids));
        ph.put("pertMask", Nd4j.create(mask, new long[]{ranks.length, 1}, DataType.FLOAT));
    }

    /** Rows of the perturbation's encoder forward for {@code touched} images: rounded up to a multiple of batch / 4. */
    static int subBatchRows(int touched, int batch) {
        int q = Math.max(1, (batch + 3) / 4);
        return Math.min(batch, (touched + q - 1) / q * q);
    }

    /** First GAN step on this worker: one extra pass to measure the weight instead of guessing it. */
    private double measureAdaptive(Map<String, INDArray> ph) {
        ph.put("ganWeight", Nd4j.scalar(1f));
        OutAndGrad r = Backprop.run(ganGraph, ph, List.of("headIn"), List.of("probeRec", "probeGan"));
        return adaptiveWeight(r.getOutputs().get("headIn"), r.getGradients().get("probeRec"), r.getGradients().get("probeGan"), 1.0);
    }

    /**
     * VQGAN's weight ||grad_W L_rec|| / (||grad_W L_gan|| + 1e-4), clamped to [0, adaptive-max], with
     * grad_W L = h^T dL/dy at the linear head; {@code ganScale} is the factor the GAN loss carried in the pass.
     */
    double adaptiveWeight(INDArray headIn, INDArray gRec, INDArray gGanScaled, double ganScale) {
        double nRec = headIn.transpose().mmul(gRec).norm2Number().doubleValue();
        double nGan = headIn.transpose().mmul(gGanScaled).norm2Number().doubleValue() / Math.max(ganScale, 1e-12);
        return Math.max(0, Math.min(cfg.adaptiveMax(), nRec / (nGan + 1e-4)));
    }

    /** PSNR in dB for images in [-1, 1] (peak-to-peak 2) from the mean squared error. */
    static double psnr(double mse) {
        return 10 * Math.log10(4.0 / Math.max(mse, 1e-12));
    }

    TokenizerConfig config() {
        return cfg;
    }

    SameDiff ganGraph() {
        return ganGraph;
    }

    SameDiff simsGraph() {
        return simsGraph;
    }

    SameDiff recGraph() {
        return recGraph;
    }
}
