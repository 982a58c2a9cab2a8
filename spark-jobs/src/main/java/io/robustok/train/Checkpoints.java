package io.robustok.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.robustok.spark.FaultPoint;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Checkpoints of one training run under {@code <train dir>/checkpoints/}, on any Hadoop file system:
 * <pre>
 *   round-00000120/params.safetensors      every parameter tensor ("network/param")
 *                  optimizer.safetensors   every optimizer-state tensor
 *                  ema.safetensors         EMA of the parameters
 *                  state.json              counters, seeds, config hash, architecture signature, file sizes
 * </pre>
 * A checkpoint is written under {@code _tmp-round-...-<id>} and committed by renaming it; state.json lists the
 * byte size of every file, and a checkpoint whose files do not match (an interrupted copy on s3a, where rename
 * is a copy) is skipped in favour of the next older one. Only the newest {@code keep} are kept.
 */
public final class Checkpoints {
    private static final Logger log = LoggerFactory.getLogger(Checkpoints.class);
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    static final String FORMAT = "robustok-checkpoint/1";
    static final String PARAMS = "params.safetensors";
    static final String OPT = "optimizer.safetensors";
    static final String EMA = "ema.safetensors";
    static final String STATE = "state.json";
    private static final String PREFIX = "round-";

    private final Path dir;
    private final FileSystem fs;
    private final int keep;

    public Checkpoints(String dir, int keep) {
        this.dir = new Path(StageOutput.qualify(dir));
        this.fs = StageOutput.fs(dir);
        this.keep = keep;
    }

    /** Counters that say where training stands: the next round to run is {@code roundInEpoch} of {@code epoch}. */
    public record Progress(int epoch, int roundInEpoch, long round, long step, long samples, int badRounds) {
        static Progress start() {
            return new Progress(0, 0, 0, 0, 0, 0);
        }
    }

    /** A loaded checkpoint. */
    public record Loaded(String path, TrainState state, LinkedHashMap<String, INDArray> ema, Progress progress,
                         Map<String, Object> meta) {
    }

    /** Writes and commits a checkpoint; returns its path. */
    public String save(TrainState state, Map<String, INDArray> ema, Progress p, Map<String, Object> meta) {
        String name = String.format("%s%08d", PREFIX, p.round());
        Path fin = new Path(dir, name);
        Path tmp = new Path(dir, "_tmp-" + name + "-" + UUID.randomUUID().toString().substring(0, 8));
        try {
            fs.mkdirs(tmp);
            Map<String, String> stMeta = Map.of("round", Long.toString(p.round()), "step", Long.toString(p.step()));
            Map<String, Long> sizes = new LinkedHashMap<>();
            sizes.put(PARAMS, writeTensors(new Path(tmp, PARAMS), state.params(), stMeta));
            sizes.put(OPT, writeTensors(new Path(tmp, OPT), state.optState(), stMeta));
            sizes.put(EMA, writeTensors(new Path(tmp, EMA), ema, stMeta));
            FaultPoint.reach("checkpoint-write");
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("format", FORMAT);
            json.putAll(meta);
            json.put("progress", p);
            json.put("signature", Map.of("params", signature(state.params()), "optimizer", signature(state.optState())));
            json.put("files", sizes);
            json.put("written", Instant.now().toString());
            try (FSDataOutputStream out = fs.create(new Path(tmp, STATE), true)) {
                out.write(JSON.writeValueAsBytes(json));
            }
            if (fs.exists(fin)) fs.delete(fin, true); // same round written twice (rerun after a crash mid-save)
            if (!fs.rename(tmp, fin)) throw new IOException("cannot rename " + tmp + " to " + fin);
            prune();
            return fin.toString();
        } catch (IOException | org.apache.hadoop.fs.FSError e) {
            try {
                fs.delete(tmp, true);
            } catch (IOException ignored) {
                // the temporary directory is skipped by latest() anyway
            }
            throw new UncheckedIOException("cannot write checkpoint " + fin, StageOutput.asIOException(e));
        }
    }

    /**
     * The newest complete checkpoint, checked against the model's {@code expected} state (names and shapes of
     * parameters and optimizer state); empty when there is none.
     *
     * @throws CheckpointMismatchException when the newest complete checkpoint belongs to another architecture
     */
    public Optional<Loaded> latest(TrainState expected) {
        List<Path> all = committed();
        List<String> skipped = new ArrayList<>();
        for (Path p : all) {
            Map<String, Object> meta;
            try {
                meta = readState(p);
            } catch (IOException e) {
                log.warn("skipping unreadable checkpoint {}: {}", p, e.toString());
                skipped.add(p.getName() + ": unreadable state.json");
                continue;
            }
            if (!complete(p, meta)) {
                log.warn("skipping incomplete checkpoint {} (file sizes differ from its state.json)", p);
                skipped.add(p.getName() + ": file sizes differ from its state.json");
                continue;
            }
            checkSignature(p.toString(), meta, expected);
            try {
                TrainState st = new TrainState(readTensors(new Path(p, PARAMS)), readTensors(new Path(p, OPT)));
                LinkedHashMap<String, INDArray> ema = readTensors(new Path(p, EMA));
                Progress prog = JSON.convertValue(meta.get("progress"), Progress.class);
                return Optional.of(new Loaded(p.toString(), st, ema, prog, meta));
            } catch (IOException e) {
                log.warn("skipping unreadable checkpoint {}: {}", p, e.toString());
                skipped.add(p.getName() + ": " + e.getMessage());
            }
        }
        if (!all.isEmpty()) {
            // starting afresh would prune (delete) them: a person decides
            throw new io.robustok.config.InputError("no usable checkpoint under " + dir + " (" + String.join("; ", skipped)
                    + "): move the directory away to train from the start, or restore the files");
        }
        return Optional.empty();
    }

