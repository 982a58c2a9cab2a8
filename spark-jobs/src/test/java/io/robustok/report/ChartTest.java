package io.robustok.report;

import org.jfree.chart.ChartRenderingInfo;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.AxisState;
import org.jfree.chart.axis.Tick;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.Plot;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.ui.RectangleEdge;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The axes of report charts read well: distinct tick labels, plain decimals, whole steps and epochs, any data size. */
class ChartTest {
    /** The labels JFreeChart prints on an axis of the chart drawn at 640x360 (minor ticks, which have none, left out). */
    static List<String> labels(Chart c, boolean domain) {
        JFreeChart chart = c.jfree();
        ChartRenderingInfo info = new ChartRenderingInfo();
        chart.createBufferedImage(640, 360, info);
        Plot plot = chart.getPlot();
        ValueAxis axis = plot instanceof XYPlot xy ? (domain ? xy.getDomainAxis() : xy.getRangeAxis())
                : chart.getCategoryPlot().getRangeAxis();
        List<? extends Tick> ticks = axis.refreshTicks(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB).createGraphics(),
                new AxisState(), info.getPlotInfo().getDataArea(), domain ? RectangleEdge.BOTTOM : RectangleEdge.LEFT);
        return ticks.stream().map(Tick::getText).filter(t -> t != null && !t.isEmpty()).toList();
    }

    /** At least two labels, no label printed twice, none in scientific notation. */
    static void assertReadable(List<String> labels, String what) {
        assertTrue(labels.size() >= 2, what + ": " + labels);
        assertEquals(labels.size(), new HashSet<>(labels).size(), what + " repeats a label: " + labels);
        assertTrue(labels.stream().noneMatch(l -> l.contains("E")), what + " in scientific notation: " + labels);
    }

    @Test
    void aSinglePointGetsDistinctWholeStepsAndAReadableValueAxis() {
        Chart c = Chart.line("one epoch", "epoch", "val PSNR").series("val_psnr", new double[]{5}, new double[]{5});
        List<String> x = labels(c, true);
        assertReadable(x, "epoch axis");
        assertTrue(x.contains("5"), x.toString());
        assertTrue(x.stream().allMatch(l -> l.matches("-?\\d+")), "whole epochs only: " + x);
        assertReadable(labels(c, false), "value axis");

        Chart zero = Chart.line("flat", "step", "value").series("v", new double[]{3}, new double[]{0});
        assertReadable(labels(zero, false), "a single zero");
        Chart alpha = Chart.line("pFID", "alpha", "FID").series("pFID", new double[]{0.5}, new double[]{54.27});
        assertReadable(labels(alpha, true), "a single alpha");
    }

    @Test
    void smallRangesAndSmallValuesPrintPlainDecimals() {
        List<String> epochs = labels(Chart.line("two epochs", "epoch", "loss")
                .series("val_loss", new double[]{1, 2}, new double[]{16.3, 16.31}), true);
        assertReadable(epochs, "two epochs");
        assertFalse(epochs.contains("1.5"), "no half epochs: " + epochs);
        List<String> small = labels(Chart.line("lr", "step", "lr")
                .series("lr", new double[]{100, 200, 300}, new double[]{0.001, 0.0012, 0.0011}), false);
        assertReadable(small, "values near 1e-3");
        assertTrue(small.contains("0.00110") || small.contains("0.0011"), small.toString());
        List<String> thousands = labels(Chart.line("steps", "step", "loss")
                .series("loss", new double[]{1000, 2000}, new double[]{2, 1}), true);
        assertReadable(thousands, "thousands of steps");
        List<String> alphas = labels(Chart.line("pFID", "alpha", "FID")
                .series("pFID", new double[]{0.25, 0.5, 0.75, 1.0}, new double[]{54.27, 55.51, 57.34, 62.06}), true);
        assertReadable(alphas, "alpha axis");
        assertTrue(alphas.contains("0.5") || alphas.contains("0.50"), alphas.toString());
    }

    @Test
    void barsOfZerosAndTinyCurvesStillRead() {
        List<String> zeros = labels(Chart.bars("nothing yet", "count").bar("g", "a", 0).bar("g", "b", 0), false);
        assertReadable(zeros, "zero bars");
        assertTrue(zeros.contains("0"), zeros.toString());
        // below 1e-5 scientific notation is the readable form, but labels stay distinct and zero is "0"
        List<String> tiny = labels(Chart.bars("tiny", "v").bar("g", "a", 3e-6).bar("g", "b", 2e-6), false);
        assertEquals(tiny.size(), new HashSet<>(tiny).size(), tiny.toString());
        assertTrue(tiny.contains("0"), tiny.toString());
    }

    @Test
    void aLogAxisIsUsedOverOrdersOfMagnitudeOnly() throws Exception {
        Chart one = Chart.line("grad norm", "step", "grad norm").logY().series("grad_norm", new double[]{7}, new double[]{0.3});
        assertReadable(labels(one, false), "log axis of one point");
        Chart narrow = Chart.line("loss", "step", "loss").logY().series("loss", new double[]{1, 2, 3}, new double[]{3, 2, 1.5});
        assertReadable(labels(narrow, false), "log axis within a factor of 2");
        Chart wide = Chart.line("loss", "step", "loss").logY().series("loss", new double[]{1, 2, 3}, new double[]{100, 3, 0.5});
        assertTrue(wide.jfree().getXYPlot().getRangeAxis() instanceof org.jfree.chart.axis.LogarithmicAxis, "orders of magnitude: log");
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(wide.png(320, 200)));
        assertNotNull(img);
        assertEquals(320, img.getWidth());
    }
}
