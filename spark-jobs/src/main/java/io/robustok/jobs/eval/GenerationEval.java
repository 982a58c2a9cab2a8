package io.robustok.jobs.eval;

import io.robustok.cli.StageContext;
import io.robustok.eval.EvalPartial;
import io.robustok.eval.EvalResult;
import io.robustok.eval.EvalResultsWriter;
import io.robustok.eval.EvalSettings;
import io.robustok.eval.FeatureExtractorSpec;
import io.robustok.eval.FidEvaluator;
import io.robustok.eval.Images;
import io.robustok.eval.Reference;
import io.robustok.generator.GeneratorConfig;
import io.robustok.generator.RarConfig;
import io.robustok.generator.RarSampler;
import io.robustok.generator.SamplingConfig;
import io.robustok.jobs.ModelArtifact;
import io.robustok.jobs.TokenizerCache;
import io.robustok.jobs.eval.DistributedEval.ImageBatch;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.Tokenizer;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.util.LongAccumulator;
import io.robustok.spark.JobProgress;

/**
 * gFID / IS / precision / recall of the committed generator (SPEC section 7): {@code eval.num-samples} samples,
 * equal per class, at the generator's guidance g and at guidance 1 (the conditional model alone). Sample i has
 * class i mod classes: the classes are interleaved, so every Inception Score split (consecutive samples, as ADM's
 * evaluator cuts them, also when it reads our .npz) holds all classes equally; in class-major order each split
 * would hold one class and IS would collapse to about 1. The samples are cut into chunks of at most
 * {@code eval.batch-size} consecutive indices spread over the Spark partitions; each chunk has its own seed
 * ({@code eval.seed} and the chunk's index), so the samples do not depend on the partitioning.
 * Token sequences are sampled once per guidance and decoded by every decoder evaluated (the main tokenizer's and,
 * after post-training, the post-trained one's), so both decoders see exactly the same tokens.
 */
final class GenerationEval {
    private static final Logger log = LoggerFactory.getLogger(GenerationEval.class);

    private GenerationEval() {
    }

    /** One unit of sampling work: {@code count} samples with global indices from {@code first} (class = index mod classes). */
    static final class Chunk implements Serializable {
        private static final long serialVersionUID = 1L;
        int classes, count, index;
        long first;

        Chunk() {
        }

        Chunk(int classes, long first, int count, int index) {
            this.classes = classes;
            this.first = first;
            this.count = count;
            this.index = index;
        }
    }

    static List<Chunk> chunks(int classes, int perClass, int batch) {
        List<Chunk> out = new ArrayList<>();
        long n = (long) classes * perClass;
        for (long s = 0; s < n; s += batch) out.add(new Chunk(classes, s, (int) Math.min(batch, n - s), out.size()));
        return out;
    }

    static int label(long index, int classes) {
        return (int) (index % classes);
    }

    /**
     * A decoder to evaluate: the tokenizer output at {@code tokDir}; {@code suffix} names its files ("" for the main
     * tokenizer, "-posttrain" for the post-trained one).
     */
    record Decoder(String tokDir, String suffix) implements Serializable {
    }

    /** Token sequences of one chunk, sampled once and decoded by every decoder. */
    static final class Tokens implements Serializable {
        private static final long serialVersionUID = 1L;
        long first;
        int[][] ids;

        Tokens() {
        }

        Tokens(long first, int[][] ids) {
            this.first = first;
            this.ids = ids;
        }
    }

    /**
     * gFID / IS / precision / recall of every decoder on the SAME generated token sequences (same seeds): the tokens
     * are sampled once per guidance and decoded by each decoder, so differences between decoders are the decoders'
     * alone. Returns, per decoder suffix, the summary entries ("gfid", "gfid_samples").
     */
    static Map<String, Map<String, Object>> run(StageContext ctx, EvalSettings es, FeatureExtractorSpec spec, List<Decoder> decoders,
                                                Reference ref, Path out, Map<String, String> common) throws Exception {
        return run(ctx, es, spec, ctx.path("generator"), true, decoders, ref, out, common);
    }

