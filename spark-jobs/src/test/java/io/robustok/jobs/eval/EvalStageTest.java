package io.robustok.jobs.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.cli.Main;
import io.robustok.config.Settings;
import io.robustok.eval.DemoFeatureNet;
import io.robustok.eval.Npz;
import io.robustok.generator.GeneratorConfig;
import io.robustok.generator.Rar;
import io.robustok.jobs.ModelArtifact;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.TokenizerConfig;
import io.robustok.tokenizer.TokenizerTask;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eval stage end to end on a tiny prep output (2 classes, 24 val images), an untrained tiny tokenizer
 * artifact and an untrained demo feature network: it writes rfid/pfid/codebook JSONs labelled with the feature
 * network, pFID is reproducible (same seed, same value) and changes with alpha, and a one-part rerun keeps the
 * other results.
 */
class EvalStageTest {
    @TempDir
    static Path tmp;
    static Path run;
    static List<String> common;
    static int tokensPerImage;

    @BeforeAll
    static void fixture() throws Exception {
        Path folder = tmp.resolve("imagefolder");
        Random rnd = new Random(3);
        for (String split : List.of("train", "val")) {
            for (int c = 0; c < 2; c++) {
                Path d = folder.resolve(split).resolve("n0000000" + c);
                Files.createDirectories(d);
                for (int i = 0; i < 12; i++) {
                    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                    for (int y = 0; y < 28; y++) {
                        for (int x = 0; x < 28; x++) {
                            int v = c == 0 ? (x * 9 + rnd.nextInt(40)) : (y * 9 + rnd.nextInt(40));
                            img.getRaster().setSample(x, y, 0, Math.min(255, v));
                        }
                    }
                    ImageIO.write(img, "png", d.resolve("n0000000" + c + "_" + i + ".png").toFile());
                }
            }
        }
        Files.writeString(folder.resolve("synset_words.txt"), "n00000000 zero\nn00000001 one\n");
        run = tmp.resolve("run");
        common = List.of("--conf", "../conf/demo.conf", "run.out=" + run, "data.imagefolder=" + folder,
                "tokenizer.codebook-size=64", "tokenizer.perturb.delta-max=32", "tokenizer.model.width=32", "tokenizer.model.encoder-depth=1",
                "tokenizer.model.decoder-depth=1", "tokenizer.model.heads=2",
                "eval.batch-size=8", "eval.pfid.alphas=[0.2,1.0]", "eval.pfid.delta=40", "eval.pr-k=2");
        assertEquals(0, run("prep"), "prep");

        // an untrained tiny tokenizer committed as train-tokenizer would
        Settings s = Settings.load(new java.io.File("../conf/demo.conf"), overrides());
        TokenizerConfig cfg = TokenizerConfig.from(s.at("tokenizer"));
        tokensPerImage = cfg.tokens();
        StageOutput out = StageOutput.begin(run.resolve("tokenizer").toString());
        ModelArtifact.writeWeights(out, new TokenizerTask<Object>(cfg, 1.0, null).init().params(), Map.of("kind", "test"));
        out.commit("train-tokenizer", s, Map.of("global_step", 0));

        // an untrained demo feature network where train-features puts it
        ComputationGraph net = new ComputationGraph(DemoFeatureNet.configuration(5, 1e-3));
        net.init();
        Path model = DemoFeatureNet.modelPath(run.resolve("features").toString());
        Files.createDirectories(model.getParent());
        ModelSerializer.writeModel(net, model.toFile(), false);
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
        if (rc != 0) System.err.println(err.toString(StandardCharsets.UTF_8));
        return rc;
    }

    static JsonNode json(Path p) throws Exception {
        return new ObjectMapper().readTree(p.toFile());
    }

    static double[] pfids(JsonNode j) {
        JsonNode m = j.get("metrics");
        List<Double> v = new ArrayList<>();
        for (JsonNode x : m) if (x.get("metric").asText().equals("pfid")) v.add(x.get("value").asDouble());
        return v.stream().mapToDouble(Double::doubleValue).toArray();
    }

