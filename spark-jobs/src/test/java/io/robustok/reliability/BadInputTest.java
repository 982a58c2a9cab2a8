package io.robustok.reliability;

import io.robustok.cli.Main;
import io.robustok.eval.NpzWriter;
import io.robustok.train.SafeTensors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input across stages, as a user meets it through the CLI: truncated or corrupt Parquet (prep shards, tokens),
 * tokens of another tokenizer, unusable checkpoints, safetensors of the wrong shape or cut short, a crafted Java
 * serialization stream where weights or a checkpoint belong, ADM .npz files with the wrong arrays, config values out
 * of range, an output path that cannot be written and a full disk. Each is one line on stderr naming the input and
 * what was expected, exit code 1, and nothing already written is changed.
 *
 * <p>Fixture: a tiny ImageFolder, prep, a tiny tokenizer (one epoch) and its tokens, on local[2] in this JVM.
 */
class BadInputTest {
    @TempDir
    static Path tmp;
    static Path folder;
    static Path words;
    static Path data;
    static Path good;

    @BeforeAll
    static void fixture() throws Exception {
        folder = tmp.resolve("imagefolder");
        words = ImageFolders.write(folder, 16, 4);
        data = tmp.resolve("data");
        good = tmp.resolve("good");
        assertEquals(0, cli("prep", good).rc, "prep");
        assertEquals(0, cli("train-tokenizer", good).rc, "train-tokenizer");
        assertEquals(0, cli("tokenize", good).rc, "tokenize");
    }

    record Outcome(int rc, String err) {
        /** The one line of a refusal: exit code 1, a single line on stderr containing every {@code expected} part. */
        Outcome refused(String... expected) {
            assertEquals(1, rc, "exit code; stderr:\n" + err);
            List<String> lines = err.lines().filter(l -> !l.isBlank()).toList();
            assertEquals(1, lines.size(), "one line on stderr, got:\n" + err);
            for (String e : expected) assertTrue(lines.get(0).contains(e), "'" + e + "' in: " + lines.get(0));
            return this;
        }
    }