    /**
     * As above for the generator at {@code genDir} (the committed one or one of its snapshots), at its guidance and,
     * with {@code alsoGuidanceOne}, at guidance 1.
     */
    static Map<String, Map<String, Object>> run(StageContext ctx, EvalSettings es, FeatureExtractorSpec spec, String genDir,
                                                boolean alsoGuidanceOne, List<Decoder> decoders, Reference ref, Path out,
                                                Map<String, String> common) throws Exception {
        ModelArtifact ga = ModelArtifact.load(genDir, "train-generator");
        GeneratorConfig gc = GeneratorConfig.from(ga.settings().config());
        RarConfig rc = gc.model();
        int classes = rc.numClasses();
        int perClass = Math.max(1, es.numSamples() / classes);
        List<Chunk> chunks = chunks(classes, perClass, es.batchSize());
        long n = (long) classes * perClass;
        int parts = Math.max(1, Math.min(chunks.size(), ctx.jsc().defaultParallelism() * 2));
        List<Double> guidances = new ArrayList<>(List.of(gc.sampling().guidance()));
        if (alsoGuidanceOne && gc.sampling().guidance() != 1.0) guidances.add(1.0);
        long seed = es.seed();
        Map<String, Map<String, Object>> byDecoder = new LinkedHashMap<>();
        Map<String, EvalResultsWriter> writers = new LinkedHashMap<>();
        for (Decoder d : decoders) {
            byDecoder.put(d.suffix(), new LinkedHashMap<>());
            Map<String, String> c = new LinkedHashMap<>(common);
            c.put("tokenizer", d.tokDir());
            c.put("tokenizer_provenance", StageOutput.toJsonLine(StageOutput.readProvenance(d.tokDir())));
            writers.put(d.suffix(), EvalStage.writer(c, ref).seed("sampling", seed)
                    .provenance("generator", genDir)
                    .provenance("generator_provenance", StageOutput.toJsonLine(StageOutput.readProvenance(genDir))));
        }
        int perRow = Math.min(8, perClass);
        long head = (long) perRow * classes;
        for (double g : guidances) {
            SamplingConfig sc = new SamplingConfig(gc.sampling().temperature(), g, gc.sampling().guidancePower());
            String tag = "g" + fmtG(g);
            long ts = System.nanoTime();
            LongAccumulator sampled = JobProgress.items(ctx.jsc(), "eval: gFID samples at guidance " + fmtG(g), n);
            JavaRDD<Tokens> tokens = ctx.jsc().parallelize(chunks, parts)
                    .mapPartitions(it -> sample(it, genDir, sc, seed, sampled)).persist(StorageLevel.MEMORY_AND_DISK());
            tokens.count();
            double sampleSecs = (System.nanoTime() - ts) / 1e9;
            List<INDArray> grids = new ArrayList<>();
            for (Decoder d : decoders) {
                long t0 = System.nanoTime();
                String tokDir = d.tokDir();
                JavaRDD<ImageBatch> samples = tokens.mapPartitions(it -> decode(it, tokDir)).persist(StorageLevel.MEMORY_AND_DISK());
                EvalPartial p = DistributedEval.evaluate(samples, spec, es, 2);
                EvalResult r = FidEvaluator.result(p, ref, es);
                double secs = sampleSecs + (System.nanoTime() - t0) / 1e9;
                // ADM sample batch (uint8 NHWC, labels) streamed in index order, and a grid of the first 8 per class
                ImageBatch any = samples.first();
                long[] labels = new long[(int) n];
                for (int i = 0; i < n; i++) labels[i] = label(i, classes);
                Path npz = out.resolve("samples" + d.suffix() + "-" + tag + ".npz");
                EvalStage.writeSampleNpz(npz, samples.sortBy(ImageBatch::firstIndex, true, parts).toLocalIterator(), n,
                        any.height(), any.width(), labels);
                List<ImageBatch> firsts = samples.filter(b -> b.firstIndex() < head).sortBy(ImageBatch::firstIndex, true, 1).collect();
                List<INDArray> inOrder = new ArrayList<>();
                for (ImageBatch b : firsts) inOrder.add(Images.toFloatNchw(Images.fromBytes(b.pixels(), b.count(), b.height(), b.width())));
                INDArray headImages = Nd4j.concat(0, inOrder.toArray(new INDArray[0]));
                INDArray grid = Nd4j.create(headImages.dataType(), head, headImages.size(1), headImages.size(2), headImages.size(3));
                for (int c = 0; c < classes; c++) {
                    for (int k = 0; k < perRow; k++) grid.putSlice(c * perRow + k, headImages.slice((long) k * classes + c));
                }
                Files.write(out.resolve("samples" + d.suffix() + "-" + tag + ".png"), EvalStage.grid(grid, perRow));
                grids.add(grid);
                samples.unpersist();
                Map<String, Object> params = new LinkedHashMap<>();
                params.put("guidance", g);
                params.put("temperature", sc.temperature());
                params.put("guidance_power", sc.guidancePower());
                params.put("per_class", perClass);
                params.put("seed", seed);
                params.put("samples_file", npz.getFileName().toString());
                params.put("seconds", secs);
                writers.get(d.suffix()).result("g", r, params);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("gfid", r.fid());
                m.put("is", r.inceptionScore());
                m.put("precision", r.precision());
                m.put("recall", r.recall());
                @SuppressWarnings("unchecked")
                Map<String, Object> gm = (Map<String, Object>) byDecoder.get(d.suffix()).computeIfAbsent("gfid", k -> new LinkedHashMap<>());
                gm.put(fmtG(g), m);
                log.info("eval: gFID {} IS {} precision {} recall {} at guidance {} ({} samples, {} s){}", EvalStage.fmt(r.fid()),
                        EvalStage.fmt(r.inceptionScore()), EvalStage.fmt(r.precision()), EvalStage.fmt(r.recall()), g, r.samples(),
                        String.format("%.0f", secs), d.suffix().isEmpty() ? "" : " with the decoder of " + tokDir);
            }
            if (grids.size() > 1) Files.write(out.resolve("before-after-" + tag + ".png"), beforeAfter(grids, classes, perRow));
            tokens.unpersist();
        }
        for (Decoder d : decoders) {
            writers.get(d.suffix()).write(out.resolve("gfid" + d.suffix() + ".json"));
            byDecoder.get(d.suffix()).put("gfid_samples", n);
        }
        return byDecoder;
    }

