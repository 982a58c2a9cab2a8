package io.robustok.cli;

import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.util.List;

/** What a stage gets: the resolved settings, its extra arguments, and a Spark session made on first use. */
public final class StageContext {
    private final Settings settings;
    private final List<String> args;
    private SparkSession spark;

    public StageContext(Settings settings, List<String> args) {
        this.settings = settings;
        this.args = List.copyOf(args);
    }

    public Settings settings() {
        return settings;
    }

    /** Positional arguments and flags the CLI did not consume (e.g. "fid --ref A.npz"). */
    public List<String> args() {
        return args;
    }

    public boolean force() {
        return settings.config().getBoolean("run.force");
    }

    public SparkSession spark() {
        if (spark == null) spark = SparkRuntime.session(settings);
        return spark;
    }

    public JavaSparkContext jsc() {
        return JavaSparkContext.fromSparkContext(spark().sparkContext());
    }

    /** Same Spark session, other settings (the pipeline and sweeps run stages with derived settings). */
    public StageContext with(Settings other) {
        StageContext c = new StageContext(other, args);
        c.spark = spark;
        return c;
    }

    /** Path of a run output under run.out, e.g. {@code path("tokenizer")}. */
    public String path(String sub) {
        return settings.config().getString("run.out") + "/" + sub;
    }
}
