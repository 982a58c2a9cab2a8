package io.robustok.sweep;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sweep's PNG plots (JFreeChart): every metric against every swept key (one line per combination of the other
 * swept keys; a key with non-numeric values is drawn over its values as categories), and the scatter of each rFID /
 * pFID column against each gFID column with the points labelled by variant.
 */
final class SweepPlots {
    static final int W = 640, H = 420;

    private SweepPlots() {
    }

    static Map<String, byte[]> all(SweepResults.Table t, List<String> swept) {
        System.setProperty("java.awt.headless", "true");
        Map<String, byte[]> out = new LinkedHashMap<>();
        List<String> metrics = t.columns().stream()
                .filter(c -> !t.textColumns().contains(c) && !c.startsWith("time.") && !c.startsWith("compute."))
                .filter(c -> t.rows().stream().anyMatch(r -> r.get(c) instanceof Double))
                .toList();
        for (String key : swept) {
            boolean numeric = t.rows().stream().allMatch(r -> isNumber(String.valueOf(r.get(key))));
            for (String m : metrics) out.put(file(m + "-vs-" + last(key)), png(numeric ? lines(t, key, m, swept) : categories(t, key, m, swept)));
        }
        for (String x : metrics) {
            if (!SweepResults.isPredictor(x)) continue;
            for (String y : metrics) {
                if (SweepResults.isTarget(y) && SweepResults.prefix(x).equals(SweepResults.prefix(y))) {
                    out.put(file("scatter-" + x + "-vs-" + y), png(scatter(t, x, y)));
                }
            }
        }
        return out;
    }

    private static JFreeChart lines(SweepResults.Table t, String key, String metric, List<String> swept) {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        for (Map<String, Object> r : t.rows()) {
            if (!(r.get(metric) instanceof Double v)) continue;
            String group = others(r, key, swept);
            series.computeIfAbsent(group, g -> new XYSeries(g, true, true))
                    .add(Double.parseDouble(String.valueOf(r.get(key))), v);
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart(metric + " vs " + last(key), key, metric, data,
                PlotOrientation.VERTICAL, series.size() > 1, false, false);
        XYPlot plot = chart.getXYPlot();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        plot.setRenderer(renderer);
        ((org.jfree.chart.axis.NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        return chart;
    }

    private static JFreeChart categories(SweepResults.Table t, String key, String metric, List<String> swept) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Map<String, Object> r : t.rows()) {
            if (r.get(metric) instanceof Double v) data.addValue(v, others(r, key, swept), String.valueOf(r.get(key)));
        }
        return ChartFactory.createLineChart(metric + " vs " + last(key), key, metric, data, PlotOrientation.VERTICAL,
                data.getRowCount() > 1, false, false);
    }

    private static JFreeChart scatter(SweepResults.Table t, String x, String y) {
        XYSeries s = new XYSeries("variants", false, true);
        List<String> names = new ArrayList<>();
        for (Map<String, Object> r : t.rows()) {
            if (r.get(x) instanceof Double a && r.get(y) instanceof Double b) {
                s.add(a, b);
                names.add(String.valueOf(r.get("variant")));
            }
        }
        JFreeChart chart = ChartFactory.createScatterPlot(y + " vs " + x + " across variants", x, y, new XYSeriesCollection(s),
                PlotOrientation.VERTICAL, false, false, false);
        XYPlot plot = chart.getXYPlot();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(false, true);
        renderer.setDefaultItemLabelGenerator((dataset, series, item) -> names.get(item));
        renderer.setDefaultItemLabelsVisible(true);
        plot.setRenderer(renderer);
        ((org.jfree.chart.axis.NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        ((org.jfree.chart.axis.NumberAxis) plot.getDomainAxis()).setAutoRangeIncludesZero(false);
        return chart;
    }

    /** The values of the other swept keys: the series a row belongs to. */
    private static String others(Map<String, Object> r, String key, List<String> swept) {
        List<String> parts = new ArrayList<>();
        for (String k : swept) if (!k.equals(key)) parts.add(last(k) + "=" + r.get(k));
        return parts.isEmpty() ? "variants" : String.join(", ", parts);
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static String last(String key) {
        return key.substring(key.lastIndexOf('.') + 1);
    }

    private static String file(String name) {
        return name.replaceAll("[^A-Za-z0-9.@_-]+", "_") + ".png";
    }

    static byte[] png(JFreeChart chart) {
        try {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            ChartUtils.writeChartAsPNG(o, chart, W, H);
            return o.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
