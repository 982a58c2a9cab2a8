package io.robustok.jobs.eval;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.data.ImageBatcher;
import io.robustok.data.ImageRecord;
import io.robustok.eval.CodebookStats;
import io.robustok.eval.DemoFeatureNet;
import io.robustok.eval.EvalPartial;
import io.robustok.eval.EvalResult;
import io.robustok.eval.EvalResultsWriter;
import io.robustok.eval.EvalSettings;
import io.robustok.eval.FeatureExtractor;
import io.robustok.eval.FeatureExtractorSpec;
import io.robustok.eval.FidCommand;
import io.robustok.eval.FidEvaluator;
import io.robustok.eval.Images;
import io.robustok.eval.NpzWriter;
import io.robustok.eval.Reference;
import io.robustok.generator.GeneratorConfig;
import io.robustok.generator.SamplingConfig;
import io.robustok.jobs.ImageData;
import io.robustok.jobs.ImageGrid;
import io.robustok.jobs.ModelArtifact;
import io.robustok.jobs.TokenizerCache;
import io.robustok.jobs.eval.DistributedEval.ImageBatch;
import io.robustok.report.Chart;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.Tokenizer;
import io.robustok.tokenizer.TokenizerConfig;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * eval: the paper's evaluation (SPEC sections 4 and 7) over the committed tokenizer and generator, written to
 * {@code run.out/eval} as one JSON per evaluation (rfid.json, pfid.json, codebook.json, gfid.json) and
 * summary.json. Images are produced and featurized in Spark partitions ({@link DistributedEval}); the driver
 * merges the partial statistics.
 *
 * <ul>
 *   <li>real reference: the val split (eval transform), computed once per feature network and data set and
 *       cached under {@code run.out/eval.cache}; {@code eval.reference} replaces it for gFID (ADM's batch);</li>
 *   <li>rFID: val images encoded and decoded; codebook usage / entropy / perplexity of their tokens;</li>
 *   <li>pFID: val images with every token perturbed (beta = 1) at each alpha of {@code eval.pfid.alphas},
 *       delta capped at the codebook size, seeded per batch from {@code eval.pfid.seed};</li>
 *   <li>gFID / IS / precision / recall, when a complete generator output exists: {@code eval.num-samples}
 *       (equal per class) sampled at the generator's guidance and at guidance 1, decoded, saved as ADM sample
 *       batches (uint8 NHWC .npz) with a PNG grid.</li>
 *   <li>after post-training (a complete {@code run.out/posttrain}), every decoder-dependent metric again with the
 *       post-trained decoder on the same inputs: the same val tokens, the same perturbed tokens, the same generated
 *       token sequences (files {@code *-posttrain.json}, summary key {@code posttrain}, grids
 *       {@code before-after-g*.png} of the same tokens decoded by both decoders, per class).</li>
 * </ul>
 *
 * <p>Forms: {@code eval} (all that apply; skipped when complete), {@code eval rfid|pfid|gfid} (one part, other
 * results of an earlier run are kept), {@code eval fid --ref A.npz --samples B.npz} (two files, no Spark).
 */
public final class EvalStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(EvalStage.class);
    public static final String NAME = "eval";
    public static final String OUT = "eval";
    static final List<String> PARTS = List.of("rfid", "pfid", "gfid");
    /** File-name and tag suffix of the post-trained decoder's results. */
    static final String POST = "-posttrain";
    private static final String USAGE = "usage: eval [rfid | pfid | gfid | fid --ref A.npz --samples B.npz [--out f.json] [--save-stats S.npz]]";

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "rFID, pFID curve, codebook usage, gFID/IS/precision/recall (run.out/eval); 'eval fid --ref A --samples B'";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        return List.of(c.getString("run.out") + "/" + OUT);
    }

    @Override
    public List<String> after() {
        return List.of("prep", "train-tokenizer", "train-generator", "train-features");
    }

    @Override
    public List<String> configPaths() {
        return List.of("eval", "generator.sampling");
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        EvalSettings es = EvalSettings.from(ctx.settings());
        List<String> args = ctx.args();
        if (!args.isEmpty() && args.get(0).equals("fid")) {
            try {
                FidCommand.run(args.subList(1, args.size()), es, System.out);
            } catch (IllegalArgumentException | java.io.IOException e) {
                if (e instanceof io.robustok.config.InputError ie) throw ie;
                throw new UserError(e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(""), e);
            }
            return;
        }
        Set<String> parts = new LinkedHashSet<>(PARTS);
        if (!args.isEmpty()) {
            if (args.size() > 1 || !PARTS.contains(args.get(0))) throw new UserError(USAGE);
            parts = Set.of(args.get(0));
        }
        String outDir = ctx.path(OUT);
        if (args.isEmpty() && StageOutput.isComplete(outDir) && !ctx.force()) {
            log.info("{}: {} is complete, skipping (--force redoes it)", NAME, outDir);
            return;
        }
        String genDir = ctx.path("generator");
        if (!StageOutput.isComplete(genDir)) {
            if (args.isEmpty()) {
                log.info("{}: no complete generator output at {}: gFID / IS / precision / recall skipped", NAME, genDir);
                parts.remove("gfid");
            } else if (parts.contains("gfid")) {
                throw new UserError("no complete train-generator output at " + genDir + ": run 'robustok train-generator' first");
            }
        }

        FeatureExtractorSpec spec = extractorSpec(es);
        String extractorLabel;
        try (FeatureExtractor fx = spec.open()) {
            extractorLabel = fx.label();
        }
        StageOutput out = StageOutput.begin(outDir);
        try {
            Path tmp = Path.of(new URI(out.tmp()));
            if (!args.isEmpty() && StageOutput.isComplete(outDir)) keepEarlier(Path.of(new URI(StageOutput.qualify(outDir))), tmp);
            Map<String, Object> summary = new LinkedHashMap<>();
            Map<String, Object> prov = evaluate(ctx, es, spec, extractorLabel, parts, tmp, summary);
            Path sumFile = tmp.resolve("summary.json");
            if (Files.isRegularFile(sumFile)) {
                @SuppressWarnings("unchecked")
                Map<String, Object> old = new com.fasterxml.jackson.databind.ObjectMapper().readValue(sumFile.toFile(), Map.class);
                if (old.get("posttrain") instanceof Map<?, ?> op && summary.get("posttrain") instanceof Map<?, ?> np) {
                    Map<Object, Object> merged = new LinkedHashMap<>(op);
                    merged.putAll(np);
                    summary.put("posttrain", merged);
                }
                old.putAll(summary);
                summary = old;
            }
            Files.writeString(sumFile, new com.fasterxml.jackson.databind.ObjectMapper()
                    .writerWithDefaultPrettyPrinter().writeValueAsString(summary) + "\n");
            out.commit(NAME, ctx.settings(), prov);
            log.info("{}: {}", NAME, StageOutput.toJsonLine(summary));
        } catch (Exception ex) {
            out.abort();
            throw ex;
        }
    }

    /** The configured feature network, which must exist (train-features makes the demo one). */
    static FeatureExtractorSpec extractorSpec(EvalSettings es) {
        if (es.featureExtractor().equals("inception")) {
            TrainFeaturesStage.checkInceptionGraph(es);
        } else if (es.featureExtractor().equals("demo")) {
            Path model = DemoFeatureNet.modelPath(es.featureNetDir());
            if (!Files.isRegularFile(model)) {
                throw new UserError("no demo feature network at " + model + " (eval.feature-net.dir): run 'robustok train-features' first");
            }
        }
        return es.extractorSpec();
    }

    /** A partial run (one part) keeps the other results of the complete output it replaces. */
    private static void keepEarlier(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String n = f.getFileName().toString();
                if (Files.isRegularFile(f) && !n.startsWith("_") && !n.startsWith(".")) Files.copy(f, to.resolve(n));
            }
        }
    }

    private Map<String, Object> evaluate(StageContext ctx, EvalSettings es, FeatureExtractorSpec spec, String extractorLabel,
                                         Set<String> parts, Path out, Map<String, Object> summary) throws Exception {
        var c = ctx.settings().config();
        String tokDir = ctx.path("tokenizer");
        ModelArtifact tok = ModelArtifact.load(tokDir, "train-tokenizer");
        TokenizerConfig tcfg = TokenizerConfig.from(tok.settings().at("tokenizer"));
        int size = tcfg.imageSize();
        int delta = Math.min(es.pfidDelta(), tcfg.codebookSize());
        int valLimit = c.getInt("eval.val-images");
        ImageData data = ImageData.of(ctx);

        // after post-training, every decoder-dependent metric is computed for both decoders on the same inputs
        String postDir = StageOutput.qualify(ctx.path("posttrain"));
        boolean post = StageOutput.isComplete(postDir);
        Map<String, Object> postSummary = new LinkedHashMap<>();
        Map<String, Object> prov = new LinkedHashMap<>();
        prov.put("feature_extractor", extractorLabel);
        prov.put("data", data.provenance());
        prov.put("tokenizer", Map.of("path", tokDir, "provenance", StageOutput.readProvenance(tokDir)));
        Map<String, String> common = new LinkedHashMap<>();
        common.put("feature_extractor", extractorLabel);
        common.put("config_sha256", ctx.settings().hash());
        common.put("data", data.dir());
        common.put("tokenizer", tokDir);
        common.put("tokenizer_provenance", StageOutput.toJsonLine(StageOutput.readProvenance(tokDir)));

        // real reference: cached per data set, split size, image size and feature network
        Path cacheDir = Path.of(ctx.path(OUT + ".cache"));
        String key = sha12(data.dir() + "|" + StageOutput.toJsonLine(StageOutput.readProvenance(data.dir())) + "|" + valLimit
                + "|" + size + "|" + extractorLabel + "|" + es.precisionRecall() + "|" + es.prMaxSamples());
        Path refFile = cacheDir.resolve("real-val-" + key + ".npz");
        Reference real = Files.isRegularFile(refFile) ? Reference.load(refFile, null, es.precisionRecall(), es.batchSize()) : null;

        boolean recon = parts.contains("rfid") || parts.contains("pfid");
        // the val pass: reconstructions, and the real reference when it is not cached (gFID against ADM's
        // reference batch alone does not need it)
        if (recon || (real == null && es.reference().isBlank())) {
            boolean doR = parts.contains("rfid"), doP = parts.contains("pfid");
            List<Double> alphas = doP ? es.pfidAlphas() : List.of();
            int batch = es.batchSize();
            long pSeed = es.pfidSeed();
            boolean needReal = real == null;
            int maxDelta = doP ? delta : 1;
            JavaRDD<Tuple2<ImageRecord, Long>> val = data.split("val", valLimit).zipWithIndex().map(t -> t);
            String postTok = post && recon ? postDir : null;
            JavaRDD<Tagged> tagged = val.mapPartitions(it -> valPass(it, size, batch, recon ? tokDir : null, postTok, maxDelta,
                    needReal, doR, alphas, delta, pSeed, doR ? tcfg.codebookSize() : 0)).persist(StorageLevel.MEMORY_AND_DISK());
            try {
                if (needReal) {
                    EvalPartial p = DistributedEval.evaluate(batches(tagged, "real"), spec, es, 2);
                    real = Reference.of("val split of " + data.dir() + " (" + p.count() + " images, eval transform)", p);
                    Files.createDirectories(cacheDir);
                    real.save(refFile);
                    log.info("{}: real reference of {} val images cached at {}", NAME, p.count(), refFile);
                }
                if (doR) {
                    EvalResult r = FidEvaluator.result(DistributedEval.evaluate(batches(tagged, "rfid"), spec, es, 2), real, es);
                    EvalResultsWriter w = writer(common, real).result("r", r, Map.of("images", "val split, encode -> decode"));
                    w.write(out.resolve("rfid.json"));
                    summary.put("rfid", r.fid());
                    summary.put("val_images", r.samples());
                    log.info("{}: rFID {} over {} val images ({})", NAME, fmt(r.fid()), r.samples(), extractorLabel);

                    CodebookStats cb = tagged.filter(t -> t.stats != null).map(t -> t.stats).reduce(CodebookStats::merge);
                    Map<String, Object> extras = Map.of("codebook_size", cb.codebookSize(), "codes_used", cb.used(),
                            "tokens", cb.total(), "entropy_bits", cb.entropyBits());
                    EvalResultsWriter cw = new EvalResultsWriter()
                            .metric("codebook_usage", cb.usage(), "none", r.samples(), extras)
                            .metric("codebook_perplexity", cb.perplexity(), "none", r.samples(), extras)
                            .metric("codebook_entropy", cb.entropy(), "none", r.samples(), extras);
                    common.forEach(cw::provenance);
                    cw.write(out.resolve("codebook.json"));
                    summary.put("codebook_usage", cb.usage());
                    summary.put("codebook_perplexity", cb.perplexity());
                    log.info("{}: codebook usage {} perplexity {} entropy {} bits", NAME, fmt(cb.usage()), fmt(cb.perplexity()),
                            fmt(cb.entropyBits()));
                    if (postTok != null) {
                        EvalResult pr = FidEvaluator.result(DistributedEval.evaluate(batches(tagged, "rfid" + POST), spec, es, 2), real, es);
                        writer(postCommon(common, postDir), real).result("r", pr, Map.of("images", "val split, encode -> decode (post-trained decoder)"))
                                .write(out.resolve("rfid" + POST + ".json"));
                        postSummary.put("rfid", pr.fid());
                        // post-training leaves encoder and codebook bitwise unchanged: the same tokens, the same figures
                        postSummary.put("codebook_usage", cb.usage());
                        postSummary.put("codebook_perplexity", cb.perplexity());
                        log.info("{}: rFID {} with the post-trained decoder (before: {})", NAME, fmt(pr.fid()), fmt(r.fid()));
                    }
                }
                if (doP) {
                    EvalResultsWriter w = writer(common, real).seed("pfid", pSeed);
                    Map<String, Object> curve = new LinkedHashMap<>();
                    for (int i = 0; i < alphas.size(); i++) {
                        double a = alphas.get(i);
                        EvalResult r = FidEvaluator.result(DistributedEval.evaluate(batches(tagged, "pfid" + i), spec, es, 2), real, es);
                        Map<String, Object> params = new LinkedHashMap<>();
                        params.put("alpha", a);
                        params.put("delta", delta);
                        params.put("beta", 1.0);
                        params.put("seed", pSeed);
                        w.result("p", r, params);
                        curve.put(String.valueOf(a), r.fid());
                        log.info("{}: pFID {} at alpha {} delta {} over {} val images", NAME, fmt(r.fid()), a, delta, r.samples());
                    }
                    w.write(out.resolve("pfid.json"));
                    summary.put("pfid", curve);
                    summary.put("pfid_delta", delta);
                    if (postTok != null) {
                        EvalResultsWriter pw = writer(postCommon(common, postDir), real).seed("pfid", pSeed);
                        Map<String, Object> pcurve = new LinkedHashMap<>();
                        for (int i = 0; i < alphas.size(); i++) {
                            double a = alphas.get(i);
                            EvalResult r = FidEvaluator.result(DistributedEval.evaluate(batches(tagged, "pfid" + POST + i), spec, es, 2), real, es);
                            pw.result("p", r, Map.of("alpha", a, "delta", delta, "beta", 1.0, "seed", pSeed));
                            pcurve.put(String.valueOf(a), r.fid());
                            log.info("{}: pFID {} at alpha {} with the post-trained decoder (before: {})", NAME, fmt(r.fid()), a,
                                    fmt(((Number) curve.get(String.valueOf(a))).doubleValue()));
                        }
                        pw.write(out.resolve("pfid" + POST + ".json"));
                        postSummary.put("pfid", pcurve);
                    }
                    Chart chart = pfidChart(alphas, curve, summary.get("rfid"), (Map<?, ?>) postSummary.get("pfid"),
                            postSummary.get("rfid"), delta, extractorLabel);
                    if (!chart.isEmpty()) Files.write(out.resolve("pfid-curve.png"), chart.png(640, 400));
                }
            } finally {
                tagged.unpersist();
            }
        }
        prov.put("reference_val", refFile.toString());

        if (parts.contains("gfid")) {
            Reference gRef = real;
            if (!es.reference().isBlank()) {
                try (FeatureExtractor fx = spec.open()) {
                    gRef = Reference.load(Path.of(es.reference()), new FidEvaluator(fx, es), es.precisionRecall(), es.batchSize());
                }
            }
            List<GenerationEval.Decoder> decoders = new ArrayList<>(List.of(new GenerationEval.Decoder(tokDir, "")));
            if (post) decoders.add(new GenerationEval.Decoder(postDir, POST));
            Map<String, Map<String, Object>> g = GenerationEval.run(ctx, es, spec, decoders, gRef, out, common);
            summary.putAll(g.get(""));
            if (post) postSummary.putAll(g.get(POST));
            String genDir = ctx.path("generator");
            Map<String, Object> steps = snapshotGfid(ctx, es, spec, genDir, tokDir, gRef, out, common, g.get(""));
            if (!steps.isEmpty()) summary.put("generator_steps", steps);
            prov.put("generator", Map.of("path", genDir, "provenance", StageOutput.readProvenance(genDir)));
        }
        if (post && !postSummary.isEmpty()) {
            summary.put("posttrain", postSummary);
            prov.put("posttrain", Map.of("path", postDir, "provenance", StageOutput.readProvenance(postDir)));
        }
        return prov;
    }

    /**
     * gFID / IS / precision / recall at the generator's guidance of each snapshot the generator kept
     * (generator.stage.snapshots), decoded by the main tokenizer, with the committed generator's own figures as the
     * last point: step -> {fraction, gfid, is, precision, recall}. Files {@code gfid-at-<f>.json} and samples.
     */
    static Map<String, Object> snapshotGfid(StageContext ctx, EvalSettings es, FeatureExtractorSpec spec, String genDir, String tokDir,
                                            Reference ref, Path out, Map<String, String> common, Map<String, Object> finalSummary)
            throws Exception {
        Map<String, Object> prov = StageOutput.readProvenance(genDir);
        Map<String, Object> steps = new LinkedHashMap<>();
        if (!(prov.get("snapshots") instanceof List<?> snaps) || snaps.isEmpty()) return steps;
        for (Object o : snaps) {
            Map<?, ?> sp = (Map<?, ?>) o;
            double f = ((Number) sp.get("fraction")).doubleValue();
            String name = io.robustok.jobs.generator.TrainGeneratorStage.snapshotName(f);
            String dir = genDir + "/snapshots/" + name;
            String step = String.valueOf(((Number) sp.get("global_step")).longValue());
            // two fractions that fell in one averaging round kept the same weights
            if (steps.containsKey(step)) continue;
            Map<String, Map<String, Object>> r = GenerationEval.run(ctx, es, spec, dir, false,
                    List.of(new GenerationEval.Decoder(tokDir, "-" + name)), ref, out, common);
            Map<String, Object> point = new LinkedHashMap<>();
            point.put("fraction", f);
            point.putAll(onlyGuidance((Map<?, ?>) r.get("-" + name).get("gfid")));
            steps.put(step, point);
        }
        Map<String, Object> last = new LinkedHashMap<>();
        last.put("fraction", 1.0);
        last.putAll(onlyGuidance((Map<?, ?>) finalSummary.get("gfid")));
        steps.put(String.valueOf(((Number) prov.get("global_step")).longValue()), last);
        return steps;
    }

    /** The metrics at the first guidance of a gfid summary ({guidance -> metrics}): the generator's own guidance. */
    private static Map<String, Object> onlyGuidance(Map<?, ?> byGuidance) {
        Map<String, Object> m = new LinkedHashMap<>();
        ((Map<?, ?>) byGuidance.values().iterator().next()).forEach((k, v) -> m.put(String.valueOf(k), v));
        return m;
    }

    /** The common provenance with the post-trained tokenizer in place of the main one. */
    static Map<String, String> postCommon(Map<String, String> common, String postDir) {
        Map<String, String> c = new LinkedHashMap<>(common);
        c.put("tokenizer", postDir);
        c.put("tokenizer_provenance", StageOutput.toJsonLine(StageOutput.readProvenance(postDir)));
        return c;
    }

    static EvalResultsWriter writer(Map<String, String> common, Reference ref) {
        EvalResultsWriter w = new EvalResultsWriter();
        common.forEach(w::provenance);
        w.provenance("reference", ref.source());
        w.provenance("reference_count", String.valueOf(ref.count()));
        return w;
    }

    private static JavaRDD<ImageBatch> batches(JavaRDD<Tagged> tagged, String tag) {
        return tagged.filter(t -> tag.equals(t.tag)).map(t -> t.batch);
    }

    /** One item of the val pass: a batch of images of one kind, or a partition's codebook counts. */
    static final class Tagged implements Serializable {
        private static final long serialVersionUID = 1L;
        String tag;
        ImageBatch batch;
        CodebookStats stats;

        Tagged() {
        }

        Tagged(String tag, ImageBatch batch, CodebookStats stats) {
            this.tag = tag;
            this.batch = batch;
            this.stats = stats;
        }
    }

    /**
     * One partition of the val split: real images, reconstructions, perturbed reconstructions per alpha (as uint8
     * batches with global indices) and the codebook counts. pFID's seed of a batch is derived from the seed and the
     * batch's first global index, so the draws depend only on the data, not on the executor.
     */
    static Iterator<Tagged> valPass(Iterator<Tuple2<ImageRecord, Long>> it, int size, int batch, String tokDir, String postDir,
                                   int maxDelta, boolean real, boolean recon, List<Double> alphas, int delta, long seed, int codebook) {
        List<Tagged> out = new ArrayList<>();
        CodebookStats stats = codebook > 0 ? new CodebookStats(codebook) : null;
        Tokenizer tok = tokDir == null ? null : TokenizerCache.get(tokDir, maxDelta);
        Tokenizer postTok = postDir == null ? null : TokenizerCache.get(postDir, maxDelta);
        try (ImageBatcher batcher = ImageBatcher.eval(size)) {
            while (it.hasNext()) {
                List<ImageRecord> buf = new ArrayList<>(batch);
                long first = -1;
                while (it.hasNext() && buf.size() < batch) {
                    Tuple2<ImageRecord, Long> t = it.next();
                    if (buf.isEmpty()) first = t._2();
                    buf.add(t._1());
                }
                INDArray x = batcher.batch(buf, 0).images();
                if (real) out.add(new Tagged("real", toBatch(first, x), null));
                if (tok == null) continue;
                if (recon) {
                    INDArray ids = tok.encode(x);
                    stats.update(ids.castTo(DataType.INT).dup().data().asInt());
                    out.add(new Tagged("rfid", toBatch(first, tok.decode(ids)), null));
                    if (postTok != null) out.add(new Tagged("rfid" + POST, toBatch(first, postTok.decode(ids)), null));
                }
                for (int i = 0; i < alphas.size(); i++) {
                    INDArray p = tok.decodePerturbed(x, alphas.get(i), delta, seed * 1_000_003L + first);
                    out.add(new Tagged("pfid" + i, toBatch(first, p), null));
                    // the same encoder, seed and draws: the same perturbed tokens, decoded by the post-trained decoder
                    if (postTok != null) {
                        out.add(new Tagged("pfid" + POST + i, toBatch(first, postTok.decodePerturbed(x, alphas.get(i), delta,
                                seed * 1_000_003L + first)), null));
                    }
                }
            }
        }
        if (stats != null) out.add(new Tagged("codebook", null, stats));
        return out.iterator();
    }

    static ImageBatch toBatch(long first, INDArray images) {
        return new ImageBatch(first, (int) images.size(0), (int) images.size(2), (int) images.size(3), Images.toUint8Bytes(images));
    }

    /** pFID against alpha as a small line chart (the SPEC section 4 curve). */
    /**
     * The pFID curve over alpha, starting from rFID at alpha 0 when it was measured, with the post-trained decoder's
     * curve beside it when post-training ran.
     */
    static Chart pfidChart(List<Double> alphas, Map<?, ?> curve, Object rfid, Map<?, ?> postCurve, Object postRfid,
                           int delta, String extractor) {
        Chart c = Chart.line("pFID over alpha (delta " + delta + ", " + extractor
                + (rfid instanceof Number ? "; alpha 0 = rFID)" : ")"), "alpha (perturbation rate)", "FID");
        c.series("pFID", curveX(alphas, rfid), curveY(alphas, curve, rfid));
        if (postCurve != null) {
            c.series("pFID, post-trained decoder", curveX(alphas, postRfid), curveY(alphas, postCurve, postRfid));
        }
        return c;
    }

    private static double[] curveX(List<Double> alphas, Object rfid) {
        return Stream.concat(rfid instanceof Number ? Stream.of(0.0) : Stream.empty(), alphas.stream())
                .mapToDouble(Double::doubleValue).toArray();
    }

    private static double[] curveY(List<Double> alphas, Map<?, ?> curve, Object rfid) {
        return Stream.concat(rfid instanceof Number n ? Stream.of(n) : Stream.empty(),
                        alphas.stream().map(a -> (Number) curve.get(String.valueOf(a))))
                .mapToDouble(v -> v == null ? Double.NaN : v.doubleValue()).toArray();
    }

    static String sha12(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8))).substring(0, 12);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String fmt(double v) {
        return String.format("%.4f", v);
    }

    /** Streams uint8 NHWC batches (sorted by index) into an ADM sample batch: arr_0 [N, H, W, 3] uint8, arr_1 labels. */
    static void writeSampleNpz(Path file, Iterator<ImageBatch> sorted, long n, int h, int w, long[] labels) throws IOException {
        try (NpzWriter z = new NpzWriter(file)) {
            try (OutputStream o = z.begin("arr_0", "|u1", n, h, w, 3)) {
                while (sorted.hasNext()) o.write(sorted.next().pixels());
            }
            z.write("arr_1", labels, labels.length);
        }
    }

    static byte[] grid(INDArray images, int cols) {
        return ImageGrid.tiled(images, cols, 2);
    }

    static SamplingConfig withGuidance(SamplingConfig s, double g) {
        return new SamplingConfig(s.temperature(), g, s.guidancePower());
    }

    static GeneratorConfig generatorConfig(ModelArtifact a) {
        return GeneratorConfig.from(a.settings().config());
    }
}
