package io.robustok.data;

import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The driver's view of an ImageFolder input: which files exist, in which split and class. Lists through the
 * Hadoop file system (file://, hdfs://, s3a://), reads no image bytes.
 *
 * <p>Layouts: {@code <split>/<wnid>/...} (any depth below the class folder), or for the split named "val" a
 * flat {@code val/*} with {@code prep.val-labels}. Classes are the sorted folder names of the first split;
 * label = position in that list. Names starting with "." or "_" are ignored (.DS_Store, _SUCCESS, markers).
 * Files that cannot get a label go to the rejects, not to an error.
 */
final class ImageFolderInput {
    private static final Logger log = LoggerFactory.getLogger(ImageFolderInput.class);
    /** Interval of the listing's progress lines. */
    private static final long PROGRESS_NANOS = 15_000_000_000L;
    static final String EXPECTED = "an ImageFolder root with train/<wnid>/*.JPEG and optionally val/<wnid>/*.JPEG "
            + "(or a flat val/ with prep.val-labels)";

    /** A file to prepare (label >= 0) or one already rejected by the listing (reason != null). */
    record Entry(String key, String path, long size, String wnid, int label, String reason) {
    }

    final String root;
    final List<String> wnids;
    final Map<String, String> names;
    /** Split -> entries sorted by key; splits in configured order, absent ones left out. */
    final Map<String, List<Entry>> splits;
    final String fingerprint;
    final long files;
    final long bytes;

    private ImageFolderInput(String root, List<String> wnids, Map<String, String> names,
                             Map<String, List<Entry>> splits, String fingerprint) {
        this.root = root;
        this.wnids = wnids;
        this.names = names;
        this.splits = splits;
        this.fingerprint = fingerprint;
        long n = 0;
        long b = 0;
        for (List<Entry> es : splits.values()) {
            n += es.size();
            for (Entry e : es) b += e.size();
        }
        this.files = n;
        this.bytes = b;
    }

    static ImageFolderInput scan(PrepConfig cfg) {
        String root = StageOutput.qualify(cfg.input());
        FileSystem fs = StageOutput.fs(root);
        Path rootPath = new Path(root);
        try {
            if (!fs.exists(rootPath)) {
                throw new PrepInputException("input path " + cfg.input() + " does not exist: expected " + EXPECTED
                        + " (set prep.input or data.imagefolder)");
            }
            if (!fs.getFileStatus(rootPath).isDirectory()) {
                throw new PrepInputException("input path " + cfg.input() + " is a file: expected " + EXPECTED);
            }
            String first = cfg.splits().get(0);
            Path firstDir = new Path(rootPath, first);
            if (!fs.exists(firstDir) || !fs.getFileStatus(firstDir).isDirectory()) {
                throw new PrepInputException("unrecognised layout at " + cfg.input() + ": no " + first
                        + "/ folder (found " + listing(fs, rootPath) + "); expected " + EXPECTED);
            }
            List<String> wnids = new ArrayList<>();
            for (FileStatus s : sorted(fs.listStatus(firstDir))) {
                if (s.isDirectory() && visible(s.getPath().getName())) wnids.add(s.getPath().getName());
            }
            if (wnids.isEmpty()) {
                throw new PrepInputException("unrecognised layout at " + cfg.input() + ": " + first
                        + "/ has no class folders (found " + listing(fs, firstDir) + "); expected " + EXPECTED);
            }
            Map<String, Integer> labelOf = new HashMap<>();
            for (int i = 0; i < wnids.size(); i++) labelOf.put(wnids.get(i), i);

            Map<String, List<Entry>> splits = new LinkedHashMap<>();
            MessageDigest fp = sha256();
            for (String split : cfg.splits()) {
                Path dir = new Path(rootPath, split);
                if (!fs.exists(dir)) {
                    log.warn("prep: no {}/ under {}: split skipped", split, cfg.input());
                    continue;
                }
                List<Entry> entries = listSplit(fs, rootPath, dir, split, cfg, wnids, labelOf, fp);
                entries.sort(Comparator.comparing(Entry::key));
                splits.put(split, entries);
            }
            for (List<Entry> es : splits.values()) {
                for (Entry e : es) fp.update((e.key() + "\t" + e.size() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            Map<String, String> names = cfg.classNames().isBlank() ? Map.of() : readNames(cfg.classNames());
            return new ImageFolderInput(root, List.copyOf(wnids), names, splits, HexFormat.of().formatHex(fp.digest()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + cfg.input(), e);
        }
    }

    private static List<Entry> listSplit(FileSystem fs, Path root, Path dir, String split, PrepConfig cfg,
                                         List<String> wnids, Map<String, Integer> labelOf, MessageDigest fp)
            throws IOException {
        List<FileStatus> loose = new ArrayList<>();
        List<Entry> out = new ArrayList<>();
        String rootStr = root.toUri().getPath();
        boolean anyClassFolder = false;
        String dirStr = dir.toUri().getPath();
        for (FileStatus f : walk(fs, dir)) {
            String rel = f.getPath().toUri().getPath().substring(dirStr.length() + 1);
            if (!Arrays.stream(rel.split("/")).allMatch(ImageFolderInput::visible)) continue;
            String key = f.getPath().toUri().getPath().substring(rootStr.length() + 1);
            int slash = rel.indexOf('/');
            if (slash < 0) {
                loose.add(f);
                continue;
            }
            anyClassFolder = true;
            String wnid = rel.substring(0, slash);
            Integer label = labelOf.get(wnid);
            out.add(new Entry(key, f.getPath().toString(), f.getLen(), wnid, label == null ? -1 : label,
                    label == null ? "class folder " + wnid + " is not a class of " + cfg.splits().get(0) : null));
        }
        if (loose.isEmpty()) return out;
        boolean labelled = split.equals("val") && !cfg.valLabels().isBlank();
        if (!labelled && !anyClassFolder) {
            throw new PrepInputException("unrecognised layout at " + cfg.input() + ": " + split + "/ is flat ("
                    + loose.size() + " files, no class folders)" + (split.equals("val")
                    ? " and prep.val-labels is not set; expected val/<wnid>/*.JPEG or a label file in prep.val-labels"
                    : "; expected " + split + "/<wnid>/*.JPEG"));
        }
        if (!labelled) {
            for (FileStatus f : loose) {
                String key = f.getPath().toUri().getPath().substring(rootStr.length() + 1);
                out.add(new Entry(key, f.getPath().toString(), f.getLen(), "", -1, "not in a class folder"));
            }
            return out;
        }
        ValLabels labels = ValLabels.read(cfg, wnids);
        fp.update(labels.sha256.getBytes(StandardCharsets.UTF_8));
        loose.sort(Comparator.comparing(f -> f.getPath().getName()));
        for (int i = 0; i < loose.size(); i++) {
            FileStatus f = loose.get(i);
            String key = f.getPath().toUri().getPath().substring(rootStr.length() + 1);
            String name = f.getPath().getName();
            String wnid = labels.wnidOf(name, i);
            String reason = null;
            Integer label = null;
            if (wnid == null) {
                reason = "no label for " + name + " in " + cfg.valLabels();
            } else if (wnid.startsWith("!")) {
                reason = wnid.substring(1);
            } else {
                label = labelOf.get(wnid);
                if (label == null) reason = "label " + wnid + " is not a class of " + cfg.splits().get(0);
            }
            out.add(new Entry(key, f.getPath().toString(), f.getLen(), reason == null ? wnid : "",
                    label == null ? -1 : label, reason));
        }
        return out;
    }

    /**
     * A flat val/ folder's labels. Lines "file label" (comma or white space; a header line is skipped), where the
     * file matches by name or by name without extension and label is a wnid or a number; or one label per line,
     * labelling the sorted files in order (the official ILSVRC2012_validation_ground_truth.txt). Numbers start
     * at prep.val-label-base and index prep.val-label-wnids when set (the official file numbers classes by
     * ILSVRC2012_ID, not by sorted wnid), else the sorted class folders.
     */
    static final class ValLabels {
        final Map<String, String> byName = new HashMap<>();
        final List<String> positional = new ArrayList<>();
        final String sha256;

        private ValLabels(String sha256) {
            this.sha256 = sha256;
        }

        static ValLabels read(PrepConfig cfg, List<String> wnids) {
            List<String> lines = readLines(cfg.valLabels(), "prep.val-labels");
            List<String> index = cfg.valLabelWnids().isBlank() ? wnids : new ArrayList<>();
            if (!cfg.valLabelWnids().isBlank()) {
                for (String l : readLines(cfg.valLabelWnids(), "prep.val-label-wnids")) {
                    String t = l.trim();
                    if (!t.isEmpty() && !t.startsWith("#")) index.add(t.split("[,\\s]+")[0]);
                }
            }
            MessageDigest d = sha256();
            for (String l : lines) d.update((l + "\n").getBytes(StandardCharsets.UTF_8));
            ValLabels v = new ValLabels(HexFormat.of().formatHex(d.digest()));
            boolean first = true;
            for (String l : lines) {
                String t = l.trim();
                if (t.isEmpty() || t.startsWith("#")) continue;
                String[] tok = t.split("[,\\s]+");
                if (tok.length == 1) {
                    v.positional.add(resolve(tok[0], cfg, index));
                } else {
                    String lab = resolve(tok[1], cfg, index);
                    if (first && lab.startsWith("!") && !tok[1].matches("-?\\d+")) {
                        first = false; // header such as "ImageId,PredictionString"
                        continue;
                    }
                    v.byName.put(tok[0], lab);
                }
                first = false;
            }
            if (!v.positional.isEmpty() && !v.byName.isEmpty()) {
                throw new PrepInputException("label file " + cfg.valLabels() + " mixes 'file label' lines and "
                        + "one-label lines: expected one form");
            }
            return v;
        }

        /** A wnid, or "!reason" for a label that names no class. */
        private static String resolve(String tok, PrepConfig cfg, List<String> index) {
            if (tok.matches("-?\\d+")) {
                int i = Integer.parseInt(tok) - cfg.valLabelBase();
                if (i < 0 || i >= index.size()) return "!label " + tok + " out of range (base " + cfg.valLabelBase()
                        + ", " + index.size() + " classes)";
                return index.get(i);
            }
            return tok;
        }

        String wnidOf(String fileName, int position) {
            if (!positional.isEmpty()) return position < positional.size() ? positional.get(position) : null;
            String w = byName.get(fileName);
            if (w == null) {
                int dot = fileName.lastIndexOf('.');
                if (dot > 0) w = byName.get(fileName.substring(0, dot));
            }
            return w;
        }
    }

    private static Map<String, String> readNames(String file) {
        Map<String, String> m = new TreeMap<>();
        for (String l : readLines(file, "prep.class-names")) {
            String t = l.trim();
            if (t.isEmpty() || t.startsWith("#")) continue;
            String[] kv = t.split("[\\s,]+", 2);
            m.put(kv[0], kv.length > 1 ? kv[1].trim() : "");
        }
        return m;
    }

    static List<String> readLines(String file, String key) {
        String q = StageOutput.qualify(file);
        FileSystem fs = StageOutput.fs(q);
        try {
            if (!fs.exists(new Path(q))) throw new PrepInputException(key + " file " + file + " does not exist");
            List<String> lines = new ArrayList<>();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(new Path(q)), StandardCharsets.UTF_8))) {
                for (String l = r.readLine(); l != null; l = r.readLine()) lines.add(l);
            }
            return lines;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * Every file below {@code dir}, by listStatus per directory. Not FileSystem.listFiles: on the local file
     * system it builds LocatedFileStatus objects whose permissions Hadoop reads by running a process per file
     * (minutes for ImageNet's 1.3M files); on HDFS and S3A one listing per folder is cheap.
     */
    static List<FileStatus> walk(FileSystem fs, Path dir) throws IOException {
        List<FileStatus> files = new ArrayList<>();
        java.util.ArrayDeque<Path> todo = new java.util.ArrayDeque<>();
        todo.add(dir);
        long t0 = System.nanoTime(), next = t0 + PROGRESS_NANOS;
        int listed = 0;
        while (!todo.isEmpty()) {
            for (FileStatus s : fs.listStatus(todo.poll())) {
                if (!visible(s.getPath().getName())) continue;
                if (s.isDirectory()) todo.add(s.getPath());
                else files.add(s);
            }
            listed++;
            long now = System.nanoTime();
            if (now > next) {
                // folders left x time per folder so far: ImageNet's 1000 class folders are known after the first listing
                double secs = (now - t0) / 1e9;
                log.info(String.format(java.util.Locale.ROOT, "prep: listing %s: %d files in %d of %d folders, %.0f files/s, eta %.0f s",
                        dir, files.size(), listed, listed + todo.size(), files.size() / secs, secs / listed * todo.size()));
                next = now + PROGRESS_NANOS;
            }
        }
        return files;
    }

    static boolean visible(String name) {
        return !name.isEmpty() && !name.startsWith(".") && !name.startsWith("_");
    }

    private static FileStatus[] sorted(FileStatus[] s) {
        Arrays.sort(s, Comparator.comparing(f -> f.getPath().getName()));
        return s;
    }

    private static String listing(FileSystem fs, Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        for (FileStatus s : sorted(fs.listStatus(dir))) {
            if (!visible(s.getPath().getName())) continue;
            names.add(s.getPath().getName() + (s.isDirectory() ? "/" : ""));
        }
        if (names.isEmpty()) return "nothing";
        return names.size() <= 8 ? String.join(", ", names)
                : String.join(", ", names.subList(0, 8)) + ", ... (" + names.size() + " entries)";
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
