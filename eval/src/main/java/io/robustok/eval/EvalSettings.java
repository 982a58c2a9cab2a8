package io.robustok.eval;

import com.typesafe.config.Config;
import io.robustok.config.Settings;

import java.io.Serializable;
import java.util.List;

/**
 * The {@code eval { }} section of the config (documented key by key in conf/defaults.conf).
 *
 * @param featureExtractor "inception" (ADM's TF graph, paper scale) or "demo" (CNN trained on the demo data)
 * @param inceptionGraph   path of classify_image_graph_def.pb
 * @param featureNetDir    cache of the trained demo feature network
 * @param reference        ADM reference batch or statistics file of ours; empty: computed from the val split
 * @param numSamples       samples for gFID/IS/precision/recall (SPEC section 7: 50,000)
 * @param isSplitSize      Inception Score split size (ADM: 5000)
 * @param prK              precision/recall neighbourhood (ADM: 3)
 * @param prBlock          rows per pairwise-distance block (ADM: 10000)
 * @param prMaxSamples     sample features kept for precision/recall (they go to the driver)
 * @param pfidAlphas       pFID's alpha values (SPEC section 4: 0.5)
 * @param pfidDelta        pFID's delta (SPEC section 4: 50)
 */
public record EvalSettings(String featureExtractor, String inceptionGraph, String featureNetDir, FeatureNet featureNet,
                           String reference, int numSamples, int batchSize, int isSplitSize, boolean precisionRecall,
                           int prK, int prBlock, int prMaxSamples, long seed, List<Double> pfidAlphas, int pfidDelta,
                           long pfidSeed) implements Serializable {

    /** Training of the demo feature network (SPEC section 9). */
    public record FeatureNet(int epochs, int batchSize, double learningRate, double lrDecay, int averagingFrequency,
                             double minTestAccuracy, String idxDir, int trainLimit, int testLimit, int pad) implements Serializable {
    }

    public static EvalSettings from(Settings settings) {
        return from(settings.at("eval"));
    }

    public static EvalSettings from(Config e) {
        Config f = e.getConfig("feature-net");
        return new EvalSettings(e.getString("feature-extractor"), e.getString("inception-graph"), f.getString("dir"),
                new FeatureNet(f.getInt("epochs"), f.getInt("batch-size"), f.getDouble("learning-rate"),
                        f.getDouble("lr-decay"), f.getInt("averaging-frequency"), f.getDouble("min-test-accuracy"), f.getString("idx-dir"), f.getInt("train-limit"), f.getInt("test-limit"), f.getInt("pad")),
                e.getString("reference"), e.getInt("num-samples"), e.getInt("batch-size"), e.getInt("is-split-size"),
                e.getBoolean("precision-recall"), e.getInt("pr-k"), e.getInt("pr-block"), e.getInt("pr-max-samples"),
                e.getLong("seed"), e.getDoubleList("pfid.alphas"), e.getInt("pfid.delta"), e.getLong("pfid.seed"));
    }

    /** ADM's protocol with a given extractor choice (tests, tools). */
    public static EvalSettings adm(String featureExtractor) {
        return new EvalSettings(featureExtractor, "", "", new FeatureNet(3, 64, 1e-3, 1.0, 40, 0.9, "", 0, 0, 2), "", 50000, 100,
                InceptionScore.ADM_SPLIT_SIZE, true, PrecisionRecall.ADM_K, 10000, 50000, 0, List.of(0.5), 50, 0);
    }

    public EvalSettings withIsSplitSize(int s) {
        return new EvalSettings(featureExtractor, inceptionGraph, featureNetDir, featureNet, reference, numSamples, batchSize,
                s, precisionRecall, prK, prBlock, prMaxSamples, seed, pfidAlphas, pfidDelta, pfidSeed);
    }

    /** The configured extractor's spec: the graph file, or the cached demo network's model zip. */
    public FeatureExtractorSpec extractorSpec() {
        return switch (featureExtractor) {
            case "inception" -> new FeatureExtractorSpec("inception", inceptionGraph);
            case "demo" -> new FeatureExtractorSpec("demo", DemoFeatureNet.modelPath(featureNetDir).toString());
            default -> throw new IllegalArgumentException("eval.feature-extractor must be inception or demo, got " + featureExtractor);
        };
    }
}
