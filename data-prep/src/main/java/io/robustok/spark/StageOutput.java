package io.robustok.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.robustok.config.InputError;
import io.robustok.config.Settings;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * A stage's output directory, committed atomically: everything is written under a temporary sibling
 * ({@code <dir>._tmp-<id>}), then the resolved config, its hash and provenance are added and the temporary
 * directory is renamed to the final one. A complete output has {@link #COMPLETE}; a rerun skips it unless
 * forced. Works on any Hadoop file system (file://, hdfs://, s3a://; on s3a the rename is a copy).
 */
public final class StageOutput {
    private static final Logger log = LoggerFactory.getLogger(StageOutput.class);
    public static final String COMPLETE = "_COMPLETE.json";
    public static final String CONFIG = "_config.conf";
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path finalDir;
    private final Path tmpDir;
    private final FileSystem fs;
    private static volatile long stageStarted;
    private final long started = stageStarted != 0 ? stageStarted : System.nanoTime();

    private StageOutput(Path finalDir, Path tmpDir, FileSystem fs) {
        this.finalDir = finalDir;
        this.tmpDir = tmpDir;
        this.fs = fs;
    }

    /**
     * Marks the start of a stage's run in this JVM: outputs begun after it report their wall time from here (a training
     * stage begins its output only when training is done). Without it, wall time counts from {@link #begin}.
     */
    public static void stageStarted() {
        stageStarted = System.nanoTime();
    }

    public static FileSystem fs(String path) {
        try {
            return FileSystem.get(URI.create(qualify(path)), new Configuration());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open file system of " + path, e);
        }
    }

    /**
     * A path with a scheme, normalised: bare local paths become file:// absolute paths; "." and ".." segments are
     * resolved, so {@code work/../work/demo/./data} and {@code work/demo/data} name the same output.
     */
    public static String qualify(String path) {
        if (path.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:/.*")) { // file:/x, hdfs://nn/x, s3a://b/x
            try {
                return URI.create(path).normalize().toString();
            } catch (IllegalArgumentException e) {
                return path; // not a strict URI (spaces, say): Hadoop's Path reads it as it is
            }
        }
        return new java.io.File(path).toPath().toAbsolutePath().normalize().toFile().toURI().toString();
    }

    /** True when {@code dir} holds a committed output. */
    public static boolean isComplete(String dir) {
        try {
            return fs(dir).exists(new Path(qualify(dir), COMPLETE));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts writing {@code dir}: returns a handle whose {@link #tmp()} is where to write. */
    public static StageOutput begin(String dir) {
        Path f = new Path(qualify(dir));
        FileSystem fs = fs(dir);
        Path tmp = new Path(f.getParent(), f.getName() + "._tmp-" + UUID.randomUUID().toString().substring(0, 8));
        if (f.getParent() != null) requireWritable(f.getParent().toString());
        try {
            removeLeftovers(fs, f);
            if (!fs.mkdirs(tmp)) throw new IOException("mkdirs returned false");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + tmp, e);
        }
        return new StageOutput(f, tmp, fs);
    }

    /**
     * Creates {@code dir} if needed and writes and deletes a probe file in it, so that an output path that cannot be
     * written fails before any work, with one line naming it.
     *
     * @throws InputError when the directory cannot be created or written
     */
    public static void requireWritable(String dir) {
        Path d = new Path(qualify(dir));
        Path probe = new Path(d, "._write-probe-" + UUID.randomUUID().toString().substring(0, 8));
        try {
            FileSystem fs = fs(dir);
            if (!fs.mkdirs(d)) throw new IOException("cannot create the directory");
            try (FSDataOutputStream out = fs.create(probe, false)) {
                out.write(0);
            }
            fs.delete(probe, false);
        } catch (IOException | RuntimeException | org.apache.hadoop.fs.FSError e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(e.toString());
            throw new InputError("output directory " + dir + " is not writable (" + why + "): point run.out at a "
                    + "writable directory with free space");
        }
    }

    /**
     * Deletes what an earlier run killed before its commit left next to {@code f}: temporary directories (never
     * complete: the rename is what commits them), and a moved-aside older output once the new one is in place.
     */
    private static void removeLeftovers(FileSystem fs, Path f) throws IOException {
        if (f.getParent() == null || !fs.exists(f.getParent())) return;
        boolean complete = fs.exists(new Path(f, COMPLETE));
        for (org.apache.hadoop.fs.FileStatus s : fs.listStatus(f.getParent())) {
            String n = s.getPath().getName();
            if (n.startsWith(f.getName() + "._tmp-") || complete && n.startsWith(f.getName() + "._old-")) {
                log.info("removing {} left by an interrupted run", s.getPath());
                fs.delete(s.getPath(), true);
            }
        }
    }

    /**
     * Hadoop's local file system reports a failed write (a full disk) as an FSError wrapping the IOException: the
     * IOException, so callers handle one kind.
     */
    public static IOException asIOException(Throwable e) {
        if (e instanceof IOException io) return io;
        return e.getCause() instanceof IOException io ? io : new IOException(e.getMessage(), e);
    }

    /** Temporary directory (qualified URI string) to write into. */
    public String tmp() {
        return tmpDir.toString();
    }

    public String finalPath() {
        return finalDir.toString();
    }

    /** Writes a small text file into the temporary directory. */
    public void writeText(String name, String text) {
        try (FSDataOutputStream out = fs.create(new Path(tmpDir, name), true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException | org.apache.hadoop.fs.FSError e) {
            throw new UncheckedIOException("cannot write " + name + " under " + tmpDir, asIOException(e));
        }
    }

    /** Writes bytes (a PNG, a binary table) into the temporary directory. */
    public void writeBytes(String name, byte[] bytes) {
        try (FSDataOutputStream out = fs.create(new Path(tmpDir, name), true)) {
            out.write(bytes);
        } catch (IOException | org.apache.hadoop.fs.FSError e) {
            throw new UncheckedIOException("cannot write " + name + " under " + tmpDir, asIOException(e));
        }
    }

    /** Copies a file (e.g. a training run's metrics.jsonl) into the temporary directory, if it exists. */
    public void copyIn(String src, String name) {
        try {
            Path p = new Path(qualify(src));
            FileSystem sfs = fs(src);
            if (!sfs.exists(p)) return;
            try (java.io.InputStream in = sfs.open(p)) {
                writeBytes(name, in.readAllBytes());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + src + " into " + tmpDir, e);
        }
    }

    public void writeJson(String name, Object value) {
        try {
            writeText(name, JSON.writeValueAsString(value));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Adds config, hash and provenance, then renames the temporary directory over the final one
     * (an older output there is moved aside first and deleted after the rename).
     */
    public void commit(String stage, Settings settings, Map<String, Object> provenance) {
        writeText(CONFIG, settings.render());
        Map<String, Object> done = new LinkedHashMap<>();
        done.put("stage", stage);
        done.put("config_sha256", settings.hash());
        done.put("revision", Provenance.revision());
        done.put("finished", Instant.now().toString());
        // from the stage's start (or begin()) to commit: this run's share when a training stage resumed
        done.put("wall_s", Math.round((System.nanoTime() - started) / 1e8) / 10.0);
        done.put("overrides", settings.differencesFromDefaults());
        done.putAll(provenance);
        writeJson(COMPLETE, done);
        FaultPoint.reach("stage-commit");
        try {
            Path old = null;
            if (fs.exists(finalDir)) {
                old = new Path(finalDir.getParent(), finalDir.getName() + "._old-" + UUID.randomUUID().toString().substring(0, 8));
                if (!fs.rename(finalDir, old)) throw new IOException("cannot move old output " + finalDir + " aside");
            }
            if (!fs.rename(tmpDir, finalDir)) throw new IOException("cannot rename " + tmpDir + " to " + finalDir);
            if (old != null) fs.delete(old, true);
        } catch (IOException e) {
            throw new UncheckedIOException("commit of " + finalDir + " failed; partial output left in " + tmpDir, e);
        }
        log.info("{}: committed {}", stage, finalDir);
    }

    /** Deletes the temporary directory (after a failure). */
    public void abort() {
        try {
            fs.delete(tmpDir, true);
        } catch (IOException e) {
            log.warn("could not delete {}: {}", tmpDir, e.toString());
        }
    }

    /** One compact JSON line (metrics files). */
    public static String toJsonLine(Object value) {
        try {
            return new ObjectMapper().writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads the provenance of a committed output, for the next stage's own provenance. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> readProvenance(String dir) {
        try (java.io.InputStream in = fs(dir).open(new Path(qualify(dir), COMPLETE))) {
            return JSON.readValue(in, Map.class);
        } catch (IOException e) {
            throw new UncheckedIOException("no complete output at " + dir + ": run the stage that makes it first", e);
        }
    }
}
