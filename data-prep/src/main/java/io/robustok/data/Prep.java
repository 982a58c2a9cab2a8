package io.robustok.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.config.Settings;
import io.robustok.spark.FaultPoint;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The prep job: ImageFolder in, Parquet shards out (see {@link ImageParquet} for the row schema).
 *
 * <p>Output under {@code prep.output}:
 * <pre>
 * &lt;split&gt;/part-NNNNN.parquet   shards, rows in a fixed pseudo-random order (classes mixed)
 * classes.json                   [{label, wnid, name, &lt;split&gt;: rows}, ...]
 * manifest.json                  input fingerprint, per split: rows, per-class counts, rejects by reason, shards
 *                                (file, rows, bytes, sha256), stored original vs re-encoded
 * rejects.jsonl                  one {"key", "reason"} per rejected file, sorted by key
 * _COMPLETE.json, _config.conf   StageOutput's commit marker and the resolved config
 * </pre>
 * Deterministic: the driver lists and sorts the input, orders each split by a fixed hash of the key, cuts it
 * into shards of about {@code prep.shard-bytes} of input, and one Spark task writes each shard file directly.
 * The same input and settings give byte-identical shards on any cluster shape.
 */
public final class Prep {
    private static final Logger log = LoggerFactory.getLogger(Prep.class);
    public static final String STAGE = "prep";
    private static final ObjectMapper JSON_LINE = new ObjectMapper();

    private Prep() {
    }

    /** What a run did: skipped (complete output present) or the manifest it wrote. */
    public record Result(boolean skipped, String output, Map<String, Object> manifest) {
    }

    /**
     * Runs prep unless {@code cfg.output()} already holds a complete output and {@code force} is false.
     *
     * @throws PrepInputException for a missing input or an unrecognised layout (before any work)
     */
    public static Result run(JavaSparkContext jsc, PrepConfig cfg, Settings settings, boolean force) {
        if (!force && StageOutput.isComplete(cfg.output())) {
            log.info("prep: {} is complete, skipped (--force redoes it)", cfg.output());
            return new Result(true, cfg.output(), Map.of());
        }
        long t0 = System.nanoTime();
        ImageFolderInput in = ImageFolderInput.scan(cfg);
        log.info("prep: {} files ({} MB) in {} classes under {}, listed in {} s", in.files, in.bytes >> 20,
                in.wnids.size(), in.root, String.format("%.1f", (System.nanoTime() - t0) / 1e9));
        int minShards = cfg.minShards() > 0 ? cfg.minShards() : jsc.defaultParallelism();
        StageOutput out = StageOutput.begin(cfg.output());
        try {
            List<ShardTask> tasks = new ArrayList<>();
            List<Map<String, String>> rejects = new ArrayList<>();
            for (Map.Entry<String, List<ImageFolderInput.Entry>> s : in.splits.entrySet()) {
                List<ImageFolderInput.Entry> good = new ArrayList<>();
                for (ImageFolderInput.Entry e : s.getValue()) {
                    if (e.reason() != null) rejects.add(reject(e.key(), e.reason()));
                    else good.add(e);
                }
                tasks.addAll(plan(s.getKey(), good, cfg.shardBytes(), minShards, out.tmp()));
            }
            HadoopConf conf = new HadoopConf(jsc.hadoopConfiguration());
            long t1 = System.nanoTime();
            List<ShardResult> results = tasks.isEmpty() ? List.of()
                    : jsc.parallelize(tasks, tasks.size()).map(t -> writeShard(t, cfg, conf)).collect();
            double seconds = (System.nanoTime() - t1) / 1e9;
            for (ShardResult r : results) {
                for (int i = 0; i < r.rejectKeys.length; i++) rejects.add(reject(r.rejectKeys[i], r.rejectReasons[i]));
            }
            rejects.sort(Comparator.comparing(m -> m.get("key")));
            Map<String, Object> manifest = manifest(in, cfg, results, rejects);
            out.writeJson("manifest.json", manifest);
            out.writeJson("classes.json", classes(in, results));
            StringBuilder jl = new StringBuilder();
            for (Map<String, String> r : rejects) {
                jl.append(JSON_LINE.writeValueAsString(r)).append('\n');
            }
            out.writeText("rejects.jsonl", jl.toString());
            long rows = results.stream().mapToLong(r -> r.rows).sum();
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("input", in.root);
            prov.put("input_fingerprint", in.fingerprint);
            prov.put("rows", rows);
            prov.put("rejects", rejects.size());
            prov.put("shard_seconds", Math.round(seconds * 10) / 10.0);
            out.commit(STAGE, settings, prov);
            log.info("prep: {} rows, {} rejects, {} shards in {} s ({} images/s)", rows, rejects.size(),
                    results.size(), String.format("%.1f", seconds), Math.round((rows + rejects.size()) / Math.max(seconds, 1e-9)));
            return new Result(false, cfg.output(), manifest);
        } catch (RuntimeException | Error e) {
            out.abort();
            throw e;
        } catch (Exception e) {
            out.abort();
            throw new IllegalStateException(e);
        }
    }

