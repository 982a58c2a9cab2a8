package io.robustok.jobs.tokenizer;

import io.robustok.cli.UserError;
import io.robustok.data.ImageBatcher;
import com.typesafe.config.Config;
import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.data.ImageRecord;
import io.robustok.jobs.ImageData;
import io.robustok.jobs.ImageGrid;
import io.robustok.jobs.ModelArtifact;
import io.robustok.jobs.TrainFiles;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.CodeUsage;
import io.robustok.tokenizer.Tokenizer;
import io.robustok.tokenizer.TokenizerConfig;
import io.robustok.tokenizer.TokenizerTask;
import io.robustok.train.ParameterAveragingMaster;
import io.robustok.train.ParameterAveragingMaster.FitResult;
import io.robustok.train.TrainerConfig;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * train-tokenizer: main training of the VQ tokenizer with latent perturbation (SPEC sections 2-3) through the
 * parameter-averaging master, one epoch per call so each epoch ends with validation on a fixed val subset
 * (MSE, PSNR, codebook usage, a PNG grid original | reconstruction | perturbed reconstruction).
 *
 * <p>Training state lives in {@code run.out/tokenizer.train} (checkpoints, metrics.jsonl, val.jsonl): a rerun
 * resumes there. The committed output {@code run.out/tokenizer} holds the EMA weights later stages load.
 */
