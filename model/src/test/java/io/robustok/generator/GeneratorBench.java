package io.robustok.generator;

import io.robustok.train.AdamW;
import io.robustok.train.StepContext;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Generator throughput (BENCHMARKS.md, section Generator): sampling tokens/s at T = 256 with and without the KV
 * cache, and training tokens/s, on a small model. Run with bench/generator/run.sh. Prints medians.
 * {@code -Dbench.warmup} (default 10) untimed and {@code -Dbench.steps} timed training steps;
 * {@code -Dbench.trace=true} prints each timed step's time, resident size and minor page faults so far;
 * {@code -Dbench.count-misses=true} counts the array cache's misses per step by shape;
 * {@code -Dbench.profile=true} adds the time per op and input shapes over the timed steps (top {@code -Dbench.profile-top}).
 */
public final class GeneratorBench {
    private GeneratorBench() {
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int width = 128, depth = 4, heads = 4, v = 512, classes = 10;
        System.out.printf("threads: OMP_NUM_THREADS=%s, cores %d%n", System.getenv("OMP_NUM_THREADS"),
                Runtime.getRuntime().availableProcessors());

        if (!Boolean.getBoolean("bench.train-only")) sampling(reps, width, depth, heads, v, classes);
        SamplingConfig s = new SamplingConfig(1.0, 2.0, 1.0);
        // training: demo-scale model, T = 64 and T = 16 (or -Dbench.tokens=T), batch 64
        int[] lengths = Integer.getInteger("bench.tokens", 0) > 0 ? new int[]{Integer.getInteger("bench.tokens")} : new int[]{64, 16};
        for (int t : lengths) {
            RarConfig mt = new RarConfig(t, v, classes, width, depth, heads, 4.0, true);
            GeneratorConfig cfg = new GeneratorConfig(mt, new TokenOrder(0, 1000), 0.1, 4e-4, new AdamW(0.9, 0.96, 1e-8, 0.03),
                    1.0, 64, 1, s);
            GeneratorTask task = new GeneratorTask(cfg);
            GeneratorWorker w = (GeneratorWorker) task.newWorker();
            java.util.Map<String, long[]> prof = new java.util.HashMap<>();
            boolean[] timing = {false};
            if (Boolean.getBoolean("bench.profile")) w.rar().sameDiff().addListeners(profiler(prof, timing));
            w.load(task.init());
            int[][] x = Fixtures.randomTokens(64, t, v, 3);
            int[] lab = new int[64];
            TokenBatch b = new TokenBatch(x, lab);
            // warm-up: the JIT compiles the step's Java side over the first few steps (3 left a 2x spread between runs)
            int warmup = Integer.getInteger("bench.warmup", 10);
            io.robustok.tokenizer.MissCounter counter = null;
            for (int i = 0; i < warmup; i++) {
                w.step(b, new StepContext(i, 0, 0, 1, i));
                if (Boolean.getBoolean("bench.count-misses") && i == 0) {
                    var cache = new io.robustok.tokenizer.MissCounter.Counting(true);
                    io.robustok.tokenizer.MissCounter.install(w.rar().sameDiff(), cache);
                    counter = cache.counter;
                }
            }
            if (counter != null) counter.misses.clear();
            int k = Integer.getInteger("bench.steps", Math.max(5, reps * 3));
            double[] tps = new double[k];
            double cpuMin = Double.MAX_VALUE;
            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            timing[0] = true;
            for (int i = 0; i < k; i++) {
                long t0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
                w.step(b, new StepContext(i, 0, 0, 1, i));
                tps[i] = 64.0 * t / ((System.nanoTime() - t0) / 1e9);
                double cpu = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
                if (Boolean.getBoolean("bench.trace"))
                    System.out.printf("STEP %d %.3f s, CPU %.3f s, resident MB %d, minor faults %d%n", i, 64.0 / (tps[i] / t), cpu,
                            io.robustok.tokenizer.TokenizerBench.residentMb(), io.robustok.tokenizer.TokenizerBench.minorFaults());
                cpuMin = Math.min(cpuMin, cpu);
            }
            timing[0] = false;
            if (counter != null) {
                final int steps = k;
                System.out.printf("PROF misses per step: %.1f arrays%n", counter.misses.values().stream().mapToLong(a -> a[0]).sum() / (double) k);
                counter.misses.entrySet().stream().sorted((a, bb) -> Long.compare(bb.getValue()[1], a.getValue()[1])).limit(20)
                        .forEach(e -> System.out.printf("PROF MISS %-40s %6.2f per step %8.3f MB per step%n", e.getKey(), e.getValue()[0] / (double) steps, e.getValue()[1] / 1e6 / steps));
            }
            long total = prof.values().stream().mapToLong(a -> a[0]).sum();
            System.out.printf("PROF ops: %.1f ms per step in all%n", total / 1e6 / k);
            prof.entrySet().stream().sorted((a, bb) -> Long.compare(bb.getValue()[0], a.getValue()[0])).limit(Integer.getInteger("bench.profile-top", 30))
                    .forEach(e -> System.out.printf("PROF %8.2f ms/step %5.1f calls/step  %s%n", e.getValue()[0] / 1e6 / k, e.getValue()[1] / (double) k, e.getKey()));
            System.out.printf("CPU time of the stepping thread: min %.3f s = %.1f sequences per CPU-second%n", cpuMin, 64 / cpuMin);
            System.out.printf("training T=%d width %d depth %d batch 64 (%,d params): %.0f tokens/s (%.1f sequences/s), runs %s%n",
                    t, width, depth, mt.parameterCount(), median(tps), median(tps) / t, Arrays.toString(tps));
        }
    }

