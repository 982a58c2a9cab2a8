package io.robustok.sweep;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.config.ConfigError;
import io.robustok.config.Settings;
import io.robustok.data.PrepConfig;
import io.robustok.eval.EvalSettings;
import io.robustok.generator.GeneratorConfig;
import io.robustok.jobs.PipelineStage;
import io.robustok.jobs.TrainFiles;
import io.robustok.spark.StageOutput;
import io.robustok.sweep.StageGraph.Node;
import io.robustok.tokenizer.TokenizerConfig;
import io.robustok.train.TrainerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One sweep: the variants of a {@link SweepFile} over a base config, each a pipeline run in
 * {@code <sweep.out>/<name>/runs/<variant>} whose stage outputs live in the shared store (sweep.store), so a stage
 * that several variants agree on is computed once. {@code sweep.json} records every variant's overrides, status,
 * failed stage with a one-line reason, and log.
 */
public final class Sweep {
    private static final Logger log = LoggerFactory.getLogger(Sweep.class);
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** A variant of the sweep and what became of it. */
    public static final class Variant {
        final String name;
        final Map<String, ConfigValue> overrides;
        final String dir;
        Settings settings;
        Map<String, String> ids = Map.of();
        String duplicateOf;
        volatile String status = "pending";
        volatile String failedStage;
        volatile String reason;
        volatile double seconds;

        Variant(String name, Map<String, ConfigValue> overrides, String dir) {
            this.name = name;
            this.overrides = overrides;
            this.dir = dir;
        }

        public String name() {
            return name;
        }

        public String dir() {
            return dir;
        }

        public String status() {
            return status;
        }

        public String log() {
            return dir + "/log.txt";
        }

        public Map<String, ConfigValue> overrides() {
            return overrides;
        }

        boolean runnable() {
            return settings != null && duplicateOf == null;
        }
    }

    private final SweepFile file;
    private final String fileName;
    private final String dir;
    private final StageStore store;
    private final List<Variant> variants;

    private Sweep(SweepFile file, String fileName, String dir, StageStore store, List<Variant> variants) {
        this.file = file;
        this.fileName = fileName;
        this.dir = dir;
        this.store = store;
        this.variants = variants;
    }

    public String dir() {
        return dir;
    }

    public SweepFile file() {
        return file;
    }

    public List<Variant> variants() {
        return variants;
    }

    public StageStore store() {
        return store;
    }

    /**
     * Resolves every variant's config: the base config, the sweep's shared overrides, the variant's own, and its
     * place (run.out, run.store). An invalid config marks the variant failed before anything runs; two variants
     * whose configs agree on every key that matters run once.
     */
    public static Sweep plan(Settings base, SweepFile f, String fileName) {
        List<String> shared = new SweepFile.Variant("base", f.base()).overrideStrings();
        Settings common = base.with(shared);
        String dir = common.config().getString("sweep.out") + "/" + f.name();
        StageStore store = new StageStore(common.config().getString("sweep.store"),
                (long) (common.config().getDouble("sweep.lock-lease") * 1000));
        List<Variant> out = new ArrayList<>();
        Map<String, Variant> byConfig = new LinkedHashMap<>();
        for (SweepFile.Variant sv : f.variants()) {
            Variant v = new Variant(sv.name(), sv.overrides(), dir + "/runs/" + sv.name());
            out.add(v);
            List<String> over = new ArrayList<>(shared);
            over.addAll(sv.overrideStrings());
            over.add("run.out=\"" + v.dir + "\"");
            over.add("run.name=\"" + f.name() + "-" + sv.name() + "\"");
            over.add("run.store=\"" + store.root() + "\"");
            try {
                Settings s = base.with(over);
                validate(s);
                v.settings = s;
                v.ids = StageGraph.identities(s);
            } catch (ConfigError | UserError | IllegalArgumentException | ConfigException e) {
                v.status = "invalid";
                v.failedStage = "config";
                v.reason = StageRunner.reason(e);
                continue;
            }
            Variant same = byConfig.putIfAbsent(essence(v.settings), v);
            if (same != null) {
                v.duplicateOf = same.name;
                v.status = "duplicate";
                v.reason = "same resolved config as " + same.name + ": runs once, as " + same.name;
            }
        }
        return new Sweep(f, fileName, dir, store, out);
    }

