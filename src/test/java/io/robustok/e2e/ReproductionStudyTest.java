package io.robustok.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reproduction study's own sweep file (conf/sweeps/reproduction.conf) end to end on tiny data, as
 * {@code robustok study} runs it: every variant, post-training only where the file asks for it, generator snapshots
 * evaluated along training, the results table and correlations, and the document whose figures are the table's.
 */
class ReproductionStudyTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> VARIANTS = List.of("none", "anneal", "none-seed1", "anneal-seed1", "const-0.25", "const-0.5", "strong");
    /** The key comparison: post-trained, with generator snapshots. */
    static final List<String> KEY = List.of("none", "anneal", "none-seed1", "anneal-seed1");

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    @Test
    void theStudyRunsEveryVariantAndWritesItsDocumentFromTheTable() throws Exception {
        Path folder = tmp.resolve("imagefolder");
        TinyImageFolder.write(folder);
        Path doc = tmp.resolve("docs/REPRODUCTION.md");
        Files.createDirectories(doc.getParent());
        List<String> args = new ArrayList<>(List.of("study", "--sweep", "../../conf/sweeps/reproduction.conf", "--doc", doc.toString()));
        args.addAll(TinyImageFolder.tinyRun(folder));
        // one step per round: the snapshots at 25% and 50% of 8 steps land on steps 2 and 4
        args.addAll(List.of("generator.trainer.max-steps=8", "generator.trainer.averaging-frequency=1",
                "sweep.out=" + tmp.resolve("sweeps"), "sweep.store=" + tmp.resolve("store"), "sweep.bootstrap=200"));
        StringBuilder err = new StringBuilder();
        assertEquals(0, SweepEndToEndTest.robustok(args, err), err.toString());

        // every variant trained its own tokenizer and generator; only the key comparison was post-trained
        Path runs = tmp.resolve("sweeps/reproduction/runs");
        for (String v : VARIANTS) {
            JsonNode st = JSON.readTree(runs.resolve(v + "/_stages.json").toFile());
            for (String stage : List.of("train-tokenizer", "train-generator", "pair-tokens", "post-train", "eval")) {
                String want = stage.contains("post") || stage.startsWith("pair") ? (KEY.contains(v) ? "computed" : "skipped") : "computed";
                assertEquals(want, st.path(stage).path("status").asText(), v + " " + stage + ": " + st);
            }
            // the key comparison's generators kept their EMA weights at 25% and 50% of their steps, loadable as
            // generators of their own; the others none
            for (String s : List.of("at-0.25", "at-0.5")) {
                assertEquals(KEY.contains(v),
                        Files.isRegularFile(runs.resolve(v + "/generator/snapshots/" + s + "/weights.safetensors")), v + " " + s);
            }
        }
        // seeds change the tokenizer, perturbation settings change it, the feature network is shared
        JsonNode none = JSON.readTree(runs.resolve("none/_stages.json").toFile());
        JsonNode noneSeed = JSON.readTree(runs.resolve("none-seed1/_stages.json").toFile());
        assertFalse(none.path("train-tokenizer").path("identity").equals(noneSeed.path("train-tokenizer").path("identity")));
        assertEquals(none.path("train-features").path("identity"), noneSeed.path("train-features").path("identity"));

        // the table: a row per variant with the metrics the claims need
        Path results = tmp.resolve("sweeps/reproduction/results");
        List<String> csv = Files.readAllLines(results.resolve("table.csv"));
        assertEquals(1 + VARIANTS.size(), csv.size(), String.join("\n", csv));
        List<String> header = List.of(csv.get(0).split(","));
        for (String col : List.of("rfid", "pfid@0.25", "pfid@1.0", "gfid@2.0", "gfid@1.0", "gfid.is@2.0", "codebook_usage",
                "generator_steps.gfid@2", "generator_steps.gfid@4", "generator_steps.gfid@8", "posttrain.gfid@2.0", "posttrain.rfid")) {
            assertTrue(header.contains(col), col + " in " + header);
        }
        Map<String, Map<String, String>> table = new HashMap<>();
        for (String line : csv.subList(1, csv.size())) {
            String[] cells = line.split(",", -1);
            Map<String, String> row = new HashMap<>();
            for (int i = 0; i < header.size(); i++) row.put(header.get(i), i < cells.length ? cells[i] : "");
            table.put(row.get("variant"), row);
            assertEquals("ok", row.get("status"), line);
        }
        for (String v : VARIANTS) {
            Map<String, String> row = table.get(v);
            assertEquals(KEY.contains(v), !row.get("posttrain.gfid@2.0").isEmpty(), v + " post-trained: " + row);
            // the last point of the convergence curve is the generator's own gFID
            if (KEY.contains(v)) assertEquals(row.get("gfid@2.0"), row.get("generator_steps.gfid@8"), v);
            else assertTrue(row.get("generator_steps.gfid@8").isEmpty(), v);
        }
        JsonNode corr = JSON.readTree(results.resolve("correlations.json").toFile());
        boolean found = false;
        for (JsonNode e : corr) {
            if (e.path("x").asText().equals("rfid") && e.path("y").asText().equals("gfid@2.0")) {
                assertEquals(VARIANTS.size(), e.path("variants").asInt());
                found = true;
            }
        }
        assertTrue(found, corr.toString());

        // the document: a verdict per claim, the table's own figures, its assets beside it
        String md = Files.readString(doc);
        for (String claim : List.of("### 1. ", "### 2. ", "### 3. ")) {
            Matcher m = Pattern.compile(Pattern.quote(claim) + ".*: \\*\\*(reproduced|not reproduced|unclear)\\*\\*").matcher(md);
            assertTrue(m.find(), claim + " has a verdict:\n" + md);
        }
        for (String v : VARIANTS) {
            Map<String, String> row = table.get(v);
            String rfid = String.format(Locale.ROOT, "%.2f", Double.parseDouble(row.get("rfid")));
            String gfid = String.format(Locale.ROOT, "%.2f", Double.parseDouble(row.get("gfid@2.0")));
            Matcher m = Pattern.compile("(?m)^\\| " + Pattern.quote(v) + " \\|.*$").matcher(md);
            assertTrue(m.find(), v + " has a row:\n" + md);
            String line = m.group();
            assertTrue(line.contains(" " + rfid + " |") && line.contains(" " + gfid + " |"), v + ": rFID " + rfid + ", gFID " + gfid + " in " + line);
        }
        assertTrue(md.contains("Across the " + VARIANTS.size() + " tokenizers"), md);
        // claim 3 reads every post-trained tokenizer
        for (String v : KEY) assertTrue(md.contains(v + " " + String.format(Locale.ROOT, "%.2f", Double.parseDouble(table.get(v).get("gfid@2.0"))) + " -> "), v);
        Path assets = doc.getParent().resolve("reproduction");
        assertEquals(Files.readString(results.resolve("table.md")), Files.readString(assets.resolve("table.md")));
        assertTrue(Files.size(assets.resolve("convergence.png")) > 1000);
        assertTrue(md.contains("](reproduction/convergence.png)"), md);
        // one invocation computed prep, the feature network, 7 tokenizers with their tokens, generators and evals, and 4
        // post-trainings with their pairs
        assertTrue(md.lines().anyMatch(l -> l.matches("- 20\\d\\d-.* UTC: .*, 38 outputs computed, load .*")), md);

        // posttrain.enabled = false: the pipeline skips pair-tokens and post-train and eval has no after-post-training part;
        // everything else comes from the study's store
        Path run = tmp.resolve("no-posttrain");
        List<String> pipe = new ArrayList<>(List.of("pipeline"));
        pipe.addAll(TinyImageFolder.tinyRun(folder));
        pipe.addAll(List.of("generator.trainer.max-steps=8", "generator.trainer.averaging-frequency=1", "generator.stage.snapshots=[0.25,0.5]",
                "tokenizer.perturb.enabled=false", "posttrain.enabled=false", "run.out=" + run, "run.store=" + tmp.resolve("store")));
        assertEquals(0, SweepEndToEndTest.robustok(pipe, new StringBuilder()));
        JsonNode st = JSON.readTree(run.resolve("_stages.json").toFile());
        assertEquals("cached", st.path("train-generator").path("status").asText(), st.toString());
        assertEquals("skipped", st.path("pair-tokens").path("status").asText(), st.toString());
        assertEquals("skipped", st.path("post-train").path("status").asText(), st.toString());
        JsonNode summary = JSON.readTree(run.resolve("eval/summary.json").toFile());
        assertTrue(summary.has("gfid") && !summary.has("posttrain"), summary.toString());
        assertEquals(Double.parseDouble(table.get("none").get("gfid@2.0")), summary.path("gfid").path("2.0").path("gfid").asDouble(), 1e-9);
    }
}
