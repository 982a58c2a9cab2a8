package io.robustok.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.robustok.config.Settings;
import io.robustok.spark.StageOutput;
import io.robustok.sweep.StageGraph.Node;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Types;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The sweep's results in {@code <sweep>/results} (committed by rename): {@code table.parquet}, {@code table.csv} and
 * {@code table.md} with a row per variant (status, its overrides, every metric its stages wrote, and per stage the
 * seconds this variant spent and the seconds the output took to compute), {@code correlations.json} (Spearman's rho
 * and Kendall's tau of each rFID / pFID column against each gFID column of the same decoder, before or after
 * post-training, with bootstrap intervals), and
 * {@code plots/} (each metric against each swept key, the rFID-gFID and pFID-gFID scatters).
 *
 * <p>Metrics are read from the outputs the variant's run points at: each training stage's final validation
 * ({@code tokenizer.val_psnr}, {@code tokenizer.val_usage}, {@code generator.final_val_loss}, {@code posttrain.val_psnr}),
 * the feature network's test accuracy, and every number of a stage's {@code summary.json} (eval's rFID,
 * codebook usage, pFID per alpha, gFID / IS / precision / recall per guidance; and any later stage's), flattened to
 * columns such as {@code pfid@0.5} and {@code gfid.is@2.0}.
 */
public final class SweepResults {
    /** A table: columns in order, one row of values (String or Double, null when missing) per variant. */
    record Table(List<String> columns, List<String> textColumns, List<Map<String, Object>> rows) {
    }

    private SweepResults() {
    }

    /** The table and the rank correlations, as written. */
    record Written(Table table, List<Map<String, Object>> correlations) {
    }

    public static Written write(Sweep sweep, Settings common) throws IOException {
        Config c = common.config();
        Table t = table(sweep);
        List<Map<String, Object>> corr = correlations(t, c.getInt("sweep.bootstrap"), c.getDouble("sweep.confidence"),
                c.getLong("sweep.seed"));
        StageOutput out = StageOutput.begin(sweep.dir() + "/results");
        try {
            writeParquet(t, out.tmp() + "/table.parquet");
            out.writeText("table.csv", csv(t));
            Map<String, byte[]> plots = SweepPlots.all(t, sweep.file().swept());
            plots.forEach((name, png) -> out.writeBytes("plots/" + name, png));
            out.writeText("table.md", markdown(sweep, t, corr, plots.keySet()));
            out.writeJson("correlations.json", corr);
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("sweep", sweep.file().name());
            prov.put("variants", t.rows().size());
            out.commit("sweep", common, prov);
        } catch (IOException | RuntimeException e) {
            out.abort();
            throw e;
        }
        System.out.println(markdownTable(t, false));
        return new Written(t, corr);
    }

    static Table table(Sweep sweep) {
        List<Map<String, Object>> rows = new ArrayList<>();
        Set<String> metricCols = new LinkedHashSet<>();
        Set<String> timeCols = new LinkedHashSet<>();
        for (Sweep.Variant v : sweep.variants()) {
            if (v.status().equals("duplicate")) continue;
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("variant", v.name());
            row.put("status", v.status());
            for (String k : sweep.file().swept()) {
                row.put(k, v.overrides().containsKey(k) ? StageGraph.canonical(v.overrides().get(k)) : "(base)");
            }
            Map<String, Double> m = metrics(Sweep.stages(v));
            metricCols.addAll(m.keySet());
            row.putAll(m);
            Map<String, Double> times = times(Sweep.stages(v));
            timeCols.addAll(times.keySet());
            row.putAll(times);
            rows.add(row);
        }
        List<String> text = new ArrayList<>(List.of("variant", "status"));
        text.addAll(sweep.file().swept());
        List<String> cols = new ArrayList<>(text);
        cols.addAll(metricCols);
        cols.addAll(timeCols);
        return new Table(cols, text, rows);
    }

    /** Every metric of a run, from the stage outputs its _stages.json points at. */
    static Map<String, Double> metrics(Map<String, Map<String, Object>> stages) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (Node n : StageGraph.NODES) {
            Map<String, Object> st = stages.get(n.stage());
            if (st == null || st.get("location") == null || "failed".equals(st.get("status"))) continue;
            String loc = String.valueOf(st.get("location"));
            JsonNode done = read(loc + "/" + StageOutput.COMPLETE);
            if (done != null) {
                // a training stage's final validation and headline figures, named after its output
                done.path("final_val").fields().forEachRemaining(e -> {
                    if (!e.getKey().equals("epoch")) put(m, n.output() + "." + e.getKey(), e.getValue());
                });
                for (String k : List.of("final_val_loss", "unigram_entropy", "test_accuracy")) put(m, n.output() + "." + k, done.path(k));
            }
            JsonNode summary = read(loc + "/summary.json");
            if (summary != null) flatten(summary, n.output().equals("eval") ? List.of() : List.of(n.output()), List.of(), m);
        }
        return m;
    }

    private static void put(Map<String, Double> m, String k, JsonNode v) {
        if (v.isNumber()) m.put(k, v.asDouble());
    }

    /** Numeric leaves as columns: named by the non-numeric keys, qualified by the numeric ones ({@code gfid.is@2.0}). */
    static void flatten(JsonNode node, List<String> names, List<String> quals, Map<String, Double> out) {
        if (node.isNumber()) {
            List<String> n = new ArrayList<>();
            for (String s : names) if (n.isEmpty() || !n.get(n.size() - 1).equals(s)) n.add(s);
            StringBuilder col = new StringBuilder(String.join(".", n));
            for (String q : quals) col.append('@').append(q);
            out.put(col.toString(), node.asDouble());
            return;
        }
        if (!node.isObject()) return;
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            boolean numeric = e.getKey().matches("[-+]?[0-9.]+([eE][-+]?[0-9]+)?");
            List<String> n2 = new ArrayList<>(names), q2 = new ArrayList<>(quals);
            if (numeric) q2.add(e.getKey());
            else n2.add(e.getKey());
            flatten(e.getValue(), n2, q2, out);
        }
    }

    /** time.<stage>: seconds this variant spent in the stage; compute.<stage>: seconds its output took to compute. */
    static Map<String, Double> times(Map<String, Map<String, Object>> stages) {
        Map<String, Double> t = new LinkedHashMap<>();
        stages.forEach((stage, st) -> {
            if (st.get("seconds") instanceof Number n) t.put("time." + stage, n.doubleValue());
        });
        stages.forEach((stage, st) -> {
            if (st.get("compute_seconds") instanceof Number n) t.put("compute." + stage, n.doubleValue());
        });
        return t;
    }

    private static JsonNode read(String file) {
        try {
            FileSystem fs = StageOutput.fs(file);
            Path p = new Path(StageOutput.qualify(file));
            if (!fs.exists(p)) return null;
            try (InputStream in = fs.open(p)) {
                return Sweep.JSON.readTree(in);
            }
        } catch (IOException e) {
            return null;
        }
    }

    /** Columns whose metric decides the ranking: gFID per guidance (the targets) and rFID / pFID (the predictors). */
    static boolean isTarget(String col) {
        return last(col).startsWith("gfid@");
    }

    static boolean isPredictor(String col) {
        String l = last(col);
        return l.equals("rfid") || l.startsWith("rfid@") || l.startsWith("pfid@") || l.equals("pfid");
    }

    /** What qualifies a metric's name: {@code posttrain.} for {@code posttrain.gfid@2.0}, empty for {@code gfid@2.0}. */
    static String prefix(String col) {
        int at = col.indexOf('@');
        String base = at < 0 ? col : col.substring(0, at);
        return base.substring(0, base.lastIndexOf('.') + 1);
    }

    /** The metric's own name with its qualifiers: {@code posttrain.gfid@2.0} -> {@code gfid@2.0}. */
    static String last(String col) {
        int at = col.indexOf('@');
        String base = at < 0 ? col : col.substring(0, at);
        return base.substring(base.lastIndexOf('.') + 1) + (at < 0 ? "" : col.substring(at));
    }

    static List<Map<String, Object>> correlations(Table t, int resamples, double level, long seed) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String x : t.columns()) {
            if (!isPredictor(x)) continue;
            for (String y : t.columns()) {
                // before against before, after post-training against after
                if (!isTarget(y) || !prefix(x).equals(prefix(y))) continue;
                List<Double> xs = new ArrayList<>(), ys = new ArrayList<>();
                for (Map<String, Object> r : t.rows()) {
                    if (r.get(x) instanceof Double a && r.get(y) instanceof Double b && Double.isFinite(a) && Double.isFinite(b)) {
                        xs.add(a);
                        ys.add(b);
                    }
                }
                double[] xa = xs.stream().mapToDouble(Double::doubleValue).toArray();
                double[] ya = ys.stream().mapToDouble(Double::doubleValue).toArray();
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("x", x);
                e.put("y", y);
                e.put("variants", xa.length);
                RankCorrelation.Interval rho = RankCorrelation.bootstrap(xa, ya, RankCorrelation::spearman, resamples, level, seed);
                RankCorrelation.Interval tau = RankCorrelation.bootstrap(xa, ya, RankCorrelation::kendall, resamples, level, seed);
                e.put("spearman_rho", rho.estimate());
                e.put("spearman_low", rho.low());
                e.put("spearman_high", rho.high());
                e.put("kendall_tau", tau.estimate());
                e.put("kendall_low", tau.low());
                e.put("kendall_high", tau.high());
                e.put("level", level);
                e.put("bootstrap_resamples", rho.resamples());
                out.add(e);
            }
        }
        return out;
    }

    static void writeParquet(Table t, String file) throws IOException {
        Types.MessageTypeBuilder b = Types.buildMessage();
        for (String c : t.columns()) {
            if (t.textColumns().contains(c)) b.optional(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(c);
            else b.optional(PrimitiveTypeName.DOUBLE).named(c);
        }
        MessageType schema = b.named("sweep");
        SimpleGroupFactory f = new SimpleGroupFactory(schema);
        try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new Path(file)).withType(schema)
                .withConf(new org.apache.hadoop.conf.Configuration()).build()) {
            for (Map<String, Object> r : t.rows()) {
                Group g = f.newGroup();
                for (String c : t.columns()) {
                    Object v = r.get(c);
                    if (v instanceof Double d) g.add(c, d);
                    else if (v != null) g.add(c, String.valueOf(v));
                }
                w.write(g);
            }
        }
    }

    static String csv(Table t) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.join(",", t.columns().stream().map(SweepResults::csvCell).toList())).append('\n');
        for (Map<String, Object> r : t.rows()) {
            List<String> cells = new ArrayList<>();
            for (String c : t.columns()) cells.add(r.get(c) == null ? "" : csvCell(String.valueOf(r.get(c))));
            sb.append(String.join(",", cells)).append('\n');
        }
        return sb.toString();
    }

    private static String csvCell(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    /** The table as Markdown: metrics (times = false) or the per-stage seconds (times = true). */
    static String markdownTable(Table t, boolean times) {
        List<String> cols = new ArrayList<>();
        for (String c : t.columns()) {
            boolean time = c.startsWith("time.") || c.startsWith("compute.");
            if (t.textColumns().contains(c) || time == times) cols.add(c);
        }
        StringBuilder sb = new StringBuilder("| ").append(String.join(" | ", cols)).append(" |\n|");
        for (String c : cols) sb.append(t.textColumns().contains(c) ? "---|" : "---:|");
        sb.append('\n');
        for (Map<String, Object> r : t.rows()) {
            sb.append("|");
            for (String c : cols) {
                Object v = r.get(c);
                sb.append(' ').append(v instanceof Double d ? fmt(d) : v == null ? "" : String.valueOf(v).replace("|", "/")).append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    static String fmt(double d) {
        if (Double.isNaN(d)) return "n/a";
        double a = Math.abs(d);
        return a != 0 && (a >= 1e5 || a < 1e-3) ? String.format("%.3e", d) : a >= 100 ? String.format("%.1f", d) : String.format("%.4f", d);
    }

    static String markdown(Sweep sweep, Table t, List<Map<String, Object>> corr, Set<String> plots) {
        StringBuilder md = new StringBuilder("# Sweep ").append(sweep.file().name()).append("\n\n");
        md.append("Variants: ").append(t.rows().size()).append("; stage outputs in ").append(sweep.store().root())
                .append("; runs in ").append(sweep.dir()).append("/runs.\n\n");
        md.append("## Metrics\n\n").append(markdownTable(t, false)).append('\n');
        md.append("## Seconds per stage\n\n`time.<stage>`: spent by this variant (a shared output found complete costs ~0); ")
                .append("`compute.<stage>`: what computing the output took, by whichever variant computed it.\n\n")
                .append(markdownTable(t, true)).append('\n');
        md.append("## Rank correlation with gFID across variants\n\n");
        if (corr.isEmpty()) {
            md.append("(no variant has both an rFID/pFID and a gFID)\n");
        } else {
            md.append("| x | y | variants | Spearman rho | interval | Kendall tau | interval |\n|---|---|---:|---:|---|---:|---|\n");
            for (Map<String, Object> e : corr) {
                md.append("| ").append(e.get("x")).append(" | ").append(e.get("y")).append(" | ").append(e.get("variants"))
                        .append(" | ").append(fmt((Double) e.get("spearman_rho"))).append(" | ")
                        .append(interval(e, "spearman")).append(" | ").append(fmt((Double) e.get("kendall_tau"))).append(" | ")
                        .append(interval(e, "kendall")).append(" |\n");
            }
            md.append("\nIntervals: ").append(Math.round(100 * (Double) corr.get(0).get("level")))
                    .append(" % percentile bootstrap over the variants (resamples where both columns vary).\n");
        }
        List<String> notes = new ArrayList<>();
        for (Sweep.Variant v : sweep.variants()) {
            if (v.status().equals("duplicate") || v.status().equals("failed") || v.status().equals("invalid")) {
                notes.add("- " + v.name() + ": " + v.status() + (v.failedStage != null ? " at " + v.failedStage : "") + ": " + v.reason
                        + (v.status().equals("failed") ? " (log " + v.log() + ")" : ""));
            }
        }
        if (!notes.isEmpty()) md.append("\n## Not in the table as run\n\n").append(String.join("\n", notes)).append('\n');
        if (!plots.isEmpty()) {
            md.append("\n## Plots\n\n");
            for (String p : plots) md.append("![").append(p).append("](plots/").append(p).append(")\n");
        }
        return md.toString();
    }

    private static String interval(Map<String, Object> e, String stat) {
        double lo = (Double) e.get(stat + "_low"), hi = (Double) e.get(stat + "_high");
        return Double.isNaN(lo) ? "n/a" : "[" + fmt(lo) + ", " + fmt(hi) + "]";
    }
}