    /** Time per op name and input shapes, while {@code on[0]}. */
    public static org.nd4j.autodiff.listeners.BaseListener profiler(java.util.Map<String, long[]> prof, boolean[] on) {
        return new org.nd4j.autodiff.listeners.BaseListener() {
            long t0;

            @Override
            public boolean isActive(org.nd4j.autodiff.listeners.Operation op) {
                return true;
            }

            @Override
            public void preOpExecution(org.nd4j.autodiff.samediff.SameDiff sd, org.nd4j.autodiff.listeners.At at,
                                       org.nd4j.autodiff.samediff.internal.SameDiffOp op, org.nd4j.linalg.api.ops.OpContext ctx) {
                t0 = System.nanoTime();
            }

            @Override
            public void opExecution(org.nd4j.autodiff.samediff.SameDiff sd, org.nd4j.autodiff.listeners.At at,
                                    org.nd4j.linalg.dataset.api.MultiDataSet b, org.nd4j.autodiff.samediff.internal.SameDiffOp op,
                                    org.nd4j.linalg.api.ops.OpContext ctx, INDArray[] out) {
                if (!on[0]) return;
                long dt = System.nanoTime() - t0;
                StringBuilder key = new StringBuilder(op.getOp().opName());
                if (ctx != null) for (INDArray in : ctx.getInputArrays()) key.append(' ').append(in == null ? "-" : Arrays.toString(in.shape()));
                long[] v = prof.computeIfAbsent(key.toString(), q -> new long[2]);
                v[0] += dt;
                v[1]++;
            }
        };
    }

    private static void sampling(int reps, int width, int depth, int heads, int v, int classes) {
        // sampling at T = 256, 8 samples of one class, guidance on (16 rows per step)
        RarConfig m = new RarConfig(256, v, classes, width, depth, heads, 4.0, true);
        var params = Rar.init(m, 1);
        for (var e : params.entrySet()) if (e.getKey().contains(".ada.")) e.getValue().assign(org.nd4j.linalg.factory.Nd4j.randn(7, e.getValue().shape()).muli(0.02));
        RarSampler sampler = new RarSampler(m, params);
        Rar rar = new Rar(m, params);
        int n = 8;
        int[] labels = new int[n];
        SamplingConfig s = new SamplingConfig(1.0, 2.0, 1.0);
        sampler.sample(labels, s, 0); // warm-up
        double[] cached = new double[reps];
        for (int r = 0; r < reps; r++) {
            sampler.sample(labels, s, r);
            cached[r] = sampler.lastTokensPerSecond();
        }
        // without a cache: every step recomputes the whole (fixed-length, causally masked) sequence for the cond and
        // null rows; the cost per step does not depend on t, so a few steps give the rate
        int steps = 8;
        int[][] tok = new int[2 * n][256];
        int[] cond = new int[2 * n];
        for (int i = 0; i < n; i++) {
            cond[i] = m.classRow(0);
            cond[n + i] = m.nullClassRow();
        }
        rar.logits(RarInputs.of(m, tok, cond, null)); // warm-up
        double[] full = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            for (int st = 0; st < steps; st++) {
                INDArray lg = rar.logits(RarInputs.of(m, tok, cond, null));
                INDArray g = RarSampler.guide(lg.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                        org.nd4j.linalg.indexing.NDArrayIndex.point(st), org.nd4j.linalg.indexing.NDArrayIndex.all()).dup(), n, 2.0);
                float[][] f = g.toFloatMatrix();
                for (int i = 0; i < n; i++) {
                    int x = RarSampler.draw(f[i], 1.0, new double[v], new SplittableRandom(st));
                    tok[i][st] = x;
                    tok[n + i] = tok[i];
                }
            }
            full[r] = n * steps / ((System.nanoTime() - t0) / 1e9);
        }
        System.out.printf("sampling T=256 width %d depth %d, %d samples + %d null rows: KV cache %.0f tokens/s, "
                        + "full recomputation %.1f tokens/s, speed-up %.1fx  (runs %s / %s)%n", width, depth, n, n,
                median(cached), median(full), median(cached) / median(full), Arrays.toString(cached), Arrays.toString(full));

    }
}
