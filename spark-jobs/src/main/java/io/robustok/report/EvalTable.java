package io.robustok.report;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The results of one evaluation file as one table: a row per parameter setting (e.g. per alpha, per guidance),
 * a column per metric (fid, is, precision, recall), and what every row shares (feature network, sample count,
 * fixed parameters) said once above it instead of in every row.
 */
public record EvalTable(String title, String common, List<String> headers, List<List<String>> rows) {

    /** One table per source file ({@code _file}), in the order the results come. */
    public static List<EvalTable> group(List<JsonNode> results) {
        Map<String, List<JsonNode>> byFile = new LinkedHashMap<>();
        for (JsonNode r : results) byFile.computeIfAbsent(r.path("_file").asText("results"), k -> new ArrayList<>()).add(r);
        List<EvalTable> out = new ArrayList<>();
        for (Map.Entry<String, List<JsonNode>> e : byFile.entrySet()) out.add(of(e.getKey(), e.getValue()));
        return out;
    }

    static EvalTable of(String title, List<JsonNode> results) {
        // each result's parameters: its params plus the sample count and feature network
        List<Map<String, String>> params = new ArrayList<>();
        Set<String> paramKeys = new LinkedHashSet<>();
        Set<String> metrics = new LinkedHashSet<>();
        for (JsonNode r : results) {
            Map<String, String> p = new LinkedHashMap<>();
            String fx = r.path("feature_extractor").asText("");
            if (!fx.isEmpty() && !fx.equals("none")) {
                String sum = r.path("feature_extractor_checksum").asText("");
                p.put("feature network", sum.isEmpty() ? fx : fx + " (" + sum + ")");
            }
            if (r.has("samples")) p.put("samples", r.get("samples").asText());
            Iterator<Map.Entry<String, JsonNode>> it = r.path("params").fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> f = it.next();
                p.put(f.getKey(), f.getValue().isNumber() ? plain(f.getValue().asDouble()) : f.getValue().asText());
            }
            paramKeys.addAll(p.keySet());
            params.add(p);
            metrics.add(r.path("metric").asText());
        }
        // parameters with one value in every result are said once
        List<String> varying = new ArrayList<>();
        List<String> shared = new ArrayList<>();
        for (String k : paramKeys) {
            Set<String> values = new LinkedHashSet<>();
            for (Map<String, String> p : params) values.add(p.getOrDefault(k, ""));
            if (values.size() == 1) shared.add(k + " " + values.iterator().next());
            else varying.add(k);
        }
        // a row per distinct setting of the varying parameters, a column per metric
        Map<String, String[]> rows = new LinkedHashMap<>();
        List<String> metricList = new ArrayList<>(metrics);
        for (int i = 0; i < results.size(); i++) {
            StringBuilder key = new StringBuilder();
            for (String k : varying) key.append(params.get(i).getOrDefault(k, "")).append('\u0000');
            String[] row = rows.computeIfAbsent(key.toString(), k -> new String[varying.size() + metricList.size()]);
            for (int j = 0; j < varying.size(); j++) row[j] = params.get(i).getOrDefault(varying.get(j), "");
            JsonNode v = results.get(i).path("value");
            row[varying.size() + metricList.indexOf(results.get(i).path("metric").asText())] =
                    v.isNumber() ? num(v.asDouble()) : v.asText("");
        }
        List<String> headers = new ArrayList<>(varying);
        headers.addAll(metricList);
        List<List<String>> table = new ArrayList<>();
        for (String[] r : rows.values()) {
            List<String> cells = new ArrayList<>();
            for (String c : r) cells.add(c == null ? "" : c);
            table.add(cells);
        }
        return new EvalTable(title, String.join(", ", shared), headers, table);
    }

    /** The table in Markdown, under a heading. */
    public String markdown() {
        StringBuilder md = new StringBuilder("### ").append(title).append("\n\n");
        if (!common.isEmpty()) md.append(common).append("\n\n");
        md.append("| ").append(String.join(" | ", headers)).append(" |\n|");
        md.append("---|".repeat(headers.size())).append('\n');
        for (List<String> r : rows) md.append("| ").append(String.join(" | ", r.stream().map(c -> c.replace("|", "/")).toList())).append(" |\n");
        return md.append('\n').toString();
    }

    /** A parameter as written: 0.25, 1, 1.5e-4. */
    static String plain(double v) {
        if (!Double.isFinite(v)) return String.valueOf(v);
        String s = java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
        return s.length() > 12 ? String.valueOf(v) : s;
    }

    static String num(double v) {
        if (!Double.isFinite(v)) return String.valueOf(v);
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return String.valueOf((long) v);
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
