package io.robustok.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.report.EvalTable;
import io.robustok.report.RunReport;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Summarises a run: every committed stage output under run.out (its provenance) and every evaluation
 * result ({@code eval/*.json}), as report.md, report.json and the HTML page index.html (charts, image grids,
 * provenance; {@link RunReport}) in {@code run.out/report}; prints the markdown.
 */
public final class ReportStage implements Stage {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) {
        Main.runStage("report", args);
    }

    @Override
    public String name() {
        return "report";
    }

    @Override
    public String summary() {
        return "summarise the run's stage outputs and evaluation results (run.out/report)";
    }

    @Override
    public boolean inPipeline() {
        return false;
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        String root = StageOutput.qualify(ctx.settings().config().getString("run.out"));
        FileSystem fs = StageOutput.fs(root);
        StringBuilder md = new StringBuilder();
        md.append("# robustok run report: ").append(ctx.settings().config().getString("run.name")).append("\n\n");
        md.append("Output root: ").append(root).append("\n\n");
        md.append("| stage output | stage | finished | config sha256 | revision |\n|---|---|---|---|---|\n");
        List<Map<String, Object>> stages = new ArrayList<>();
        List<JsonNode> results = new ArrayList<>();
        List<String> images = new ArrayList<>();
        if (fs.exists(new Path(root))) {
            FileStatus[] dirs = fs.listStatus(new Path(root));
            Arrays.sort(dirs, Comparator.comparing(f -> f.getPath().getName()));
            for (FileStatus d : dirs) {
                if (!d.isDirectory() || d.getPath().getName().contains("._")) continue;
                Path done = new Path(d.getPath(), StageOutput.COMPLETE);
                if (!fs.exists(done)) continue;
                JsonNode n = read(fs, done);
                md.append("| ").append(d.getPath().getName()).append(" | ").append(n.path("stage").asText())
                        .append(" | ").append(n.path("finished").asText()).append(" | ")
                        .append(n.path("config_sha256").asText().substring(0, Math.min(12, n.path("config_sha256").asText().length())))
                        .append(" | ").append(n.path("revision").asText()).append(" |\n");
                stages.add(Map.of("dir", d.getPath().getName(), "provenance", n));
                collectResults(fs, d.getPath(), results);
                for (FileStatus f : fs.listStatus(d.getPath())) {
                    if (f.isFile() && f.getPath().getName().endsWith(".png")) images.add(d.getPath().getName() + "/" + f.getPath().getName());
                }
            }
        }
        md.append("\n## Training\n\n");
        List<String> training = trainingSummary(stages);
        if (training.isEmpty()) md.append("(no training stage finished yet)\n");
        for (String line : training) md.append("- ").append(line).append('\n');
        if (!images.isEmpty()) {
            md.append("\nImages (under the output root): ").append(String.join(", ", images)).append('\n');
        }
        md.append("\n## Metrics\n\n");
        if (results.isEmpty()) md.append("(no evaluation results yet)\n");
        for (EvalTable t : EvalTable.group(results)) md.append(t.markdown());
        md.append(io.robustok.jobs.posttrain.PostTrainReport.section(fs, root));
        StageOutput out = StageOutput.begin(root + "/report");
        out.writeText("report.md", md.toString());
        out.writeJson("report.json", Map.of("stages", stages, "results", results));
        out.writeText("index.html", RunReport.read(root, fs).html(ctx.settings().config().getString("run.name"),
                java.time.Instant.now().toString()));
        out.commit(name(), ctx.settings(), Map.of());
        System.out.println(md);
        System.out.println("report: " + root + "/report/report.md, " + root + "/report/index.html");
    }

    private static void collectResults(FileSystem fs, Path dir, List<JsonNode> results) throws IOException {
        for (FileStatus f : fs.listStatus(dir)) {
            String n = f.getPath().getName();
            if (f.isFile() && n.endsWith(".json") && !n.startsWith("_")) {
                JsonNode j = read(fs, f.getPath());
                if (j.has("metric") && j.has("value")) {
                    ((com.fasterxml.jackson.databind.node.ObjectNode) j).put("_file", dir.getName() + "/" + n);
                    results.add(j);
                } else if (arrayOf(j) != null) {
                    Iterator<JsonNode> it = arrayOf(j).elements();
                    while (it.hasNext()) {
                        JsonNode r = it.next();
                        if (r.isObject()) ((com.fasterxml.jackson.databind.node.ObjectNode) r).put("_file", dir.getName() + "/" + n);
                        results.add(r);
                    }
                }
            }
        }
    }

    /** The result list of an eval JSON: {@code metrics} (eval stage) or {@code results}. */
    private static JsonNode arrayOf(JsonNode j) {
        for (String k : List.of("metrics", "results")) if (j.has(k) && j.get(k).isArray()) return j.get(k);
        return null;
    }

    /** One line per training output: the figures a reader checks first. */
    static List<String> trainingSummary(List<Map<String, Object>> stages) {
        List<String> out = new ArrayList<>();
        for (Map<String, Object> s : stages) {
            JsonNode n = (JsonNode) s.get("provenance");
            switch (n.path("stage").asText()) {
                case "train-tokenizer" -> {
                    JsonNode v = n.path("final_val");
                    if (!v.isMissingNode()) {
                        out.add(String.format("tokenizer (%s, step %s): val PSNR %.2f dB, MSE %.4f, codebook usage %.1f%%, perplexity %.1f",
                                s.get("dir"), n.path("global_step").asText(), v.path("val_psnr").asDouble(), v.path("val_mse").asDouble(),
                                100 * v.path("val_usage").asDouble(), v.path("val_perplexity").asDouble()));
                    }
                }
                case "train-generator" -> {
                    if (n.has("final_val_loss")) {
                        out.add(String.format("generator (%s, step %s): val loss %.4f nats against the tokens' unigram entropy %.4f nats",
                                s.get("dir"), n.path("global_step").asText(), n.path("final_val_loss").asDouble(),
                                n.path("unigram_entropy").asDouble()));
                    }
                }
                case "train-features" -> {
                    if (n.has("test_accuracy")) {
                        out.add(String.format("feature network %s (%s): test accuracy %.4f after %s epochs on %s images",
                                n.path("feature_extractor").asText(), s.get("dir"), n.path("test_accuracy").asDouble(),
                                n.path("epochs").asText(), n.path("train_images").asText()));
                    }
                }
                default -> {
                }
            }
        }
        return out;
    }

    private static JsonNode read(FileSystem fs, Path p) throws IOException {
        try (InputStream in = fs.open(p)) {
            return JSON.readTree(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }
}
