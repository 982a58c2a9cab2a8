package io.robustok.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.config.InputError;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The trainer's row source: the Parquet of one split of a prep output as a {@code JavaRDD<ImageRecord>}, one
 * partition per shard, rows in file order (deterministic: the same output always gives the same partitions).
 * Reads with parquet-mr inside the tasks, so only the five columns a trainer needs are decoded. For a Spark-free
 * read use {@link ImageParquet#readSplit}.
 */
public final class ImageShards {
    private ImageShards() {
    }

    public static JavaRDD<ImageRecord> rdd(JavaSparkContext jsc, String dataDir, String split) {
        List<String> shards = ImageParquet.shards(dataDir, split);
        if (shards.isEmpty()) {
            throw new IllegalArgumentException("no " + split + " shards under " + dataDir + ": run prep first");
        }
        HadoopConf conf = new HadoopConf(jsc.hadoopConfiguration());
        return jsc.parallelize(shards, shards.size()).flatMap(file -> {
            List<ImageRecord> rows = new ArrayList<>();
            ImageParquet.forEach(file, conf.get(), rows::add);
            return rows.iterator();
        });
    }

    /**
     * Checks a prep output before a stage reads it: every shard its manifest.json lists is there with the size the
     * manifest records, and its Parquet footer reads. Cheap (a stat and the tail of each file), so a truncated,
     * replaced or half-copied shard fails here, with one line naming it, instead of inside a task.
     *
     * @throws InputError naming the first bad shard and the fix
     */
    public static void verify(String dataDir) {
        Path root = new Path(StageOutput.qualify(dataDir));
        org.apache.hadoop.fs.FileSystem fs = StageOutput.fs(dataDir);
        JsonNode manifest;
        try (InputStream in = fs.open(new Path(root, "manifest.json"))) {
            manifest = new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new InputError("cannot read " + new Path(root, "manifest.json") + " (" + e.getMessage()
                    + "): the prep output is damaged; rerun 'robustok prep --force'");
        }
        String fix = "the prep output is damaged; rerun 'robustok prep --force'";
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        for (JsonNode split : manifest.path("splits")) {
            for (JsonNode shard : split.path("shards")) {
                Path f = new Path(root, shard.get("file").asText());
                long expected = shard.get("bytes").asLong();
                long actual;
                try {
                    actual = fs.exists(f) ? fs.getFileStatus(f).getLen() : -1;
                } catch (IOException e) {
                    throw new InputError("cannot stat prep shard " + f + " (" + e.getMessage() + "): " + fix);
                }
                if (actual < 0) throw new InputError("prep shard " + f + " is missing (manifest.json lists it): " + fix);
                if (actual != expected) {
                    throw new InputError("prep shard " + f + " has " + actual + " bytes, manifest.json says " + expected
                            + " (truncated or replaced): " + fix);
                }
                ImageParquet.footer(f.toString(), conf, fix);
            }
        }
    }

    /** The class wnids of a prep output in label order (classes.json). */
    public static List<String> classes(String dataDir) {
        Path p = new Path(StageOutput.qualify(dataDir), "classes.json");
        try (InputStream in = StageOutput.fs(dataDir).open(p)) {
            List<String> out = new ArrayList<>();
            for (JsonNode c : new ObjectMapper().readTree(in)) out.add(c.get("wnid").asText());
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p + ": run prep first", e);
        }
    }
}
