package io.robustok.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import io.robustok.spark.StageOutput;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The prep job on a fixture with every kind of good and broken file, on local[2]. */
class PrepTest {
    @TempDir
    static Path dir;
    static Map<String, Fixtures.Expect> expected;
    static SparkSession spark;
    static JavaSparkContext jsc;

    @BeforeAll
    static void start() throws IOException {
        expected = Fixtures.imageFolder(dir.resolve("in"));
        spark = SparkRuntime.session(settings("out"));
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        // one output shared by the tests that only read it (each prep run costs seconds)
        first = run(settings("out"), false);
    }

    static Prep.Result first;

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static Settings settings(String out, String... more) {
        List<String> o = new ArrayList<>(List.of("spark.master=\"local[2]\"", "data.image-size=32",
                "prep.input=" + dir.resolve("in"), "prep.output=" + dir.resolve(out),
                "prep.val-labels=" + dir.resolve("in/val_labels.csv")));
        o.addAll(List.of(more));
        return Settings.load(null, o);
    }

    static Prep.Result run(Settings s, boolean force) {
        return Prep.run(jsc, PrepConfig.from(s.config()), s, force);
    }

    @Test
    void everyGoodImageLandsAndEveryBadOneIsRejectedWithItsReason() throws IOException {
        assertFalse(first.skipped());
        String out = dir.resolve("out").toString();
        assertTrue(StageOutput.isComplete(out));

        Map<String, ImageRecord> rows = new HashMap<>();
        for (String split : List.of("train", "val")) {
            for (ImageRecord rec : ImageParquet.readSplit(out, split)) rows.put(rec.key(), rec);
        }
        Map<String, String> rejects = new TreeMap<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(dir.resolve("out/rejects.jsonl"))) {
            JsonNode n = json.readTree(line);
            rejects.put(n.get("key").asText(), n.get("reason").asText());
        }
        ImageCodec codec = new ImageCodec();
        int good = 0;
        for (Map.Entry<String, Fixtures.Expect> e : expected.entrySet()) {
            String key = e.getKey();
            Fixtures.Expect x = e.getValue();
            if (x.good()) {
                good++;
                ImageRecord rec = rows.get(key);
                assertNotNull(rec, key + " should be in the shards, rejects say: " + rejects.get(key));
                assertEquals(Fixtures.label(key), rec.label(), key);
                assertEquals(x.width(), rec.width(), key + " width");
                assertEquals(x.height(), rec.height(), key + " height");
                ImageHeader h = ImageHeader.parse(rec.image());
                assertNotNull(h, key);
                assertEquals(x.format(), h.format(), key + " stored format");
                assertTrue(h.plainRgb(), key + " stored as 8-bit RGB, header says " + h);
                try (Mat m = codec.decodeBgr(rec.image(), 1)) {
                    assertEquals(x.width(), m.cols(), key);
                    assertEquals(x.height(), m.rows(), key);
                    assertEquals(3, m.channels(), key);
                }
            } else {
                assertFalse(rows.containsKey(key), key + " must not be stored");
                assertTrue(rejects.containsKey(key), key + " should be rejected");
                assertTrue(rejects.get(key).contains(x.reasonPart()),
                        key + ": reason '" + rejects.get(key) + "' should mention '" + x.reasonPart() + "'");
            }
        }
        codec.close();
        assertEquals(good, rows.size());
        assertEquals(expected.size() - good, rejects.size());

