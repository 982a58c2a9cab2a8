package io.robustok.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The results file of an evaluation stage ({@code metrics.json}): one entry per metric with its value, the
 * feature network (name and checksum), sample count, seeds and a provenance map (config hash, code revision,
 * checkpoint paths, input manifests), so every number answers "computed from what?".
 */
public final class EvalResultsWriter {
    /** One metric, e.g. ("pfid", 2.28) with extras {"alpha": 0.5, "delta": 50}. */
    public record Metric(String metric, double value, String extractor, long samples, Map<String, Object> extras) {
    }

    private final List<Metric> metrics = new ArrayList<>();
    private final Map<String, Long> seeds = new LinkedHashMap<>();
    private final Map<String, String> provenance = new LinkedHashMap<>();

    public EvalResultsWriter metric(String name, double value, String extractor, long samples, Map<String, Object> extras) {
        metrics.add(new Metric(name, value, extractor, samples, extras == null ? Map.of() : Map.copyOf(extras)));
        return this;
    }

    /** fid / is / precision / recall of a result, prefixed (e.g. "r" -> rfid, ris; "g" -> gfid, ...). */
    public EvalResultsWriter result(String prefix, EvalResult r, Map<String, Object> extras) {
        metric(prefix + "fid", r.fid(), r.extractor(), r.samples(), extras);
        if (Double.isFinite(r.inceptionScore())) metric(prefix + "is", r.inceptionScore(), r.extractor(), r.samples(), extras);
        if (Double.isFinite(r.precision())) metric(prefix + "precision", r.precision(), r.extractor(), r.samples(), extras);
        if (Double.isFinite(r.recall())) metric(prefix + "recall", r.recall(), r.extractor(), r.samples(), extras);
        return this;
    }

    public EvalResultsWriter seed(String name, long seed) {
        seeds.put(name, seed);
        return this;
    }

    public EvalResultsWriter provenance(String key, String value) {
        provenance.put(key, value);
        return this;
    }

    public String toJson() {
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = om.createObjectNode();
        ArrayNode arr = root.putArray("metrics");
        for (Metric m : metrics) {
            ObjectNode o = arr.addObject();
            o.put("metric", m.metric());
            EvalResult.put(o, "value", m.value());
            int at = m.extractor().lastIndexOf('@');
            o.put("feature_extractor", at < 0 ? m.extractor() : m.extractor().substring(0, at));
            o.put("feature_extractor_checksum", at < 0 ? "" : m.extractor().substring(at + 1));
            o.put("samples", m.samples());
            if (!m.extras().isEmpty()) o.set("params", om.valueToTree(m.extras()));
        }
        root.set("seeds", om.valueToTree(seeds));
        root.set("provenance", om.valueToTree(provenance));
        try {
            return om.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public void write(Path path) throws IOException {
        if (path.getParent() != null) Files.createDirectories(path.getParent());
        Files.writeString(path, toJson() + "\n");
    }
}
