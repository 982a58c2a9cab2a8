package io.robustok.sweep;

import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.config.Settings;
import io.robustok.jobs.TrainFiles;
import io.robustok.spark.StageOutput;
import io.robustok.sweep.StageGraph.Node;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the pipeline's stages for one run and records each in {@code run.out/_stages.json} (status, seconds, and
 * with a store the identity and location), so a sweep can tell what a run computed, what it found, and where it
 * failed.
 *
 * <p>With {@code run.store} empty every stage writes under run.out. With a store, each stage's output lives in the
 * store under its identity ({@link StageGraph}); the stage is computed under the entry's lock unless complete, and
 * {@code run.out/<output>} becomes a symbolic link to it (on a file system without links, a {@code <output>.link}
 * file naming it), so a run directory reads as before.
 */
public final class StageRunner {
    private static final Logger log = LoggerFactory.getLogger(StageRunner.class);
    public static final String STATUS = "_stages.json";

    private final StageContext ctx;
    private final StageContext stageCtx;
    private final StageStore store;
    private final Map<String, String> ids;
    private final List<String> adoptFrom;
    private final Map<String, String> locations = new LinkedHashMap<>();
    private final Map<String, Map<String, Object>> status = new LinkedHashMap<>();

    public StageRunner(StageContext ctx) {
        this.ctx = ctx;
        Settings s = ctx.settings();
        String root = s.config().getString("run.store");
        if (root.isBlank()) {
            store = null;
            ids = Map.of();
            adoptFrom = List.of();
            stageCtx = ctx;
            return;
        }
        store = new StageStore(root, (long) (s.config().getDouble("sweep.lock-lease") * 1000));
        ids = StageGraph.identities(s);
        adoptFrom = s.config().getStringList("sweep.adopt");
        List<String> placed = new ArrayList<>();
        Map<String, String> byOutput = new LinkedHashMap<>();
        for (Node n : StageGraph.NODES) {
            if (!n.shared()) continue;
            String loc = store.location(n, ids.get(n.stage()));
            locations.put(n.stage(), loc);
            if (n.locationKey() != null) placed.add(n.locationKey() + "=" + loc);
            else byOutput.put(n.output(), loc);
        }
        stageCtx = ctx.at(s.with(placed), byOutput);
    }

    /** The context stages run with (and the report reads): outputs placed in the store when there is one. */
    public StageContext context() {
        return stageCtx;
    }

    public void run(Stage stage) throws Exception {
        Map<String, Object> st = new LinkedHashMap<>();
        status.put(stage.name(), st);
        long t0 = System.nanoTime();
        io.robustok.spark.StageOutput.stageStarted();
        try {
            if (!stage.enabled(ctx.settings().config())) {
                st.put("status", "skipped");
                log.info("{}: not enabled by this config, skipped", stage.name());
            } else if (store == null) {
                stage.run(stageCtx);
                st.put("status", "ran");
            } else {
                Node n = StageGraph.node(stage.name());
                String id = ids.get(n.stage());
                st.put("identity", id);
                if (n.shared()) st.put("location", locations.get(n.stage()));
                Map<String, Object> meta = new LinkedHashMap<>();
                meta.put("computed_by", ctx.settings().config().getString("run.out"));
                meta.put("keys", StageGraph.keyValues(n, ctx.settings()));
                Map<String, String> inputs = new LinkedHashMap<>();
                for (String in : n.inputs()) inputs.put(in, ids.get(in));
                meta.put("inputs", inputs);
                String lockName = n.shared() ? "" : stageCtx.settings().config().getString("data.imagefolder");
                String adopt = store.isComplete(n, id) ? null : RunAdoption.find(n, ids, adoptFrom);
                StageStore.Result r = store.computeOnce(n, id, lockName, meta, adopt, () -> {
                    stage.run(stageCtx);
                    return null;
                });
                st.put("status", n.shared() ? r.outcome().name().toLowerCase() : "ran");
                if (n.shared() && r.outcome() != StageStore.Outcome.INCOMPLETE) {
                    Object sec = store.meta(n, id).get("seconds");
                    if (sec != null) st.put("compute_seconds", sec);
                    link(n.output(), locations.get(n.stage()));
                }
                log.info("{}: {} {}", stage.name(), r.outcome() == StageStore.Outcome.CACHED ? "shared output" : "output",
                        n.shared() ? locations.get(n.stage()) : "(outside the store)");
            }
        } catch (Exception | Error e) {
            st.put("status", "failed");
            st.put("reason", reason(e));
            throw e;
        } finally {
            st.put("seconds", (System.nanoTime() - t0) / 1e9);
            write();
        }
    }

    /** The status of each stage run so far, in order. */
    public Map<String, Map<String, Object>> status() {
        return status;
    }

    /** One line: the innermost message, which for bad input is the one a person acts on. */
    public static String reason(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            if (root instanceof UserError || root instanceof io.robustok.config.ConfigError) break;
            root = root.getCause();
        }
        String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        if (!(root instanceof UserError || root instanceof io.robustok.config.ConfigError)) m = root.getClass().getSimpleName() + ": " + m;
        return m.replace('\n', ' ');
    }

    private void write() {
        String file = ctx.settings().config().getString("run.out") + "/" + STATUS;
        TrainFiles.write(file, (StageOutput.toJsonLine(status) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** run.out/<output> -> the store entry. */
    private void link(String output, String location) {
        String runOut = ctx.settings().config().getString("run.out");
        String q = StageOutput.qualify(runOut + "/" + output);
        if (!q.startsWith("file:")) {
            TrainFiles.write(runOut + "/" + output + ".link", (StageOutput.qualify(location) + "\n").getBytes(StandardCharsets.UTF_8));
            return;
        }
        java.nio.file.Path link = java.nio.file.Path.of(java.net.URI.create(q));
        java.nio.file.Path target = java.nio.file.Path.of(java.net.URI.create(StageOutput.qualify(location)));
        try {
            if (Files.isSymbolicLink(link)) {
                if (Files.readSymbolicLink(link).equals(target)) return;
                Files.delete(link);
            } else if (Files.exists(link)) {
                throw new UserError(link + " exists and is not a link into the store " + store.root()
                        + ": use another run.out for a run with run.store set");
            }
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(link, target);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot link " + link + " to " + target, e);
        }
    }
}