        JsonNode m = json.readTree(dir.resolve("out/manifest.json").toFile());
        long rowsInManifest = m.get("splits").get("train").get("rows").asLong() + m.get("splits").get("val").get("rows").asLong();
        long rejInManifest = m.get("splits").get("train").get("rejects").asLong() + m.get("splits").get("val").get("rejects").asLong();
        assertEquals(good, rowsInManifest);
        assertEquals(rejects.size(), rejInManifest);
        assertEquals(2, m.get("classes").asInt());
        assertEquals(64, m.get("input").get("fingerprint_sha256").asText().length());
        long perClass = 0;
        for (JsonNode c : m.get("splits").get("train").get("per_class")) perClass += c.asLong();
        assertEquals(m.get("splits").get("train").get("rows").asLong(), perClass);
        JsonNode classes = json.readTree(dir.resolve("out/classes.json").toFile());
        assertEquals("n01", classes.get(0).get("wnid").asText());
        assertEquals(1, classes.get(1).get("label").asInt());
        // the "big" image is the only plain RGB one re-encoded (downscaled); all converted ones are re-encoded too
        assertTrue(m.get("splits").get("train").get("stored_reencoded").asLong() >= 5);
    }

    @Test
    void sameInputGivesByteIdenticalShardsAndCompleteOutputIsSkipped() throws IOException {
        Map<String, String> a = shardHashes(dir.resolve("out"));
        assertFalse(a.isEmpty());
        // output present: skipped, untouched
        Path marker = dir.resolve("out/" + StageOutput.COMPLETE);
        String before = Files.readString(marker);
        assertTrue(run(settings("out"), false).skipped());
        assertEquals(before, Files.readString(marker), "a skipped run leaves the output alone");
        // forced: redone in place, same bytes; and once more into another directory, same bytes
        assertFalse(run(settings("out"), true).skipped());
        assertEquals(a, shardHashes(dir.resolve("out")));
        run(settings("det-b"), false);
        assertEquals(a, shardHashes(dir.resolve("det-b")));
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith("out._")), "no temporary or old dirs left");
        }
        // the manifest's hashes are the files' hashes; manifests differ only in the output-independent input root
        JsonNode m = new ObjectMapper().readTree(dir.resolve("out/manifest.json").toFile());
        for (JsonNode s : m.get("splits").get("train").get("shards")) {
            assertEquals(a.get(s.get("file").asText()), s.get("sha256").asText());
        }
        assertEquals(Files.readString(dir.resolve("out/manifest.json")), Files.readString(dir.resolve("det-b/manifest.json")));
        assertArrayEquals(Files.readAllBytes(dir.resolve("out/rejects.jsonl")), Files.readAllBytes(dir.resolve("det-b/rejects.jsonl")));
        // the writer metadata is constant: parquet-mr's created_by and our schema version, nothing else
        byte[] shard = Files.readAllBytes(dir.resolve("out/train/part-00000.parquet"));
        String tail = new String(shard, Math.max(0, shard.length - 4096), Math.min(4096, shard.length), StandardCharsets.ISO_8859_1);
        assertTrue(tail.contains("parquet-mr version 1.13.1"), "created_by in footer");
        assertTrue(tail.contains("robustok.image.schema"));
        // parquet-mr lists encodings in HashSet order, which changes between JVMs: prep sorts them
        int footerLen = (shard[shard.length - 8] & 0xff) | (shard[shard.length - 7] & 0xff) << 8
                | (shard[shard.length - 6] & 0xff) << 16 | (shard[shard.length - 5] & 0xff) << 24;
        org.apache.parquet.format.FileMetaData md = org.apache.parquet.format.Util.readFileMetaData(
                new java.io.ByteArrayInputStream(shard, shard.length - 8 - footerLen, footerLen));
        int lists = 0;
        for (org.apache.parquet.format.RowGroup rg : md.getRow_groups()) {
            for (org.apache.parquet.format.ColumnChunk cc : rg.getColumns()) {
                List<Integer> enc = cc.getMeta_data().getEncodings().stream().map(e -> e.getValue()).toList();
                assertEquals(enc.stream().sorted().toList(), enc, "encodings of " + cc.getMeta_data().getPath_in_schema());
                if (enc.size() > 1) lists++;
            }
        }
        assertTrue(lists > 0, "some columns have several encodings, so the order matters");
    }

    @Test
    void shardsAreBalancedAndTheRddMatchesTheSparkFreeReader() {
        Settings s = settings("rdd", "prep.min-shards=3");
        run(s, true);
        String out = dir.resolve("rdd").toString();
        List<String> shards = ImageParquet.shards(out, "train");
        assertEquals(3, shards.size());
        List<ImageRecord> local = ImageParquet.readSplit(out, "train");
        List<ImageRecord> viaSpark = ImageShards.rdd(jsc, out, "train").collect();
        assertEquals(local, viaSpark);
        assertEquals(3, ImageShards.rdd(jsc, out, "train").getNumPartitions());
        for (String f : shards) assertFalse(ImageParquet.read(f).isEmpty(), f + " has rows");
        assertEquals(List.of("n01", "n02"), ImageShards.classes(out));
        // Spark's own reader sees the documented schema
        assertEquals(local.size(), spark.read().parquet(out + "/train").select("key", "label", "wnid", "image", "format",
                "width", "height", "source_width", "source_height", "stored").count());
    }

    @Test
    void missingInputFailsNamingWhatWasExpected() {
        Settings s = Settings.load(null, List.of("spark.master=\"local[2]\"", "prep.input=" + dir.resolve("nope"),
                "prep.output=" + dir.resolve("x")));
        PrepInputException e = assertThrows(PrepInputException.class, () -> run(s, false));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertTrue(e.getMessage().contains("train/<wnid>/*.JPEG"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("x")));
    }

    @Test
    void unrecognisedLayoutsFailNamingWhatWasExpected() throws IOException {
        Path flat = dir.resolve("flat");
        Files.createDirectories(flat);
        Files.write(flat.resolve("a.JPEG"), Fixtures.jpeg(8, 8, 1));
        Settings s = Settings.load(null, List.of("spark.master=\"local[2]\"", "prep.input=" + flat,
                "prep.output=" + dir.resolve("y")));
        PrepInputException e = assertThrows(PrepInputException.class, () -> run(s, false));
        assertTrue(e.getMessage().contains("unrecognised layout") && e.getMessage().contains("no train/ folder")
                && e.getMessage().contains("a.JPEG"), e.getMessage());

        Path noClasses = dir.resolve("noclasses");
        Files.createDirectories(noClasses.resolve("train"));
        Files.write(noClasses.resolve("train/a.JPEG"), Fixtures.jpeg(8, 8, 1));
        Settings s2 = Settings.load(null, List.of("spark.master=\"local[2]\"", "prep.input=" + noClasses,
                "prep.output=" + dir.resolve("y")));
        e = assertThrows(PrepInputException.class, () -> run(s2, false));
        assertTrue(e.getMessage().contains("has no class folders"), e.getMessage());

        Path flatVal = dir.resolve("flatval");
        Files.createDirectories(flatVal.resolve("train/n01"));
        Files.createDirectories(flatVal.resolve("val"));
        Files.write(flatVal.resolve("train/n01/a.JPEG"), Fixtures.jpeg(8, 8, 1));
        Files.write(flatVal.resolve("val/b.JPEG"), Fixtures.jpeg(8, 8, 2));
        Settings s3 = Settings.load(null, List.of("spark.master=\"local[2]\"", "prep.input=" + flatVal,
                "prep.output=" + dir.resolve("y")));
        e = assertThrows(PrepInputException.class, () -> run(s3, false));
        assertTrue(e.getMessage().contains("prep.val-labels is not set") && e.getMessage().contains("val/<wnid>/*.JPEG"),
                e.getMessage());
        assertFalse(Files.exists(dir.resolve("y")));
    }

    static Map<String, String> shardHashes(Path out) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(out)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".parquet")).sorted().toList()) {
                m.put(out.relativize(p).toString(), sha256(Files.readAllBytes(p)));
            }
        }
        return m;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
