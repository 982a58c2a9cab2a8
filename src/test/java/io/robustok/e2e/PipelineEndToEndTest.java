package io.robustok.e2e;

import io.robustok.cli.Main;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
        TinyImageFolder.write(folder);
        run = tmp.resolve("run");
        List<String> a = new ArrayList<>(TinyImageFolder.tinyRun(folder));
        a.add("run.out=" + run);
        args = List.copyOf(a);
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
        // the wall time in a training stage's provenance covers its training, not just the output's writing
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        double ran = json.readTree(run.resolve("_stages.json").toFile()).path("train-tokenizer").path("seconds").asDouble();
        double wall = json.readTree(run.resolve("tokenizer").resolve("_COMPLETE.json").toFile()).path("wall_s").asDouble();
        assertTrue(wall >= 0.5 * ran && wall <= ran + 0.2, "train-tokenizer wall_s " + wall + " against the stage's " + ran + " s");
        // the report's wall time is its own (it counted from the start of eval before)
        double evalRan = json.readTree(run.resolve("_stages.json").toFile()).path("eval").path("seconds").asDouble();
        double reportWall = json.readTree(run.resolve("report").resolve("_COMPLETE.json").toFile()).path("wall_s").asDouble();
        assertTrue(reportWall < evalRan, "report wall_s " + reportWall + " against eval's " + evalRan + " s");
        for (String f : List.of("rfid.json", "pfid.json", "gfid.json", "codebook.json", "rfid-posttrain.json", "pfid-posttrain.json",
                "gfid-posttrain.json")) {
            assertTrue(Files.isRegularFile(run.resolve("eval").resolve(f)), "eval/" + f);
        }
        String report = Files.readString(run.resolve("report").resolve("report.md"));
        for (String o : OUTPUTS) assertTrue(report.contains(o), "report lists " + o + ":\n" + report);
        assertTrue(report.contains("rfid") && report.contains("gfid"), "report carries the metrics:\n" + report);
        assertTrue(report.contains("Post-training: before and after"), "report compares the decoders:\n" + report);
        // metrics grouped by evaluation: the pFID table has one row per alpha, delta said once above it
        assertTrue(report.contains("### eval/pfid.json") && report.contains("| alpha | pfid |"), report);
        assertTrue(report.contains("| 0.25 |") && report.contains("| 1 |"), report);
        htmlReportRendersInChromium();

        // status: every stage complete (demo-data has nothing to do here), exit 0
        StatusRun done = status();
        assertEquals(0, done.rc, done.out);
        for (String s : List.of("prep", "train-tokenizer", "tokenize", "train-generator", "pair-tokens", "post-train",
                "train-features", "eval")) {
            assertTrue(done.line(s).startsWith(s) && done.line(s).contains(" complete "), done.out);
        }
        assertTrue(done.line("demo-data").contains("not used"), done.out);
        assertTrue(done.line("train-tokenizer").contains("val PSNR"), done.out);
        assertTrue(done.line("eval").contains("rFID") && done.line("eval").contains("gFID"), done.out);

        // a changed tokenizer key: the tokenizer and everything that read it is stale, the rest complete, exit 3
        StatusRun changed = status("tokenizer.codebook-size=32");
        assertEquals(3, changed.rc, changed.out);
        assertTrue(changed.line("train-tokenizer").contains(" stale ")
                && changed.line("train-tokenizer").contains("tokenizer.codebook-size = 32 (was 64)"), changed.out);
        for (String s : List.of("tokenize", "train-generator", "pair-tokens", "post-train", "eval")) {
            assertTrue(changed.line(s).contains(" stale ") && changed.line(s).contains("is stale"), changed.out);
        }
        for (String s : List.of("prep", "train-features")) assertTrue(changed.line(s).contains(" complete "), changed.out);

        // a rerun finds every output complete and rewrites none of them
        Map<String, String> before = completionMarkers();
        assertEquals(0, robustok("pipeline"), "rerun exit code");
        assertEquals(before, completionMarkers(), "rerun skipped finished stages");
    }

    record StatusRun(int rc, String out) {
        String line(String stage) {
            return out.lines().filter(l -> l.startsWith(stage + " ")).findFirst().orElse("(no line for " + stage + ")");
        }
    }

    static StatusRun status(String... extra) {
        return statusOf(args, extra);
    }

    static StatusRun statusOf(List<String> base, String... extra) {
        List<String> a = new ArrayList<>(List.of("status"));
        a.addAll(base);
        a.addAll(List.of(extra));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = Main.run(a.toArray(new String[0]), new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        String text = out.toString(StandardCharsets.UTF_8);
        System.out.print(text);
        return new StatusRun(rc, text);
    }

    /**
     * report/index.html in headless Chromium: every image decodes, no script error; the charts of both training
     * stages, the pFID curve, gFID by guidance, the image grids and every output's provenance are on the page.
     * The screenshot stays next to the report and, with the page, under target/browser-check/ for a person.
     */
    static void htmlReportRendersInChromium() throws Exception {
        Path page = run.resolve("report").resolve("index.html");
        assertTrue(Files.isRegularFile(page), "report/index.html written");
        HeadlessChromium chromium = HeadlessChromium.find();
        if (chromium == null) {
            System.err.println("SKIPPED browser check of " + page + ": " + HeadlessChromium.missingReason());
            return;
        }
        Path work = Files.createDirectories(tmp.resolve("chromium"));
        HeadlessChromium.Render r = chromium.render(page, work);
        String check = r.htmlAttribute("data-check");
        assertTrue(check != null && check.startsWith("ok "), "every image decoded: " + check);
        assertTrue(Integer.parseInt(check.split(" ")[1]) >= 12, "charts and grids on the page: " + check);
        assertEquals(null, r.htmlAttribute("data-errors"), "no script or resource error");
        assertTrue(r.consoleErrors().isEmpty(), "console errors: " + r.consoleErrors());
        for (String alt : List.of("tokenizer: loss terms", "tokenizer: PSNR (dB)", "tokenizer: codebook usage",
                "tokenizer: gradient norm", "tokenizer: learning rate", "tokenizer: throughput", "tokenizer: val_psnr per epoch",
                "generator: loss terms", "generator: validation loss vs unigram entropy", "posttrain: loss terms",
                "posttrain: val_psnr before and after training", "pfid before and after post-training",
                "gfid before and after post-training", "eval/before-after-", "pFID over alpha",
                "gFID by guidance", "Inception Score by guidance", "tokenizer/val-grid.png", "generator/samples.png",
                "eval/samples-")) {
            assertTrue(r.dom().contains("alt=\"" + alt), "page shows " + alt);
        }
        for (String o : OUTPUTS) assertTrue(r.dom().contains("<summary><b>" + o + "</b>"), "provenance of " + o);
        Path shot = run.resolve("report").resolve("screenshot.png");
        chromium.screenshot(page, shot, 1280, 2400, work);
        java.awt.image.BufferedImage img = ImageIO.read(shot.toFile());
        assertEquals(1280, img.getWidth());
        Path keep = Files.createDirectories(Path.of("target", "browser-check"));
        Files.copy(page, keep.resolve("index.html"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(shot, keep.resolve("screenshot.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        System.out.println("browser check: " + check + "; screenshot " + keep.resolve("screenshot.png").toAbsolutePath());
    }

    @Test
    void shardedAggregationTrainsTheRealTokenizerAsTheTreeDoes() throws Exception {
        // the tokenizer's own task (encoder, decoder, discriminator, AdamW moments, dead-code counters) summed by
        // treeAggregate and by the shuffle's reduce-scatter: with two workers the sums are the same bit for bit
        List<Map<String, org.nd4j.linalg.api.ndarray.INDArray>> weights = new ArrayList<>();
        for (String mode : List.of("tree", "sharded")) {
            Path out = tmp.resolve("aggregation-" + mode);
            List<String> base = new ArrayList<>(args);
            base.addAll(List.of("run.out=" + out, "spark.workers=2", "trainer.aggregation=" + mode, "trainer.shards=3",
                    "tokenizer.trainer.epochs=2"));
            for (String stage : List.of("prep", "train-tokenizer")) {
                List<String> a = new ArrayList<>(List.of(stage));
                a.addAll(base);
                assertEquals(0, Main.run(a.toArray(new String[0]), System.out, System.err), stage + " with " + mode);
            }
            weights.add(io.robustok.jobs.ModelArtifact.load(out.resolve("tokenizer").toString(), "train-tokenizer").weights());
        }
        assertEquals(weights.get(0).keySet(), weights.get(1).keySet());
        assertTrue(weights.get(0).size() > 10, weights.get(0).keySet().toString());
        for (String k : weights.get(0).keySet()) {
            assertTrue(java.util.Arrays.equals(weights.get(0).get(k).dup().data().asFloat(),
                    weights.get(1).get(k).dup().data().asFloat()), k);
        }
    }

    @Test
    void statusOfARunStoppedInsideTheTokenizer() throws Exception {
        // a second run over the same images that stops after the tokenizer's first rounds, as if killed there
        // after its first checkpoint, and an uncommitted tokenize output of a run killed while writing
        Path half = tmp.resolve("half");
        List<String> base = new ArrayList<>(args);
        base.add("run.out=" + half);
        List<String> a = new ArrayList<>(List.of("train-tokenizer"));
        a.addAll(base);
        // one minibatch per round and two epochs: the tiny folder makes several rounds, so stopping after one is mid-run
        a.addAll(List.of("tokenizer.trainer.averaging-frequency=1", "tokenizer.trainer.epochs=2",
                "tokenizer.trainer.checkpoint-every=1", "tokenizer.trainer.stop-after-rounds=1"));
        List<String> p = new ArrayList<>(List.of("prep"));
        p.addAll(base);
        assertEquals(0, Main.run(p.toArray(new String[0]), System.out, System.err));
        assertEquals(0, Main.run(a.toArray(new String[0]), System.out, System.err));
        assertTrue(!Files.exists(half.resolve("tokenizer")), "the tokenizer did not commit");
        Files.createDirectories(half.resolve("tokens._tmp-1234abcd"));

        StatusRun st = statusOf(base);
        assertEquals(3, st.rc, st.out);
        assertTrue(st.line("prep").contains(" complete "), st.out);
        assertTrue(st.line("train-tokenizer").contains(" partial ") && st.line("train-tokenizer").contains("round-00000001")
                && st.line("train-tokenizer").contains("step "), st.out);
        assertTrue(st.line("tokenize").contains(" partial ") && st.line("tokenize").contains("uncommitted"), st.out);
        for (String s : List.of("train-generator", "pair-tokens", "post-train", "train-features", "eval")) {
            assertTrue(st.line(s).contains(" missing "), st.out);
        }
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
