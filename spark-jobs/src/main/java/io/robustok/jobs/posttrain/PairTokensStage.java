package io.robustok.jobs.posttrain;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.config.ConfigError;
import io.robustok.generator.RarSampler;
import io.robustok.generator.SamplingConfig;
import io.robustok.jobs.GeneratorCache;
import io.robustok.spark.StageOutput;
import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * pair-tokens: the generator-paired tokens of post-training (SPEC section 6, steps 1-2). A seeded subset of
 * {@code posttrain.pairs} training images, with their true tokens from the tokenize stage, goes through the trained
 * (EMA) generator in raster order with the KV cache and teacher forcing by a Bernoulli mask: at each position the
 * true token is kept with probability {@code posttrain.sigma}, otherwise the generator's sample (guidance, its power
 * and temperature from {@code posttrain.sampling}) is taken, and the mixed sequence is the prefix of later
 * positions. Token ids are kept as they are: nothing is decoded and re-encoded.
 *
 * <p>Determinism: the subset is the {@code pairs} rows with the smallest hash of (key, seed); each row's draws come
 * from its own seed (that hash); rows are cut into fixed batches of {@code posttrain.pair-batch} in that order, and a
 * batch is the unit of work of the workers' cached samplers, so the output does not depend on the number of workers.
 *
 * <p>Output {@code run.out/pairs}: Parquet rows (key, label, tokens, mixed, seed, kept), and in the provenance the
 * identities of the tokenizer and the generator, which post-train checks.
 */