public final class TrainTokenizerStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(TrainTokenizerStage.class);
    public static final String NAME = "train-tokenizer";
    public static final String OUT = "tokenizer";

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "main training of the VQ tokenizer with latent perturbation (run.out/tokenizer)";
    }

    /** The tokenizer section, after checking that its pretrained weight files exist (the pipeline checks first too). */
    public static TokenizerConfig requireWeightFiles(StageContext ctx) {
        TokenizerConfig cfg = TokenizerConfig.from(ctx.settings().at("tokenizer"));
        try {
            cfg.requireWeightFiles();
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
        return cfg;
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        return List.of(c.getString("run.out") + "/" + OUT);
    }

    @Override
    public List<String> after() {
        return List.of("prep");
    }

    @Override
    public List<String> configPaths() {
        return List.of("tokenizer", "trainer", "data.image-size", "data.max-scale", "data.flip", "run.seed");
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        String outDir = ctx.path(OUT);
        if (StageOutput.isComplete(outDir) && !ctx.force()) {
            log.info("{}: {} is complete, skipping (--force redoes it)", NAME, outDir);
            return;
        }
        Config stage = ctx.settings().at("tokenizer.stage");
        String cbInit = stage.getString("codebook-init");
        if (!cbInit.equals("data") && !cbInit.equals("random") && !cbInit.equals("uniform")) {
            throw new UserError("tokenizer.stage.codebook-init = \"" + cbInit + "\": expected data, random or uniform");
        }
        String headInit = stage.getString("head-init");
        if (!headInit.equals("random") && !headInit.equals("mean") && !headInit.equals("mean-zero")) {
            throw new UserError("tokenizer.stage.head-init = \"" + headInit + "\": expected random, mean or mean-zero");
        }
        TokenizerConfig cfg = requireWeightFiles(ctx);
        TrainerConfig tc = TrainerConfig.from(ctx.settings(), "tokenizer");
        String trainDir = ctx.path(OUT + ".train");
        if (ctx.force()) StageOutput.fs(trainDir).delete(new org.apache.hadoop.fs.Path(StageOutput.qualify(trainDir)), true);

        ImageData data = ImageData.of(ctx);
        JavaRDD<ImageRecord> train = data.train(stage.getLong("train-images")).persist(StorageLevel.MEMORY_ONLY());
        INDArray val = data.valImages(stage.getInt("val-images"), cfg.imageSize());
        int imageSize = cfg.imageSize();
        double maxScale = data.maxScale();
        boolean flip = data.flip();
        TokenizerTask<ImageRecord> task = new TokenizerTask<>(cfg, tc.gradClip(),
                (records, batchSize, seed) -> ImageData.trainBatches(records, batchSize, imageSize, maxScale, flip, seed));
        if (cbInit.equals("uniform")) task.withUniformCodebookInit();
        if (cbInit.equals("data") || !headInit.equals("random")) {
            // enough images that every code gets a distinct latent token (twice over), from the train split
            int n = (int) Math.max(8, Math.min(1024, Math.ceil(2.0 * cfg.codebookSize() / cfg.tokens())));
            INDArray sample;
            try (ImageBatcher b = ImageBatcher.eval(imageSize)) {
                sample = b.batch(train.takeSample(false, n, cfg.seed()), 0).images();
            }
            if (cbInit.equals("data")) {
                task.withCodebookInit(sample);
                log.info("{}: codebook initialised from the untrained encoder's outputs on {} train images", NAME, n);
            }
            if (!headInit.equals("random")) {
                task.withHeadInit(sample, headInit.equals("mean-zero"));
                log.info("{}: decoder head bias = the mean pixel patch of {} train images{}", NAME, n,
                        headInit.equals("mean-zero") ? ", head weights zero" : "");
            }
        }
        log.info("{}: {} train images, {} val images, {} epochs, {} parameters", NAME, train.count(), val.size(0),
                tc.epochs(), task.init().parameterCount());

        // validation after every epoch on the driver, with the EMA weights; lines survive a resume
        String valLog = trainDir + "/val.jsonl";
        String gridPath = trainDir + "/val-grid.png";
        FitResult fit = ParameterAveragingMaster.fit(train, task, tc, trainDir, (epoch, state, ema) -> {
            Validation v = validate(cfg, ema, val, stage, epoch);
            TrainFiles.appendLine(valLog, StageOutput.toJsonLine(v.metrics));
            TrainFiles.write(gridPath, v.grid);
            log.info("{}: epoch {} val mse={} psnr={} dB codebook usage={} perplexity={}", NAME, epoch,
                    fmt(v.metrics.get("val_mse")), fmt(v.metrics.get("val_psnr")), fmt(v.metrics.get("val_usage")),
                    fmt(v.metrics.get("val_perplexity")));
        });
        train.unpersist();
        if (!fit.finished()) {
            log.info("{}: stopped early (trainer.stop-after-rounds); rerun to continue from {}", NAME, fit.lastCheckpoint());
            return;
        }
        Validation last = validate(cfg, fit.ema(), val, stage, fit.progress().epoch());

        StageOutput out = StageOutput.begin(outDir);
        try {
            ModelArtifact.writeWeights(out, fit.ema(), Map.of("kind", "tokenizer-ema", "config_sha256", ctx.settings().hash()));
            out.copyIn(fit.metricsPath(), "metrics.jsonl");
            out.copyIn(valLog, "val.jsonl");
            out.writeBytes("val-grid.png", last.grid);
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("data", data.provenance());
            prov.put("checkpoint", fit.lastCheckpoint());
            prov.put("global_step", fit.progress().step());
            prov.put("final_val", last.metrics);
            out.commit(NAME, ctx.settings(), prov);
        } catch (RuntimeException ex) {
            out.abort();
            throw ex;
        }
    }

    record Validation(Map<String, Object> metrics, byte[] grid) {
    }

    /** Reconstruction metrics of the EMA weights on the fixed val subset, and the image grid. */
    static Validation validate(TokenizerConfig cfg, Map<String, INDArray> ema, INDArray val, Config stage, int epoch) {
        double alpha = stage.getDouble("grid-alpha");
        int delta = Math.min(stage.getInt("grid-delta"), cfg.codebookSize());
        Tokenizer tok = new Tokenizer(cfg, ema, delta, 64);
        INDArray ids = tok.encode(val);
        INDArray rec = tok.decode(ids);
        double mse = rec.castTo(DataType.DOUBLE).squaredDistance(val.castTo(DataType.DOUBLE)) / val.length();
        // images live in [-1, 1]: PSNR on the [0, 1] scale has peak 1 and mse/4
        double psnr = 10 * Math.log10(1.0 / (mse / 4.0));
        CodeUsage usage = new CodeUsage(cfg.codebookSize());
        usage.add(ids.castTo(DataType.INT).data().asInt());
        int n = Math.min(8, (int) val.size(0));
        INDArray few = val.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, n)).dup();
        INDArray pert = tok.decodePerturbed(few, alpha, delta, 1234L);
        byte[] grid = ImageGrid.rowsOf(List.of(few, rec.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, n)), pert), n, 4);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epoch", epoch);
        m.put("val_mse", mse);
        m.put("val_psnr", psnr);
        m.put("val_usage", usage.usedFraction());
        m.put("val_perplexity", usage.perplexity());
        m.put("val_entropy", usage.entropy());
        m.put("grid", "original | reconstruction | perturbed (alpha=" + alpha + ", delta=" + delta + ")");
        return new Validation(m, grid);
    }

    private static String fmt(Object o) {
        return o instanceof Double d ? String.format("%.4f", d) : String.valueOf(o);
    }
}