    /** Builds every stage's typed config, so a bad value fails here, before any variant runs. */
    static void validate(Settings s) {
        var c = s.config();
        PrepConfig.from(c);
        TokenizerConfig.from(s.at("tokenizer"));
        TrainerConfig.from(s, "tokenizer");
        TrainerConfig.from(s, "generator");
        GeneratorConfig.from(c);
        EvalSettings.from(s);
        io.robustok.tokenizer.PostTrainConfig.from(s.at("posttrain"));
        TrainerConfig.from(s, "posttrain");
        double sigma = c.getDouble("posttrain.sigma");
        if (!(sigma >= 0 && sigma <= 1)) throw new IllegalArgumentException("posttrain.sigma = " + sigma + " is outside [0, 1]");
        String init = c.getString("tokenizer.stage.codebook-init");
        if (!init.equals("data") && !init.equals("random") && !init.equals("uniform")) {
            throw new IllegalArgumentException("tokenizer.stage.codebook-init = \"" + init + "\": expected data, random or uniform");
        }
        int crops = c.getInt("tokenize.train-crops");
        if (crops != 1 && crops != 10) throw new IllegalArgumentException("tokenize.train-crops must be 1 or 10, got " + crops);
        if (c.getInt("generator.codebook-size") != c.getInt("tokenizer.codebook-size")) {
            throw new IllegalArgumentException("generator.codebook-size must equal tokenizer.codebook-size (the tokens' vocabulary)");
        }
    }

