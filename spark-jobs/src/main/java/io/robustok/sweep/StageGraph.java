package io.robustok.sweep;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.robustok.config.Settings;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What every pipeline stage reads, in one table: its output directory, the stages whose outputs it reads, and
 * the config keys that change what it writes. A stage output's identity is the hash of those key values and of
 * its inputs' identities, so two runs that agree on them share the output (prep and the feature network across a
 * whole sweep; the tokenizer and its tokens across generator variants).
 *
 * <p>A key names itself and everything below it ({@code tokenizer} covers {@code tokenizer.perturb.alpha-max});
 * a leading {@code -} removes a sub-tree again. Keys that name where outputs go (paths under run.out) or how a
 * run is labelled are in {@link #NEUTRAL}: they never change what a stage computes. StageGraphTest fails when a
 * key of defaults.conf is in neither place, or a pipeline stage has no entry: a new stage is one {@link Node}.
 */
public final class StageGraph {

    /**
     * One stage. {@code output}: its directory under run.out (null: it writes outside run.out, e.g. demo-data's
     * image folder); {@code locationKey}: the config key that holds that directory when other stages read it
     * through the config rather than under run.out (prep: data.parquet).
     */
    public record Node(String stage, String output, String locationKey, List<String> inputs, List<String> keys) {
        public boolean shared() {
            return output != null;
        }
    }

    /** Training stages: the worker count (local[N], spark.workers) changes parameter averaging's result. */
    private static final List<String> WORKERS = List.of("spark.master", "spark.workers");

    public static final List<Node> NODES = List.of(
            node("demo-data", null, null, List.of(), "data.fashion-mnist", "data.imagefolder", "data.fashion-mnist-pad"),
            node("prep", "data", "data.parquet", List.of("demo-data"),
                    "data.imagefolder", "data.image-size", "data.max-scale", "prep", "-prep.output"),
            node("train-tokenizer", "tokenizer", null, List.of("prep"),
                    with(WORKERS, "tokenizer", "trainer", "run.seed", "data.max-scale", "data.flip")),
            node("tokenize", "tokens", null, List.of("prep", "train-tokenizer"), "tokenize", "run.seed"),
            node("train-generator", "generator", null, List.of("tokenize", "train-tokenizer"),
                    with(WORKERS, "generator", "trainer", "run.seed")),
            // pair-tokens' output does not depend on the worker count (per-row seeds, fixed sampler batches)
            node("pair-tokens", "pairs", null, List.of("tokenize", "train-generator", "train-tokenizer"),
                    "posttrain.enabled", "posttrain.pairs", "posttrain.sigma", "posttrain.seed", "posttrain.pair-batch", "posttrain.sampling"),
            node("post-train", "posttrain", null, List.of("prep", "train-tokenizer", "train-generator", "pair-tokens"),
                    with(WORKERS, "posttrain", "trainer", "run.seed", "data.max-scale")),
            node("train-features", "features", "eval.feature-net.dir", List.of(),
                    with(WORKERS, "eval.feature-extractor", "eval.inception-graph", "eval.feature-net", "eval.seed",
                            "-eval.feature-net.dir")),
            node("eval", "eval", null, List.of("prep", "train-tokenizer", "train-generator", "post-train", "train-features"),
                    "eval", "-eval.feature-net")
    );

    /**
     * Keys that change no stage's result: names and places of outputs, logging, memory limits, extra Spark
     * settings (spark.conf is free-form; a setting there that changes results belongs in a run's own out),
     * and the sweep's own settings.
     */
    public static final List<String> NEUTRAL = List.of("open-sections", "run.name", "run.out", "run.store", "run.force",
            "run.progress-seconds",
            "spark.app-name", "spark.nd4j-maxbytes", "spark.nd4j-maxphysicalbytes", "spark.conf",
            "data.parquet", "prep.output", "eval.feature-net.dir", "sweep");

    private StageGraph() {
    }

    private static Node node(String stage, String output, String locationKey, List<String> inputs, String... keys) {
        return new Node(stage, output, locationKey, inputs, List.of(keys));
    }

    private static String[] with(List<String> a, String... b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(List.of(b));
        return all.toArray(new String[0]);
    }

    public static Node node(String stage) {
        for (Node n : NODES) if (n.stage().equals(stage)) return n;
        throw new IllegalArgumentException("stage " + stage + " has no entry in StageGraph.NODES: declare its output, "
                + "inputs and config keys there");
    }

    /** True when {@code key} is {@code prefix} or lies below it. */
    static boolean under(String key, String prefix) {
        return key.equals(prefix) || key.startsWith(prefix + ".");
    }

    /** Whether the node's result depends on leaf key {@code key}. */
    public static boolean dependsOn(Node n, String key) {
        boolean in = false;
        int depth = -1;
        // the most specific entry wins: "eval" with "-eval.feature-net" excludes eval.feature-net.*
        for (String k : n.keys()) {
            boolean minus = k.startsWith("-");
            String p = minus ? k.substring(1) : k;
            if (under(key, p) && p.length() > depth) {
                depth = p.length();
                in = !minus;
            }
        }
        return in;
    }

    /** The key values a node depends on, sorted, rendered canonically (1 and 1.0 are the same value). */
    public static Map<String, String> keyValues(Node n, Settings settings) {
        Map<String, String> out = new TreeMap<>();
        Config c = settings.config();
        for (Map.Entry<String, ConfigValue> e : c.entrySet()) {
            if (dependsOn(n, e.getKey())) out.put(e.getKey(), canonical(e.getValue()));
        }
        return out;
    }

    /** A config value as text where numbers compare by value and strings are bare. */
    public static String canonical(ConfigValue v) {
        if (v.valueType() == ConfigValueType.NUMBER) {
            return new BigDecimal(v.unwrapped().toString()).stripTrailingZeros().toPlainString();
        }
        if (v.valueType() == ConfigValueType.STRING) return (String) v.unwrapped();
        if (v.valueType() == ConfigValueType.LIST) {
            List<String> items = new ArrayList<>();
            for (ConfigValue x : (com.typesafe.config.ConfigList) v) items.add(canonical(x));
            return "[" + String.join(",", items) + "]";
        }
        return v.render(com.typesafe.config.ConfigRenderOptions.concise());
    }

    /**
     * Identity (SHA-256 hex) of every node's output for these settings, in pipeline order: the node's name, its key
     * values and its inputs' identities.
     */
    public static Map<String, String> identities(Settings settings) {
        Map<String, String> ids = new LinkedHashMap<>();
        for (Node n : NODES) {
            StringBuilder sb = new StringBuilder(n.stage()).append('\n');
            keyValues(n, settings).forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
            for (String in : n.inputs()) {
                String id = ids.get(in);
                if (id == null) throw new IllegalStateException("StageGraph: " + n.stage() + " reads " + in + ", declared after it");
                sb.append("input ").append(in).append('=').append(id).append('\n');
            }
            ids.put(n.stage(), sha256(sb.toString()));
        }
        return ids;
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
