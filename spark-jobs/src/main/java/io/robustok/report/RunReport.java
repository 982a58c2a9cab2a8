package io.robustok.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What a run has produced so far, read from {@code run.out}: every committed stage output (its
 * {@code _COMPLETE.json}, evaluation results, PNGs), and the training logs ({@code metrics.jsonl},
 * {@code val.jsonl}) of committed and of still running training stages ({@code <out>.train}). Rendered as
 * the HTML page ({@link #html}) and grouped evaluation tables ({@link EvalTable}) that the Markdown report
 * shares. Knows no stage by name beyond the labels of a few curves: a new stage's outputs appear as they are.
 */
public final class RunReport {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Columns of metrics.jsonl that are bookkeeping, not curves. */
    private static final Set<String> NOT_CURVES = Set.of("epoch", "round", "round_in_epoch", "step", "samples", "dropped",
            "drop_reason", "round_s", "broadcast_s", "compute_s", "aggregate_s", "lr_scale", "samples_per_s");
    private static final Set<String> LOSS_TERMS = Set.of("loss", "rec", "codebook", "commit", "perceptual", "gan", "disc");

    /** One directory under run.out. {@code done} is null for a training directory whose stage has not committed. */
    public record Output(String dir, JsonNode done, List<String> files) {
        public boolean complete() {
            return done != null;
        }
    }

    private final String root;
    private final FileSystem fs;
    private final List<Output> outputs = new ArrayList<>();
    private final List<JsonNode> results = new ArrayList<>();

    private RunReport(String root, FileSystem fs) {
        this.root = root;
        this.fs = fs;
    }

    /** Reads every output under {@code root} (a qualified path); an absent root is an empty run. */
    public static RunReport read(String root, FileSystem fs) throws IOException {
        RunReport r = new RunReport(root, fs);
        Path rp = new Path(root);
        if (!fs.exists(rp)) return r;
        FileStatus[] dirs = fs.listStatus(rp);
        Arrays.sort(dirs, Comparator.comparing(f -> f.getPath().getName()));
        for (FileStatus d : dirs) {
            String name = d.getPath().getName();
            if (!d.isDirectory() || name.contains("._") || name.equals("report")) continue;
            List<String> files = new ArrayList<>();
            for (FileStatus f : fs.listStatus(d.getPath())) if (f.isFile()) files.add(f.getPath().getName());
            files.sort(null);
            Path done = new Path(d.getPath(), "_COMPLETE.json");
            if (fs.exists(done)) {
                r.outputs.add(new Output(name, r.json(done), files));
                r.collectResults(name, files);
            } else if (files.contains("metrics.jsonl") && !(name.endsWith(".train")
                    && fs.exists(new Path(new Path(rp, name.substring(0, name.length() - ".train".length())), "_COMPLETE.json")))) {
                // a training run whose stage has not committed (a committed one carries its logs in its output)
                r.outputs.add(new Output(name, null, files));
            }
        }
        // in the order the stages finished (the pipeline's order), training still running last
        r.outputs.sort(Comparator.comparing((Output o) -> o.complete() ? o.done().path("finished").asText() : "~"));
        return r;
    }

    public List<Output> outputs() {
        return outputs;
    }

    /** Every evaluation result ({@code metric}, {@code value}, {@code params}, ...) with {@code _file} = dir/name. */
    public List<JsonNode> results() {
        return results;
    }

    private void collectResults(String dir, List<String> files) throws IOException {
        for (String n : files) {
            if (!n.endsWith(".json") || n.startsWith("_")) continue;
            JsonNode j = json(new Path(new Path(root, dir), n));
            JsonNode arr = j.has("metrics") && j.get("metrics").isArray() ? j.get("metrics")
                    : j.has("results") && j.get("results").isArray() ? j.get("results") : null;
            if (j.has("metric") && j.has("value")) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) j).put("_file", dir + "/" + n);
                results.add(j);
            } else if (arr != null) {
                for (JsonNode m : arr) {
                    if (!m.isObject() || !m.has("metric")) continue;
                    ((com.fasterxml.jackson.databind.node.ObjectNode) m).put("_file", dir + "/" + n);
                    results.add(m);
                }
            }
        }
    }

    /** The HTML page: stages, training curves, evaluation, pictures, provenance. */
    public String html(String runName, String generated) throws IOException {
        HtmlPage page = new HtmlPage("robustok run report: " + runName)
                .meta("output root " + root + " · generated " + generated);

        page.section("stages", "Stages");
        List<List<String>> rows = new ArrayList<>();
        for (Output o : outputs) {
            JsonNode d = o.done();
            rows.add(d == null
                    ? List.of(o.dir(), "(training, not committed)", "in progress", "", "", "", "")
                    : List.of(o.dir(), d.path("stage").asText(), "complete", d.path("finished").asText(),
                    d.has("wall_s") ? HtmlPage.duration(d.path("wall_s").asDouble()) : "",
                    HtmlPage.shortHash(d.path("config_sha256").asText()), d.path("revision").asText()));
        }
        if (rows.isEmpty()) page.paragraph("No stage has written an output under " + root + " yet.");
        else page.table(List.of("output", "stage", "state", "finished", "wall time", "config sha256", "revision"), rows);

        page.section("training", "Training");
        boolean anyTraining = false;
        for (Output o : outputs) {
            List<JsonNode> metrics = jsonLines(o, "metrics.jsonl");
            List<JsonNode> val = jsonLines(o, "val.jsonl");
            if (metrics.isEmpty() && val.isEmpty()) continue;
            anyTraining = true;
            String label = o.complete() ? o.dir() + " (" + o.done().path("stage").asText() + ")" : o.dir() + " (in progress)";
            page.subheading(label);
            if (!metrics.isEmpty()) {
                JsonNode last = metrics.get(metrics.size() - 1);
                page.paragraph(String.format(Locale.ROOT, "%d rounds logged, last: epoch %s, step %s", metrics.size(),
                        last.path("epoch").asText(), last.path("step").asText()));
            }
            page.charts(trainingCharts(o.dir(), metrics));
            page.charts(validationCharts(o.dir(), val));
            page.pictures(pictures(o, true));
        }
        if (!anyTraining) page.paragraph("No training stage has logged metrics yet.");

        page.section("evaluation", "Evaluation");
        if (results.isEmpty()) {
            page.paragraph("No evaluation results yet.");
        } else {
            page.charts(evaluationCharts());
            for (EvalTable t : EvalTable.group(results)) {
                page.subheading(t.title());
                if (!t.common().isEmpty()) page.paragraph(t.common());
                page.table(t.headers(), t.rows());
            }
            for (Output o : outputs) {
                if (o.complete() && jsonLines(o, "metrics.jsonl").isEmpty()) page.pictures(pictures(o, false));
            }
        }

        page.section("provenance", "Provenance");
        page.paragraph("Each committed output: the stage that wrote it, the hash of its resolved config (_config.conf beside it), "
                + "the code revision, when it finished and what it read. Click a line for the whole record.");
        for (Output o : outputs) if (o.complete()) page.provenance(o.dir(), o.done());
        return page.render();
    }

    /** Curves of one training log against the step: loss terms, PSNR, codebook, grad norm, lr, throughput, the rest. */
    static List<Chart> trainingCharts(String name, List<JsonNode> rows) {
        List<Chart> charts = new ArrayList<>();
        if (rows.isEmpty()) return charts;
        double[] step = column(rows, "step");
        Set<String> keys = numericKeys(rows);
        Chart loss = Chart.line(name + ": loss terms", "step", "loss").logY();
        for (String k : keys) if (LOSS_TERMS.contains(k) || k.contains("loss")) loss.series(k, step, column(rows, k));
        charts.add(loss);
        Set<String> done = new LinkedHashSet<>(NOT_CURVES);
        keys.stream().filter(k -> LOSS_TERMS.contains(k) || k.contains("loss")).forEach(done::add);
        for (String[] g : new String[][]{{"psnr", "PSNR (dB)"}, {"usage", "codebook usage (fraction of codes)"},
                {"perplexity", "codebook perplexity"}, {"acc", "token accuracy"}}) {
            if (keys.contains(g[0])) {
                charts.add(Chart.line(name + ": " + g[1], "step", g[0]).series(g[0], step, column(rows, g[0])));
                done.add(g[0]);
            }
        }
        if (keys.contains("grad_norm")) {
            charts.add(Chart.line(name + ": gradient norm (before clipping)", "step", "grad norm").logY()
                    .series("grad_norm", step, column(rows, "grad_norm")));
            done.add("grad_norm");
        }
        if (keys.contains("lr_scale")) charts.add(Chart.line(name + ": learning rate (x peak)", "step", "lr / peak lr")
                .series("lr_scale", step, column(rows, "lr_scale")));
        if (keys.contains("samples_per_s")) charts.add(Chart.line(name + ": throughput", "step", "samples/s")
                .series("samples/s", step, column(rows, "samples_per_s")));
        if (keys.contains("round_s")) {
            Chart t = Chart.line(name + ": round time", "step", "seconds");
            for (String k : List.of("round_s", "compute_s", "broadcast_s", "aggregate_s")) {
                if (keys.contains(k)) t.series(k, step, column(rows, k));
            }
            charts.add(t);
        }
        List<String> rest = keys.stream().filter(k -> !done.contains(k)).toList();
        if (!rest.isEmpty()) {
            Chart other = Chart.line(name + ": schedules and other terms", "step", "value");
            for (String k : rest) other.series(k, step, column(rows, k));
            charts.add(other);
        }
        return charts;
    }

    /** Per-epoch validation: one chart per figure, the generator's loss against the tokens' unigram entropy. */
    static List<Chart> validationCharts(String name, List<JsonNode> rows) {
        List<Chart> charts = new ArrayList<>();
        if (rows.isEmpty()) return charts;
        double[] epoch = column(rows, "epoch");
        Set<String> keys = numericKeys(rows);
        keys.remove("epoch");
        if (keys.contains("val_loss") && keys.contains("unigram_entropy")) {
            charts.add(Chart.line(name + ": validation loss vs unigram entropy", "epoch", "nats")
                    .series("val_loss", epoch, column(rows, "val_loss"))
                    .reference("unigram entropy of the tokens", epoch, last(column(rows, "unigram_entropy"))));
            keys.remove("val_loss");
            keys.remove("unigram_entropy");
        }
        for (String k : keys) charts.add(Chart.line(name + ": " + k + " per epoch", "epoch", k).series(k, epoch, column(rows, k)));
        // a validation before training (epoch 0, as post-train writes it) against the last one
        if (rows.size() > 1 && rows.get(0).path("epoch").asInt(-1) == 0) {
            for (String k : keys) {
                double[] v = column(rows, k);
                charts.add(Chart.bars(name + ": " + k + " before and after training", k)
                        .bar(k, "before (epoch 0)", v[0]).bar(k, "after (epoch " + (long) epoch[epoch.length - 1] + ")", v[v.length - 1]));
            }
        }
        return charts;
    }

    /** Results of the post-trained decoder: the eval stage writes them to {@code <name>-posttrain.json}. */
    static final String POST = "-posttrain.json";

    /** "before" / "after post-training" when the run has post-trained results, else "". */
    private String variant(JsonNode r) {
        boolean any = results.stream().anyMatch(x -> x.path("_file").asText().endsWith(POST));
        if (!any) return "";
        return r.path("_file").asText().endsWith(POST) ? "after post-training" : "before post-training";
    }

    /** The result's output directory and file without the post-training suffix: eval/pfid.json for both decoders. */
    private static String source(JsonNode r) {
        return r.path("_file").asText().replace(POST, ".json");
    }

    /**
     * The pFID curve over alpha (rFID at alpha 0), one line per decoder; generation metrics by guidance; and, where
     * post-training ran, every metric before and after it.
     */
    List<Chart> evaluationCharts() {
        List<Chart> charts = new ArrayList<>();
        Map<String, Chart> pfid = new LinkedHashMap<>();
        Map<String, Map<String, List<double[]>>> curves = new LinkedHashMap<>();
        for (JsonNode r : results) {
            String m = r.path("metric").asText();
            String dir = source(r).replaceAll("/.*", "");
            double v = r.path("value").asDouble(Double.NaN);
            if (m.equals("pfid") && r.path("params").has("alpha")) {
                curves.computeIfAbsent(dir, k -> new LinkedHashMap<>()).computeIfAbsent(variant(r), k -> new ArrayList<>())
                        .add(new double[]{r.path("params").path("alpha").asDouble(), v});
                pfid.putIfAbsent(dir, Chart.line("pFID over alpha (" + dir + "; alpha 0 = rFID; delta "
                        + r.path("params").path("delta").asText() + ")", "alpha (perturbation rate)", "FID"));
            }
        }
        for (JsonNode r : results) {
            String dir = source(r).replaceAll("/.*", "");
            if (r.path("metric").asText().equals("rfid") && curves.containsKey(dir)) {
                curves.get(dir).computeIfAbsent(variant(r), k -> new ArrayList<>()).add(new double[]{0, r.path("value").asDouble(Double.NaN)});
            }
        }
        for (Map.Entry<String, Chart> e : pfid.entrySet()) {
            for (Map.Entry<String, List<double[]>> c : curves.get(e.getKey()).entrySet()) {
                List<double[]> pts = c.getValue();
                pts.sort(Comparator.comparingDouble(p -> p[0]));
                e.getValue().series(c.getKey().isEmpty() ? "pFID" : "pFID, " + c.getKey(),
                        pts.stream().mapToDouble(p -> p[0]).toArray(), pts.stream().mapToDouble(p -> p[1]).toArray());
            }
            charts.add(e.getValue());
        }
        // generation metrics: a bar group per guidance, a bar per decoder (or per output directory)
        for (String[] m : new String[][]{{"gfid", "gFID"}, {"gis", "Inception Score"}, {"gprecision", "precision"}, {"grecall", "recall"}}) {
            Chart c = Chart.bars(m[1] + " by guidance", m[1]);
            for (JsonNode r : results) {
                if (!r.path("metric").asText().equals(m[0])) continue;
                String v = variant(r);
                c.bar("guidance " + r.path("params").path("guidance").asText("?"), v.isEmpty() ? source(r).replaceAll("/.*", "") : v,
                        r.path("value").asDouble(Double.NaN));
            }
            charts.add(c);
        }
        // before and after post-training: one chart per metric, a bar group per setting
        Map<String, Chart> compare = new LinkedHashMap<>();
        Map<String, Set<String>> variants = new LinkedHashMap<>();
        for (JsonNode r : results) {
            String key = source(r) + " " + r.path("metric").asText() + paramsLabel(r.path("params"));
            variants.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(variant(r));
        }
        for (JsonNode r : results) {
            String v = variant(r);
            String metric = r.path("metric").asText();
            String label = paramsLabel(r.path("params"));
            if (v.isEmpty() || variants.get(source(r) + " " + metric + label).size() < 2) continue;
            compare.computeIfAbsent(metric, k -> Chart.bars(metric + " before and after post-training", metric))
                    .bar(label.isEmpty() ? metric : label.substring(2, label.length() - 1), v, r.path("value").asDouble(Double.NaN));
        }
        charts.addAll(compare.values());
        return charts;
    }

    private static String paramsLabel(JsonNode p) {
        List<String> kv = new ArrayList<>();
        for (String k : List.of("alpha", "guidance")) if (p.has(k)) kv.add(k + " " + p.get(k).asText());
        return kv.isEmpty() ? "" : " (" + String.join(", ", kv) + ")";
    }

    private List<HtmlPage.Picture> pictures(Output o, boolean training) throws IOException {
        List<HtmlPage.Picture> out = new ArrayList<>();
        for (String f : o.files()) {
            // the pFID curve is drawn as a chart above
            if (!f.endsWith(".png") || f.equals("pfid-curve.png")) continue;
            String caption = f.equals("val-grid.png") && o.complete() ? o.done().path("final_val").path("grid").asText("")
                    : f.startsWith("samples") ? "generated samples" : "";
            out.add(new HtmlPage.Picture(o.dir() + "/" + f, caption, bytes(new Path(new Path(root, o.dir()), f))));
        }
        return training || !out.isEmpty() ? out : List.of();
    }

    List<JsonNode> jsonLines(Output o, String file) throws IOException {
        if (!o.files().contains(file)) return List.of();
        List<JsonNode> rows = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(new Path(new Path(root, o.dir()), file)),
                StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank()) continue;
                try {
                    rows.add(JSON.readTree(line));
                } catch (IOException e) {
                    // a line cut short by a running writer
                }
            }
        }
        return rows;
    }

    private static Set<String> numericKeys(List<JsonNode> rows) {
        Set<String> keys = new LinkedHashSet<>();
        for (JsonNode r : rows) {
            Iterator<Map.Entry<String, JsonNode>> it = r.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getValue().isNumber()) keys.add(e.getKey());
            }
        }
        return keys;
    }

    static double[] column(List<JsonNode> rows, String key) {
        double[] v = new double[rows.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode n = rows.get(i).get(key);
            v[i] = n != null && n.isNumber() ? n.asDouble() : Double.NaN;
        }
        return v;
    }

    private static double last(double[] v) {
        for (int i = v.length - 1; i >= 0; i--) if (Double.isFinite(v[i])) return v[i];
        return Double.NaN;
    }

    private JsonNode json(Path p) throws IOException {
        return JSON.readTree(new String(bytes(p), StandardCharsets.UTF_8));
    }

    private byte[] bytes(Path p) throws IOException {
        try (InputStream in = fs.open(p)) {
            return in.readAllBytes();
        }
    }
}
