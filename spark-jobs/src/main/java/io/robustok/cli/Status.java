package io.robustok.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import io.robustok.config.Settings;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code robustok status --conf FILE}: where a run stands, one line per pipeline stage, without starting Spark.
 * <ul>
 *   <li>complete: its output is committed, written with the current values of the stage's config paths, and
 *   no input was rewritten after it;</li>
 *   <li>stale: committed, but a config value changed since (named), an input stage finished after it, or an
 *   input is itself stale; rerunning with --force (the stage and those after it) brings it up to date;</li>
 *   <li>partial: not committed, but work exists: training checkpoints (the newest named, with its step) or an
 *   uncommitted temporary directory; rerunning the stage resumes or redoes it;</li>
 *   <li>missing: nothing written yet.</li>
 * </ul>
 * Exit code 0 when every stage is complete, 3 otherwise (for schedulers), 1 on bad input.
 */
public final class Status {
    public static final int INCOMPLETE = 3;
    private static final ObjectMapper JSON = new ObjectMapper();

    public enum Verdict { COMPLETE, STALE, PARTIAL, MISSING, NOT_USED }

    /** One stage's state: the verdict, why, and its headline figure and wall time when complete. */
    public record Line(String stage, Verdict verdict, String detail) {
        String render() {
            return String.format(Locale.ROOT, "%-16s %-9s %s", stage, verdict.name().toLowerCase(Locale.ROOT).replace('_', ' '), detail);
        }
    }

    private Status() {
    }

    /** Prints the table and returns the exit code. */
    public static int print(Settings settings, PrintStream out) {
        List<Line> lines = check(settings, Stages.all());
        out.println("run " + settings.config().getString("run.name") + " at " + settings.config().getString("run.out"));
        boolean complete = true;
        for (Line l : lines) {
            out.println(l.render());
            complete &= l.verdict() == Verdict.COMPLETE || l.verdict() == Verdict.NOT_USED;
        }
        out.println(complete ? "run complete" : "run not complete: rerun 'robustok pipeline' with this config "
                + "(stale stages need --force on that stage)");
        return complete ? 0 : INCOMPLETE;
    }

    /** The verdict of every pipeline stage, in pipeline order. */
    public static List<Line> check(Settings settings, List<Stage> stages) {
        Config c = settings.config();
        Map<String, Line> byStage = new LinkedHashMap<>();
        Map<String, Instant> finished = new LinkedHashMap<>();
        for (Stage s : stages) {
            if (!s.inPipeline()) continue;
            List<String> outs = s.outputs(c);
            if (outs.isEmpty() || !s.enabled(c)) {
                byStage.put(s.name(), new Line(s.name(), Verdict.NOT_USED, outs.isEmpty() ? "nothing to write with this config"
                        : "not enabled by this config"));
                continue;
            }
            try {
                byStage.put(s.name(), stageLine(s, outs, c, byStage, finished));
            } catch (IOException e) {
                throw new UserError("cannot read the outputs of " + s.name() + " (" + outs + "): " + e.getMessage(), e);
            }
        }
        return new ArrayList<>(byStage.values());
    }

    private static Line stageLine(Stage s, List<String> outs, Config c, Map<String, Line> before,
                                  Map<String, Instant> finished) throws IOException {
        List<String> stale = new ArrayList<>();
        Instant latest = null;
        JsonNode done = null;
        double wall = 0;
        for (String o : outs) {
            String dir = StageOutput.qualify(o);
            FileSystem fs = StageOutput.fs(dir);
            Path complete = new Path(dir, StageOutput.COMPLETE);
            if (!fs.exists(complete)) return unfinished(s, dir, fs);
            done = json(fs, complete);
            Path summary = new Path(dir, "summary.json");
            if (fs.exists(summary)) ((com.fasterxml.jackson.databind.node.ObjectNode) done).set("summary", json(fs, summary));
            Instant t = Instant.parse(done.path("finished").asText());
            latest = latest == null || t.isAfter(latest) ? t : latest;
            wall += done.path("wall_s").asDouble(0);
            Path conf = new Path(dir, StageOutput.CONFIG);
            if (fs.exists(conf)) stale.addAll(changedKeys(s.configPaths(), c, read(fs, conf)));
        }
        finished.put(s.name(), latest);
        // inputs first: they say which stage to redo first
        List<String> changedConfig = stale;
        stale = new ArrayList<>();
        for (String in : s.after()) {
            Line l = before.get(in);
            if (l == null) continue;
            if (l.verdict() == Verdict.STALE) stale.add("input " + in + " is stale");
            else if (l.verdict() != Verdict.COMPLETE && l.verdict() != Verdict.NOT_USED) stale.add("input " + in + " is " + l.verdict().name().toLowerCase(Locale.ROOT));
            else if (finished.get(in) != null && finished.get(in).isAfter(latest)) stale.add("input " + in + " was rewritten after it");
        }
        stale.addAll(changedConfig);
        String facts = headline(s.name(), done) + (wall > 0 ? " · wall " + duration(wall) : "") + " · finished " + latest;
        if (stale.size() > 4) {
            int more = stale.size() - 3;
            stale = new ArrayList<>(stale.subList(0, 3));
            stale.add("and " + more + " more");
        }
        if (!stale.isEmpty()) return new Line(s.name(), Verdict.STALE, String.join("; ", stale) + " · " + facts);
        return new Line(s.name(), Verdict.COMPLETE, facts);
    }

