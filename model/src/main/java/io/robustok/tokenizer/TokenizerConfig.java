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
                              String dinov2Weights, String dinoWeights, String lpipsWeights) implements Serializable {

    public TokenizerConfig {
        if (patch < 1 || imageSize % patch != 0) {
            throw new IllegalArgumentException("tokenizer.image-size (" + imageSize + ") must be a multiple of tokenizer.patch (" + patch + ")");
        }
        if (latentGrid < 1 || codebookSize < 2 || codeDim < 1) throw new IllegalArgumentException("tokenizer: latent-grid, codebook-size, code-dim must be positive");
        if (width % heads != 0) throw new IllegalArgumentException("tokenizer.model.width (" + width + ") must be a multiple of heads (" + heads + ")");
        for (String a : diffAug) {
            if (!a.equals("translation") && !a.equals("cutout")) {
                throw new IllegalArgumentException("tokenizer.disc.diffaug: unknown policy '" + a + "' (translation, cutout)");
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
        return new TokenizerConfig(t.getInt("image-size"), t.getInt("patch"), t.getInt("latent-grid"),
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
                w.getString("dinov2"), w.getString("dino"), w.getString("lpips"));
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
        return new VitBlock.Spec(width, heads, mlpRatio, layerScale);
    }

    public boolean ganEnabled() {
        return ganStartEpoch >= 0 && ganWeight > 0;
    }

    /** Architecture identity (what a cached worker graph depends on). */
    public String architectureKey() {
        return String.join(":", "tok", "" + imageSize, "" + patch, "" + latentGrid, "" + codebookSize, "" + codeDim,
                "" + width, "" + encoderDepth, "" + decoderDepth, "" + heads, "" + mlpRatio, "" + layerScale, "" + batchSize,
                "" + perturb.deltaMax(), discType, "" + discChannels, "" + discLayers, String.join("+", diffAug), lpipsWeights);
    }

    /** A copy with other numbers (tests, benchmarks). */
    public TokenizerConfig withSizes(int imageSize, int patch, int latentGrid, int codebookSize, int codeDim, int width,
                                     int encoderDepth, int decoderDepth, int heads, int batchSize) {
        return new TokenizerConfig(imageSize, patch, latentGrid, codebookSize, codeDim, width, encoderDepth, decoderDepth, heads,
                mlpRatio, layerScale, batchSize, seed, lr, beta1, beta2, eps, weightDecay, discLr, perturb, recWeight, commitment,
                perceptualWeight, ganWeight, adaptiveMax, lecamWeight, lecamDecay, ganStartEpoch, semanticWeight, discType,
                discChannels, discLayers, diffAug, dinov2Weights, dinoWeights, lpipsWeights);
    }

    public TokenizerConfig withGan(double startEpoch, double lr, LatentPerturbation.Schedule perturb) {
        return new TokenizerConfig(imageSize, patch, latentGrid, codebookSize, codeDim, width, encoderDepth, decoderDepth, heads,
                mlpRatio, layerScale, batchSize, seed, lr, beta1, beta2, eps, weightDecay, lr, perturb, recWeight, commitment,
                perceptualWeight, ganWeight, adaptiveMax, lecamWeight, lecamDecay, startEpoch, semanticWeight, discType,
                discChannels, discLayers, diffAug, dinov2Weights, dinoWeights, lpipsWeights);
    }
}
