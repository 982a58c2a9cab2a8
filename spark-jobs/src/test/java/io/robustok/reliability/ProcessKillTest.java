package io.robustok.reliability;

import io.robustok.spark.StageOutput;
import io.robustok.train.LocalStandaloneCluster;
import io.robustok.train.SafeTensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real process kills on a multi-process Spark cluster: a standalone Master and two Workers (separate JVMs, one
 * executor of one core each) on 127.0.0.1, and every stage run as a user runs it, through the CLI in a JVM of its
 * own. A process is frozen at a named point ({@link io.robustok.spark.FaultPoint}) and killed there with SIGKILL:
 * the driver after a round, inside a checkpoint write or inside a stage's commit; an executor in the middle of a
 * round or of a Parquet shard. Each scenario ends with the same output as the fault-free run, to the bit.
 *
 * <p>Tiny models (16 px, 16 tokens, width 32), 160 train images, 2 workers x batch 8 x 2 steps a round: 5 rounds an
 * epoch. RELIABILITY.md lists what each test proves.
 */
@Tag("slow")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProcessKillTest {
    static final long MINUTES = 10;

    @TempDir
    static Path tmp;
    static LocalStandaloneCluster cluster;
    static Path folder;
    static Path words;
    static Path data;
    static Path log;

    @BeforeAll
    static void start() throws Exception {
        folder = tmp.resolve("imagefolder");
        words = ImageFolders.write(folder, 16, 4);
        data = tmp.resolve("data");
        log = tmp.resolve("drivers.log");
        cluster = new LocalStandaloneCluster(2, 1, "1500m");
    }

    @AfterAll
    static void stop() throws Exception {
        if (cluster != null) cluster.close();
    }

    /** Settings of every run: the cluster, the shared prep output, tiny models, checkpoints every 2 rounds. */
    static List<String> args(String stage, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of(stage));
        a.addAll(cluster.sparkConf(2, 1));
        a.addAll(List.of("run.out=" + out, "data.parquet=" + data, "data.imagefolder=" + folder, "prep.class-names=" + words,
                "data.image-size=16", "trainer.averaging-frequency=2", "trainer.checkpoint-every=2",
                "tokenizer.patch=4", "tokenizer.latent-grid=4", "tokenizer.codebook-size=64", "tokenizer.code-dim=8",
                "tokenizer.perturb.delta-max=20",
                "tokenizer.model.width=32", "tokenizer.model.encoder-depth=1", "tokenizer.model.decoder-depth=1",
                "tokenizer.model.heads=2", "tokenizer.batch-size=8", "tokenizer.stage.val-images=16",
                "tokenizer.optimizer.lr=2e-3", "tokenizer.optimizer.disc-lr=2e-3", "tokenizer.perturb.ramp-start=0.5",
                "tokenizer.perturb.ramp-end=1.5", "tokenizer.trainer.epochs=2", "tokenizer.trainer.ema-decay=0.9",
                "tokenizer.loss.gan-start-epoch=1",
                "generator.model.width=32", "generator.model.depth=1", "generator.model.heads=2", "generator.batch-size=8",
                "generator.trainer.max-steps=16", "generator.trainer.warmup=2", "generator.trainer.ema-decay=0.9",
                "generator.stage.val-rows=16", "generator.stage.grid-per-class=1",
                "posttrain.pairs=160", "posttrain.batch-size=8", "posttrain.trainer.epochs=2", "posttrain.trainer.ema-decay=0.9",
                "posttrain.optimizer.lr=1e-3", "posttrain.optimizer.disc-lr=1e-3", "posttrain.stage.val-images=16"));
        a.addAll(List.of(extra));
        return a;
    }

    static int run(List<String> args) throws Exception {
        try (ChildDriver d = ChildDriver.start(log, Map.of(), args)) {
            return d.waitFor(MINUTES);
        }
    }

    /** Runs {@code args} until the driver reaches {@code point} for the n-th time, then kill -9s it. */
    static void killDriverAt(List<String> args, String point, int n) throws Exception {
        Path marker = Files.createTempFile(tmp, "marker", "");
        Files.delete(marker);
        try (ChildDriver d = ChildDriver.start(log, ChildDriver.pauseAt(point, n, marker), args)) {
            long pid = d.awaitMarker(marker, MINUTES);
            assertEquals(d.pid(), pid, "the driver froze at " + point);
            d.kill9();
        }
    }

    /**
     * Runs {@code args} until an executor reaches {@code point} for the n-th time, kill -9s that executor, and checks
     * that the same invocation still ends with exit code 0 and that Spark saw the executor die.
     */
    static void runLosingAnExecutorAt(List<String> args, String point, int n) throws Exception {
        Path marker = Files.createTempFile(tmp, "marker-executor", "");
        Files.delete(marker);
        List<String> a = new ArrayList<>(args);
        a.addAll(ChildDriver.executorPauseAt(point, n, marker));
        try (ChildDriver d = ChildDriver.start(log, Map.of(), a)) {
            ChildDriver.kill9(d.awaitMarker(marker, MINUTES));
            assertEquals(0, d.waitFor(MINUTES), args.get(0) + " finishes without the executor\n" + d.tail());
        }
        assertTrue(lastRun().contains("ExecutorLostFailure") || lastRun().contains("Lost executor"),
                "Spark saw the executor die:\n" + lastRun());
    }

    static String lastRun() throws IOException {
        String all = Files.readString(log);
        return all.substring(all.lastIndexOf("\n=== robustok "));
    }

    private static Path baselineTokenizer;

    /** The fault-free tokenizer run everything is compared with (trained once, with prep before it). */
    static synchronized Path baselineTokenizer() throws Exception {
        if (baselineTokenizer == null) {
            if (!StageOutput.isComplete(data.toString())) assertEquals(0, run(args("prep", tmp.resolve("prep-out"))), "prep");
            Path out = tmp.resolve("tok-a");
            assertEquals(0, run(args("train-tokenizer", out)), "fault-free tokenizer run");
            baselineTokenizer = out;
        }
        return baselineTokenizer;
    }

    @Test
    @Order(1)
    void prepKilledInItsCommitOrLosingAnExecutorMidShardWritesTheFaultFreeShards() throws Exception {
        assertEquals(0, run(args("prep", tmp.resolve("prep-out"))), "fault-free prep");

        // the driver dies with every shard written, inside the commit: nothing is complete, the rerun redoes it
        Path killed = tmp.resolve("data-killed");
        List<String> a = args("prep", tmp.resolve("prep-out"), "data.parquet=" + killed);
        killDriverAt(a, "stage-commit", 1);
        assertFalse(StageOutput.isComplete(killed.toString()), "a killed commit is not complete");
        assertEquals(1, leftovers(killed).size(), "its temporary directory is left: " + leftovers(killed));
        assertEquals(0, run(a), "rerun after the kill");
        assertTrue(leftovers(killed).isEmpty(), "the rerun removed the leftover: " + leftovers(killed));
        assertSameShards(data, killed);

        // an executor dies with a shard half written: Spark reruns the task, the job ends with the same bytes
        Path lost = tmp.resolve("data-executor-lost");
        runLosingAnExecutorAt(args("prep", tmp.resolve("prep-out"), "data.parquet=" + lost), "shard-write", 3);
        assertSameShards(data, lost);
    }

    @Test
    @Order(2)
    void tokenizerDriverKilledAfterARoundInACheckpointAndInItsCommitResumesToTheUninterruptedWeights() throws Exception {
        Path a = baselineTokenizer();
        Path b = tmp.resolve("tok-b");
        List<String> args = args("train-tokenizer", b);

        // 1. kill -9 after round 7 (checkpoints at 2, 4, 5 = end of epoch 1, 6): one round lost
        killDriverAt(args, "round-done", 7);
        assertEquals(List.of("round-00000005", "round-00000006"), checkpoints(b));
        // 2. rerun; kill -9 while it writes the checkpoint of round 8 (GAN phase): tensors written, no state.json
        killDriverAt(args, "checkpoint-write", 1);
        assertTrue(lastRun().contains("resuming from") && lastRun().contains("round-00000006"), lastRun());
        try (Stream<Path> s = Files.list(b.resolve("tokenizer.train/checkpoints"))) {
            assertTrue(s.anyMatch(p -> p.getFileName().toString().startsWith("_tmp-round-00000008")), "half-written checkpoint left");
        }
        // 3. rerun: the half-written checkpoint is not read; resumes from round 6 again (2 rounds = one interval lost);
        //    kill -9 inside the stage's commit, weights written, rename not done
        killDriverAt(args, "stage-commit", 1);
        assertTrue(lastRun().contains("resuming from") && lastRun().contains("round-00000006"), lastRun());
        assertFalse(StageOutput.isComplete(b.resolve("tokenizer").toString()), "a killed commit is not complete");
        // 4. rerun: training is done (round 10 checkpoint), the stage validates and commits
        assertEquals(0, run(args), "final rerun");
        assertTrue(StageOutput.isComplete(b.resolve("tokenizer").toString()));
        assertTrue(leftovers(b.resolve("tokenizer")).isEmpty(), "leftover removed");

        assertSameTraining(a.resolve("tokenizer.train"), b.resolve("tokenizer.train"), "round-00000010");
        assertSameTensors(a.resolve("tokenizer/weights.safetensors"), b.resolve("tokenizer/weights.safetensors"));
        assertEquals(Files.readAllLines(a.resolve("tokenizer.train/metrics.jsonl")).size(),
                Files.readAllLines(b.resolve("tokenizer.train/metrics.jsonl")).size(), "metrics.jsonl: each round once");
    }

    @Test
    @Order(3)
    void tokenizerLosingAnExecutorInTheGanPhaseEndsWithTheFaultFreeWeights() throws Exception {
        Path a = baselineTokenizer();
        Path e = tmp.resolve("tok-e");
        // an executor runs about 2 steps a round: its 15th step is in round 7 or 8, in the GAN phase (from round 6)
        runLosingAnExecutorAt(args("train-tokenizer", e), "worker-step", 15);
        assertSameTraining(a.resolve("tokenizer.train"), e.resolve("tokenizer.train"), "round-00000010");
        assertSameTensors(a.resolve("tokenizer/weights.safetensors"), e.resolve("tokenizer/weights.safetensors"));
    }

    @Test
    @Order(4)
    void generatorDriverKilledAfterARoundResumesToTheUninterruptedWeights() throws Exception {
        Path tok = baselineTokenizer();
        assertEquals(0, run(args("tokenize", tok)), "tokenize");
        Path a = tmp.resolve("gen-a");
        Path b = tmp.resolve("gen-b");
        for (Path p : List.of(a, b)) {
            copyTree(tok.resolve("tokenizer"), p.resolve("tokenizer"));
            copyTree(tok.resolve("tokens"), p.resolve("tokens"));
        }
        assertEquals(0, run(args("train-generator", a)), "fault-free generator run");
        List<String> args = args("train-generator", b);
        // 8 rounds (16 steps); checkpoints at 2, 4, 5 (end of epoch 1), 6: kill -9 after round 7
        killDriverAt(args, "round-done", 7);
        assertEquals(List.of("round-00000005", "round-00000006"), checkpoints(b, "generator"));
        assertEquals(0, run(args), "rerun");
        assertTrue(lastRun().contains("resuming from") && lastRun().contains("round-00000006"), lastRun());
        assertSameTraining(a.resolve("generator.train"), b.resolve("generator.train"), "round-00000008");
        assertSameTensors(a.resolve("generator/weights.safetensors"), b.resolve("generator/weights.safetensors"));
    }

    @Test
    @Order(5)
    void postTrainDriverKilledAfterARoundResumesToTheUninterruptedWeights() throws Exception {
        Path gen = tmp.resolve("gen-a");
        assertTrue(StageOutput.isComplete(gen.resolve("generator").toString()), "the generator test ran first");
        assertEquals(0, run(args("pair-tokens", gen)), "pair-tokens");
        Path a = tmp.resolve("post-a");
        Path b = tmp.resolve("post-b");
        for (Path p : List.of(a, b)) {
            for (String o : List.of("tokenizer", "tokens", "generator", "pairs")) copyTree(gen.resolve(o), p.resolve(o));
        }
        assertEquals(0, run(args("post-train", a)), "fault-free post-train run");
        List<String> args = args("post-train", b);
        // 160 pairs: 5 rounds an epoch, 2 epochs; checkpoints at 2, 4, 5, 6, 8, 10: kill -9 after round 7
        killDriverAt(args, "round-done", 7);
        assertEquals(List.of("round-00000005", "round-00000006"), checkpoints(b, "posttrain"));
        assertEquals(0, run(args), "rerun");
        assertTrue(lastRun().contains("resuming from") && lastRun().contains("round-00000006"), lastRun());
        assertSameTraining(a.resolve("posttrain.train"), b.resolve("posttrain.train"), "round-00000010");
        assertSameTensors(a.resolve("posttrain/weights.safetensors"), b.resolve("posttrain/weights.safetensors"));
    }

    @Test
    @Order(6)
    void tokenizeLosingAnExecutorMidWriteAndPairTokensKilledInItsCommitWriteTheFaultFreeOutputs() throws Exception {
        Path gen = tmp.resolve("gen-a");
        assertTrue(StageOutput.isComplete(gen.resolve("pairs").toString()), "the post-train test ran first");

        // an executor dies with tokenize's Parquet file of a task open, 20 rows in: Spark reruns the task
        Path t = tmp.resolve("tokens-e");
        copyTree(gen.resolve("tokenizer"), t.resolve("tokenizer"));
        runLosingAnExecutorAt(args("tokenize", t), "token-write", 20);
        assertSameSparkParquet(gen.resolve("tokens"), t.resolve("tokens"), List.of("train", "val"));

        // the pair-tokens driver dies inside its commit: not complete; the rerun redoes it and writes the same pairs
        Path p = tmp.resolve("pairs-k");
        for (String o : List.of("tokenizer", "tokens", "generator")) copyTree(gen.resolve(o), p.resolve(o));
        List<String> b = args("pair-tokens", p);
        killDriverAt(b, "stage-commit", 1);
        assertFalse(StageOutput.isComplete(p.resolve("pairs").toString()), "a killed commit is not complete");
        assertEquals(1, leftovers(p.resolve("pairs")).size(), "its temporary directory is left");
        assertEquals(0, run(b), "rerun");
        assertTrue(leftovers(p.resolve("pairs")).isEmpty(), "the rerun removed the leftover");
        assertSameSparkParquet(gen.resolve("pairs"), p.resolve("pairs"), List.of("pairs"));
    }

    // ---- helpers

    static List<String> checkpoints(Path runOut) throws IOException {
        return checkpoints(runOut, "tokenizer");
    }

    static List<String> checkpoints(Path runOut, String stage) throws IOException {
        try (Stream<Path> s = Files.list(runOut.resolve(stage + ".train/checkpoints"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("round-")).sorted().toList();
        }
    }

    static List<Path> leftovers(Path output) throws IOException {
        try (Stream<Path> s = Files.list(output.getParent())) {
            return s.filter(p -> p.getFileName().toString().startsWith(output.getFileName() + "._")).toList();
        }
    }

    /** Same shard files, byte for byte, and the same class index. */
    static void assertSameShards(Path expected, Path actual) throws IOException {
        assertTrue(StageOutput.isComplete(actual.toString()), actual + " complete");
        for (String split : List.of("train", "val")) {
            List<String> names;
            try (Stream<Path> s = Files.list(expected.resolve(split))) {
                names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".parquet")).sorted().toList();
            }
            try (Stream<Path> s = Files.list(actual.resolve(split))) {
                assertEquals(names, s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".parquet")).sorted().toList());
            }
            assertFalse(names.isEmpty());
            for (String n : names) {
                assertArrayEquals(Files.readAllBytes(expected.resolve(split).resolve(n)), Files.readAllBytes(actual.resolve(split).resolve(n)),
                        split + "/" + n);
            }
        }
        assertEquals(Files.readString(expected.resolve("classes.json")), Files.readString(actual.resolve("classes.json")));
    }

    /**
     * Two outputs Spark's Parquet writer made (part files named by task number and a job id): the same number of part
     * files in each directory, and the i-th files of both hold the same rows in the same order.
     */
    static void assertSameSparkParquet(Path expected, Path actual, List<String> dirs) throws IOException {
        assertTrue(StageOutput.isComplete(actual.toString()), actual + " complete");
        for (String dir : dirs) {
            List<Path> e = partFiles(expected.resolve(dir));
            List<Path> a = partFiles(actual.resolve(dir));
            assertFalse(e.isEmpty(), expected.resolve(dir) + " has part files");
            assertEquals(e.size(), a.size(), dir + ": part files " + e + " vs " + a);
            for (int i = 0; i < e.size(); i++) {
                List<String> x = rows(e.get(i)), y = rows(a.get(i));
                assertFalse(x.isEmpty(), e.get(i) + " has rows");
                for (int r = 0; r < Math.min(x.size(), y.size()); r++) {
                    assertEquals(x.get(r), y.get(r), dir + ": row " + r + " of " + e.get(i).getFileName() + " vs " + a.get(i).getFileName());
                }
                assertEquals(x.size(), y.size(), dir + ": rows of " + e.get(i).getFileName() + " vs " + a.get(i).getFileName());
            }
        }
    }

    /** Every row of a Parquet file, as text, in file order. */
    static List<String> rows(Path file) throws IOException {
        List<String> out = new ArrayList<>();
        try (org.apache.parquet.hadoop.ParquetReader<org.apache.parquet.example.data.Group> r = org.apache.parquet.hadoop.ParquetReader
                .builder(new org.apache.parquet.hadoop.example.GroupReadSupport(), new org.apache.hadoop.fs.Path(file.toUri())).build()) {
            for (org.apache.parquet.example.data.Group g; (g = r.read()) != null; ) out.add(g.toString().replace('\n', ' '));
        }
        return out;
    }

    static List<Path> partFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("part-") && p.getFileName().toString().endsWith(".parquet"))
                    .sorted().toList();
        }
    }

    /** The final checkpoint's parameters, optimizer state (GAN state included) and EMA: identical bytes. */
    static void assertSameTraining(Path expected, Path actual, String checkpoint) throws IOException {
        for (String f : List.of("params.safetensors", "optimizer.safetensors", "ema.safetensors")) {
            Path e = expected.resolve("checkpoints").resolve(checkpoint).resolve(f);
            Path a = actual.resolve("checkpoints").resolve(checkpoint).resolve(f);
            assertTrue(Files.isRegularFile(a), a + " exists");
            assertTrue(Arrays.equals(Files.readAllBytes(e), Files.readAllBytes(a)), checkpoint + "/" + f + " differs from the fault-free run; "
                    + firstDifferentRound(expected.resolve("metrics.jsonl"), actual.resolve("metrics.jsonl")));
        }
    }

    /** The first line of two metrics.jsonl files whose metrics differ (timings aside), for a failure message. */
    static String firstDifferentRound(Path expected, Path actual) throws IOException {
        if (!Files.exists(expected) || !Files.exists(actual)) return "no metrics.jsonl to compare";
        List<String> e = Files.readAllLines(expected), a = Files.readAllLines(actual);
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (int i = 0; i < Math.min(e.size(), a.size()); i++) {
            var x = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(e.get(i));
            var y = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(a.get(i));
            for (var n : List.of(x, y)) n.remove(List.of("round_s", "broadcast_s", "compute_s", "aggregate_s", "samples_per_s"));
            if (!x.equals(y)) return "metrics first differ at line " + i + ":\n  fault-free " + x + "\n  this run   " + y;
        }
        return "metrics.jsonl rows agree (" + e.size() + " vs " + a.size() + " lines)";
    }

    static void assertSameTensors(Path expected, Path actual) throws IOException {
        Map<String, INDArray> e;
        Map<String, INDArray> a;
        try (InputStream in = Files.newInputStream(expected)) {
            e = SafeTensors.read(in).tensors();
        }
        try (InputStream in = Files.newInputStream(actual)) {
            a = SafeTensors.read(in).tensors();
        }
        assertEquals(e.keySet(), a.keySet());
        for (String k : e.keySet()) assertEquals(e.get(k), a.get(k), k);
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path d = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(d);
                else Files.copy(p, d);
            }
        }
    }
}
