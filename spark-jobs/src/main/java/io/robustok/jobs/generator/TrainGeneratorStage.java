package io.robustok.jobs.generator;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.generator.GeneratorConfig;
import io.robustok.generator.GeneratorTask;
import io.robustok.generator.RarConfig;
import io.robustok.generator.RarSampler;
import io.robustok.generator.TokenRow;
import io.robustok.jobs.ImageGrid;
import io.robustok.jobs.ModelArtifact;
import io.robustok.jobs.TokenizerCache;
import io.robustok.jobs.TrainFiles;
import io.robustok.spark.StageOutput;
import io.robustok.train.ParameterAveragingMaster;
import io.robustok.train.ParameterAveragingMaster.FitResult;
import io.robustok.train.TrainerConfig;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * train-generator: the class-conditional RAR generator (SPEC section 5) on the token Parquet through the
 * parameter-averaging master. After each epoch: validation cross-entropy of the EMA weights on val tokens
 * (teacher-forced, raster order, true class) against the unigram entropy of the train tokens; at the end a
 * PNG grid of samples (one row per class) decoded by the tokenizer.
 */
public final class TrainGeneratorStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(TrainGeneratorStage.class);
    public static final String NAME = "train-generator";
    public static final String OUT = "generator";

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "train the class-conditional RAR generator on the token Parquet (run.out/generator)";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        return List.of(c.getString("run.out") + "/" + OUT);
    }

    @Override
    public List<String> after() {
        return List.of("train-tokenizer", "tokenize");
    }

    @Override
    public List<String> configPaths() {
        return List.of("generator", "trainer", "run.seed");
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        String outDir = ctx.path(OUT);
        if (StageOutput.isComplete(outDir) && !ctx.force()) {
            log.info("{}: {} is complete, skipping (--force redoes it)", NAME, outDir);
            return;
        }
        // config first: a value out of range stops the stage before anything is read
        GeneratorConfig cfg = GeneratorConfig.from(ctx.settings().config());
        TrainerConfig.from(ctx.settings(), "generator");
        snapshotFractions(ctx.settings().config());
        String tokensDir = StageOutput.qualify(ctx.path(TokenizeStage.OUT));
        if (!StageOutput.isComplete(tokensDir)) {
            throw new UserError("no complete token output at " + tokensDir + ": run 'robustok tokenize' first");
        }
        RarConfig model = cfg.model();
        Map<String, Object> tokProv = StageOutput.readProvenance(tokensDir);
        int vocab = ((Number) tokProv.get("codebook_size")).intValue();
        int tokens = ((Number) tokProv.get("tokens_per_image")).intValue();
        if (vocab != model.codebookSize() || tokens != model.tokens()) {
            throw new UserError("tokens at " + tokensDir + " come from a tokenizer with vocabulary " + vocab + " and "
                    + tokens + " tokens per image, but the generator config has generator.codebook-size="
                    + model.codebookSize() + " and " + model.tokens() + " tokens (generator.latent-grid="
                    + ctx.settings().config().getInt("generator.latent-grid") + "): retokenize or fix the config");
        }
        TrainerConfig tc = TrainerConfig.from(ctx.settings(), "generator");
        String trainDir = ctx.path(OUT + ".train");
        if (ctx.force()) StageOutput.fs(trainDir).delete(new org.apache.hadoop.fs.Path(StageOutput.qualify(trainDir)), true);

        TokenizeStage.verifyTokens(tokensDir, StageOutput.qualify(ctx.path("tokenizer")));
        JavaRDD<TokenRow> train = rows(ctx, tokensDir + "/train").persist(StorageLevel.MEMORY_ONLY());
        List<TokenRow> val = rows(ctx, tokensDir + "/val").takeSample(false,
                ctx.settings().config().getInt("generator.stage.val-rows"), ctx.settings().config().getLong("run.seed"));
        double unigram = unigramEntropy(train, vocab);
        GeneratorTask task = new GeneratorTask(cfg);
        log.info("{}: {} train token rows, {} val rows, unigram entropy of the train tokens {} nats, {} parameters",
                NAME, train.count(), val.size(), String.format("%.4f", unigram), task.init().parameterCount());

        String valLog = trainDir + "/val.jsonl";
        List<Double> snapshots = snapshotFractions(ctx.settings().config());
        FitResult fit = ParameterAveragingMaster.fit(train, task, tc, trainDir, new ParameterAveragingMaster.EpochListener() {
            @Override
            public void epochEnd(int epoch, io.robustok.train.TrainState state, Map<String, INDArray> ema) {
                double loss = valLoss(model, ema, val);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("epoch", epoch);
                m.put("val_loss", loss);
                m.put("unigram_entropy", unigram);
                TrainFiles.appendLine(valLog, StageOutput.toJsonLine(m));
                log.info("{}: epoch {} val loss {} nats (unigram entropy {})", NAME, epoch, String.format("%.4f", loss),
                        String.format("%.4f", unigram));
            }

            @Override
            public void roundEnd(long step, long totalSteps, Map<String, INDArray> ema) {
                for (double f : snapshots) {
                    String dir = trainDir + "/snapshots/" + snapshotName(f);
                    if (step >= Math.max(1, Math.round(f * totalSteps)) && !StageOutput.isComplete(dir)) {
                        writeSnapshot(dir, ctx, ema, f, step, totalSteps, valLoss(model, ema, val));
                    }
                }
            }
        });
        train.unpersist();
        if (!fit.finished()) {
            log.info("{}: stopped early (trainer.stop-after-rounds); rerun to continue from {}", NAME, fit.lastCheckpoint());
            return;
        }
        Map<String, INDArray> weights = strip(fit.ema());
        double finalLoss = valLoss(model, fit.ema(), val);

        StageOutput out = StageOutput.begin(outDir);
        try {
            ModelArtifact.writeWeights(out, weights, Map.of("kind", "generator-ema", "config_sha256", ctx.settings().hash()));
            out.copyIn(fit.metricsPath(), "metrics.jsonl");
            out.copyIn(valLog, "val.jsonl");
            List<Map<String, Object>> kept = new java.util.ArrayList<>();
            for (double f : snapshots) {
                String dir = trainDir + "/snapshots/" + snapshotName(f);
                if (!StageOutput.isComplete(dir)) {
                    throw new IllegalStateException("the run finished without its snapshot at " + f + " of its steps (" + dir
                            + "); rerun train-generator with --force");
                }
                for (String file : List.of(ModelArtifact.WEIGHTS, StageOutput.CONFIG, StageOutput.COMPLETE)) {
                    out.copyIn(dir + "/" + file, "snapshots/" + snapshotName(f) + "/" + file);
                }
                kept.add(StageOutput.readProvenance(dir));
            }
            String tokDir = StageOutput.qualify(ctx.path("tokenizer"));
            RarSampler sampler = new RarSampler(model, weights);
            int perClass = ctx.settings().config().getInt("generator.stage.grid-per-class");
            int[] labels = new int[model.numClasses() * perClass];
            for (int i = 0; i < labels.length; i++) labels[i] = i / perClass;
            int[][] ids = sampler.sample(labels, cfg.sampling(), ctx.settings().config().getLong("run.seed"));
            INDArray images = TokenizerCache.get(tokDir, 1).decode(Nd4j.createFromArray(ids));
            out.writeBytes("samples.png", ImageGrid.tiled(images, perClass, 3));
            log.info("{}: sampled {} images at {} tokens/s for the grid", NAME, labels.length,
                    String.format("%.0f", sampler.lastTokensPerSecond()));
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("tokens", tokensDir);
            prov.put("tokens_provenance", tokProv);
            prov.put("checkpoint", fit.lastCheckpoint());
            prov.put("global_step", fit.progress().step());
            prov.put("final_val_loss", finalLoss);
            prov.put("unigram_entropy", unigram);
            prov.put("codebook_size", vocab);
            prov.put("tokens_per_image", tokens);
            if (!kept.isEmpty()) prov.put("snapshots", kept);
            out.commit(NAME, ctx.settings(), prov);
            log.info("{}: final val loss {} nats vs unigram entropy {} nats", NAME, String.format("%.4f", finalLoss),
                    String.format("%.4f", unigram));
        } catch (RuntimeException e) {
            out.abort();
            throw e;
        }
    }

    /** generator.stage.snapshots: fractions of the run's steps, each in (0, 1), ascending and distinct. */
    static List<Double> snapshotFractions(com.typesafe.config.Config c) {
        List<Double> f = c.getDoubleList("generator.stage.snapshots");
        for (int i = 0; i < f.size(); i++) {
            if (!(f.get(i) > 0 && f.get(i) < 1) || (i > 0 && f.get(i) <= f.get(i - 1))) {
                throw new UserError("generator.stage.snapshots = " + f + ": each must be a fraction of the steps in (0, 1), "
                        + "ascending and distinct (e.g. [0.25, 0.5]; the end of the run is the generator itself)");
            }
        }
        return f;
    }

    /** Directory name of the snapshot at fraction {@code f}: at-0.25. */
    public static String snapshotName(double f) {
        return "at-" + new java.math.BigDecimal(Double.toString(f)).stripTrailingZeros().toPlainString();
    }

    /** The EMA weights at this point of training as a loadable generator (its own config, provenance with the step). */
    private static void writeSnapshot(String dir, StageContext ctx, Map<String, INDArray> ema, double fraction, long step,
                                      long totalSteps, double valLoss) {
        StageOutput out = StageOutput.begin(dir);
        try {
            ModelArtifact.writeWeights(out, strip(ema), Map.of("kind", "generator-ema", "config_sha256", ctx.settings().hash()));
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("fraction", fraction);
            prov.put("global_step", step);
            prov.put("total_steps", totalSteps);
            prov.put("val_loss", valLoss);
            out.commit(NAME, ctx.settings(), prov);
            log.info("{}: snapshot of the EMA weights at step {} of {} ({}), val loss {} nats", NAME, step, totalSteps,
                    fraction, String.format("%.4f", valLoss));
        } catch (RuntimeException e) {
            out.abort();
            throw e;
        }
    }

    static JavaRDD<TokenRow> rows(StageContext ctx, String path) {
        return ctx.spark().read().parquet(path).select("label", "tokens").javaRDD().map(TrainGeneratorStage::toRow);
    }

    private static TokenRow toRow(Row r) {
        List<Integer> l = r.getList(1);
        int[] t = new int[l.size()];
        for (int i = 0; i < t.length; i++) t[i] = l.get(i);
        return new TokenRow(r.getInt(0), t);
    }

    /** Parameters without the task's name prefix, as {@link RarSampler} and the artifact name them. */
    static Map<String, INDArray> strip(Map<String, INDArray> p) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        p.forEach((k, v) -> {
            if (k.startsWith(GeneratorTask.PREFIX)) out.put(k.substring(GeneratorTask.PREFIX.length()), v);
        });
        return out;
    }

    /** Entropy (nats) of the token frequencies: the loss of a model that ignores class and context. */
    static double unigramEntropy(JavaRDD<TokenRow> rows, int vocab) {
        long[] counts = rows.aggregate(new long[vocab], (c, r) -> {
            for (int t : r.tokens()) c[t]++;
            return c;
        }, (a, b) -> {
            for (int i = 0; i < a.length; i++) a[i] += b[i];
            return a;
        });
        double n = 0, h = 0;
        for (long c : counts) n += c;
        for (long c : counts) if (c > 0) h -= c / n * Math.log(c / n);
        return h;
    }

    /** Mean next-token cross-entropy (nats) of the EMA weights on val rows: raster order, true class. */
    static double valLoss(RarConfig model, Map<String, INDArray> params, List<TokenRow> val) {
        RarSampler s = new RarSampler(model, params.keySet().stream().anyMatch(k -> k.startsWith(GeneratorTask.PREFIX))
                ? strip(params) : params);
        double sum = 0;
        long count = 0;
        for (int start = 0; start < val.size(); start += 64) {
            List<TokenRow> b = val.subList(start, Math.min(val.size(), start + 64));
            int[][] toks = new int[b.size()][];
            int[] cond = new int[b.size()];
            for (int i = 0; i < b.size(); i++) {
                toks[i] = b.get(i).tokens();
                cond[i] = model.classRow(b.get(i).label());
            }
            INDArray logits = s.cachedLogits(toks, cond).castTo(DataType.DOUBLE); // [N, T, V]
            INDArray logp = Transforms.log(Transforms.softmax(logits.reshape(-1, logits.size(2)), true), false);
            double[] lp = logp.data().asDouble();
            int v = (int) logits.size(2), t = (int) logits.size(1);
            for (int i = 0; i < toks.length; i++) {
                for (int j = 0; j < t; j++) sum -= lp[(i * t + j) * v + toks[i][j]];
            }
            count += (long) toks.length * t;
        }
        return sum / count;
    }
}
