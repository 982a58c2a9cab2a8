package io.robustok.e2e;

import io.robustok.cli.Main;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole chain through the CLI, as a user runs it: {@code robustok pipeline} on a tiny ImageFolder (10 classes,
 * synthetic images) with tiny models: prep, train-tokenizer, tokenize, train-generator, pair-tokens, post-train,
 * train-features (on a Fashion-MNIST subset from the Debian package), eval and the report. Then a rerun skips every finished stage,
 * and a misspelled key fails before anything is written.
 */
class PipelineEndToEndTest {
    static final List<String> OUTPUTS = List.of("data", "tokenizer", "tokens", "generator", "pairs", "posttrain", "features", "eval");

    @TempDir
    static Path tmp;
    static Path run;
    static List<String> args;

    @BeforeAll
    static void fixture() throws Exception {
        Path folder = tmp.resolve("imagefolder");
        Random rnd = new Random(1);
        StringBuilder words = new StringBuilder();
        for (int c = 0; c < 10; c++) {
            String wnid = String.format("n%08d", c);
            words.append(wnid).append(" class").append(c).append('\n');
            for (String split : List.of("train", "val")) {
                Path d = folder.resolve(split).resolve(wnid);
                Files.createDirectories(d);
                for (int i = 0; i < (split.equals("train") ? 8 : 4); i++) {
                    // class c: a bright bar at a class-specific angle over noise
                    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
                    double a = Math.PI * c / 10;
                    for (int y = 0; y < 28; y++) {
                        for (int x = 0; x < 28; x++) {
                            double dist = Math.abs((x - 14) * Math.sin(a) - (y - 14) * Math.cos(a));
                            int v = Math.min(255, (dist < 3 ? 200 : 20) + rnd.nextInt(40));
                            img.setRGB(x, y, (v << 16) | (v << 8) | (255 - v));
                        }
                    }
                    ImageIO.write(img, "png", d.resolve(wnid + "_" + i + ".png").toFile());
                }
            }
        }
        Files.writeString(folder.resolve("synset_words.txt"), words.toString());
        run = tmp.resolve("run");
        args = List.of("--conf", "../../conf/demo.conf", "run.out=" + run, "data.fashion-mnist=\"\"",
                "data.imagefolder=" + folder, "prep.class-names=" + folder.resolve("synset_words.txt"),
                "tokenizer.codebook-size=64", "tokenizer.model.width=32", "tokenizer.model.encoder-depth=1",
                "tokenizer.model.decoder-depth=1", "tokenizer.model.heads=2", "tokenizer.batch-size=8",
                "tokenizer.stage.train-images=0", "tokenizer.stage.val-images=16", "tokenizer.trainer.epochs=1",
                "tokenizer.loss.gan-start-epoch=0.5",
                "generator.model.width=32", "generator.model.depth=1", "generator.model.heads=2", "generator.batch-size=8",
                "generator.trainer.max-steps=6", "generator.trainer.warmup=2", "generator.stage.val-rows=16",
                "generator.stage.grid-per-class=1",
                "posttrain.pairs=40", "posttrain.batch-size=8", "posttrain.trainer.epochs=1", "posttrain.stage.val-images=16",
                "eval.feature-net.epochs=1", "eval.feature-net.train-limit=2000", "eval.feature-net.test-limit=500",
                "eval.feature-net.min-test-accuracy=0.5", "eval.num-samples=20", "eval.is-split-size=10",
                "eval.batch-size=10", "eval.pr-k=2", "eval.pr-block=20", "eval.pr-max-samples=20",
                "eval.pfid.alphas=[0.25,1.0]");
    }

    static int robustok(String stage, String... extra) {
        List<String> a = new ArrayList<>(List.of(stage));
        a.addAll(args);
        a.addAll(List.of(extra));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(a.toArray(new String[0]), System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        System.err.print(err.toString(StandardCharsets.UTF_8));
        return rc;
    }

    static Map<String, String> completionMarkers() throws Exception {
        Map<String, String> m = new LinkedHashMap<>();
        for (String o : OUTPUTS) m.put(o, Files.readString(run.resolve(o).resolve("_COMPLETE.json")));
        return m;
    }

    @Test
    void pipelineRunsEveryStageReportsAndSkipsOnRerun() throws Exception {
        assertEquals(0, robustok("pipeline"), "pipeline exit code");
        for (String o : OUTPUTS) assertTrue(Files.isRegularFile(run.resolve(o).resolve("_COMPLETE.json")), o + " committed");
        for (String f : List.of("rfid.json", "pfid.json", "gfid.json", "codebook.json", "rfid-posttrain.json", "pfid-posttrain.json",
                "gfid-posttrain.json")) {
            assertTrue(Files.isRegularFile(run.resolve("eval").resolve(f)), "eval/" + f);
        }
        String report = Files.readString(run.resolve("report").resolve("report.md"));
        for (String o : OUTPUTS) assertTrue(report.contains(o), "report lists " + o + ":\n" + report);
        assertTrue(report.contains("rfid") && report.contains("gfid"), "report carries the metrics:\n" + report);
        assertTrue(report.contains("Post-training: before and after"), "report compares the decoders:\n" + report);

        // a rerun finds every output complete and rewrites none of them
        Map<String, String> before = completionMarkers();
        assertEquals(0, robustok("pipeline"), "rerun exit code");
        assertEquals(before, completionMarkers(), "rerun skipped finished stages");
    }

    @Test
    void misspelledKeyFailsBeforeWritingAnything() {
        Path other = tmp.resolve("never");
        List<String> a = new ArrayList<>(List.of("pipeline"));
        a.addAll(args);
        a.addAll(List.of("run.out=" + other, "tokenizer.codebok-size=64"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(a.toArray(new String[0]), System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        String msg = err.toString(StandardCharsets.UTF_8);
        assertNotEquals(0, rc);
        assertTrue(msg.contains("tokenizer.codebok-size") && msg.contains("tokenizer.codebook-size"), msg);
        assertTrue(!Files.exists(other), "nothing written");
    }
}