    /** Every key that can change a result, canonically: equal for two configs that compute the same thing. */
    static String essence(Settings s) {
        StringBuilder sb = new StringBuilder();
        new java.util.TreeMap<>(s.config().entrySet().stream()
                .filter(e -> StageGraph.NEUTRAL.stream().noneMatch(p -> StageGraph.under(e.getKey(), p)))
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> StageGraph.canonical(e.getValue()))))
                .forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        return sb.toString();
    }

    /** What --dry-run prints: the variants, then per stage and variant whether its output is stored, computed or shared. */
    public void printPlan(PrintStream out) {
        out.printf("sweep %s: %d variants; runs in %s, stage outputs in %s%n", file.name(), variants.size(), dir, store.root());
        for (Variant v : variants) {
            String over = String.join(" ", new SweepFile.Variant(v.name, v.overrides).overrideStrings());
            out.printf("  %-28s %s%s%n", v.name, over.isEmpty() ? "(base)" : over,
                    v.runnable() ? "" : "  [" + v.status + ": " + v.reason + "]");
        }
        List<Variant> live = variants.stream().filter(Variant::runnable).toList();
        if (live.isEmpty()) return;
        // one row per variant, one column per stage: compute <id> (first variant to need the entry), shared <id>
        // (a variant above computes it), stored <id> (complete in the store), adopt <id> (taken from a run of
        // sweep.adopt)
        int w = Math.max(8, live.stream().mapToInt(v -> v.name.length()).max().orElse(8));
        out.println();
        StringBuilder head = new StringBuilder(String.format("%-" + w + "s", "variant"));
        for (Node n : StageGraph.NODES) head.append("  ").append(String.format("%-16s", n.stage()));
        out.println(head);
        int compute = 0, stored = 0, sharedCount = 0, adopted = 0;
        Map<String, String> firstUser = new LinkedHashMap<>();
        for (Variant v : live) {
            StringBuilder row = new StringBuilder(String.format("%-" + w + "s", v.name));
            for (Node n : StageGraph.NODES) {
                String id = v.ids.get(n.stage());
                String cell;
                if (!io.robustok.cli.Stages.byName().get(n.stage()).enabled(v.settings.config())) {
                    cell = "skip";
                } else if (!n.shared()) {
                    cell = "run";
                } else if (store.isComplete(n, id)) {
                    cell = "stored " + id.substring(0, 6);
                    stored++;
                } else if (firstUser.containsKey(n.stage() + id)) {
                    cell = "shared " + id.substring(0, 6);
                    sharedCount++;
                } else if (RunAdoption.find(n, v.ids, v.settings.config().getStringList("sweep.adopt")) != null) {
                    firstUser.put(n.stage() + id, v.name);
                    cell = "adopt " + id.substring(0, 6);
                    adopted++;
                } else {
                    firstUser.put(n.stage() + id, v.name);
                    cell = "compute " + id.substring(0, 6);
                    compute++;
                }
                row.append("  ").append(String.format("%-16s", clip(cell, 16)));
            }
            out.println(row);
        }
        out.printf("%n%d stage outputs to compute, %d already stored, %d to take from sweep.adopt runs, %d shared with an "
                + "earlier variant of this sweep (entries: <store>/<output>-<id>; run: not stored, skips itself when done; skip: not enabled by the variant's config)%n",
                compute, stored, adopted, sharedCount);
    }

    private static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 2) + "..";
    }

    /** Runs the variants on this JVM's Spark session, {@code parallel} at a time; failures are recorded, not thrown. */
    public void runLocal(StageContext ctx, int parallel) {
        writeState();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallel), r -> {
            Thread t = new Thread(r);
            t.setName("sweep-" + t.getName());
            return t;
        });
        List<Future<?>> jobs = new ArrayList<>();
        for (Variant v : variants) {
            if (!v.runnable()) continue;
            jobs.add(pool.submit(() -> runOne(ctx, v, parallel > 1)));
        }
        for (Future<?> f : jobs) {
            try {
                f.get();
            } catch (Exception e) {
                throw new IllegalStateException("sweep worker failed", e);
            }
        }
        pool.shutdown();
    }

    private void runOne(StageContext ctx, Variant v, boolean parallel) {
        TrainFiles.write(v.dir + "/variant.conf", v.settings.render().getBytes(StandardCharsets.UTF_8));
        long t0 = System.nanoTime();
        v.status = "running";
        writeState();
        log.info("sweep {}: variant {} ...", file.name(), v.name);
        try (VariantLog ignored = VariantLog.open(v.name, localPath(v.log()), parallel)) {
            new PipelineStage().run(ctx.at(v.settings, Map.of()));
            v.status = "ok";
            v.failedStage = null;
            v.reason = null;
        } catch (Exception | Error e) {
            v.status = "failed";
            v.reason = StageRunner.reason(e);
            v.failedStage = failedStage(v);
            log.error("sweep {}: variant {} failed at {}: {} (log {})", file.name(), v.name, v.failedStage, v.reason, v.log(), e);
        } finally {
            v.seconds = (System.nanoTime() - t0) / 1e9;
            writeState();
            // the next variant loads its own models; this one's would stay resident until the JVM ends
            io.robustok.jobs.TokenizerCache.clear();
            io.robustok.jobs.GeneratorCache.clear();
            System.gc();
        }
        log.info("sweep {}: variant {} {} in {} s", file.name(), v.name, v.status, String.format("%.1f", v.seconds));
    }

    /** Records the outcome of a variant that ran elsewhere (a Spark application) from its exit code and stage record. */
    void finished(Variant v, int exitCode, String failure, double seconds) {
        v.seconds = seconds;
        if (exitCode == 0) {
            v.status = "ok";
            v.failedStage = null;
            v.reason = null;
        } else {
            v.status = "failed";
            v.failedStage = failedStage(v);
            Map<String, Object> st = stages(v).get(v.failedStage);
            v.reason = st != null && st.get("reason") != null ? String.valueOf(st.get("reason")) : failure;
        }
        writeState();
    }

    /** The stage a failed variant stopped at, from its run's _stages.json. */
    static String failedStage(Variant v) {
        for (Map.Entry<String, Map<String, Object>> e : stages(v).entrySet()) {
            if ("failed".equals(e.getValue().get("status"))) return e.getKey();
        }
        return "pipeline";
    }

    /** The variant's run record (run.out/_stages.json), empty before it ran. */
    @SuppressWarnings("unchecked")
    static Map<String, Map<String, Object>> stages(Variant v) {
        String p = v.dir + "/" + StageRunner.STATUS;
        try {
            org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(StageOutput.qualify(p));
            org.apache.hadoop.fs.FileSystem fs = StageOutput.fs(p);
            if (!fs.exists(path)) return Map.of();
            try (InputStream in = fs.open(path)) {
                return JSON.readValue(in, LinkedHashMap.class);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }

    /** sweep.json: the file, every variant's overrides, status and where to look when it failed. */
    synchronized void writeState() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("sweep", file.name());
        m.put("file", fileName);
        m.put("store", store.root());
        m.put("base", new SweepFile.Variant("base", file.base()).overrideStrings());
        List<Map<String, Object>> vs = new ArrayList<>();
        for (Variant v : variants) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", v.name);
            e.put("overrides", new SweepFile.Variant(v.name, v.overrides).overrideStrings());
            e.put("status", v.status);
            if (v.failedStage != null) e.put("stage", v.failedStage);
            if (v.reason != null) e.put("reason", v.reason);
            if (v.duplicateOf != null) e.put("same_as", v.duplicateOf);
            e.put("run", v.dir);
            if (v.runnable()) e.put("log", v.log());
            if (v.seconds > 0) e.put("seconds", v.seconds);
            vs.add(e);
        }
        m.put("variants", vs);
        try {
            TrainFiles.write(dir + "/sweep.json", (JSON.writeValueAsString(m) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Variants that failed or could not run, for the exit status. */
    public List<Variant> failures() {
        return variants.stream().filter(v -> v.status.equals("failed") || v.status.equals("invalid")).toList();
    }

    static String localPath(String p) {
        String q = StageOutput.qualify(p);
        if (!q.startsWith("file:")) throw new UserError("variant logs need a local sweep.out (" + p + "): set sweep.out to a local path");
        return java.nio.file.Path.of(java.net.URI.create(q)).toString();
    }
}