    /**
     * The same generated tokens decoded by each decoder: per class, one row per decoder (first the main tokenizer's,
     * then the post-trained one's), {@code perRow} samples a row.
     */
    static byte[] beforeAfter(List<INDArray> grids, int classes, int perRow) {
        INDArray g0 = grids.get(0);
        INDArray all = Nd4j.create(g0.dataType(), (long) classes * grids.size() * perRow, g0.size(1), g0.size(2), g0.size(3));
        long row = 0;
        for (int c = 0; c < classes; c++) {
            for (INDArray g : grids) {
                for (int k = 0; k < perRow; k++) all.putSlice((int) (row * perRow + k), g.slice((long) c * perRow + k));
                row++;
            }
        }
        return EvalStage.grid(all, perRow);
    }

    private static String fmtG(double g) {
        return g == Math.rint(g) ? String.valueOf((long) g) + ".0" : String.valueOf(g);
    }

    /** Samples the chunks of one partition (token ids only). */
    static Iterator<Tokens> sample(Iterator<Chunk> it, String genDir, SamplingConfig sc, long seed, LongAccumulator sampled) {
        RarSampler sampler = sampler(genDir);
        List<Tokens> out = new ArrayList<>();
        while (it.hasNext()) {
            Chunk c = it.next();
            int[] labels = new int[c.count];
            for (int i = 0; i < c.count; i++) labels[i] = label(c.first + i, c.classes);
            out.add(new Tokens(c.first, sampler.sample(labels, sc, seed * 1_000_003L + c.index)));
            sampled.add(c.count);
        }
        return out.iterator();
    }

    /** Decodes sampled token chunks with the tokenizer at {@code tokDir}. */
    static Iterator<ImageBatch> decode(Iterator<Tokens> it, String tokDir) {
        Tokenizer tok = TokenizerCache.get(tokDir, 1);
        List<ImageBatch> out = new ArrayList<>();
        while (it.hasNext()) {
            Tokens t = it.next();
            out.add(EvalStage.toBatch(t.first, tok.decode(Nd4j.createFromArray(t.ids).castTo(DataType.INT))));
        }
        return out.iterator();
    }

    /** One sampler per executor JVM, thread and generator output (RarSampler is not thread-safe). */
    static RarSampler sampler(String genDir) {
        return io.robustok.jobs.GeneratorCache.get(genDir);
    }
}
