package io.robustok.eval;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The import path on a graph of the real file's full size and op vocabulary (random weights,
 * {@link InceptionV3Graph}): it imports, resizes any input side to 299, and gives 2048-d pool_3 features and
 * 1008 logits that depend on the image.
 */
class InceptionV3FullGraphTest {
    @Test
    void fullSizeGraphImportsAndFeaturizes() throws Exception {
        byte[] graph = InceptionV3Graph.build(3);
        assertTrue(InceptionV3Graph.nodeNames(graph).contains("mixed_10/join"));
        InceptionV3Tf net = InceptionV3Tf.fromBytes(graph, "test");
        assertEquals(2048, net.featureDim());
        assertEquals(InceptionV3Graph.CLASSES, net.classes());
        int n = 2, side = 64;
        byte[] px = new byte[n * side * side * 3];
        new Random(5).nextBytes(px);
        for (int i = side * side * 3; i < px.length; i++) px[i] = (byte) (px[i] / 4); // second image: darker, lower contrast
        Features f = net.extract(Images.fromBytes(px, n, side, side));
        assertEquals(n * 2048, f.features().length);
        assertEquals(n * InceptionV3Graph.CLASSES, f.logits().length);
        double diff = 0, norm = 0;
        for (int i = 0; i < 2048; i++) {
            float a = f.features()[i], b = f.features()[2048 + i];
            assertTrue(Float.isFinite(a) && a >= 0, "pool_3 of a Relu stack is finite and non-negative: " + a);
            diff += Math.abs(a - b);
            norm += Math.abs(a);
        }
        assertTrue(norm > 0, "features are not all zero");
        assertTrue(diff > 1e-3 * norm, "different images give different features");
        for (float l : f.logits()) assertTrue(Float.isFinite(l));
    }
}
