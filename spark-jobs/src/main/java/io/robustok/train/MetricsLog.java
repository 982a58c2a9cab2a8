package io.robustok.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code metrics.jsonl} of a training run: one JSON object per round, for plots. On resume the lines of rounds
 * after the checkpoint are dropped, so the file always describes the run that produced the current weights.
 * Works on any Hadoop file system: the file is rewritten once on open and then appended through one stream
 * (hflush after every line), since s3a has no append.
 */
final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final FSDataOutputStream out;
    private final String path;

    private MetricsLog(FSDataOutputStream out, String path) {
        this.out = out;
        this.path = path;
    }

    /** Opens {@code path}, keeping the lines whose "round" is below {@code keepBelowRound}. */
    static MetricsLog open(String path, long keepBelowRound) {
        Path p = new Path(StageOutput.qualify(path));
        FileSystem fs = StageOutput.fs(path);
        try {
            if (fs instanceof org.apache.hadoop.fs.LocalFileSystem local) {
                // the checksummed local file system keeps a file's last partial 512-byte chunk in memory until close:
                // a driver killed with -9 lost its last rounds' lines. The raw one writes through on every hflush.
                fs = local.getRaw();
                fs.delete(new Path(p.getParent(), "." + p.getName() + ".crc"), false);
            }
            List<String> kept = new ArrayList<>();
            if (fs.exists(p)) {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(p), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        if (line.isBlank()) continue;
                        JsonNode n;
                        try {
                            n = JSON.readTree(line);
                        } catch (IOException e) {
                            continue; // a line cut short by a crash
                        }
                        if (n.has("round") && n.get("round").asLong() < keepBelowRound) kept.add(line);
                    }
                }
            }
            FSDataOutputStream out = fs.create(p, true);
            for (String line : kept) out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.hflush();
            return new MetricsLog(out, p.toString());
        } catch (IOException | org.apache.hadoop.fs.FSError e) {
            throw new UncheckedIOException("cannot open metrics file " + p, io.robustok.spark.StageOutput.asIOException(e));
        }
    }

    void append(Map<String, Object> row) {
        try {
            out.write((JSON.writeValueAsString(row) + "\n").getBytes(StandardCharsets.UTF_8));
            out.hflush();
        } catch (IOException | org.apache.hadoop.fs.FSError e) {
            throw new UncheckedIOException("cannot write metrics to " + path, io.robustok.spark.StageOutput.asIOException(e));
        }
    }

    String path() {
        return path;
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
