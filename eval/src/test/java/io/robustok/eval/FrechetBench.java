package io.robustok.eval;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Benchmark main (bench/fid/run.sh): times FrechetDistance.compute on bench/fid/work/stats2048.npz and
 * writes bench/fid/work/java.json. Not a test: it needs the file the Python side generates.
 */
public final class FrechetBench {
    public static void main(String[] args) throws Exception {
        Path work = Path.of(args.length > 0 ? args[0] : "bench/fid/work");
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        double[] mu1, s1, mu2, s2;
        try (Npz z = Npz.open(work.resolve("stats2048.npz"))) {
            mu1 = z.readDoubles("mu1");
            s1 = z.readDoubles("sigma1");
            mu2 = z.readDoubles("mu2");
            s2 = z.readDoubles("sigma2");
        }
        FrechetDistance.compute(mu1, s1, mu2, s2); // warm-up: native library load, JIT
        List<Double> secs = new ArrayList<>();
        double fid = 0;
        for (int r = 0; r < runs; r++) {
            long t = System.nanoTime();
            fid = FrechetDistance.compute(mu1, s1, mu2, s2);
            secs.add((System.nanoTime() - t) / 1e9);
        }
        List<Double> sorted = new ArrayList<>(secs);
        Collections.sort(sorted);
        double median = sorted.get(sorted.size() / 2);
        String json = String.format("{\"fid\": %.17g, \"median_s\": %.4f, \"seconds\": %s, \"threads\": \"%s\"}",
                fid, median, secs, System.getenv().getOrDefault("OMP_NUM_THREADS", "default"));
        Files.writeString(work.resolve("java.json"), json);
        System.out.println(json);
    }
}
