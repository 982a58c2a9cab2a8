package io.robustok.jobs.generator;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.data.ImageBatcher;
import io.robustok.data.ImageRecord;
import io.robustok.jobs.ImageData;
import io.robustok.jobs.ModelArtifact;
import io.robustok.jobs.TokenizerCache;
import io.robustok.spark.FaultPoint;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.Tokenizer;
import io.robustok.tokenizer.TokenizerConfig;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import io.robustok.spark.JobProgress;
import org.apache.spark.util.LongAccumulator;

/**
 * tokenize: the EMA tokenizer encodes the train and val splits into token Parquet (key, label, crop, tokens),
 * in Spark partitions. Train uses ten crops per image when tokenize.train-crops = 10 (the paper's generator
 * data, SPEC section 5), val the center crop. The output carries the tokenizer's provenance, vocabulary and
 * grid, which train-generator checks against its own config.
 */
public final class TokenizeStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(TokenizeStage.class);
    public static final String NAME = "tokenize";
    public static final String OUT = "tokens";
    static final StructType SCHEMA = new StructType()
            .add("key", DataTypes.StringType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("crop", DataTypes.IntegerType, false)
            .add("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), false);

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "encode the train/val splits into token Parquet with the EMA tokenizer (run.out/tokens)";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        return List.of(c.getString("run.out") + "/" + OUT);
    }

    @Override
    public List<String> after() {
        return List.of("prep", "train-tokenizer");
    }

    @Override
    public List<String> configPaths() {
        return List.of("tokenize", "run.seed");
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        String outDir = ctx.path(OUT);
        if (StageOutput.isComplete(outDir) && !ctx.force()) {
            log.info("{}: {} is complete, skipping (--force redoes it)", NAME, outDir);
            return;
        }
        String tokDir = StageOutput.qualify(ctx.path("tokenizer"));
        ModelArtifact art = ModelArtifact.load(tokDir, "train-tokenizer");
        TokenizerConfig cfg = TokenizerConfig.from(art.settings().at("tokenizer"));
        TokenizerCache.get(tokDir, 1); // weights that do not fit fail here, once, before any task
        ImageData data = ImageData.of(ctx);
        int crops = ctx.settings().config().getInt("tokenize.train-crops");
        if (crops != 1 && crops != 10) throw new io.robustok.cli.UserError("tokenize.train-crops must be 1 or 10, got " + crops);
        long limit = ctx.settings().config().getLong("tokenize.train-images");

        StageOutput out = StageOutput.begin(outDir);
        try {
            Map<String, Object> counts = new LinkedHashMap<>();
            for (String split : List.of("train", "val")) {
                long t0 = System.nanoTime();
                JavaRDD<ImageRecord> rdd = data.split(split, split.equals("train") ? limit : 0);
                int c = split.equals("train") ? crops : 1;
                int size = cfg.imageSize();
                LongAccumulator encoded = JobProgress.items(ctx.jsc(), NAME + " " + split + " images", rdd.count());
                JavaRDD<Row> rows = rdd.mapPartitions(it -> encode(it, tokDir, size, c, encoded));
                Dataset<Row> df = ctx.spark().createDataFrame(rows, SCHEMA);
                df.write().parquet(out.tmp() + "/" + split);
                long n = ctx.spark().read().parquet(out.tmp() + "/" + split).count();
                counts.put(split, n);
                log.info("{}: {} {} token rows ({} crop(s) per image) in {} s", NAME, n, split, c,
                        String.format("%.1f", (System.nanoTime() - t0) / 1e9));
            }
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("tokenizer", tokDir);
            prov.put("tokenizer_provenance", StageOutput.readProvenance(tokDir));
            prov.put("codebook_size", cfg.codebookSize());
            prov.put("latent_grid", cfg.latentGrid());
            prov.put("tokens_per_image", cfg.tokens());
            prov.put("train_crops", crops);
            prov.put("rows", counts);
            prov.put("data", data.dir());
            out.commit(NAME, ctx.settings(), prov);
        } catch (RuntimeException e) {
            out.abort();
            throw e;
        }
    }

    /**
     * Checks a token output before a stage reads it: every Parquet file's footer reads (a truncated or foreign file
     * fails here, naming it), and the tokens were made by the tokenizer now at {@code tokDir} (its _COMPLETE.json is
     * the one the tokens recorded), since decoding them with another tokenizer gives garbage without any error.
     *
     * @throws io.robustok.cli.UserError naming the file or both tokenizers, and the fix
     */
    public static void verifyTokens(String tokensDir, String tokDir) {
        org.apache.hadoop.fs.FileSystem fs = StageOutput.fs(tokensDir);
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        String fix = "rerun 'robustok tokenize --force'";
        try {
            for (String split : List.of("train", "val")) {
                org.apache.hadoop.fs.Path d = new org.apache.hadoop.fs.Path(StageOutput.qualify(tokensDir), split);
                if (!fs.exists(d)) throw new io.robustok.cli.UserError("token split " + d + " is missing: " + fix);
                for (org.apache.hadoop.fs.FileStatus f : fs.listStatus(d, p -> p.getName().endsWith(".parquet"))) {
                    io.robustok.data.ImageParquet.footer(f.getPath().toString(), conf, fix);
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot list " + tokensDir, e);
        }
        if (!StageOutput.isComplete(tokDir)) return;
        Object made = StageOutput.readProvenance(tokensDir).get("tokenizer_provenance");
        Map<String, Object> now = StageOutput.readProvenance(tokDir);
        if (!(made instanceof Map<?, ?> m) || !java.util.Objects.equals(m.get("finished"), now.get("finished"))
                || !java.util.Objects.equals(m.get("config_sha256"), now.get("config_sha256"))) {
            String was = made instanceof Map<?, ?> m2 ? "finished " + m2.get("finished") + ", config " + m2.get("config_sha256") : "unknown";
            throw new io.robustok.cli.UserError("tokens at " + tokensDir + " were made by another tokenizer (" + was + ") than the one at "
                    + tokDir + " (finished " + now.get("finished") + ", config " + now.get("config_sha256") + "): " + fix);
        }
    }

    /** Encodes a partition in batches of 64 images; ten-crop: corners and center of a 1.125x resize, and their flips. */
    static Iterator<Row> encode(Iterator<ImageRecord> it, String tokDir, int size, int crops, LongAccumulator encoded) {
        Tokenizer tok = TokenizerCache.get(tokDir, 1);
        int big = crops == 10 ? (int) Math.round(size * 1.125) : size;
        List<Row> out = new ArrayList<>();
        try (ImageBatcher batcher = ImageBatcher.eval(big)) {
            List<ImageRecord> buf = new ArrayList<>(64);
            while (it.hasNext() || !buf.isEmpty()) {
                if (it.hasNext() && buf.size() < 64) {
                    buf.add(it.next());
                    if (it.hasNext() && buf.size() < 64) continue;
                }
                INDArray images = batcher.batch(buf, 0).images();
                for (int c = 0; c < crops; c++) {
                    INDArray view = crops == 1 ? images : crop(images, c, size, big);
                    int[][] ids = toRows(tok.encode(view));
                    for (int i = 0; i < buf.size(); i++) {
                        out.add(RowFactory.create(buf.get(i).key(), buf.get(i).label(), c, boxed(ids[i])));
                    }
                }
                encoded.add(buf.size());
                buf.clear();
            }
        }
        Iterator<Row> rows = out.iterator();
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return rows.hasNext();
            }

            @Override
            public Row next() {
                Row r = rows.next();
                FaultPoint.reach("token-write"); // the task's Parquet file is open, some rows in it
                return r;
            }
        };
    }

    private static INDArray crop(INDArray images, int c, int size, int big) {
        int[][] origins = {{0, 0}, {0, big - size}, {big - size, 0}, {big - size, big - size},
                {(big - size) / 2, (big - size) / 2}};
        int[] o = origins[c % 5];
        INDArray v = images.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(o[0], o[0] + size),
                NDArrayIndex.interval(o[1], o[1] + size)).dup();
        return c >= 5 ? flipWidth(v) : v;
    }

    /** Horizontal flip of [N, C, H, W]. */
    static INDArray flipWidth(INDArray v) {
        float[] a = v.castTo(DataType.FLOAT).dup('c').data().asFloat();
        int w = (int) v.size(3);
        float[] b = new float[a.length];
        for (int row = 0; row < a.length / w; row++) {
            for (int x = 0; x < w; x++) b[row * w + x] = a[row * w + (w - 1 - x)];
        }
        return Nd4j.create(b, v.shape(), 'c');
    }

    static int[][] toRows(INDArray ids) {
        int n = (int) ids.size(0), t = (int) ids.size(1);
        int[] flat = ids.castTo(DataType.INT).dup().data().asInt();
        int[][] r = new int[n][t];
        for (int i = 0; i < n; i++) System.arraycopy(flat, i * t, r[i], 0, t);
        return r;
    }

    private static Integer[] boxed(int[] a) {
        Integer[] b = new Integer[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }
}