    /** Partial when training checkpoints or an uncommitted temporary output exist, missing otherwise. */
    private static Line unfinished(Stage s, String dir, FileSystem fs) throws IOException {
        Path out = new Path(dir);
        Path ckpts = new Path(out.getParent(), out.getName() + ".train/checkpoints");
        if (fs.exists(ckpts)) {
            FileStatus newest = null;
            for (FileStatus f : fs.listStatus(ckpts)) {
                if (f.isDirectory() && f.getPath().getName().startsWith("round-")
                        && fs.exists(new Path(f.getPath(), "state.json"))
                        && (newest == null || f.getPath().getName().compareTo(newest.getPath().getName()) > 0)) newest = f;
            }
            if (newest != null) {
                JsonNode st = json(fs, new Path(newest.getPath(), "state.json"));
                JsonNode p = st.has("progress") ? st.get("progress") : st;
                return new Line(s.name(), Verdict.PARTIAL, String.format(Locale.ROOT,
                        "newest checkpoint %s (epoch %s, step %s, %s samples); rerun resumes there",
                        newest.getPath(), p.path("epoch").asText("?"), p.path("step").asText("?"), p.path("samples").asText("?")));
            }
        }
        if (fs.exists(out.getParent())) {
            for (FileStatus f : fs.listStatus(out.getParent())) {
                if (f.getPath().getName().startsWith(out.getName() + "._tmp-")) {
                    return new Line(s.name(), Verdict.PARTIAL, "uncommitted output " + f.getPath() + " (interrupted); a rerun redoes it");
                }
            }
        }
        return new Line(s.name(), Verdict.MISSING, "no output at " + dir);
    }

    /** The config paths whose current value differs from the one the output was written with. */
    static List<String> changedKeys(List<String> paths, Config now, String written) {
        Config then = ConfigFactory.parseString(written).resolve();
        List<String> changed = new ArrayList<>();
        ConfigRenderOptions concise = ConfigRenderOptions.concise();
        for (String p : paths) {
            boolean a = now.hasPath(p), b = then.hasPath(p);
            if (!a && !b) continue;
            if (a != b) {
                changed.add(p + " changed");
                continue;
            }
            if (now.getValue(p).render(concise).equals(then.getValue(p).render(concise))) continue;
            // name the leaf keys that differ
            if (now.getValue(p) instanceof com.typesafe.config.ConfigObject) {
                Config na = now.getConfig(p), nb = then.getConfig(p);
                for (var e : na.entrySet()) {
                    String k = e.getKey();
                    if (!nb.hasPath(k) || !e.getValue().render(concise).equals(nb.getValue(k).render(concise))) {
                        changed.add(p + "." + k + " = " + e.getValue().render(concise) + " (was "
                                + (nb.hasPath(k) ? nb.getValue(k).render(concise) : "unset") + ")");
                    }
                }
                for (var e : nb.entrySet()) if (!na.hasPath(e.getKey())) changed.add(p + "." + e.getKey() + " removed");
            } else {
                changed.add(p + " = " + now.getValue(p).render(concise) + " (was " + then.getValue(p).render(concise) + ")");
            }
        }
        return changed;
    }

    /** The figure a person checks first, from the output's provenance. */
    static String headline(String stage, JsonNode d) {
        return switch (d.path("stage").asText(stage)) {
            case "train-tokenizer" -> String.format(Locale.ROOT, "step %s, val PSNR %.2f dB, codebook usage %.1f%%",
                    d.path("global_step").asText(), d.path("final_val").path("val_psnr").asDouble(),
                    100 * d.path("final_val").path("val_usage").asDouble());
            case "train-generator" -> String.format(Locale.ROOT, "step %s, val loss %.3f nats (unigram entropy %.3f)",
                    d.path("global_step").asText(), d.path("final_val_loss").asDouble(), d.path("unigram_entropy").asDouble());
            case "train-features" -> String.format(Locale.ROOT, "test accuracy %.4f", d.path("test_accuracy").asDouble());
            case "tokenize" -> "rows " + d.path("rows");
            case "pair-tokens" -> String.format(Locale.ROOT, "%s pairs, sigma %s, kept fraction %.3f", d.path("stats").path("pairs").asText(),
                    d.path("sigma").asText(), d.path("stats").path("kept_fraction").asDouble());
            case "post-train" -> String.format(Locale.ROOT, "step %s, val PSNR %.2f dB", d.path("global_step").asText(),
                    d.path("final_val").path("val_psnr").asDouble());
            case "prep" -> d.path("rows").asText() + " rows, " + d.path("rejects").asText() + " rejects";
            case "eval" -> evalHeadline(d.path("summary"));
            default -> "committed";
        };
    }

    private static String evalHeadline(JsonNode sum) {
        List<String> parts = new ArrayList<>();
        if (sum.has("rfid")) parts.add(String.format(Locale.ROOT, "rFID %.2f", sum.get("rfid").asDouble()));
        sum.path("pfid").fields().forEachRemaining(e -> parts.add(String.format(Locale.ROOT, "pFID@%s %.2f", e.getKey(), e.getValue().asDouble())));
        sum.path("gfid").fields().forEachRemaining(e -> parts.add(String.format(Locale.ROOT, "gFID@g%s %.2f (IS %.2f)", e.getKey(),
                e.getValue().path("gfid").asDouble(), e.getValue().path("is").asDouble())));
        return parts.isEmpty() ? "committed" : String.join(", ", parts);
    }

    static String duration(double s) {
        return s < 60 ? String.format(Locale.ROOT, "%.1f s", s) : String.format(Locale.ROOT, "%d min %d s", (long) s / 60, (long) s % 60);
    }

    private static JsonNode json(FileSystem fs, Path p) throws IOException {
        return JSON.readTree(read(fs, p));
    }

    private static String read(FileSystem fs, Path p) throws IOException {
        try (InputStream in = fs.open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