public final class PairTokensStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(PairTokensStage.class);
    public static final String NAME = "pair-tokens";
    public static final String OUT = "pairs";
    static final StructType SCHEMA = new StructType()
            .add("key", DataTypes.StringType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), false)
            .add("mixed", DataTypes.createArrayType(DataTypes.IntegerType, false), false)
            .add("seed", DataTypes.LongType, false)
            .add("kept", DataTypes.IntegerType, false);

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "generator-paired tokens for post-training: teacher-forced mixing of true and sampled tokens (run.out/pairs)";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        return List.of(c.getString("run.out") + "/" + OUT);
    }

    @Override
    public List<String> after() {
        return List.of("prep", "train-tokenizer", "tokenize", "train-generator");
    }

    @Override
    public List<String> configPaths() {
        return List.of("posttrain.pairs", "posttrain.sigma", "posttrain.seed", "posttrain.pair-batch", "posttrain.sampling", "tokenize.train-crops");
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
        var c = ctx.settings().config();
        String tokensDir = ctx.path("tokens");
        if (!StageOutput.isComplete(tokensDir)) {
            throw new UserError("no complete tokenize output at " + tokensDir + ": run 'robustok tokenize' first (or the pipeline)");
        }
        String genDir = StageOutput.qualify(ctx.path("generator"));
        if (!StageOutput.isComplete(genDir)) {
            throw new UserError("no complete train-generator output at " + genDir + ": run 'robustok train-generator' first (or the pipeline)");
        }
        String tokDir = ctx.path("tokenizer");
        Map<String, Object> tokensProv = StageOutput.readProvenance(tokensDir);
        checkTokensTokenizer(tokensDir, tokensProv, tokDir);

        double sigma = c.getDouble("posttrain.sigma");
        if (!(sigma >= 0 && sigma <= 1)) throw new ConfigError("posttrain.sigma = " + sigma + " is outside [0, 1]: set it in [0, 1] (paper: 0.7)");
        long pairs = c.getLong("posttrain.pairs");
        int pairBatch = c.getInt("posttrain.pair-batch");
        if (pairBatch < 1) throw new ConfigError("posttrain.pair-batch = " + pairBatch + " must be >= 1");
        long seed = c.getLong("posttrain.seed");
        SamplingConfig sc = SamplingConfig.from(c.getConfig("posttrain.sampling"));
        int crops = ((Number) tokensProv.getOrDefault("train_crops", 1)).intValue();
        int crop = crops == 10 ? 4 : 0; // ten-crop: crop 4 is the centre crop of the 1.125x resize

        Dataset<Row> train = ctx.spark().read().parquet(StageOutput.qualify(tokensDir) + "/train")
                .filter(functions.col("crop").equalTo(crop));
        long available = train.count();
        int workers = workers(ctx);
        int batch = c.getInt("posttrain.batch-size");
        checkPairs(pairs, available, workers, batch);

        StageOutput out = StageOutput.begin(outDir);
        try {
            long t0 = System.nanoTime();
            JavaRDD<Row> chosen = train.withColumn("h", functions.xxhash64(functions.col("key"), functions.lit(seed)))
                    .orderBy("h", "key").limit((int) pairs).select("key", "label", "tokens", "h").javaRDD();
            LongAccumulator nanos = ctx.jsc().sc().longAccumulator("pair-tokens sampler nanos");
            int parts = Math.max(1, workers);
            JavaRDD<Row> rows = chosen.zipWithIndex()
                    .mapToPair(t -> new Tuple2<>(t._2() / pairBatch, new Tuple2<>(t._2(), t._1())))
                    .groupByKey(new HashPartitioner(parts))
                    .mapPartitions(it -> mix(it, genDir, sigma, sc, nanos));
            String pairsPath = out.tmp() + "/pairs";
            ctx.spark().createDataFrame(rows, SCHEMA).write().parquet(pairsPath);
            double secs = (System.nanoTime() - t0) / 1e9;

            Row agg = ctx.spark().read().parquet(pairsPath)
                    .agg(functions.count("key"), functions.sum("kept"), functions.sum(functions.size(functions.col("mixed")))).first();
            long n = agg.getLong(0), kept = agg.getLong(1), tokens = agg.getLong(2);
            double samplerSecs = nanos.value() / 1e9;
            Map<String, Object> stats = new LinkedHashMap<>();
            stats.put("pairs", n);
            stats.put("tokens", tokens);
            stats.put("kept_fraction", tokens == 0 ? 0 : kept / (double) tokens);
            stats.put("seconds", secs);
            stats.put("tokens_per_second", tokens / secs);
            stats.put("sampler_seconds", samplerSecs);
            stats.put("sampler_tokens_per_second_per_worker", samplerSecs == 0 ? 0 : tokens / samplerSecs);
            out.writeJson("stats.json", stats);
            log.info("{}: {} pairs, kept fraction {} (sigma {}), {} tokens/s overall, {} tokens/s per worker in the sampler",
                    NAME, n, String.format("%.4f", kept / (double) Math.max(1, tokens)), sigma, String.format("%.0f", tokens / secs),
                    String.format("%.0f", tokens / Math.max(1e-9, samplerSecs)));

            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("tokenizer", StageOutput.qualify(tokDir));
            prov.put("tokenizer_id", identity(tokDir));
            prov.put("generator", genDir);
            prov.put("generator_id", identity(genDir));
            prov.put("tokens", StageOutput.qualify(tokensDir));
            prov.put("tokens_id", identity(tokensDir));
            prov.put("train_crops", crops);
            prov.put("crop", crop);
            prov.put("sigma", sigma);
            prov.put("seed", seed);
            prov.put("pair_batch", pairBatch);
            prov.put("sampling", Map.of("temperature", sc.temperature(), "guidance", sc.guidance(), "guidance_power", sc.guidancePower()));
            prov.put("stats", stats);
            out.commit(NAME, ctx.settings(), prov);
        } catch (RuntimeException e) {
            out.abort();
            throw e;
        }
    }

    static int workers(StageContext ctx) {
        int w = ctx.settings().config().getInt("spark.workers");
        return w > 0 ? w : ctx.jsc().defaultParallelism();
    }

    /** posttrain.pairs within [workers x batch, rows of the train split] (the config error names the key). */
    static void checkPairs(long pairs, long available, int workers, int batch) {
        if (pairs > available) {
            throw new ConfigError("posttrain.pairs = " + pairs + " is larger than the train split (" + available
                    + " images with tokens): lower posttrain.pairs");
        }
        if (pairs < (long) workers * batch) {
            throw new ConfigError("posttrain.pairs = " + pairs + " is below workers x posttrain.batch-size = " + workers + " x " + batch
                    + ": post-training needs one full batch per worker; raise posttrain.pairs");
        }
    }

    /** The tokens must come from the tokenizer the later stages use. */
    private static void checkTokensTokenizer(String tokensDir, Map<String, Object> tokensProv, String tokDir) {
        if (!StageOutput.isComplete(tokDir)) {
            throw new UserError("no complete train-tokenizer output at " + tokDir + ": run 'robustok train-tokenizer' first (or the pipeline)");
        }
        Object made = tokensProv.get("tokenizer_provenance");
        if (made != null && !made.equals(StageOutput.readProvenance(tokDir))) {
            throw new UserError("tokens at " + tokensDir + " were made by another tokenizer than " + tokDir
                    + ": rerun 'robustok tokenize --force'");
        }
    }

    /** Identity of a committed stage output: SHA-256 (first 16 hex digits) of its _COMPLETE.json. */
    public static String identity(String dir) {
        try (InputStream in = StageOutput.fs(dir).open(new org.apache.hadoop.fs.Path(StageOutput.qualify(dir), StageOutput.COMPLETE))) {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(in.readAllBytes());
            return HexFormat.of().formatHex(d).substring(0, 16);
        } catch (IOException e) {
            throw new UncheckedIOException("no complete output at " + dir, e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Mixes the batches of one partition with the executor's cached sampler; rows of a batch in index order. */
    static Iterator<Row> mix(Iterator<Tuple2<Long, Iterable<Tuple2<Long, Row>>>> it, String genDir, double sigma, SamplingConfig sc,
                             LongAccumulator nanos) {
        RarSampler sampler = GeneratorCache.get(genDir);
        List<Row> out = new ArrayList<>();
        long done = 0, t0 = System.nanoTime(), shown = t0;
        while (it.hasNext()) {
            List<Tuple2<Long, Row>> rows = new ArrayList<>();
            it.next()._2().forEach(rows::add);
            rows.sort((a, b) -> Long.compare(a._1(), b._1()));
            int n = rows.size();
            int[][] truth = new int[n][];
            int[] labels = new int[n];
            long[] seeds = new long[n];
            for (int i = 0; i < n; i++) {
                Row r = rows.get(i)._2();
                labels[i] = r.getInt(1);
                List<Integer> tk = r.getList(2);
                truth[i] = tk.stream().mapToInt(Integer::intValue).toArray();
                seeds[i] = r.getLong(3);
            }
            long s0 = System.nanoTime();
            RarSampler.Mixed m = sampler.sampleMixed(truth, labels, sigma, sc, seeds);
            nanos.add(System.nanoTime() - s0);
            for (int i = 0; i < n; i++) {
                int kept = 0;
                for (boolean k : m.kept()[i]) if (k) kept++;
                Row r = rows.get(i)._2();
                out.add(RowFactory.create(r.getString(0), labels[i], boxed(truth[i]), boxed(m.tokens()[i]), seeds[i], kept));
            }
            done += n;
            long now = System.nanoTime();
            if (now - shown > 10_000_000_000L || !it.hasNext()) {
                shown = now;
                log.info("{}: {} rows done in this partition, {} tokens/s", NAME, done,
                        String.format("%.0f", done * truth[0].length / ((now - t0) / 1e9)));
            }
        }
        return out.iterator();
    }

    private static Integer[] boxed(int[] a) {
        Integer[] b = new Integer[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }
}
