package io.robustok.report;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogarithmicAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.TickUnits;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A chart of the report, drawn by JFreeChart into a PNG: a line chart (curves over steps, epochs, alpha) or a
 * grouped bar chart (a few figures side by side, e.g. gFID at two guidances, before and after post-training).
 * <pre>{@code
 * Chart.line("tokenizer loss", "step", "loss").series("rec", steps, rec).series("vq", steps, vq).png(640, 360)
 * Chart.bars("gFID by guidance", "FID").bar("gFID", "guidance 2.0", 54.5).bar("gFID", "guidance 1.0", 55.7)
 * }</pre>
 * Non-finite values are left out (a dropped training round is a gap, not a spike to infinity).
 */
public final class Chart {
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};

    private record Series(String name, double[] x, double[] y, boolean markers, boolean dashed) {
    }

    private record Bar(String group, String series, double value) {
    }

    private final boolean line;
    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();
    private final List<Bar> bars = new ArrayList<>();
    private boolean logY;

    private Chart(boolean line, String title, String xLabel, String yLabel) {
        this.line = line;
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    /** A line chart; add curves with {@link #series}. */
    public static Chart line(String title, String xLabel, String yLabel) {
        return new Chart(true, title, xLabel, yLabel);
    }

    /** A grouped bar chart; add values with {@link #bar}. */
    public static Chart bars(String title, String yLabel) {
        return new Chart(false, title, "", yLabel);
    }

    public String title() {
        return title;
    }

    /** A curve drawn as a line (many points). */
    public Chart series(String name, double[] x, double[] y) {
        return add(name, x, y, x.length <= 12, false);
    }

    /** A constant reference (e.g. the unigram entropy a generator's loss is judged against), dashed. */
    public Chart reference(String name, double[] x, double value) {
        double[] y = new double[x.length];
        java.util.Arrays.fill(y, value);
        return add(name, x, y, false, true);
    }

    private Chart add(String name, double[] x, double[] y, boolean markers, boolean dashed) {
        if (!line) throw new IllegalStateException("series() is for line charts; bar charts take bar()");
        if (x.length != y.length) throw new IllegalArgumentException(name + ": " + x.length + " x values, " + y.length + " y values");
        series.add(new Series(name, x.clone(), y.clone(), markers, dashed));
        return this;
    }

    /** One bar: {@code group} on the category axis, {@code series} the colour within it. */
    public Chart bar(String group, String series, double value) {
        if (line) throw new IllegalStateException("bar() is for bar charts; line charts take series()");
        bars.add(new Bar(group, series, value));
        return this;
    }

    /**
     * Logarithmic y axis (a loss over orders of magnitude); applies when every plotted value is positive and they
     * span at least a factor of 10.
     */
    public Chart logY() {
        logY = true;
        return this;
    }

    /** True when nothing finite would be drawn. */
    public boolean isEmpty() {
        if (!line) return bars.stream().noneMatch(b -> Double.isFinite(b.value()));
        for (Series s : series) for (int i = 0; i < s.y().length; i++) if (finite(s, i)) return false;
        return true;
    }

    /** The chart as PNG bytes. */
    public byte[] png(int width, int height) {
        JFreeChart chart = jfree();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ChartUtils.writeChartAsPNG(out, chart, width, height);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot draw chart " + title, e);
        }
        return out.toByteArray();
    }

    /** The JFreeChart this draws (tests read its axes). */
    JFreeChart jfree() {
        JFreeChart chart = line ? lineChart() : barChart();
        chart.setBackgroundPaint(Color.WHITE);
        chart.getTitle().setFont(chart.getTitle().getFont().deriveFont(14f));
        return chart;
    }

    private JFreeChart lineChart() {
        XYSeriesCollection data = new XYSeriesCollection();
        boolean allPositive = true;
        for (Series s : series) {
            XYSeries xy = new XYSeries(s.name(), false, true);
            for (int i = 0; i < s.x().length; i++) {
                if (!finite(s, i)) continue;
                xy.add(s.x()[i], s.y()[i]);
                allPositive &= s.y()[i] > 0;
            }
            data.addSeries(xy);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL,
                series.size() > 1, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer();
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            r.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
            r.setSeriesShapesVisible(i, s.markers());
            r.setSeriesStroke(i, s.dashed()
                    ? new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{6f, 4f}, 0f)
                    : new BasicStroke(1.5f));
        }
        plot.setRenderer(r);
        // a single point or a flat curve gets an axis of readable width (+-5 % of its value, +-1 for steps and
        // epochs) instead of ticks that differ in the 8th digit and all print the same ("5E0")
        boolean integerX = true;
        double scaleX = 0, scaleY = 0, minY = Double.MAX_VALUE;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (!finite(s, i)) continue;
                integerX &= s.x()[i] == Math.rint(s.x()[i]);
                scaleX = Math.max(scaleX, Math.abs(s.x()[i]));
                scaleY = Math.max(scaleY, Math.abs(s.y()[i]));
                minY = Math.min(minY, Math.abs(s.y()[i]));
            }
        }
        NumberAxis domain = (NumberAxis) plot.getDomainAxis();
        domain.setAutoRangeIncludesZero(false);
        domain.setStandardTickUnits(integerX ? NumberAxis.createIntegerTickUnits() : READABLE_TICKS);
        domain.setAutoRangeMinimumSize(integerX ? 2 : scaleX > 0 ? scaleX * 0.1 : 1);
        NumberAxis range = (NumberAxis) plot.getRangeAxis();
        range.setAutoRangeIncludesZero(false);
        range.setStandardTickUnits(READABLE_TICKS);
        range.setAutoRangeMinimumSize(scaleY > 0 ? scaleY * 0.1 : 1);
        // a log axis reads only over orders of magnitude: within one (or at a single point) it has no labels
        if (logY && allPositive && minY > 0 && scaleY / minY >= 10) {
            LogarithmicAxis axis = new LogarithmicAxis(yLabel);
            axis.setStrictValuesFlag(false);
            axis.setAutoRangeNextLogFlag(false);
            plot.setRangeAxis(axis);
        }
        return chart;
    }

    private JFreeChart barChart() {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        List<String> seriesNames = new ArrayList<>();
        for (Bar b : bars) {
            if (!Double.isFinite(b.value())) continue;
            data.addValue(b.value(), b.series(), b.group());
            if (!seriesNames.contains(b.series())) seriesNames.add(b.series());
        }
        JFreeChart chart = ChartFactory.createBarChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL,
                seriesNames.size() > 1, false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        BarRenderer r = (BarRenderer) plot.getRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setDefaultItemLabelGenerator(new org.jfree.chart.labels.StandardCategoryItemLabelGenerator(
                "{2}", new java.text.DecimalFormat("0.###")));
        r.setDefaultItemLabelsVisible(true);
        for (int i = 0; i < seriesNames.size(); i++) r.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
        NumberAxis range = (NumberAxis) plot.getRangeAxis();
        range.setStandardTickUnits(READABLE_TICKS);
        double scale = bars.stream().mapToDouble(b -> Math.abs(b.value())).filter(Double::isFinite).max().orElse(0);
        range.setAutoRangeMinimumSize(scale > 0 ? scale * 0.1 : 1);
        return chart;
    }

    /**
     * Tick units of 1, 2, 2.5 and 5 times a power of ten, each printed with just the decimals it needs (0.0012,
     * 16.25, 1,500); below 1e-5 in scientific notation (2.5E-6), which reads better than a row of zeros.
     */
    private static final TickUnits READABLE_TICKS = new TickUnits();

    static {
        DecimalFormatSymbols symbols = DecimalFormatSymbols.getInstance(Locale.ROOT);
        for (int k = -12; k <= 12; k++) {
            for (double m : new double[]{1, 2, 2.5, 5}) {
                double size = m * Math.pow(10, k);
                int decimals = Math.max(0, -k + (m == 2.5 ? 1 : 0));
                String pattern = size < 1e-5 ? "0.##E0" : decimals == 0 ? "#,##0" : "#,##0." + "0".repeat(decimals);
                READABLE_TICKS.add(new NumberTickUnit(size, new TickFormat(pattern, symbols, size)));
            }
        }
    }

    /** A tick label format that prints the zero tick as "0" (not "0E0", nor a rounding residue like "-1E-22"). */
    private static final class TickFormat extends DecimalFormat {
        private final double size;

        TickFormat(String pattern, DecimalFormatSymbols symbols, double size) {
            super(pattern, symbols);
            this.size = size;
        }

        @Override
        public StringBuffer format(double v, StringBuffer to, java.text.FieldPosition pos) {
            return Math.abs(v) < size * 1e-6 ? to.append('0') : super.format(v, to, pos);
        }
    }

    private static boolean finite(Series s, int i) {
        return Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i]);
    }
}