    /** One Spark task: the files of one shard (parallel arrays; plain types travel cheaply). */
    static final class ShardTask implements Serializable {
        final String split;
        final int index;
        final String file;
        final String[] keys;
        final String[] paths;
        final String[] wnids;
        final int[] labels;

        ShardTask(String split, int index, String file, List<ImageFolderInput.Entry> es) {
            this.split = split;
            this.index = index;
            this.file = file;
            int n = es.size();
            keys = new String[n];
            paths = new String[n];
            wnids = new String[n];
            labels = new int[n];
            for (int i = 0; i < n; i++) {
                ImageFolderInput.Entry e = es.get(i);
                keys[i] = e.key();
                paths[i] = e.path();
                wnids[i] = e.wnid();
                labels[i] = e.label();
            }
        }
    }

    /** What a shard task reports back. */
    static final class ShardResult implements Serializable {
        String split;
        String file;
        long rows;
        long bytes;
        long inputBytes;
        String sha256;
        long original;
        long reencoded;
        Map<Integer, Long> perLabel = new TreeMap<>();
        String[] rejectKeys;
        String[] rejectReasons;
    }

    /**
     * Orders a split by a fixed hash of the key (so that every shard holds a mix of classes) and cuts it into
     * contiguous shards of about equal input bytes: max(minShards, input bytes / shardBytes) of them.
     */
    static List<ShardTask> plan(String split, List<ImageFolderInput.Entry> entries, long shardBytes, int minShards,
                                String tmp) {
        List<ImageFolderInput.Entry> es = new ArrayList<>(entries);
        es.sort(Comparator.comparingLong((ImageFolderInput.Entry e) -> keyHash(e.key())).thenComparing(ImageFolderInput.Entry::key));
        if (es.isEmpty()) return List.of();
        long total = 0;
        for (ImageFolderInput.Entry e : es) total += e.size();
        int n = (int) Math.max(minShards, (total + shardBytes - 1) / Math.max(1, shardBytes));
        n = Math.max(1, Math.min(n, es.size()));
        List<ShardTask> tasks = new ArrayList<>();
        long cum = 0;
        int start = 0;
        for (int i = 0; i < es.size(); i++) {
            cum += es.get(i).size();
            int shard = tasks.size();
            boolean last = i == es.size() - 1;
            // close shard k once the running total reaches its share, leaving at least one file per remaining shard
            boolean reached = cum * n >= total * (long) (shard + 1) && es.size() - (i + 1) >= n - shard - 1;
            if (last || (reached && shard < n - 1)) {
                String file = tmp + "/" + split + "/" + String.format("part-%05d.parquet", shard);
                tasks.add(new ShardTask(split, shard, file, es.subList(start, i + 1)));
                start = i + 1;
            }
        }
        return tasks;
    }

    /** FNV-1a over the UTF-8 key, then a SplitMix64 finaliser: fixed forever, independent of the JVM. */
    static long keyHash(String key) {
        long h = 0xcbf29ce484222325L;
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        return h ^ (h >>> 31);
    }

    static ShardResult writeShard(ShardTask t, PrepConfig cfg, HadoopConf conf) throws IOException {
        ShardResult r = new ShardResult();
        r.split = t.split;
        r.file = t.split + "/" + new Path(t.file).getName();
        List<String> rk = new ArrayList<>();
        List<String> rr = new ArrayList<>();
        long t0 = System.nanoTime();
        long tRead = 0;
        long tNorm = 0;
        try (ImageNormalizer norm = new ImageNormalizer(cfg);
             ImageParquet.Sink sink = ImageParquet.open(t.file, conf.get(), cfg)) {
            for (int i = 0; i < t.keys.length; i++) {
                byte[] bytes;
                long ta = System.nanoTime();
                try {
                    bytes = readFile(t.paths[i], conf);
                } catch (IOException | RuntimeException e) {
                    rk.add(t.keys[i]);
                    rr.add("unreadable: " + e.getMessage());
                    continue;
                }
                r.inputBytes += bytes.length;
                long tb = System.nanoTime();
                tRead += tb - ta;
                ImageNormalizer.Result n = norm.apply(bytes);
                tNorm += System.nanoTime() - tb;
                if (n.rejected()) {
                    rk.add(t.keys[i]);
                    rr.add(n.reject());
                    continue;
                }
                sink.write(new ImageParquet.Row(t.keys[i], t.labels[i], t.wnids[i], n.image(), n.format(), n.width(),
                        n.height(), n.sourceWidth(), n.sourceHeight(), n.original()));
                r.rows++;
                FaultPoint.reach("shard-write");
                if (n.original()) r.original++;
                else r.reencoded++;
                r.perLabel.merge(t.labels[i], 1L, Long::sum);
            }
            sink.close();
            r.sha256 = sink.sha256();
            r.bytes = sink.bytes();
        }
        log.info("prep: {} {} rows in {} ms (read {} ms, decode/convert {} ms)", r.file, r.rows,
                (System.nanoTime() - t0) / 1_000_000, tRead / 1_000_000, tNorm / 1_000_000);
        r.rejectKeys = rk.toArray(new String[0]);
        r.rejectReasons = rr.toArray(new String[0]);
        return r;
    }

