package io.robustok.cli;

import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.util.List;
import java.util.Map;

/** What a stage gets: the resolved settings, its extra arguments, and a Spark session made on first use. */
public final class StageContext {
    private final Settings settings;
    private final List<String> args;
    private final Map<String, String> locations;
    private SparkSession spark;

    public StageContext(Settings settings, List<String> args) {
        this(settings, args, Map.of());
    }

    private StageContext(Settings settings, List<String> args, Map<String, String> locations) {
        this.settings = settings;
        this.args = List.copyOf(args);
        this.locations = Map.copyOf(locations);
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
        StageContext c = new StageContext(other, args, locations);
        c.spark = spark;
        return c;
    }

    /**
     * Same Spark session, other settings, no stage arguments, and outputs placed elsewhere than under run.out
     * ({@code locations}: output name -> directory; the pipeline's shared stage store).
     */
    public StageContext at(Settings other, Map<String, String> locations) {
        StageContext c = new StageContext(other, List.of(), locations);
        c.spark = spark;
        return c;
    }

    /**
     * Path of a run output, e.g. {@code path("tokenizer")}: under run.out, or where {@link #at} placed it; a
     * companion directory ({@code tokenizer.train}) follows its output.
     */
    public String path(String sub) {
        String loc = locations.get(sub);
        if (loc != null) return loc;
        int dot = sub.indexOf('.');
        if (dot > 0 && locations.containsKey(sub.substring(0, dot))) return locations.get(sub.substring(0, dot)) + sub.substring(dot);
        return settings.config().getString("run.out") + "/" + sub;
    }
}
