package io.robustok.jobs;

import io.robustok.config.Settings;
import io.robustok.spark.StageOutput;
import io.robustok.train.SafeTensors;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * A trained model as later stages load it: the committed output of a training stage holds
 * {@code weights.safetensors} (the EMA weights) and {@code _config.conf} (the resolved config that built it),
 * so the architecture always comes from the run that trained it, never from the caller's config.
 */
public record ModelArtifact(String dir, Settings settings, Map<String, INDArray> weights) {
    public static final String WEIGHTS = "weights.safetensors";

    /** Loads the artifact at {@code dir}; a missing or incomplete one names the stage to run. */
    public static ModelArtifact load(String dir, String stage) {
        if (!StageOutput.isComplete(dir)) {
            throw new io.robustok.cli.UserError("no complete " + stage + " output at " + dir
                    + ": run 'robustok " + stage + "' first (or the pipeline)");
        }
        FileSystem fs = StageOutput.fs(dir);
        Path root = new Path(StageOutput.qualify(dir));
        try {
            String conf;
            try (InputStream in = fs.open(new Path(root, StageOutput.CONFIG))) {
                conf = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            File tmp = File.createTempFile("robustok-artifact", ".conf");
            try {
                java.nio.file.Files.writeString(tmp.toPath(), conf);
                Settings s = Settings.load(tmp, List.of());
                Map<String, INDArray> w;
                Path wf = new Path(root, WEIGHTS);
                try (InputStream in = fs.open(wf)) {
                    w = SafeTensors.read(in).tensors();
                } catch (IOException e) {
                    throw new IOException(wf + ": " + firstLine(e), e);
                }
                return new ModelArtifact(dir, s, w);
            } finally {
                tmp.delete();
            }
        } catch (IOException e) {
            throw new io.robustok.cli.UserError("cannot read the " + stage + " output at " + dir + " (" + firstLine(e)
                    + "): it is damaged; rerun 'robustok " + stage + " --force'", e);
        }
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    /** Writes weights into a stage's temporary output directory. */
    public static void writeWeights(StageOutput out, Map<String, INDArray> weights, Map<String, String> meta) {
        FileSystem fs = StageOutput.fs(out.tmp());
        try (FSDataOutputStream o = fs.create(new Path(out.tmp(), WEIGHTS), true)) {
            SafeTensors.write(o, weights, meta);
        } catch (IOException | org.apache.hadoop.fs.FSError e) {
            throw new UncheckedIOException("cannot write " + WEIGHTS + " under " + out.tmp(), StageOutput.asIOException(e));
        }
    }
}
