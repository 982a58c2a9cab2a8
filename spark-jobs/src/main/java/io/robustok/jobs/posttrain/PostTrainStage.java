package io.robustok.jobs.posttrain;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.data.ImageBatcher;
import io.robustok.data.ImageRecord;
import io.robustok.jobs.ImageData;
import io.robustok.jobs.ImageGrid;
import io.robustok.jobs.ModelArtifact;
import io.robustok.jobs.TrainFiles;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.PairBatch;
import io.robustok.tokenizer.PostTrainConfig;
import io.robustok.tokenizer.PostTrainTask;
import io.robustok.tokenizer.Tokenizer;
import io.robustok.tokenizer.TokenizerConfig;
import io.robustok.train.ParameterAveragingMaster;
import io.robustok.train.ParameterAveragingMaster.FitResult;
import io.robustok.train.TrainerConfig;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * post-train: fine-tunes the decoder (and its input projection) of the trained tokenizer so that decode(mixed tokens)
 * reconstructs the ORIGINAL image (SPEC section 6, step 3), through the parameter-averaging master: main training's
 * losses with no perturbation, the GAN on from step 0 against a fresh discriminator, its own optimizer, schedule and
 * EMA ({@code posttrain.*}). Encoder, latent tokens, codebook and quantiser are frozen and not in the averaged state.
 *
 * <p>Input: the pairs of pair-tokens, joined by key with the prep shards (deterministic centre crop, as the true
 * tokens were made; no augmentation). Training state in {@code run.out/posttrain.train} (checkpoints, metrics.jsonl,
 * val.jsonl; a rerun resumes). Output {@code run.out/posttrain}: a tokenizer in the format of train-tokenizer's
 * (the EMA decoder, every other tensor copied bitwise), whose provenance names the tokenizer, generator and pairs.
 */
