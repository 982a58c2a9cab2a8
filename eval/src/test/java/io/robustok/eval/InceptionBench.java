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
        java.util.Map<String, long[]> prof = new java.util.TreeMap<>();
        if (Boolean.getBoolean("bench.profile")) {
            boolean shapes = Boolean.getBoolean("bench.profile-shapes");
            net.graph().addListeners(new org.nd4j.autodiff.listeners.BaseListener() {
                long t0;
                @Override public boolean isActive(org.nd4j.autodiff.listeners.Operation op) { return true; }
                @Override public void preOpExecution(org.nd4j.autodiff.samediff.SameDiff sd, org.nd4j.autodiff.listeners.At at,
                        org.nd4j.autodiff.samediff.internal.SameDiffOp op, org.nd4j.linalg.api.ops.OpContext ctx) { t0 = System.nanoTime(); }
                @Override public void opExecution(org.nd4j.autodiff.samediff.SameDiff sd, org.nd4j.autodiff.listeners.At at,
                        org.nd4j.linalg.dataset.api.MultiDataSet b, org.nd4j.autodiff.samediff.internal.SameDiffOp op,
                        org.nd4j.linalg.api.ops.OpContext ctx, INDArray[] out) {
                    String key = op.getOp().opName();
                    if (shapes && ctx != null && !ctx.getInputArrays().isEmpty()) {
                        StringBuilder k = new StringBuilder(key);
                        for (INDArray in : ctx.getInputArrays()) k.append(' ').append(java.util.Arrays.toString(in.shape()));
                        key = k.toString();
                    }
                    long[] v = prof.computeIfAbsent(key, k -> new long[2]);
                    v[0] += System.nanoTime() - t0;
                    v[1]++;
                }
            });
        }
        byte[] px = new byte[batch * side * side * 3];
        new Random(1).nextBytes(px);
        INDArray x = Images.fromBytes(px, batch, side, side);
        List<Double> rates = ExtractBench.rates(net, x, n, batch, passes);
        prof.entrySet().stream().sorted((a, bb) -> Long.compare(bb.getValue()[0], a.getValue()[0])).limit(Integer.getInteger("bench.profile-top", 25))
                .forEach(e -> System.out.printf("PROF %-60s %9.1f ms %6d calls%n", e.getKey(), e.getValue()[0] / 1e6, e.getValue()[1]));
        System.out.printf("{\"extractor\": \"%s\", \"input\": \"%dx%d uint8, batch %d\", \"images_per_s_median\": %.2f, \"passes\": %s}%n",
                net.name(), side, side, batch, rates.get(rates.size() / 2), rates);
    }
}
