package io.robustok.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.cli.Main;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code robustok sweep} on tiny data, as a user runs it: two variants that differ in an evaluation setting (so they
 * share every trained stage and the feature network and each has its own eval), an invalid variant and a duplicate.
 * The first run is a separate JVM with both variants at once, killed (SIGKILL) once the shared tokens are committed;
 * the same command then finishes the sweep computing only what was missing, and a third run finds everything stored.
 */
class SweepEndToEndTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String V1 = "delta-8", V2 = "delta-40";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    List<String> args(Path folder, Path sweepFile) {
        List<String> a = new ArrayList<>(List.of("sweep", "--sweep", sweepFile.toString()));
        a.addAll(TinyImageFolder.tinyRun(folder));
        a.addAll(List.of("sweep.out=" + tmp.resolve("sweeps"), "sweep.store=" + tmp.resolve("store"), "sweep.bootstrap=200"));
        return a;
    }

    static int robustok(List<String> a, StringBuilder errOut) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(a.toArray(new String[0]), System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        errOut.append(err.toString(StandardCharsets.UTF_8));
        System.err.print(err.toString(StandardCharsets.UTF_8));
        return rc;
    }

    /** Store entry directory -> its _COMPLETE.json, for every committed entry (not a kill's leftover temporary). */
    Map<String, String> committed() throws Exception {
        Map<String, String> m = new TreeMap<>();
        Path store = tmp.resolve("store");
        if (!Files.isDirectory(store)) return m;
        try (Stream<Path> s = Files.list(store)) {
            for (Path d : (Iterable<Path>) s::iterator) {
                Path c = d.resolve("_COMPLETE.json");
                if (d.getFileName().toString().matches("[a-z-]+-[0-9a-f]{12}") && Files.isRegularFile(c)) m.put(d.getFileName().toString(), Files.readString(c));
            }
        }
        return m;
    }

    JsonNode stages(String variant) throws Exception {
        return JSON.readTree(tmp.resolve("sweeps/tiny/runs/" + variant + "/_stages.json").toFile());
    }

    @Test
    void killedSweepResumesComputingOnlyWhatIsMissingThenTabulates() throws Exception {
        Path folder = tmp.resolve("imagefolder");
        TinyImageFolder.write(folder);
        Path sweepFile = tmp.resolve("tiny.conf");
        Files.writeString(sweepFile, """
                name = tiny
                grid { eval.pfid.delta = [8, 40] }
                variants = [
                  { name = bad-patch, overrides { tokenizer.patch = 5 } }
                  { name = same-as-first, overrides { eval.pfid.delta = 8.0 } }
                ]
                """);

        // 1. both variants at once in another JVM, killed once the tokens they share are committed
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-opens") || a.startsWith("--add-modules") || a.startsWith("-Djdk.") || a.startsWith("-Dio.netty") || a.startsWith("-Xmx")) cmd.add(a);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(folder, sweepFile));
        cmd.add("sweep.parallel=2");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("first-run.log").toFile());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process first = pb.start();
        long deadline = System.currentTimeMillis() + 30 * 60_000; // a guard against a hang, not a timing target
        while (committed().keySet().stream().noneMatch(k -> k.startsWith("tokens-"))) {
            assertTrue(first.isAlive(), "first run ended before the kill:\n" + Files.readString(tmp.resolve("first-run.log")));
            assertTrue(System.currentTimeMillis() < deadline, "no tokens after 30 minutes");
            Thread.sleep(200);
        }
        first.destroyForcibly().waitFor();
        Map<String, String> beforeKill = committed();
        assertTrue(beforeKill.keySet().stream().anyMatch(k -> k.startsWith("data-")), beforeKill.keySet().toString());
        assertTrue(beforeKill.keySet().stream().anyMatch(k -> k.startsWith("tokenizer-")), beforeKill.keySet().toString());
        assertTrue(beforeKill.keySet().stream().noneMatch(k -> k.startsWith("features-") || k.startsWith("eval-")),
                "killed before the feature network and the evals: " + beforeKill.keySet());

        // 2. the same command: the invalid variant fails alone, the rest completes from where the kill left it
        StringBuilder err = new StringBuilder();
        assertEquals(1, robustok(args(folder, sweepFile), err), "exit 1: a variant is invalid");
        assertTrue(err.toString().contains("bad-patch") && err.toString().contains("tokenizer.patch (5)"), err.toString());
        Map<String, String> after = committed();
        beforeKill.forEach((entry, marker) -> assertEquals(marker, after.get(entry), entry + " was not recomputed"));
        // every trained stage and the feature network once for both variants; an eval each
        Map<String, Integer> kinds = new TreeMap<>();
        for (String e : after.keySet()) kinds.merge(e.substring(0, e.lastIndexOf('-')), 1, Integer::sum);
        assertEquals(Map.of("data", 1, "tokenizer", 1, "tokens", 1, "features", 1, "generator", 1, "pairs", 1,
                "posttrain", 1, "eval", 2), kinds);
        // what the rerun computed carries its record (who, from which key values, how long); an entry the kill
        // caught between its commit and that record has none
        for (String e : after.keySet()) {
            if (!beforeKill.containsKey(e)) assertTrue(Files.isRegularFile(tmp.resolve("store/_meta/" + e + ".json")), e);
        }
        // a stage both variants share that the kill left to do: the first variant computed it, the second found it
        Map<String, String> outputOf = Map.of("train-generator", "generator-", "pair-tokens", "pairs-",
                "post-train", "posttrain-", "train-features", "features-");
        for (Map.Entry<String, String> o : outputOf.entrySet()) {
            boolean done = beforeKill.keySet().stream().anyMatch(k -> k.startsWith(o.getValue()));
            assertEquals(List.of(done ? "cached" : "computed", "cached"), List.of(stages(V1).path(o.getKey()).path("status").asText(),
                    stages(V2).path(o.getKey()).path("status").asText()), o.getKey());
        }
        for (String v : List.of(V1, V2)) {
            JsonNode st = stages(v);
            for (String shared : List.of("prep", "train-tokenizer", "tokenize")) {
                assertEquals("cached", st.path(shared).path("status").asText(), v + " " + shared + " found stored: " + st);
            }
            assertEquals("computed", st.path("eval").path("status").asText(), v + " has its own eval: " + st);
            assertTrue(Files.isSymbolicLink(tmp.resolve("sweeps/tiny/runs/" + v + "/tokenizer")), "run dir links into the store");
            assertTrue(Files.isRegularFile(tmp.resolve("sweeps/tiny/runs/" + v + "/eval/gfid.json")), "eval reachable through the link");
            assertTrue(Files.size(tmp.resolve("sweeps/tiny/runs/" + v + "/log.txt")) > 0, v + " has its own log");
        }
        JsonNode sweep = JSON.readTree(tmp.resolve("sweeps/tiny/sweep.json").toFile());
        Map<String, JsonNode> byName = new LinkedHashMap<>();
        sweep.path("variants").forEach(v -> byName.put(v.path("name").asText(), v));
        assertEquals("ok", byName.get(V1).path("status").asText());
        assertEquals("ok", byName.get(V2).path("status").asText());
        assertEquals("invalid", byName.get("bad-patch").path("status").asText());
        assertEquals("duplicate", byName.get("same-as-first").path("status").asText());
        assertEquals(V1, byName.get("same-as-first").path("same_as").asText());

        // 3. the results: a row per variant with its override and every metric, in three formats, correlations, plots
        Path results = tmp.resolve("sweeps/tiny/results");
        List<String> csv = Files.readAllLines(results.resolve("table.csv"));
        List<String> header = List.of(csv.get(0).split(","));
        for (String col : List.of("variant", "status", "eval.pfid.delta", "tokenizer.val_psnr", "tokenizer.val_usage",
                "tokenizer.val_perplexity", "generator.final_val_loss", "posttrain.val_psnr", "features.test_accuracy",
                "rfid", "pfid@0.25", "pfid@1.0", "codebook_perplexity", "gfid@2.0", "gfid.is@2.0",
                "gfid@1.0", "posttrain.rfid", "posttrain.pfid@0.25", "posttrain.gfid@2.0", "time.train-generator",
                "time.post-train", "compute.train-tokenizer")) {
            assertTrue(header.contains(col), col + " in " + header);
        }
        assertEquals(4, csv.size(), "header + two runnable variants + the invalid one");
        assertTrue(csv.get(1).startsWith(V1 + ",ok,8,"), csv.get(1));
        // pFID differs (each variant perturbs with its own delta), the shared tokenizer and generator do not
        String[] r1 = csv.get(1).split(","), r2 = csv.get(2).split(",");
        int pfid = header.indexOf("pfid@1.0");
        assertTrue(!r1[pfid].equals(r2[pfid]), csv.get(1) + "\n" + csv.get(2));
        for (String col : List.of("tokenizer.val_psnr", "generator.final_val_loss")) {
            assertEquals(r1[header.indexOf(col)], r2[header.indexOf(col)], col);
        }
        int rows = 0;
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(),
                new org.apache.hadoop.fs.Path(results.resolve("table.parquet").toUri())).withConf(new Configuration()).build()) {
            Set<String> names = new HashSet<>();
            for (Group g = r.read(); g != null; g = r.read(), rows++) names.add(g.getString("variant", 0));
            assertTrue(names.contains(V2), names.toString());
        }
        assertEquals(3, rows);
        String md = Files.readString(results.resolve("table.md"));
        assertTrue(md.contains("Spearman rho") && md.contains("| rfid | gfid@2.0 | 2 |"), md);
        assertTrue(md.contains("bad-patch: invalid at config"), md);
        JsonNode corr = JSON.readTree(results.resolve("correlations.json").toFile());
        assertTrue(corr.size() >= 3, corr.toString());
        assertTrue(Files.size(results.resolve("plots/scatter-pfid@0.25-vs-gfid@2.0.png")) > 1000);
        assertTrue(Files.size(results.resolve("plots/pfid@1.0-vs-delta.png")) > 1000);

        // 4. a rerun computes nothing
        StringBuilder err2 = new StringBuilder();
        assertEquals(1, robustok(args(folder, sweepFile), err2));
        assertEquals(after, committed(), "nothing recomputed");
        for (String v : List.of(V1, V2)) {
            stages(v).fields().forEachRemaining(e -> {
                if (!e.getKey().equals("demo-data")) assertEquals("cached", e.getValue().path("status").asText(), v + " " + e.getKey());
            });
        }
        assertFalse(new File(tmp.resolve("store/_locks").toString()).list().length > 0, "no lock left behind");
    }
}