    /** Committed checkpoint directories, newest first. */
    List<Path> committed() {
        try {
            if (!fs.exists(dir)) return List.of();
            List<Path> out = new ArrayList<>();
            for (FileStatus s : fs.listStatus(dir)) {
                if (s.isDirectory() && s.getPath().getName().startsWith(PREFIX)) out.add(s.getPath());
            }
            out.sort(Comparator.comparing((Path q) -> q.getName()).reversed());
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /** Removes temporary directories of interrupted saves. */
    void cleanTemporary() {
        try {
            if (!fs.exists(dir)) return;
            for (FileStatus s : fs.listStatus(dir)) {
                if (s.getPath().getName().startsWith("_tmp-")) fs.delete(s.getPath(), true);
            }
        } catch (IOException e) {
            log.warn("cannot clean {}: {}", dir, e.toString());
        }
    }

    private void prune() throws IOException {
        List<Path> all = committed();
        for (int i = keep; i < all.size(); i++) fs.delete(all.get(i), true);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> readState(Path p) throws IOException {
        try (FSDataInputStream in = fs.open(new Path(p, STATE))) {
            return JSON.readValue((java.io.InputStream) in, Map.class);
        }
    }

    @SuppressWarnings("unchecked")
    private boolean complete(Path p, Map<String, Object> meta) {
        Object files = meta.get("files");
        if (!(files instanceof Map)) return false;
        try {
            for (Map.Entry<String, Object> e : ((Map<String, Object>) files).entrySet()) {
                Path f = new Path(p, e.getKey());
                if (!fs.exists(f) || fs.getFileStatus(f).getLen() != ((Number) e.getValue()).longValue()) return false;
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private long writeTensors(Path f, Map<String, INDArray> tensors, Map<String, String> meta) throws IOException {
        try (FSDataOutputStream out = fs.create(f, true)) {
            SafeTensors.write(new java.io.BufferedOutputStream(out, 1 << 20), tensors, meta);
        }
        return fs.getFileStatus(f).getLen();
    }

    private LinkedHashMap<String, INDArray> readTensors(Path f) throws IOException {
        try (FSDataInputStream in = fs.open(f)) {
            return SafeTensors.read(new java.io.BufferedInputStream(in, 1 << 20)).tensors();
        }
    }

    static LinkedHashMap<String, List<Long>> signature(Map<String, INDArray> tensors) {
        LinkedHashMap<String, List<Long>> s = new LinkedHashMap<>();
        tensors.forEach((k, v) -> s.put(k, Arrays.stream(v.shape()).boxed().toList()));
        return s;
    }

    @SuppressWarnings("unchecked")
    static void checkSignature(String path, Map<String, Object> meta, TrainState expected) {
        Map<String, Object> sig = (Map<String, Object>) meta.get("signature");
        compare(path, "parameter", (Map<String, List<Number>>) sig.get("params"), expected.params());
        compare(path, "optimizer-state tensor", (Map<String, List<Number>>) sig.get("optimizer"), expected.optState());
    }

    private static void compare(String path, String what, Map<String, List<Number>> saved, Map<String, INDArray> model) {
        String hint = "; this output directory was trained with another architecture or config: move " + path
                + " away or train into another directory";
        for (Map.Entry<String, INDArray> e : model.entrySet()) {
            List<Number> s = saved.get(e.getKey());
            String mine = Arrays.toString(e.getValue().shape());
            if (s == null) {
                throw new CheckpointMismatchException("checkpoint " + path + " does not fit the model: " + what + " '" + e.getKey()
                        + "' " + mine + " is in the model but not in the checkpoint" + hint);
            }
            long[] theirs = s.stream().mapToLong(Number::longValue).toArray();
            if (!Arrays.equals(theirs, e.getValue().shape())) {
                throw new CheckpointMismatchException("checkpoint " + path + " does not fit the model: " + what + " '" + e.getKey()
                        + "' has shape " + Arrays.toString(theirs) + " in the checkpoint but " + mine + " in the model" + hint);
            }
        }
        for (Map.Entry<String, List<Number>> e : saved.entrySet()) {
            if (!model.containsKey(e.getKey())) {
                throw new CheckpointMismatchException("checkpoint " + path + " does not fit the model: " + what + " '" + e.getKey()
                        + "' " + e.getValue() + " is in the checkpoint but not in the model" + hint);
            }
        }
    }
}
