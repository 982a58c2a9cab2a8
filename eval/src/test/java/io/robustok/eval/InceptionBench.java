package io.robustok.eval;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Benchmark main (bench/fid/extract.sh): images/s of the Inception-v3 extractor on uint8 images of the given
 * side (ADM feeds samples at their own resolution; the graph resizes to 299). The graph is the full-size
 * architecture of ADM's file with random weights ({@link InceptionV3Graph}): the cost is the real one.
 * Arguments: images per pass, batch, passes, side.
 */
public final class InceptionBench {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 40, batch = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int passes = args.length > 2 ? Integer.parseInt(args[2]) : 3, side = args.length > 3 ? Integer.parseInt(args[3]) : 256;
        long t0 = System.nanoTime();
        InceptionV3Tf net = InceptionV3Tf.fromBytes(InceptionV3Graph.build(1), "bench");
        System.out.printf("graph built and imported in %.1f s (%d parameters)%n", (System.nanoTime() - t0) / 1e9, InceptionV3Graph.parameterCount());
        byte[] px = new byte[batch * side * side * 3];
        new Random(1).nextBytes(px);
        INDArray x = Images.fromBytes(px, batch, side, side);
        net.extract(x); // warm-up
        List<Double> rates = new ArrayList<>();
        for (int p = 0; p < passes; p++) {
            long t = System.nanoTime();
            for (int i = 0; i < n; i += batch) net.extract(x);
            rates.add(n / ((System.nanoTime() - t) / 1e9));
        }
        Collections.sort(rates);
        System.out.printf("{\"extractor\": \"%s\", \"input\": \"%dx%d uint8, batch %d\", \"images_per_s_median\": %.2f, \"passes\": %s}%n",
                net.name(), side, side, batch, rates.get(rates.size() / 2), rates);
    }
}
