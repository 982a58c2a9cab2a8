package io.robustok.jobs.eval;

import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** eval's pfid-curve.png: rFID at alpha 0 and the pFID points, and the post-trained decoder's curve in a second colour. */
class PfidChartTest {
    static final int FIRST = 0x1f77b4, SECOND = 0xd62728;

    static int pixels(byte[] png, int rgb) throws Exception {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xffffff) == rgb) n++;
        return n;
    }

    @Test
    void curveFromRfidThroughEveryAlphaAndThePostTrainedDecoderBesideIt() throws Exception {
        List<Double> alphas = List.of(0.25, 0.5, 1.0);
        Map<String, Object> before = Map.of("0.25", 55.5, "0.5", 57.3, "1.0", 62.1);
        byte[] one = EvalStage.pfidChart(alphas, before, 54.3, null, null, 50, "demo-cnn").png(640, 400);
        assertTrue(pixels(one, FIRST) > 200, "the curve is drawn");
        assertEquals(0, pixels(one, SECOND), "no second curve without post-training");

        Map<String, Object> after = Map.of("0.25", 54.0, "0.5", 54.9, "1.0", 56.0);
        byte[] two = EvalStage.pfidChart(alphas, before, 54.3, after, 53.8, 50, "demo-cnn").png(640, 400);
        assertTrue(pixels(two, SECOND) > 200, "the post-trained decoder's curve is drawn");

        // without rFID the curve starts at the first alpha, and a single alpha still draws
        byte[] single = EvalStage.pfidChart(List.of(0.5), Map.of("0.5", 57.3), null, null, null, 50, "demo-cnn").png(640, 400);
        assertTrue(pixels(single, FIRST) > 10, "a single point is drawn with its marker");
    }
}
