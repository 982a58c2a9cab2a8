package io.robustok.jobs.eval;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.eval.DemoFeatureNet;
import io.robustok.eval.EvalSettings;
import io.robustok.spark.StageOutput;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;

/**
 * train-features: the feature network that defines FID / IS / precision / recall (SPEC sections 7 and 9).
 * At demo scale it trains the demo CNN on Fashion-MNIST's train split through DL4J's Spark parameter averaging
 * and commits it to {@code eval.feature-net.dir} (model zip, SHA-256, test accuracy); training below
 * {@code eval.feature-net.min-test-accuracy} fails the stage. With {@code eval.feature-extractor = inception}
 * there is nothing to train: the stage only checks that {@code eval.inception-graph} exists.
 */
public final class TrainFeaturesStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(TrainFeaturesStage.class);
    public static final String NAME = "train-features";

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "feature network for FID/IS/precision/recall (demo CNN via DL4J Spark; inception: checks the graph file)";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        // inception: a graph file to check, nothing to train
        return c.getString("eval.feature-extractor").equals("demo") ? List.of(c.getString("eval.feature-net.dir")) : List.of();
    }

    @Override
    public List<String> configPaths() {
        return List.of("eval.feature-extractor", "eval.feature-net", "run.seed");
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        EvalSettings es = EvalSettings.from(ctx.settings());
        if (es.featureExtractor().equals("inception")) {
            checkInceptionGraph(es);
            log.info("{}: eval.feature-extractor = inception, graph {} present; nothing to train", NAME, es.inceptionGraph());
            return;
        }
        String dir = es.featureNetDir();
        if (StageOutput.isComplete(dir) && !ctx.force()) {
            log.info("{}: {} is complete, skipping (--force retrains)", NAME, dir);
            return;
        }
        StageOutput out = StageOutput.begin(dir);
        try {
            Path tmp = Path.of(new URI(out.tmp()));
            int workers = ctx.jsc().defaultParallelism();
            FeatureNetTraining.Result r = FeatureNetTraining.train(ctx.jsc(), es.featureNet(), DemoFeatureNet.modelPath(tmp.toString()),
                    workers, es.seed());
            log.info("{}: test accuracy {} after {} epochs on {} images in {} s ({} workers)", NAME,
                    String.format("%.4f", r.testAccuracy()), r.epochs(), r.trainImages(), String.format("%.1f", r.seconds()), workers);
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("feature_extractor", DemoFeatureNet.NAME);
            prov.put("checksum", r.checksum());
            prov.put("test_accuracy", r.testAccuracy());
            prov.put("train_images", r.trainImages());
            prov.put("epochs", r.epochs());
            prov.put("seconds", r.seconds());
            prov.put("workers", workers);
            prov.put("data", es.featureNet().idxDir());
            out.commit(NAME, ctx.settings(), prov);
        } catch (Exception ex) {
            out.abort();
            throw ex;
        }
    }

    static void checkInceptionGraph(EvalSettings es) {
        String g = es.inceptionGraph();
        if (g == null || g.isBlank()) {
            throw new UserError("eval.feature-extractor = inception needs eval.inception-graph (ADM's classify_image_graph_def.pb); it is empty");
        }
        if (!Files.isRegularFile(Path.of(g))) {
            throw new UserError("eval.inception-graph = " + g + " does not exist (ADM's classify_image_graph_def.pb)");
        }
    }
}
