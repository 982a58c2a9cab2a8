package io.robustok.jobs.posttrain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * The report's "before and after post-training" table, from {@code eval/summary.json}: every decoder-dependent metric
 * of the main and the post-trained decoder side by side (same feature network, same val tokens, same generated
 * token sequences), and the grids of the same tokens decoded by both.
 */
public final class PostTrainReport {
    private PostTrainReport() {
    }

    /** The markdown section, or "" when the eval output has no post-trained results. */
    public static String section(FileSystem fs, String root) throws IOException {
        Path sum = new Path(root + "/eval/summary.json");
        if (!fs.exists(sum)) return "";
        JsonNode s;
        try (InputStream in = fs.open(sum)) {
            s = new ObjectMapper().readTree(in);
        }
        JsonNode p = s.path("posttrain");
        if (!p.isObject()) return "";
        StringBuilder md = new StringBuilder("\n## Post-training: before and after\n\n");
        md.append("Same feature network and inputs for both decoders: the same val tokens (rFID), the same perturbed tokens "
                + "(pFID), the same generated token sequences (gFID, IS, precision, recall).\n\n");
        md.append("| metric | before | after | change |\n|---|---|---|---|\n");
        row(md, "rFID", s.path("rfid"), p.path("rfid"));
        Iterator<Map.Entry<String, JsonNode>> pf = s.path("pfid").fields();
        while (pf.hasNext()) {
            Map.Entry<String, JsonNode> e = pf.next();
            row(md, "pFID alpha " + e.getKey(), e.getValue(), p.path("pfid").path(e.getKey()));
        }
        row(md, "codebook usage", s.path("codebook_usage"), p.path("codebook_usage"));
        Iterator<Map.Entry<String, JsonNode>> g = s.path("gfid").fields();
        while (g.hasNext()) {
            Map.Entry<String, JsonNode> e = g.next();
            JsonNode after = p.path("gfid").path(e.getKey());
            for (String m : new String[]{"gfid", "is", "precision", "recall"}) {
                row(md, (m.equals("gfid") ? "gFID" : m.equals("is") ? "IS" : m) + " guidance " + e.getKey(), e.getValue().path(m), after.path(m));
            }
        }
        md.append("\nGrids of the same generated tokens decoded by both decoders (per class: before row, after row): "
                + "eval/before-after-g*.png; post-training pairs: posttrain/pairs-grid.png.\n");
        return md.toString();
    }

    private static void row(StringBuilder md, String name, JsonNode before, JsonNode after) {
        if (!before.isNumber() && !after.isNumber()) return;
        md.append("| ").append(name).append(" | ").append(fmt(before)).append(" | ").append(fmt(after)).append(" | ");
        if (before.isNumber() && after.isNumber()) md.append(String.format(Locale.ROOT, "%+.4f", after.asDouble() - before.asDouble()));
        md.append(" |\n");
    }

    private static String fmt(JsonNode v) {
        return v.isNumber() ? String.format(Locale.ROOT, "%.4f", v.asDouble()) : "";
    }
}
