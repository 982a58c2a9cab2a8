package io.robustok.report;

import io.robustok.spark.StageOutput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The report of a run directory laid out as the stages write it (a committed tokenizer and generator with their
 * logs and grids, an eval output, a tokenizer.post training that has not committed): what the page and the grouped
 * tables show.
 */
class RunReportTest {
    static void write(Path f, String text) throws Exception {
        Files.createDirectories(f.getParent());
        Files.writeString(f, text);
    }

    static void png(Path f) throws Exception {
        Files.createDirectories(f.getParent());
        ImageIO.write(new BufferedImage(20, 10, BufferedImage.TYPE_INT_RGB), "png", f.toFile());
    }

    static String rounds(int n, String extra) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(String.format(Locale.ROOT, "{\"epoch\":%d,\"round\":%d,\"step\":%d,\"lr_scale\":%.3f,\"loss\":%.4f,\"grad_norm\":%.3f,"
                            + "\"samples_per_s\":%.1f,\"round_s\":1.5,\"compute_s\":1.2,\"broadcast_s\":0.1,\"aggregate_s\":0.2%s}\n",
                    i / 5, i, 5 * (i + 1), 1.0 - i / 20.0, 3.0 / (i + 1), 0.5 + i, 100.0 + i, extra));
        }
        return sb.toString();
    }

    static Path fixture(Path run) throws Exception {
        write(run.resolve("tokenizer/_COMPLETE.json"), "{\"stage\":\"train-tokenizer\",\"config_sha256\":\"" + "a".repeat(64)
                + "\",\"revision\":\"abc1234\",\"finished\":\"2026-11-30T01:00:00Z\",\"wall_s\":612.5,"
                + "\"data\":{\"dir\":\"file:/run/data\"},\"global_step\":100,"
                + "\"final_val\":{\"val_psnr\":16.3,\"grid\":\"original | reconstruction | perturbed (alpha=0.5, delta=50)\"}}");
        write(run.resolve("tokenizer/metrics.jsonl"), rounds(20, ",\"rec\":0.2,\"psnr\":15.5,\"usage\":0.2,\"perplexity\":80,\"alpha\":0.5"));
        write(run.resolve("tokenizer/val.jsonl"), "{\"epoch\":1,\"val_psnr\":15.0,\"val_usage\":0.15}\n{\"epoch\":2,\"val_psnr\":16.3,\"val_usage\":0.18}\n");
        png(run.resolve("tokenizer/val-grid.png"));
        write(run.resolve("generator/_COMPLETE.json"), "{\"stage\":\"train-generator\",\"config_sha256\":\"" + "b".repeat(64)
                + "\",\"revision\":\"abc1234\",\"finished\":\"2026-11-30T01:10:00Z\",\"tokens\":\"file:/run/tokens\","
                + "\"tokens_provenance\":{}}");
        write(run.resolve("generator/metrics.jsonl"), rounds(8, ",\"acc\":0.3,\"random_ratio\":1.0"));
        write(run.resolve("generator/val.jsonl"), "{\"epoch\":1,\"val_loss\":2.0,\"unigram_entropy\":4.4}\n{\"epoch\":2,\"val_loss\":1.6,\"unigram_entropy\":4.4}\n");
        png(run.resolve("generator/samples.png"));
        write(run.resolve("eval/_COMPLETE.json"), "{\"stage\":\"eval\",\"config_sha256\":\"" + "c".repeat(64)
                + "\",\"revision\":\"abc1234\",\"finished\":\"2026-11-30T01:20:00Z\","
                + "\"tokenizer\":{\"path\":\"file:/run/tokenizer\",\"provenance\":{\"config_sha256\":\"" + "a".repeat(64) + "\",\"finished\":\"x\"}}}");
        String m = "{\"metric\":\"%s\",\"value\":%s,\"feature_extractor\":\"demo-cnn\",\"feature_extractor_checksum\":\"ff01\",\"samples\":100,\"params\":%s}";
        write(run.resolve("eval/rfid.json"), "{\"metrics\":[" + m.formatted("rfid", "50.0", "{\"images\":\"val\"}") + "]}");
        write(run.resolve("eval/pfid.json"), "{\"metrics\":[" + String.join(",", List.of(
                m.formatted("pfid", "52.0", "{\"alpha\":0.25,\"delta\":64,\"seed\":7}"),
                m.formatted("pis", "3.0", "{\"alpha\":0.25,\"delta\":64,\"seed\":7}"),
                m.formatted("pfid", "58.5", "{\"alpha\":1.0,\"delta\":64,\"seed\":7}"),
                m.formatted("pis", "2.5", "{\"alpha\":1.0,\"delta\":64,\"seed\":7}"))) + "]}");
        write(run.resolve("eval/gfid.json"), "{\"metrics\":[" + String.join(",", List.of(
                m.formatted("gfid", "54.5", "{\"guidance\":2.0}"), m.formatted("gis", "4.6", "{\"guidance\":2.0}"),
                m.formatted("gfid", "55.7", "{\"guidance\":1.0}"), m.formatted("gis", "4.4", "{\"guidance\":1.0}"))) + "]}");
        png(run.resolve("eval/samples-g2.0.png"));
        // the same evaluations with the post-trained decoder
        write(run.resolve("eval/rfid-posttrain.json"), "{\"metrics\":[" + m.formatted("rfid", "48.0", "{\"images\":\"val\"}") + "]}");
        write(run.resolve("eval/pfid-posttrain.json"), "{\"metrics\":[" + String.join(",", List.of(
                m.formatted("pfid", "49.0", "{\"alpha\":0.25,\"delta\":64,\"seed\":7}"),
                m.formatted("pfid", "51.5", "{\"alpha\":1.0,\"delta\":64,\"seed\":7}"))) + "]}");
        write(run.resolve("eval/gfid-posttrain.json"), "{\"metrics\":[" + String.join(",", List.of(
                m.formatted("gfid", "50.5", "{\"guidance\":2.0}"), m.formatted("gfid", "52.7", "{\"guidance\":1.0}"))) + "]}");
        png(run.resolve("eval/pfid-curve.png"));
        // the training directory of a committed stage (its logs are in the output) and one of a stage still running
        write(run.resolve("tokenizer.train/metrics.jsonl"), rounds(20, ""));
        write(run.resolve("tokenizer.post.train/metrics.jsonl"), rounds(3, ""));
        write(run.resolve("tokenizer.post.train/val.jsonl"), "{\"epoch\":0,\"val_psnr\":15.0}\n{\"epoch\":1,\"val_psnr\":15.4}\n");
        return run;
    }

    static List<String> alts(String html) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("<img alt=\"([^\"]*)\"").matcher(html);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void pageShowsCurvesEvaluationGridsAndProvenanceOfWhatExists(@TempDir Path tmp) throws Exception {
        Path run = fixture(tmp.resolve("run"));
        String root = StageOutput.qualify(run.toString());
        RunReport r = RunReport.read(root, StageOutput.fs(root));
        String html = r.html("demo", "2026-11-30T02:00:00Z");
        // kept for a person to open: target/report-fixture/index.html
        Files.createDirectories(Path.of("target/report-fixture"));
        Files.writeString(Path.of("target/report-fixture/index.html"), html);
        List<String> alts = alts(html);
        for (String a : List.of("tokenizer: loss terms", "tokenizer: PSNR (dB)", "tokenizer: codebook usage (fraction of codes)",
                "tokenizer: codebook perplexity", "tokenizer: gradient norm (before clipping)", "tokenizer: learning rate (x peak)",
                "tokenizer: throughput", "tokenizer: round time", "tokenizer: schedules and other terms",
                "tokenizer: val_psnr per epoch", "tokenizer: val_usage per epoch", "tokenizer/val-grid.png",
                "generator: token accuracy", "generator: validation loss vs unigram entropy", "generator/samples.png",
                "tokenizer.post.train: loss terms", "tokenizer.post.train: val_psnr before and after training", "gFID by guidance", "Inception Score by guidance", "eval/samples-g2.0.png")) {
            assertTrue(alts.contains(a), "page has " + a + ": " + alts);
        }
        assertTrue(alts.contains("pFID over alpha (eval; alpha 0 = rFID; delta 64)"), alts.toString());
        for (String a : List.of("rfid before and after post-training", "pfid before and after post-training",
                "gfid before and after post-training")) {
            assertTrue(alts.contains(a), "page has " + a + ": " + alts);
        }
        // a metric computed for one decoder only has no before/after chart
        assertTrue(!alts.contains("pis before and after post-training") && !alts.contains("gis before and after post-training"), alts.toString());
        // the hand-drawn pFID PNG is replaced by the chart; no precision chart without precision results
        assertTrue(!alts.contains("eval/pfid-curve.png") && !alts.contains("precision by guidance"), alts.toString());
        assertTrue(html.contains("tokenizer.post.train (in progress)"), "a running training shows up");
        assertTrue(!html.contains("tokenizer.train"), "a committed stage's training directory is not shown twice");
        // provenance: one block per committed output with hash, revision and wall time; inputs listed
        assertEquals(3, html.split("<details>").length - 1);
        assertTrue(html.contains("<b>tokenizer</b> &mdash; train-tokenizer, config aaaaaaaaaaaa, revision abc1234, "
                + "finished 2026-11-30T01:00:00Z, wall 10 min 13 s"), html);
        assertTrue(html.contains("tokenizer: file:/run/tokenizer (config aaaaaaaaaaaa, finished x)"), html);
        // every chart is a PNG that decodes
        Matcher m = Pattern.compile("src=\"data:image/png;base64,([^\"]+)\"").matcher(html);
        int n = 0;
        while (m.find()) {
            BufferedImage img = ImageIO.read(new java.io.ByteArrayInputStream(java.util.Base64.getDecoder().decode(m.group(1))));
            assertTrue(img != null && img.getWidth() > 0);
            n++;
        }
        assertEquals(alts.size(), n);
    }

    @Test
    void evaluationTablesGroupRowsBySettingAndSayWhatTheyShareOnce(@TempDir Path tmp) throws Exception {
        Path run = fixture(tmp.resolve("run"));
        String root = StageOutput.qualify(run.toString());
        List<EvalTable> tables = EvalTable.group(RunReport.read(root, StageOutput.fs(root)).results());
        assertEquals(List.of("eval/gfid-posttrain.json", "eval/gfid.json", "eval/pfid-posttrain.json", "eval/pfid.json",
                "eval/rfid-posttrain.json", "eval/rfid.json"), tables.stream().map(EvalTable::title).toList());
        EvalTable pfid = tables.get(3);
        assertEquals(List.of("alpha", "pfid", "pis"), pfid.headers());
        assertEquals(List.of(List.of("0.25", "52", "3"), List.of("1", "58.5000", "2.5000")), pfid.rows());
        assertEquals("feature network demo-cnn (ff01), samples 100, delta 64, seed 7", pfid.common());
        assertTrue(pfid.markdown().contains("| alpha | pfid | pis |\n|---|---|---|\n| 0.25 | 52 | 3 |\n"), pfid.markdown());
        EvalTable gfid = tables.get(1);
        assertEquals(List.of("guidance", "gfid", "gis"), gfid.headers());
        assertEquals(2, gfid.rows().size());
    }
}
