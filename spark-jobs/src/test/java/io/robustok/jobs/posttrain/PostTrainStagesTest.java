package io.robustok.jobs.posttrain;

import io.robustok.cli.Main;
import io.robustok.config.Settings;
import io.robustok.generator.GeneratorConfig;
import io.robustok.generator.Rar;
import io.robustok.jobs.ModelArtifact;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.TokenizerConfig;
import io.robustok.tokenizer.TokenizerTask;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * pair-tokens and post-train through the CLI on a tiny prep output, an untrained tiny tokenizer (tokenized by the
 * tokenize stage) and an untrained tiny generator: the pairs do not depend on the number of workers, sigma = 1 gives
 * the true tokens, bad values and mismatched inputs fail with one line and write nothing; post-training changes the
 * decoder only, and a run resumed from its checkpoint ends with the weights of one that never stopped.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PostTrainStagesTest {
    @TempDir
    static Path tmp;
    static Path run;
    static List<String> common;
    static String lastError = "";

    @BeforeAll
    static void fixture() throws Exception {
        Path folder = tmp.resolve("imagefolder");
        Random rnd = new Random(4);
        for (String split : List.of("train", "val")) {
            for (int c = 0; c < 2; c++) {
                Path d = folder.resolve(split).resolve("n0000000" + c);
                Files.createDirectories(d);
                for (int i = 0; i < (split.equals("train") ? 20 : 6); i++) {
                    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
                    for (int y = 0; y < 28; y++) {
                        for (int x = 0; x < 28; x++) {
                            int v = Math.min(255, (c == 0 ? x * 9 : y * 9) + rnd.nextInt(40));
                            img.setRGB(x, y, (v << 16) | ((255 - v) << 8) | (v / 2));
                        }
                    }
                    ImageIO.write(img, "png", d.resolve("n0000000" + c + "_" + i + ".png").toFile());
                }
            }
        }
        run = tmp.resolve("run");
        common = List.of("--conf", "../conf/demo.conf", "run.out=" + run, "data.imagefolder=" + folder, "prep.class-names=\"\"",
                "tokenizer.codebook-size=64", "tokenizer.perturb.delta-max=32", "tokenizer.model.width=32", "tokenizer.model.encoder-depth=1",
                "tokenizer.model.decoder-depth=1", "tokenizer.model.heads=2", "tokenizer.disc.channels=8",
                "generator.model.width=32", "generator.model.depth=1", "generator.model.heads=2", "generator.num-classes=2", "spark.workers=2",
                "posttrain.pairs=24", "posttrain.pair-batch=5", "posttrain.batch-size=4", "posttrain.optimizer.lr=2e-3",
                "posttrain.optimizer.disc-lr=2e-3", "posttrain.trainer.epochs=2", "posttrain.trainer.averaging-frequency=1",
                "posttrain.trainer.ema-decay=0.5", "posttrain.trainer.checkpoint-every=1", "posttrain.stage.val-images=8");
        assertEquals(0, run("prep"), "prep");

        Settings s = Settings.load(new java.io.File("../conf/demo.conf"), overrides());
        TokenizerConfig cfg = TokenizerConfig.from(s.at("tokenizer"));
        StageOutput out = StageOutput.begin(run.resolve("tokenizer").toString());
        ModelArtifact.writeWeights(out, new TokenizerTask<Object>(cfg, 1.0, null).init().params(), Map.of("kind", "test"));
        out.commit("train-tokenizer", s, Map.of("global_step", 0));
        assertEquals(0, run("tokenize"), "tokenize");
        commitGenerator(s, "generator", 7);
    }

    static void commitGenerator(Settings s, String dir, long seed) {
        GeneratorConfig gc = GeneratorConfig.from(s.config());
        // random (not adaLN-zero) weights: an untrained generator that still prefers some tokens
        Map<String, INDArray> w = Rar.init(gc.model(), seed);
        Random r = new Random(seed);
        w.replaceAll((k, v) -> v.add(org.nd4j.linalg.factory.Nd4j.randn(r.nextLong(), v.shape()).castTo(v.dataType()).muli(0.2)));
        StageOutput go = StageOutput.begin(run.resolve(dir).toString());
        ModelArtifact.writeWeights(go, w, Map.of("kind", "test"));
        go.commit("train-generator", s, Map.of("global_step", seed));
    }

    static List<String> overrides() {
        List<String> o = new ArrayList<>();
        for (String a : common) if (a.contains("=") && !a.startsWith("--")) o.add(a);
        return o;
    }

    static int run(String stage, String... extra) {
        List<String> args = new ArrayList<>(List.of(stage));
        args.addAll(common);
        args.addAll(List.of(extra));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(args.toArray(new String[0]), System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        lastError = err.toString(StandardCharsets.UTF_8);
        if (rc != 0) System.err.println(lastError);
        return rc;
    }

    /** key -> "label|tokens|mixed|seed|kept" of the committed pairs. */
    static Map<String, String> pairs() {
        Map<String, String> m = new TreeMap<>();
        for (Row r : SparkSession.active().read().parquet(run.resolve("pairs").resolve("pairs").toString()).collectAsList()) {
            m.put(r.getString(0), r.getInt(1) + "|" + r.getList(2) + "|" + r.getList(3) + "|" + r.getLong(4) + "|" + r.getInt(5));
        }
        return m;
    }

    @Test
    @Order(1)
    void pairsAreTheSameWithOneAndTwoWorkersAndSigmaOneKeepsTheTruth() {
        assertEquals(0, run("pair-tokens", "spark.workers=1"));
        Map<String, String> one = pairs();
        assertEquals(24, one.size());
        assertEquals(0, run("pair-tokens", "--force", "spark.workers=2"));
        Map<String, String> two = pairs();
        assertEquals(one, two, "same seed, same pairs with 1 and 2 workers");
        int differ = 0;
        for (Row r : SparkSession.active().read().parquet(run.resolve("pairs").resolve("pairs").toString()).collectAsList()) {
            if (!r.getList(2).equals(r.getList(3))) differ++;
        }
        assertTrue(differ > 0, "sigma 0.7 replaces some tokens");

        assertEquals(0, run("pair-tokens", "--force", "posttrain.sigma=1"));
        for (Row r : SparkSession.active().read().parquet(run.resolve("pairs").resolve("pairs").toString()).collectAsList()) {
            assertEquals(r.getList(2), r.getList(3), "sigma 1: the true tokens");
            assertEquals(r.getList(2).size(), r.getInt(5));
        }
        // another seed picks other rows or draws
        assertEquals(0, run("pair-tokens", "--force", "posttrain.seed=5"));
        assertNotEquals(one, pairs());
        assertEquals(0, run("pair-tokens", "--force"));
        assertEquals(one, pairs());
        assertEquals(0, run("pair-tokens"), "a complete output is skipped");
    }

    @Test
    @Order(2)
    void badValuesAndMissingInputsFailWithOneLineAndWriteNothing() throws Exception {
        String before = Files.readString(run.resolve("pairs").resolve(StageOutput.COMPLETE));
        assertNotEquals(0, run("pair-tokens", "--force", "posttrain.sigma=1.5"));
        assertTrue(lastError.contains("posttrain.sigma"), lastError);
        assertNotEquals(0, run("pair-tokens", "--force", "posttrain.pairs=41"));
        assertTrue(lastError.contains("posttrain.pairs") && lastError.contains("40"), lastError);
        assertNotEquals(0, run("pair-tokens", "--force", "posttrain.pairs=7"));
        assertTrue(lastError.contains("posttrain.pairs") && lastError.contains("posttrain.batch-size"), lastError);
        assertEquals(before, Files.readString(run.resolve("pairs").resolve(StageOutput.COMPLETE)), "nothing written");

        Path elsewhere = tmp.resolve("empty");
        assertNotEquals(0, run("pair-tokens", "run.out=" + elsewhere, "data.parquet=" + run.resolve("data")));
        assertTrue(lastError.contains("tokenize"), lastError);
        assertNotEquals(0, run("post-train", "run.out=" + elsewhere, "data.parquet=" + run.resolve("data")));
        assertTrue(lastError.contains("train-tokenizer"), lastError);
        assertFalse(Files.exists(elsewhere.resolve("posttrain")));
    }

    @Test
    @Order(3)
    void pairsOfAnotherGeneratorAreRefused() throws Exception {
        commitGenerator(Settings.load(new java.io.File("../conf/demo.conf"), overrides()), "generator-other", 8);
        Path gen = run.resolve("generator"), other = run.resolve("generator-other"), saved = run.resolve("generator-saved");
        Files.move(gen, saved);
        Files.move(other, gen);
        try {
            assertNotEquals(0, run("post-train"));
            assertTrue(lastError.contains("pair-tokens") && lastError.contains(gen.toString()), lastError);
            assertEquals(1, lastError.strip().lines().count(), lastError);
            assertFalse(Files.exists(run.resolve("posttrain")), "nothing written");
        } finally {
            Files.move(gen, other);
            Files.move(saved, gen);
        }
    }

    @Test
    @Order(4)
    void postTrainChangesTheDecoderOnlyAndResumesExactly() throws Exception {
        assertEquals(0, run("post-train"));
        Map<String, INDArray> tok = ModelArtifact.load(run.resolve("tokenizer").toString(), "train-tokenizer").weights();
        Map<String, INDArray> post = ModelArtifact.load(run.resolve("posttrain").toString(), "train-tokenizer").weights();
        assertEquals(tok.keySet(), post.keySet());
        boolean decoderMoved = false;
        for (String k : tok.keySet()) {
            if (k.startsWith("decoder/")) decoderMoved |= !tok.get(k).equals(post.get(k));
            else assertTrue(bitwise(tok.get(k), post.get(k)), "bitwise identical: " + k);
        }
        assertTrue(decoderMoved, "the decoder is post-trained");
        assertTrue(StageOutput.readProvenance(run.resolve("posttrain").toString()).get("pairs_id") != null);
        assertTrue(Files.isRegularFile(run.resolve("posttrain").resolve("pairs-grid.png")));

        // stop after 3 rounds, then resume: the same weights as the run that never stopped
        deleteTree(run.resolve("posttrain"));
        deleteTree(run.resolve("posttrain.train"));
        assertEquals(0, run("post-train", "posttrain.trainer.stop-after-rounds=3"));
        assertFalse(StageOutput.isComplete(run.resolve("posttrain").toString()), "stopped early: nothing committed");
        assertEquals(0, run("post-train"));
        Map<String, INDArray> resumed = ModelArtifact.load(run.resolve("posttrain").toString(), "train-tokenizer").weights();
        for (String k : post.keySet()) assertTrue(bitwise(post.get(k), resumed.get(k)), "resumed run ends with the same " + k);
    }

    @Test
    @Order(5)
    void evalReportsBothDecodersSideBySide() throws Exception {
        // an untrained demo feature network where train-features puts it
        org.deeplearning4j.nn.graph.ComputationGraph net =
                new org.deeplearning4j.nn.graph.ComputationGraph(io.robustok.eval.DemoFeatureNet.configuration(5, 1e-3));
        net.init();
        Path model = io.robustok.eval.DemoFeatureNet.modelPath(run.resolve("features").toString());
        Files.createDirectories(model.getParent());
        org.deeplearning4j.util.ModelSerializer.writeModel(net, model.toFile(), false);

        assertEquals(0, run("eval", "eval.num-samples=8", "eval.batch-size=4", "eval.is-split-size=4", "eval.pr-k=2",
                "eval.pfid.alphas=[0.5]"));
        Path eval = run.resolve("eval");
        for (String f : List.of("rfid-posttrain.json", "pfid-posttrain.json", "gfid-posttrain.json", "before-after-g2.0.png",
                "samples-posttrain-g1.0.npz")) {
            assertTrue(Files.isRegularFile(eval.resolve(f)), f);
        }
        var summary = new com.fasterxml.jackson.databind.ObjectMapper().readTree(eval.resolve("summary.json").toFile());
        var post = summary.get("posttrain");
        assertNotEquals(summary.get("rfid").asDouble(), post.get("rfid").asDouble(), "another decoder, another rFID");
        assertEquals(summary.get("codebook_usage").asDouble(), post.get("codebook_usage").asDouble(), 0.0, "same encoder");
        for (String g : List.of("2.0", "1.0")) assertTrue(post.get("gfid").get(g).get("gfid").asDouble() > 0, g);
        assertTrue(post.get("pfid").has("0.5"));
        var gm = new com.fasterxml.jackson.databind.ObjectMapper().readTree(eval.resolve("gfid-posttrain.json").toFile());
        assertTrue(gm.get("provenance").get("tokenizer").asText().contains("/posttrain"), gm.get("provenance").toString());

        assertEquals(0, run("report"));
        String report = Files.readString(run.resolve("report").resolve("report.md"));
        assertTrue(report.contains("Post-training: before and after") && report.contains("| rFID |") && report.contains("gFID guidance 2.0"),
                report);
    }

    static void deleteTree(Path p) throws java.io.IOException {
        if (!Files.exists(p)) return;
        try (var files = Files.walk(p)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    static boolean bitwise(INDArray a, INDArray b) {
        return java.util.Arrays.equals(a.shape(), b.shape())
                && java.util.Arrays.equals(a.dup('c').data().asBytes(), b.dup('c').data().asBytes());
    }
}
