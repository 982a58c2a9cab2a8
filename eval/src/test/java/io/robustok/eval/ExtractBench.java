package io.robustok.eval;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Benchmark main (bench/fid/extract.sh): images/s of the demo feature network on 32x32 uint8 batches
 * (weights do not change the cost, so an initialised network is used). Median of the given passes.
 */
public final class ExtractBench {
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000, batch = 100, passes = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        ComputationGraph g = new ComputationGraph(DemoFeatureNet.configuration(1, 1e-3));
        g.init();
        DemoFeatureNet net = DemoFeatureNet.of(g, "bench");
        byte[] px = new byte[batch * 32 * 32 * 3];
        new Random(1).nextBytes(px);
        INDArray x = Images.fromBytes(px, batch, 32, 32);
        List<Double> rates = rates(net, x, n, batch, passes);
        System.out.printf("{\"extractor\": \"%s\", \"images_per_s_median\": %.1f, \"passes\": %s}%n", net.name(), rates.get(rates.size() / 2), rates);
    }

    /** Images/s of each of {@code passes} passes of n images in batches of x (after one warm-up batch), sorted. */
    static List<Double> rates(FeatureExtractor net, INDArray x, int n, int batch, int passes) {
        net.extract(x); // warm-up
        List<Double> rates = new ArrayList<>();
        for (int p = 0; p < passes; p++) {
            long t = System.nanoTime();
            for (int i = 0; i < n; i += batch) net.extract(x);
            rates.add(n / ((System.nanoTime() - t) / 1e9));
        }
        Collections.sort(rates);
        return rates;
    }
}