    /**
     * Local files through java.nio: Hadoop's local file system costs about half a millisecond more per open,
     * which is most of prep's time on small images. Everything else through Hadoop.
     */
    private static byte[] readFile(String path, HadoopConf conf) throws IOException {
        if (path.startsWith("file:")) return java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(java.net.URI.create(path)));
        Path p = new Path(path);
        FileSystem fs = p.getFileSystem(conf.get());
        try (FSDataInputStream s = fs.open(p)) {
            return s.readAllBytes();
        }
    }

    private static Map<String, String> reject(String key, String reason) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("key", key);
        m.put("reason", reason);
        return m;
    }

    private static Map<String, Object> manifest(ImageFolderInput in, PrepConfig cfg, List<ShardResult> results,
                                                List<Map<String, String>> rejects) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("schema_version", ImageParquet.SCHEMA_VERSION);
        m.put("schema", ImageParquet.SCHEMA.toString());
        Map<String, Object> input = new LinkedHashMap<>();
        input.put("root", in.root);
        input.put("fingerprint_sha256", in.fingerprint);
        input.put("fingerprint_of", "sorted 'key<TAB>size' of every listed file, plus the val label file");
        input.put("files", in.files);
        input.put("bytes", in.bytes);
        m.put("input", input);
        Map<String, Object> store = new LinkedHashMap<>();
        store.put("resize_short_side", cfg.resizeShortSide());
        store.put("keep_original_short_side", cfg.keepOriginalShortSide());
        store.put("jpeg_quality", cfg.jpegQuality());
        // the driver's codec; both write identical bytes (ImageCodecTest), so shards do not depend on it
        store.put("jpeg_codec", TurboJpeg.describe());
        m.put("storage", store);
        m.put("classes", in.wnids.size());
        Map<String, Object> splits = new LinkedHashMap<>();
        for (String split : in.splits.keySet()) {
            Map<String, Object> s = new LinkedHashMap<>();
            long rows = 0;
            long bytes = 0;
            long inBytes = 0;
            long orig = 0;
            long reenc = 0;
            long[] perClass = new long[in.wnids.size()];
            List<Map<String, Object>> shards = new ArrayList<>();
            for (ShardResult r : results) {
                if (!r.split.equals(split)) continue;
                rows += r.rows;
                bytes += r.bytes;
                inBytes += r.inputBytes;
                orig += r.original;
                reenc += r.reencoded;
                r.perLabel.forEach((l, c) -> perClass[l] += c);
                Map<String, Object> sh = new LinkedHashMap<>();
                sh.put("file", r.file);
                sh.put("rows", r.rows);
                sh.put("bytes", r.bytes);
                sh.put("sha256", r.sha256);
                shards.add(sh);
            }
            Map<String, Long> byReason = new TreeMap<>();
            long rej = 0;
            for (Map<String, String> x : rejects) {
                if (!x.get("key").startsWith(split + "/")) continue;
                rej++;
                byReason.merge(reasonKind(x.get("reason")), 1L, Long::sum);
            }
            Map<String, Long> pc = new LinkedHashMap<>();
            for (int i = 0; i < perClass.length; i++) pc.put(in.wnids.get(i), perClass[i]);
            s.put("rows", rows);
            s.put("rejects", rej);
            s.put("rejects_by_reason", byReason);
            s.put("stored_original", orig);
            s.put("stored_reencoded", reenc);
            s.put("input_bytes", inBytes);
            s.put("bytes", bytes);
            s.put("per_class", pc);
            s.put("shards", shards);
            splits.put(split, s);
        }
        m.put("splits", splits);
        return m;
    }

    /** The reason without the file-specific details, for counting. */
    static String reasonKind(String reason) {
        int colon = reason.indexOf(':');
        String k = colon > 0 ? reason.substring(0, colon) : reason;
        int paren = k.indexOf(" (");
        if (paren > 0 && !k.startsWith("not an image")) k = k.substring(0, paren);
        return k.replaceAll("\\d+x\\d+", "WxH").replaceAll("for \\S+ in", "in").trim();
    }

    private static List<Map<String, Object>> classes(ImageFolderInput in, List<ShardResult> results) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < in.wnids.size(); i++) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("label", i);
            c.put("wnid", in.wnids.get(i));
            c.put("name", in.names.getOrDefault(in.wnids.get(i), ""));
            for (String split : in.splits.keySet()) {
                long n = 0;
                for (ShardResult r : results) if (r.split.equals(split)) n += r.perLabel.getOrDefault(i, 0L);
                c.put(split, n);
            }
            out.add(c);
        }
        return out;
    }
}