    @Test
    void writesResultsReproduciblePfidAndKeepsOtherPartsOnRerun() throws Exception {
        assertEquals(0, run("eval"), "eval");
        Path eval = run.resolve("eval");
        assertTrue(StageOutput.isComplete(eval.toString()));
        for (String f : List.of("rfid.json", "pfid.json", "codebook.json", "summary.json")) assertTrue(Files.isRegularFile(eval.resolve(f)), f);
        assertFalse(Files.exists(eval.resolve("gfid.json")), "no generator output, no gFID");
        BufferedImage curve = ImageIO.read(eval.resolve("pfid-curve.png").toFile());
        assertEquals(640, curve.getWidth(), "the pFID curve, drawn by the report's chart component");

        JsonNode rfid = json(eval.resolve("rfid.json"));
        JsonNode m0 = rfid.get("metrics").get(0);
        assertEquals("rfid", m0.get("metric").asText());
        assertTrue(m0.get("value").asDouble() > 0);
        assertEquals(DemoFeatureNet.NAME, m0.get("feature_extractor").asText());
        assertFalse(m0.get("feature_extractor_checksum").asText().isEmpty());
        assertEquals(24, m0.get("samples").asLong());
        assertTrue(rfid.get("provenance").get("tokenizer_provenance").asText().contains("global_step"));

        double[] p1 = pfids(json(eval.resolve("pfid.json")));
        assertEquals(2, p1.length);
        assertNotEquals(p1[0], p1[1], "pFID changes with alpha");
        JsonNode cb = json(eval.resolve("codebook.json")).get("metrics");
        double usage = cb.get(0).get("value").asDouble();
        assertTrue(usage > 0 && usage <= 1, "usage " + usage);
        assertEquals(24L * tokensPerImage, cb.get(0).get("params").get("tokens").asLong());

        // the real reference was cached; a pFID-only rerun gives the same numbers and keeps rfid/codebook
        try (var files = Files.list(run.resolve("eval.cache"))) {
            assertEquals(1, files.filter(f -> f.toString().endsWith(".npz")).count());
        }
        String rfidBefore = Files.readString(eval.resolve("rfid.json"));
        assertEquals(0, run("eval", "pfid"), "eval pfid");
        double[] p2 = pfids(json(eval.resolve("pfid.json")));
        assertEquals(p1[0], p2[0], 0.0, "same seed, same pFID");
        assertEquals(p1[1], p2[1], 0.0, "same seed, same pFID");
        assertEquals(rfidBefore, Files.readString(eval.resolve("rfid.json")));

        // another seed draws other perturbations
        assertEquals(0, run("eval", "pfid", "eval.pfid.seed=99"));
        assertNotEquals(p1[1], pfids(json(eval.resolve("pfid.json")))[1]);

        // plain eval skips a complete output; gfid without a generator names the stage to run
        assertEquals(0, run("eval"));
        assertEquals(1, run("eval", "gfid"));
        assertEquals(1, run("eval", "bogus"));

        // an untrained tiny generator: gFID at guidance g and 1, ADM sample batches and grids, other results kept
        List<String> gen = List.of("generator.model.width=32", "generator.model.depth=1", "generator.model.heads=2");
        List<String> o = new ArrayList<>(overrides());
        o.addAll(gen);
        Settings s = Settings.load(new java.io.File("../conf/demo.conf"), o);
        GeneratorConfig gc = GeneratorConfig.from(s.config());
        StageOutput go = StageOutput.begin(run.resolve("generator").toString());
        ModelArtifact.writeWeights(go, Rar.init(gc.model(), 7), Map.of("kind", "test"));
        go.commit("train-generator", s, Map.of("global_step", 0));
        assertEquals(0, run("eval", "gfid", "eval.num-samples=20"), "eval gfid");
        double g = gc.sampling().guidance();
        assertNotEquals(1.0, g);
        JsonNode gm = json(eval.resolve("gfid.json"));
        List<Double> guidances = new ArrayList<>();
        for (JsonNode x : gm.get("metrics")) {
            if (!x.get("metric").asText().equals("gfid")) continue;
            guidances.add(x.get("params").get("guidance").asDouble());
            assertEquals(20, x.get("samples").asLong());
            assertTrue(x.get("value").asDouble() > 0);
        }
        assertEquals(List.of(g, 1.0), guidances);
        assertTrue(gm.get("provenance").get("generator_provenance").asText().contains("global_step"));
        for (String tag : List.of("g" + g, "g1.0")) {
            Path npz = eval.resolve("samples-" + tag + ".npz");
            assertTrue(Files.isRegularFile(npz), npz.toString());
            assertTrue(Files.isRegularFile(eval.resolve("samples-" + tag + ".png")));
            try (Npz z = Npz.open(npz)) {
                assertEquals(List.of(20L, 32L, 32L, 3L), java.util.Arrays.stream(z.header("arr_0").shape()).boxed().toList());
                assertEquals("|u1", z.header("arr_0").descr());
            }
        }
        assertEquals(rfidBefore, Files.readString(eval.resolve("rfid.json")));
    }
}
