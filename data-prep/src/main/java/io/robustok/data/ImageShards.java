package io.robustok.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
