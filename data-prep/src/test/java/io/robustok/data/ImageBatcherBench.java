package io.robustok.data;

import java.util.ArrayList;
import java.util.List;

/**
 * Demo-scale training transform throughput on one thread (28x28 PNG -> random-resized 32x32 crop, flip), images/s:
 * a harness, not a test ({@code bench/prep/run.sh}; results in BENCHMARKS.md).
 */
public final class ImageBatcherBench {
    public static void main(String[] args) {
        int s = 32;
        List<ImageRecord> demo = new ArrayList<>();
        for (int i = 0; i < 64; i++) demo.add(new ImageRecord("k" + i, i % 10, Fixtures.png(28, 28, i), 28, 28));
        try (ImageBatcher b = ImageBatcher.train(s, 1.25)) {
            float[] out = new float[demo.size() * 3 * s * s];
            for (int i = 0; i < 20; i++) b.fill(demo, i, out); // warm up the JIT
            double[] rates = new double[5];
            for (int r = 0; r < rates.length; r++) {
                int n = 0;
                long t0 = System.nanoTime();
                while (System.nanoTime() - t0 < 1_000_000_000L) {
                    b.fill(demo, n, out);
                    n += demo.size();
                }
                rates[r] = n / ((System.nanoTime() - t0) / 1e9);
            }
            java.util.Arrays.sort(rates);
            System.out.printf("BENCH ImageBatcher train 28x28 PNG -> 32x32: median %.0f images/s on one thread (min %.0f max %.0f)%n",
                    rates[2], rates[0], rates[4]);
        }
    }
}
