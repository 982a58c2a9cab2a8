package io.robustok.jobs;

import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Small files in a training run's directory (validation logs, grids), on any Hadoop file system. Appends
 * rewrite the file through a temporary sibling and a rename, so a crash never leaves half a line.
 */
public final class TrainFiles {
    private TrainFiles() {
    }

    public static void appendLine(String file, String line) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        try {
            Path p = new Path(StageOutput.qualify(file));
            FileSystem fs = StageOutput.fs(file);
            if (fs.exists(p)) {
                try (InputStream in = fs.open(p)) {
                    in.transferTo(all);
                }
            }
            all.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        write(file, all.toByteArray());
    }

    public static void write(String file, byte[] bytes) {
        Path p = new Path(StageOutput.qualify(file));
        FileSystem fs = StageOutput.fs(file);
        Path tmp = new Path(p.getParent(), "." + p.getName() + ".tmp");
        try {
            fs.mkdirs(p.getParent());
            try (FSDataOutputStream out = fs.create(tmp, true)) {
                out.write(bytes);
            }
            fs.delete(p, false);
            if (!fs.rename(tmp, p)) throw new IOException("rename " + tmp + " -> " + p + " failed");
        } catch (IOException | org.apache.hadoop.fs.FSError e) {
            throw new UncheckedIOException("cannot write " + file, StageOutput.asIOException(e));
        }
    }
}
