package io.robustok.eval;

import org.nd4j.linalg.api.ndarray.INDArray;

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
        InceptionV3Graph.Built graph = InceptionV3Graph.create(1);
        InceptionV3Tf net = InceptionV3Tf.fromBytes(graph.bytes(), "bench");
        System.out.printf("graph built and imported in %.1f s (%d parameters)%n", (System.nanoTime() - t0) / 1e9, graph.parameters());
        byte[] px = new byte[batch * side * side * 3];
        new Random(1).nextBytes(px);
        INDArray x = Images.fromBytes(px, batch, side, side);
        List<Double> rates = ExtractBench.rates(net, x, n, batch, passes);
        System.out.printf("{\"extractor\": \"%s\", \"input\": \"%dx%d uint8, batch %d\", \"images_per_s_median\": %.2f, \"passes\": %s}%n",
                net.name(), side, side, batch, rates.get(rates.size() / 2), rates);
    }
}
