package io.robustok.tokenizer;

import com.typesafe.config.Config;
import io.robustok.nn.VitBlock;

import java.io.Serializable;
import java.util.List;
import java.util.Locale;

/**
 * The {@code tokenizer} section of the config (SPEC section 2 at paper scale, section 9 at demo scale). Every
 * field has its default and comment in conf/defaults.conf.
 */
public record TokenizerConfig(int imageSize, int patch, int latentGrid, int codebookSize, int codeDim,
                              int width, int encoderDepth, int decoderDepth, int heads, double mlpRatio, boolean layerScale,
                              int batchSize, long seed,
                              double lr, double beta1, double beta2, double eps, double weightDecay, double discLr,
                              LatentPerturbation.Schedule perturb,
                              double recWeight, double commitment, double perceptualWeight, double ganWeight,
                              double adaptiveMax, double lecamWeight, double lecamDecay, double ganStartEpoch,
                              double semanticWeight,
                              String discType, int discChannels, int discLayers, List<String> diffAug,
                              String dinov2Weights, String dinoWeights, String lpipsWeights,
                              double cutout, double cropProb, double discWarmup, double discMinLr, double discWeightDecay,
                              double epochs, int restartDeadEvery) implements Serializable {

    public TokenizerConfig {
        if (patch < 1 || imageSize % patch != 0) {
            throw new IllegalArgumentException("tokenizer.image-size (" + imageSize + ") must be a multiple of tokenizer.patch (" + patch + ")");
        }
        if (latentGrid < 1 || codebookSize < 2 || codeDim < 1) throw new IllegalArgumentException("tokenizer: latent-grid, codebook-size, code-dim must be positive");
        if (width % heads != 0) throw new IllegalArgumentException("tokenizer.model.width (" + width + ") must be a multiple of heads (" + heads + ")");
        for (String a : diffAug) {
            if (!a.equals("color") && !a.equals("translation") && !a.equals("cutout")) {
                throw new IllegalArgumentException("tokenizer.disc.diffaug: unknown policy '" + a + "' (color, translation, cutout)");
            }
        }
        if (!discType.equals("patchgan") && !discType.equals("dino")) {
            throw new IllegalArgumentException("tokenizer.disc.type must be patchgan or dino, got " + discType);
        }
    }

    public static TokenizerConfig from(Config t) {
        Config m = t.getConfig("model");
        Config o = t.getConfig("optimizer");
        Config l = t.getConfig("loss");
        Config d = t.getConfig("disc");
        Config w = t.getConfig("weights");
        List<String> aug = java.util.Arrays.stream(d.getString("diffaug").split(","))
                .map(s -> s.trim().toLowerCase(Locale.ROOT)).filter(s -> !s.isEmpty()).toList();
        return checkRanges(new TokenizerConfig(t.getInt("image-size"), t.getInt("patch"), t.getInt("latent-grid"),
                t.getInt("codebook-size"), t.getInt("code-dim"),
                m.getInt("width"), m.getInt("encoder-depth"), m.getInt("decoder-depth"), m.getInt("heads"),
                m.getDouble("mlp-ratio"), m.getBoolean("layer-scale"),
                t.getInt("batch-size"), t.getLong("seed"),
                o.getDouble("lr"), o.getDouble("beta1"), o.getDouble("beta2"), o.getDouble("eps"),
                o.getDouble("weight-decay"), o.getDouble("disc-lr"),
                LatentPerturbation.Schedule.from(t.getConfig("perturb")),
                l.getDouble("rec"), l.getDouble("commitment"), l.getDouble("perceptual"), l.getDouble("gan"),
                l.getDouble("adaptive-max"), l.getDouble("lecam"), l.getDouble("lecam-decay"), l.getDouble("gan-start-epoch"),
                l.getDouble("semantic"),
                d.getString("type"), d.getInt("channels"), d.getInt("layers"), aug,
                w.getString("dinov2"), w.getString("dino"), w.getString("lpips"),
                d.getDouble("cutout"), d.getDouble("crop-prob"), o.getDouble("disc-warmup"), o.getDouble("disc-min-lr"),
                o.getDouble("disc-weight-decay"), t.getDouble("trainer.epochs"), t.getInt("restart-dead-every")));
    }

    /**
     * Ranges a configured run must respect (checked when the section is read; tests may build odd configs directly):
     * positive learning rates and batch, betas and decays in [0, 1), and delta below the codebook size (the
     * perturbation picks among the delta nearest OTHER codes, SPEC section 3).
     */
    static TokenizerConfig checkRanges(TokenizerConfig c) {
        if (!(c.lr > 0)) throw new IllegalArgumentException("tokenizer.optimizer.lr must be > 0, got " + c.lr);
        if (!(c.discLr > 0)) throw new IllegalArgumentException("tokenizer.optimizer.disc-lr must be > 0, got " + c.discLr);
        if (c.batchSize < 1) throw new IllegalArgumentException("tokenizer.batch-size must be >= 1, got " + c.batchSize);
        if (c.beta1 < 0 || c.beta1 >= 1 || c.beta2 < 0 || c.beta2 >= 1) {
            throw new IllegalArgumentException("tokenizer.optimizer.beta1 and beta2 must be in [0, 1), got " + c.beta1 + " and " + c.beta2);
        }
        if (c.weightDecay < 0) throw new IllegalArgumentException("tokenizer.optimizer.weight-decay must be >= 0, got " + c.weightDecay);
        if (c.perturb.deltaMax() >= c.codebookSize) {
            throw new IllegalArgumentException("tokenizer.perturb.delta-max (" + c.perturb.deltaMax() + ") must be smaller than "
                    + "tokenizer.codebook-size (" + c.codebookSize + "): delta counts the nearest other codes");
        }
        if (c.lecamDecay < 0 || c.lecamDecay >= 1) throw new IllegalArgumentException("tokenizer.loss.lecam-decay must be in [0, 1), got " + c.lecamDecay);
        if (c.ganWeight < 0 || c.recWeight < 0 || c.commitment < 0) {
            throw new IllegalArgumentException("tokenizer.loss weights (rec, commitment, gan) must be >= 0");
        }
        if (c.restartDeadEvery < 0) {
            throw new IllegalArgumentException("tokenizer.restart-dead-every must be >= 0 (0: never restart codes), got " + c.restartDeadEvery);
        }
        return c;
    }

    /**
     * Stops a run at its start when a configured weight file is missing, or the DINO discriminator has none: one line
     * naming the key and the file.
     */
    public void requireWeightFiles() {
        if (discType.equals("dino") && dinoWeights.isEmpty()) {
            throw new IllegalArgumentException("tokenizer.disc.type = dino needs tokenizer.weights.dino (DINO ViT-S/16 safetensors, "
                    + "see deploy/convert_weights.py), or set tokenizer.disc.type = patchgan");
        }
        String[][] files = {{"tokenizer.weights.lpips", lpipsWeights}, {"tokenizer.weights.dinov2", dinov2Weights},
                {"tokenizer.weights.dino", dinoWeights}};
        for (String[] f : files) {
            if (!f[1].isEmpty() && !java.nio.file.Files.isRegularFile(java.nio.file.Path.of(f[1]))) {
                throw new IllegalArgumentException(f[0] + ": file " + f[1] + " does not exist (convert the public checkpoint with "
                        + "deploy/convert_weights.py, or set " + f[0] + " = \"\" to train without it)");
            }
        }
    }

    /**
     * The discriminator's lr multiplier at fractional epoch {@code epoch}: its own schedule from the GAN start, linear
     * warm-up over disc-warmup epochs, then a cosine to disc-min-lr at the last epoch (the official configuration).
     */
    public double discLrScale(double epoch) {
        double t = epoch - ganStartEpoch;
        double total = Math.max(epochs - ganStartEpoch, 1e-9);
        return new io.robustok.train.LrSchedule(io.robustok.train.LrSchedule.Mode.EPOCH, discWarmup, total,
                Math.min(1.0, discMinLr / discLr)).at(Math.max(t, 0));
    }

    /** Patch tokens per side. */
    public int patchGrid() {
        return imageSize / patch;
    }

    public int patchTokens() {
        return patchGrid() * patchGrid();
    }

    /** T, the number of latent tokens (token ids per image). */
    public int tokens() {
        return latentGrid * latentGrid;
    }

    public int patchDim() {
        return 3 * patch * patch;
    }

    public VitBlock.Spec blockSpec() {
        // exact GELU whenever DINOv2 weights initialise the blocks (they were trained with it)
        return new VitBlock.Spec(width, heads, mlpRatio, layerScale, !dinov2Weights.isEmpty());
    }

    public boolean ganEnabled() {
        return ganStartEpoch >= 0 && ganWeight > 0;
    }

    /** Architecture identity (what a cached worker graph depends on). */
    public String architectureKey() {
        return String.join(":", "tok", "" + imageSize, "" + patch, "" + latentGrid, "" + codebookSize, "" + codeDim,
                "" + width, "" + encoderDepth, "" + decoderDepth, "" + heads, "" + mlpRatio, "" + layerScale, "" + batchSize,
                "" + perturb.deltaMax(), discType, "" + discChannels, "" + discLayers, String.join("+", diffAug), "" + cutout,
                lpipsWeights, "" + perceptualWeight, dinov2Weights, "" + semanticWeight, dinoWeights)
                + (restartDeadEvery > 0 ? ":restart" : ""); // the optimizer state then holds the codes' use
    }

    /** A copy with other numbers (tests, benchmarks). */
    public TokenizerConfig withSizes(int imageSize, int patch, int latentGrid, int codebookSize, int codeDim, int width,
                                     int encoderDepth, int decoderDepth, int heads, int batchSize) {
        return new TokenizerConfig(imageSize, patch, latentGrid, codebookSize, codeDim, width, encoderDepth, decoderDepth, heads,
                mlpRatio, layerScale, batchSize, seed, lr, beta1, beta2, eps, weightDecay, discLr, perturb, recWeight, commitment,
                perceptualWeight, ganWeight, adaptiveMax, lecamWeight, lecamDecay, ganStartEpoch, semanticWeight, discType,
                discChannels, discLayers, diffAug, dinov2Weights, dinoWeights, lpipsWeights, cutout, cropProb, discWarmup, discMinLr,
                discWeightDecay, epochs, restartDeadEvery);
    }

    /** A copy with pretrained weight files and the discriminator type (tests, benchmarks). */
    public TokenizerConfig withWeights(String lpips, String dinov2, String dino, String discType, boolean layerScale) {
        return new TokenizerConfig(imageSize, patch, latentGrid, codebookSize, codeDim, width, encoderDepth, decoderDepth, heads,
                mlpRatio, layerScale, batchSize, seed, lr, beta1, beta2, eps, weightDecay, discLr, perturb, recWeight, commitment,
                perceptualWeight, ganWeight, adaptiveMax, lecamWeight, lecamDecay, ganStartEpoch, semanticWeight, discType,
                discChannels, discLayers, diffAug, dinov2, dino, lpips, cutout, cropProb, discWarmup, discMinLr,
                discWeightDecay, epochs, restartDeadEvery);
    }

    /** A copy that restarts dead codes every {@code every} steps (0: never; tests). */
    public TokenizerConfig withRestartDeadEvery(int every) {
        return new TokenizerConfig(imageSize, patch, latentGrid, codebookSize, codeDim, width, encoderDepth, decoderDepth, heads,
                mlpRatio, layerScale, batchSize, seed, lr, beta1, beta2, eps, weightDecay, discLr, perturb, recWeight, commitment,
                perceptualWeight, ganWeight, adaptiveMax, lecamWeight, lecamDecay, ganStartEpoch, semanticWeight, discType,
                discChannels, discLayers, diffAug, dinov2Weights, dinoWeights, lpipsWeights, cutout, cropProb, discWarmup, discMinLr,
                discWeightDecay, epochs, every);
    }

    public TokenizerConfig withGan(double startEpoch, double lr, LatentPerturbation.Schedule perturb) {
        return new TokenizerConfig(imageSize, patch, latentGrid, codebookSize, codeDim, width, encoderDepth, decoderDepth, heads,
                mlpRatio, layerScale, batchSize, seed, lr, beta1, beta2, eps, weightDecay, lr, perturb, recWeight, commitment,
                perceptualWeight, ganWeight, adaptiveMax, lecamWeight, lecamDecay, startEpoch, semanticWeight, discType,
                discChannels, discLayers, diffAug, dinov2Weights, dinoWeights, lpipsWeights, cutout, cropProb, discWarmup, discMinLr,
                discWeightDecay, epochs, restartDeadEvery);
    }
}