public final class PostTrainStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(PostTrainStage.class);
    public static final String NAME = "post-train";
    public static final String OUT = "posttrain";

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "post-training of the decoder on generator-paired tokens (run.out/posttrain, a tokenizer)";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        return List.of(c.getString("run.out") + "/" + OUT);
    }

    @Override
    public List<String> after() {
        return List.of("prep", "train-tokenizer", "train-generator", "pair-tokens");
    }

    @Override
    public List<String> configPaths() {
        return List.of("posttrain", "trainer");
    }

    @Override
    public boolean enabled(com.typesafe.config.Config c) {
        return c.getBoolean("posttrain.enabled");
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        if (!enabled(ctx.settings().config())) {
            log.info("{}: posttrain.enabled = false, nothing to do", NAME);
            return;
        }
        String outDir = ctx.path(OUT);
        if (StageOutput.isComplete(outDir) && !ctx.force()) {
            log.info("{}: {} is complete, skipping (--force redoes it)", NAME, outDir);
            return;
        }
        String tokDir = StageOutput.qualify(ctx.path("tokenizer"));
        ModelArtifact tok = ModelArtifact.load(tokDir, "train-tokenizer");
        String genDir = StageOutput.qualify(ctx.path("generator"));
        if (!StageOutput.isComplete(genDir)) {
            throw new UserError("no complete train-generator output at " + genDir + ": run 'robustok train-generator' first (or the pipeline)");
        }
        String pairsDir = StageOutput.qualify(ctx.path(PairTokensStage.OUT));
        if (!StageOutput.isComplete(pairsDir)) {
            throw new UserError("no complete pair-tokens output at " + pairsDir + ": run 'robustok pair-tokens' first (or the pipeline)");
        }
        Map<String, Object> pairsProv = StageOutput.readProvenance(pairsDir);
        checkPairsOrigin(pairsDir, pairsProv, tokDir, genDir);

        TokenizerConfig cfg = TokenizerConfig.from(tok.settings().at("tokenizer"));
        checkArchitecture(cfg, TokenizerConfig.from(ctx.settings().at("tokenizer")), tokDir);
        PostTrainConfig pc = PostTrainConfig.from(ctx.settings().at("posttrain"));
        TrainerConfig tc = TrainerConfig.from(ctx.settings(), "posttrain");
        String trainDir = ctx.path(OUT + ".train");
        if (ctx.force()) StageOutput.fs(trainDir).delete(new org.apache.hadoop.fs.Path(StageOutput.qualify(trainDir)), true);

        ImageData data = ImageData.of(ctx);
        int size = cfg.imageSize();
        int crops = ((Number) pairsProv.getOrDefault("train_crops", 1)).intValue();
        int resize = crops == 10 ? (int) Math.round(size * 1.125) : size;
        JavaRDD<PairedImage> pairs = join(ctx, pairsDir, data).persist(StorageLevel.MEMORY_ONLY());
        long n = pairs.count();
        if (n == 0) throw new UserError("no pair at " + pairsDir + " matches an image of the train split of " + data.dir() + ": rerun pair-tokens");

        PostTrainTask<PairedImage> task = new PostTrainTask<>(cfg, pc, tok.weights(), tc.gradClip(),
                (records, batchSize, seed) -> batches(records, batchSize, size, resize));
        INDArray val = data.valImages(ctx.settings().config().getInt("posttrain.stage.val-images"), size);
        List<PairedImage> few = pairs.take(8);
        log.info("{}: {} pairs (sigma {}), {} val images, {} epochs, {} trainable parameters (decoder + discriminator)", NAME, n,
                pairsProv.get("sigma"), val.size(0), tc.epochs(), task.init().parameterCount());

        String valLog = trainDir + "/val.jsonl";
        String gridPath = trainDir + "/pairs-grid.png";
        if (!StageOutput.fs(valLog).exists(new org.apache.hadoop.fs.Path(StageOutput.qualify(valLog)))) {
            TrainFiles.appendLine(valLog, StageOutput.toJsonLine(validate(cfg, tok.weights(), val, 0)));
        }
        FitResult fit = ParameterAveragingMaster.fit(pairs, task, tc, trainDir, (epoch, state, ema) -> {
            Map<String, INDArray> merged = PostTrainTask.merge(tok.weights(), ema);
            Map<String, Object> v = validate(cfg, merged, val, epoch);
            TrainFiles.appendLine(valLog, StageOutput.toJsonLine(v));
            TrainFiles.write(gridPath, grid(cfg, tok.weights(), merged, few, size, resize));
            log.info("{}: epoch {} val psnr {} dB (EMA decoder, clean tokens)", NAME, epoch, String.format("%.3f", (Double) v.get("val_psnr")));
        });
        pairs.unpersist();
        if (!fit.finished()) {
            log.info("{}: stopped early (trainer.stop-after-rounds); rerun to continue from {}", NAME, fit.lastCheckpoint());
            return;
        }
        Map<String, INDArray> merged = PostTrainTask.merge(tok.weights(), fit.ema());
        StageOutput out = StageOutput.begin(outDir);
        try {
            ModelArtifact.writeWeights(out, merged, Map.of("kind", "tokenizer-posttrained", "config_sha256", ctx.settings().hash()));
            out.copyIn(fit.metricsPath(), "metrics.jsonl");
            out.copyIn(valLog, "val.jsonl");
            out.writeBytes("pairs-grid.png", grid(cfg, tok.weights(), merged, few, size, resize));
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("tokenizer", tokDir);
            prov.put("tokenizer_id", PairTokensStage.identity(tokDir));
            prov.put("generator", genDir);
            prov.put("generator_id", PairTokensStage.identity(genDir));
            prov.put("pairs", pairsDir);
            prov.put("pairs_id", PairTokensStage.identity(pairsDir));
            prov.put("pairs_count", n);
            prov.put("sigma", pairsProv.get("sigma"));
            prov.put("data", data.provenance());
            prov.put("checkpoint", fit.lastCheckpoint());
            prov.put("global_step", fit.progress().step());
            prov.put("final_val", validate(cfg, merged, val, fit.progress().epoch()));
            prov.put("grid", "original | decode(true tokens) before | decode(mixed tokens) before | decode(mixed tokens) after");
            out.commit(NAME, ctx.settings(), prov);
        } catch (RuntimeException ex) {
            out.abort();
            throw ex;
        }
    }

    /** The pairs must have been made by this tokenizer and this generator (their output identities). */
    static void checkPairsOrigin(String pairsDir, Map<String, Object> prov, String tokDir, String genDir) {
        String tokId = PairTokensStage.identity(tokDir), genId = PairTokensStage.identity(genDir);
        Object pt = prov.get("tokenizer_id"), pg = prov.get("generator_id");
        if (!tokId.equals(pt) || !genId.equals(pg)) {
            throw new UserError("pairs at " + pairsDir + " were made by tokenizer " + prov.get("tokenizer") + " (" + pt + ") and generator "
                    + prov.get("generator") + " (" + pg + "), but post-train is given tokenizer " + tokDir + " (" + tokId + ") and generator "
                    + genDir + " (" + genId + "): rerun 'robustok pair-tokens --force'");
        }
    }

    /**
     * The output's _config.conf is this run's, so its tokenizer section must describe the tokenizer's architecture
     * (later stages build the decoder from it).
     */
    static void checkArchitecture(TokenizerConfig trained, TokenizerConfig run, String tokDir) {
        if (!shape(trained).equals(shape(run))) {
            throw new UserError("tokenizer.* of this run (" + shape(run) + ") differs from the architecture of the tokenizer at " + tokDir
                    + " (" + shape(trained) + "): run post-train with the config that trained it");
        }
    }

    private static String shape(TokenizerConfig c) {
        return "image " + c.imageSize() + ", patch " + c.patch() + ", grid " + c.latentGrid() + ", codebook " + c.codebookSize() + "x"
                + c.codeDim() + ", width " + c.width() + ", depth " + c.encoderDepth() + "+" + c.decoderDepth() + ", heads " + c.heads()
                + ", mlp " + c.mlpRatio() + ", layer-scale " + c.layerScale();
    }

    /** Pairs joined with their images by key, in key order (the master needs a stable record order). */
    static JavaRDD<PairedImage> join(StageContext ctx, String pairsDir, ImageData data) {
        JavaPairRDD<String, int[]> mixed = ctx.spark().read().parquet(pairsDir + "/pairs").select("key", "mixed").javaRDD()
                .mapToPair((Row r) -> {
                    List<Integer> m = r.getList(1);
                    return new Tuple2<>(r.getString(0), m.stream().mapToInt(Integer::intValue).toArray());
                });
        JavaPairRDD<String, ImageRecord> images = data.train(0).mapToPair(r -> new Tuple2<>(r.key(), r));
        return images.join(mixed).sortByKey().map(t -> new PairedImage(t._2()._1(), t._2()._2()));
    }

    /**
     * Minibatches of exactly {@code batchSize} pairs: the eval transform (shorter side to {@code resize}, centre crop;
     * then the centre {@code size} crop when the tokens came from a larger resize), no augmentation.
     */
    static Iterator<PairBatch> batches(Iterator<PairedImage> records, int batchSize, int size, int resize) {
        ImageBatcher batcher = ImageBatcher.eval(resize);
        return new Iterator<>() {
            private PairBatch next = fill();

            private PairBatch fill() {
                List<ImageRecord> imgs = new ArrayList<>(batchSize);
                List<int[]> ids = new ArrayList<>(batchSize);
                while (imgs.size() < batchSize && records.hasNext()) {
                    PairedImage p = records.next();
                    imgs.add(p.image());
                    ids.add(p.mixed());
                }
                if (imgs.size() < batchSize) {
                    batcher.close();
                    return null;
                }
                return new PairBatch(Nd4j.createFromArray(ids.toArray(new int[0][])).castTo(DataType.INT),
                        centre(batcher.batch(imgs, 0).images(), size));
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public PairBatch next() {
                if (next == null) throw new NoSuchElementException();
                PairBatch b = next;
                next = fill();
                return b;
            }
        };
    }

    static INDArray centre(INDArray images, int size) {
        long h = images.size(2);
        if (h == size) return images;
        long o = (h - size) / 2;
        return images.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(o, o + size),
                NDArrayIndex.interval(o, o + size)).dup();
    }

    /** PSNR of the decoder's reconstructions of the val subset (clean tokens of the frozen encoder). */
    static Map<String, Object> validate(TokenizerConfig cfg, Map<String, INDArray> weights, INDArray val, int epoch) {
        Tokenizer t = new Tokenizer(cfg, weights, 1, 64);
        INDArray rec = t.decode(t.encode(val));
        double mse = rec.castTo(DataType.DOUBLE).squaredDistance(val.castTo(DataType.DOUBLE)) / val.length();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epoch", epoch);
        m.put("val_mse", mse);
        m.put("val_psnr", 10 * Math.log10(4.0 / Math.max(mse, 1e-12)));
        return m;
    }

    /** Rows: original | decode(true tokens) before | decode(mixed) before | decode(mixed) after, for a few pairs. */
    static byte[] grid(TokenizerConfig cfg, Map<String, INDArray> before, Map<String, INDArray> after, List<PairedImage> few,
                       int size, int resize) {
        INDArray orig;
        try (ImageBatcher b = ImageBatcher.eval(resize)) {
            orig = centre(b.batch(few.stream().map(PairedImage::image).toList(), 0).images(), size);
        }
        INDArray mixed = Nd4j.createFromArray(few.stream().map(PairedImage::mixed).toList().toArray(new int[0][])).castTo(DataType.INT);
        Tokenizer tb = new Tokenizer(cfg, before, 1, 64), ta = new Tokenizer(cfg, after, 1, 64);
        List<INDArray> rows = List.of(orig, tb.decode(tb.encode(orig)), tb.decode(mixed), ta.decode(mixed));
        return ImageGrid.rowsOf(rows, few.size(), 4);
    }
}