    static List<String> args(String stage, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of(stage, "run.out=" + out, "data.parquet=" + data, "data.imagefolder=" + folder,
                "prep.class-names=" + words, "spark.master=\"local[2]\"", "spark.workers=2", "data.image-size=16",
                "trainer.averaging-frequency=2", "tokenizer.patch=4", "tokenizer.latent-grid=4", "tokenizer.codebook-size=64",
                "tokenizer.code-dim=8", "tokenizer.model.width=32", "tokenizer.model.encoder-depth=1",
                "tokenizer.model.decoder-depth=1", "tokenizer.model.heads=2", "tokenizer.batch-size=8",
                "tokenizer.stage.val-images=16", "tokenizer.perturb.delta-max=20", "tokenizer.trainer.epochs=1",
                "tokenizer.loss.gan-start-epoch=0.5", "generator.model.width=32", "generator.model.depth=1",
                "generator.model.heads=2", "generator.batch-size=8", "generator.trainer.max-steps=4",
                "generator.trainer.warmup=1", "generator.stage.val-rows=16", "generator.stage.grid-per-class=1"));
        a.addAll(List.of(extra));
        return a;
    }

    static Outcome cli(String stage, Path out, String... extra) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(args(stage, out, extra).toArray(new String[0]), System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        String e = err.toString(StandardCharsets.UTF_8);
        System.err.print(e);
        return new Outcome(rc, e);
    }

    /** SHA-256 of every file under {@code dir} by relative path: "nothing overwritten" is this map unchanged. */
    static Map<String, String> snapshot(Path dir) throws Exception {
        Map<String, String> m = new TreeMap<>();
        if (!Files.exists(dir)) return m;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                m.put(dir.relativize(p).toString(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
        }
        return m;
    }

    static void copyTree(Path from, Path to) throws IOException {
        ProcessKillTest.copyTree(from, to);
    }

    static void truncate(Path f, long keep) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(keep);
        }
    }

    /**
     * Replaces {@code f}'s bytes the way a tool other than Hadoop would (a copy, an editor, an attacker): without
     * Hadoop's checksum file beside it, so that the reader itself, not the checksum, meets the content.
     */
    static void replace(Path f, byte[] bytes) throws IOException {
        Files.write(f, bytes);
        Files.deleteIfExists(f.resolveSibling("." + f.getFileName() + ".crc"));
    }

    static Path firstParquet(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".parquet")).sorted().findFirst().orElseThrow();
        }
    }

    // ---- Parquet

    @Test
    void truncatedOrCorruptPrepShardIsNamedBeforeTraining() throws Exception {
        Path bad = tmp.resolve("data-truncated");
        copyTree(data, bad);
        Path shard = firstParquet(bad.resolve("train"));
        truncate(shard, Files.size(shard) / 2);
        Map<String, String> before = snapshot(bad);
        Path out = tmp.resolve("run-truncated-shard");
        cli("train-tokenizer", out, "data.parquet=" + bad).refused(shard.getFileName().toString(), "manifest.json says", "prep --force");
        assertFalse(Files.exists(out.resolve("tokenizer.train")), "nothing trained");
        assertEquals(before, snapshot(bad), "input untouched");

        // same size, damaged footer: the size check passes, the footer does not
        Path bad2 = tmp.resolve("data-corrupt");
        copyTree(data, bad2);
        Path shard2 = firstParquet(bad2.resolve("val"));
        try (RandomAccessFile r = new RandomAccessFile(shard2.toFile(), "rw")) {
            r.seek(r.length() - 12);
            r.write(new byte[8]);
        }
        cli("tokenize", good, "data.parquet=" + bad2, "--force").refused(shard2.getFileName().toString(), "not a readable Parquet file");
    }

    @Test
    void truncatedTokenFileAndTokensOfAnotherTokenizerAreRefusedByTheGenerator() throws Exception {
        Path run = tmp.resolve("run-truncated-tokens");
        copyTree(good.resolve("tokenizer"), run.resolve("tokenizer"));
        copyTree(good.resolve("tokens"), run.resolve("tokens"));
        Path part = firstParquet(run.resolve("tokens/train"));
        truncate(part, Files.size(part) - 20);
        Map<String, String> before = snapshot(run);
        cli("train-generator", run).refused(part.getFileName().toString(), "not a readable Parquet file", "tokenize --force");
        assertEquals(before, snapshot(run), "nothing written");

        // the same tokens beside a tokenizer trained again (another seed): decoding them would be garbage
        Path other = tmp.resolve("run-other-tokenizer");
        copyTree(good.resolve("tokens"), other.resolve("tokens"));
        assertEquals(0, cli("train-tokenizer", other, "tokenizer.seed=7").rc);
        Map<String, String> before2 = snapshot(other);
        cli("train-generator", other).refused("made by another tokenizer", "tokenize --force");
        assertEquals(before2, snapshot(other), "nothing written");
    }

    // ---- checkpoints and safetensors

    @Test
    void checkpointsThatAreAllTruncatedAreNotOverwritten() throws Exception {
        Path run = tmp.resolve("run-truncated-checkpoints");
        copyTree(good.resolve("tokenizer.train"), run.resolve("tokenizer.train"));
        try (Stream<Path> s = Files.list(run.resolve("tokenizer.train/checkpoints"))) {
            for (Path c : s.toList()) truncate(c.resolve("params.safetensors"), 100);
        }
        Map<String, String> before = snapshot(run);
        cli("train-tokenizer", run).refused("no usable checkpoint", "file sizes differ", "move the directory away");
        assertEquals(before, snapshot(run), "the checkpoints are left as they were");
    }

    @Test
    void missingTruncatedOrMisshapenTokenizerWeightsAreOneLine() throws Exception {
        // missing output
        cli("tokenize", tmp.resolve("run-no-tokenizer")).refused("no complete train-tokenizer output", "robustok train-tokenizer");

        // safetensors header cut short
        Path cut = tmp.resolve("run-cut-weights");
        copyTree(good.resolve("tokenizer"), cut.resolve("tokenizer"));
        Path w = cut.resolve("tokenizer/weights.safetensors");
        replace(w, java.util.Arrays.copyOf(Files.readAllBytes(w), 40));
        cli("tokenize", cut).refused("weights.safetensors", "truncated", "train-tokenizer --force");
        assertFalse(Files.exists(cut.resolve("tokens")), "no tokens written");

        // a tensor of the wrong shape
        Path bent = tmp.resolve("run-wrong-shape");
        copyTree(good.resolve("tokenizer"), bent.resolve("tokenizer"));
        Path wb = bent.resolve("tokenizer/weights.safetensors");
        Map<String, INDArray> t;
        try (InputStream in = Files.newInputStream(wb)) {
            t = new LinkedHashMap<>(SafeTensors.read(in).tensors());
        }
        t.put("quantizer/codebook", Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 64, 9));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SafeTensors.write(bytes, t, Map.of());
        replace(wb, bytes.toByteArray());
        cli("tokenize", bent).refused("quantizer/codebook", "[64, 9]", "[64, 8]");
        assertFalse(Files.exists(bent.resolve("tokens")), "no tokens written");
    }

    /** A class whose deserialization would run code: the stand-in for a gadget chain. */
    static final class Tripwire implements Serializable {
        private static final long serialVersionUID = 1L;
        static volatile boolean fired;

        private void readObject(java.io.ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            fired = true;
        }
    }

    static byte[] serialized() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(b)) {
            o.writeObject(new Tripwire());
        }
        return b.toByteArray();
    }

    @Test
    void aCraftedJavaSerializedObjectWhereWeightsOrACheckpointBelongIsRefusedUnread() throws Exception {
        byte[] gadget = serialized();
        // as the tokenizer's weights
        Path run = tmp.resolve("run-serialized-weights");
        copyTree(good.resolve("tokenizer"), run.resolve("tokenizer"));
        replace(run.resolve("tokenizer/weights.safetensors"), gadget);
        cli("tokenize", run).refused("weights.safetensors", "not a safetensors file");

        // as every checkpoint's parameters, with state.json listing the new size (a consistent-looking checkpoint)
        Path ck = tmp.resolve("run-serialized-checkpoint");
        copyTree(good.resolve("tokenizer.train"), ck.resolve("tokenizer.train"));
        try (Stream<Path> s = Files.list(ck.resolve("tokenizer.train/checkpoints"))) {
            for (Path c : s.toList()) {
                replace(c.resolve("params.safetensors"), gadget);
                Path state = c.resolve("state.json");
                replace(state, Files.readString(state).replaceAll("\"params.safetensors\" : \\d+",
                        "\"params.safetensors\" : " + gadget.length).getBytes(StandardCharsets.UTF_8));
            }
        }
        Map<String, String> before = snapshot(ck);
        cli("train-tokenizer", ck).refused("no usable checkpoint", "not a safetensors file");
        assertEquals(before, snapshot(ck), "nothing overwritten");

        // as the demo feature network: DL4J would deserialize a "preprocessor.bin" entry
        Path zip = tmp.resolve("feature-net.zip");
        try (java.util.zip.ZipOutputStream z = new java.util.zip.ZipOutputStream(Files.newOutputStream(zip))) {
            z.putNextEntry(new java.util.zip.ZipEntry("configuration.json"));
            z.write("{}".getBytes(StandardCharsets.UTF_8));
            z.putNextEntry(new java.util.zip.ZipEntry("preprocessor.bin"));
            z.write(gadget);
        }
        io.robustok.config.InputError e = org.junit.jupiter.api.Assertions.assertThrows(io.robustok.config.InputError.class,
                () -> io.robustok.eval.DemoFeatureNet.load(zip));
        assertTrue(e.getMessage().contains("preprocessor.bin"), e.getMessage());
        assertFalse(Tripwire.fired, "no Java deserialization of a file ever ran");
    }

    // ---- ADM .npz

    @Test
    void npzWithTheWrongArraysOrShapesIsOneLine() throws Exception {
        Path goodStats = tmp.resolve("stats.npz");
        try (NpzWriter w = new NpzWriter(goodStats)) {
            w.write("mu", new double[]{0, 0, 0, 0}, 4);
            w.write("sigma", new double[]{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 4, 4);
        }
        Path keys = tmp.resolve("wrong-keys.npz");
        try (NpzWriter w = new NpzWriter(keys)) {
            w.write("means", new double[]{0, 0, 0, 0}, 4);
        }
        Path shapes = tmp.resolve("wrong-shapes.npz");
        try (NpzWriter w = new NpzWriter(shapes)) {
            w.write("mu", new double[]{0, 0, 0, 0}, 4);
            w.write("sigma", new double[]{1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, 3);
        }
        Path notZip = tmp.resolve("not-a-zip.npz");
        Files.writeString(notZip, "mu,sigma\n1,2\n");
        Path out = tmp.resolve("run-npz");
        cli("eval", out, "fid", "--ref", keys.toString(), "--samples", goodStats.toString()).refused("wrong-keys.npz", "means", "mu and sigma");
        cli("eval", out, "fid", "--ref", shapes.toString(), "--samples", goodStats.toString()).refused("wrong-shapes.npz", "[3, 3]", "sigma [d, d]");
        cli("eval", out, "fid", "--ref", notZip.toString(), "--samples", goodStats.toString()).refused("not-a-zip.npz", "not an .npz file");
    }

    // ---- config values

    @Test
    void configValuesOutOfRangeStopBeforeAnythingIsWritten() {
        Path out = tmp.resolve("run-bad-config");
        cli("train-tokenizer", out, "tokenizer.optimizer.lr=-1e-3").refused("tokenizer.optimizer.lr must be > 0");
        cli("train-tokenizer", out, "tokenizer.perturb.delta-max=64").refused("tokenizer.perturb.delta-max (64)", "tokenizer.codebook-size (64)");
        cli("train-tokenizer", out, "data.image-size=18").refused("tokenizer.image-size (18) must be a multiple of tokenizer.patch (4)");
        cli("train-tokenizer", out, "spark.workers=-1").refused("spark.workers must be >= 0");
        cli("train-tokenizer", out, "trainer.averaging-frequency=0").refused("trainer.averaging-frequency must be >= 1");
        cli("train-generator", out, "generator.optimizer.lr=-1").refused("generator.optimizer.lr must be > 0");
        assertFalse(Files.exists(out), "nothing written");
    }

    // ---- output paths

    @Test
    void anOutputPathThatCannotBeWrittenIsOneLineNamingIt() throws Exception {
        Path file = tmp.resolve("a-file");
        Files.writeString(file, "not a directory");
        Path out = file.resolve("run");
        cli("prep", out, "data.parquet=" + out.resolve("data")).refused("output directory", file.toString(), "not writable");
    }

    /**
     * A full disk: run.out on a size-limited tmpfs holding a finished tokenizer output; retraining (--force) runs out
     * of space at its first checkpoint. Needs mount(8) and the right to use it (root in a container); skipped otherwise.
     */
    @Test
    void aFullDiskIsOneLineNamingThePathAndEarlierOutputsStayIntact() throws Exception {
        Path mnt = tmp.resolve("small-disk");
        Files.createDirectories(mnt);
        long have;
        try (Stream<Path> s = Files.walk(good.resolve("tokenizer"))) {
            have = s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
        long weights = Files.size(good.resolve("tokenizer/weights.safetensors"));
        // room for the finished output and the logs, not for a checkpoint (parameters, 2 optimizer moments, EMA)
        long size = have + weights + 256 * 1024;
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mnt.toString())
                .redirectErrorStream(true).start();
        String why = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        Assumptions.assumeTrue(p.waitFor() == 0, "cannot mount a size-limited tmpfs here (" + why + "): full-disk test skipped");
        try {
            copyTree(good.resolve("tokenizer"), mnt.resolve("tokenizer"));
            Map<String, String> before = snapshot(mnt.resolve("tokenizer"));
            cli("train-tokenizer", mnt, "--force").refused("cannot write checkpoint", mnt.toString(), "no space left on device");
            assertEquals(before, snapshot(mnt.resolve("tokenizer")), "the finished output is intact");
            try (Stream<Path> s = Files.list(mnt.resolve("tokenizer.train/checkpoints"))) {
                assertEquals(List.of(), s.toList(), "no partial checkpoint left");
            }
        } finally {
            // lazily: this JVM's file system caches may still hold the directory
            new ProcessBuilder("umount", "-l", mnt.toString()).start().waitFor();
        }
    }
}
