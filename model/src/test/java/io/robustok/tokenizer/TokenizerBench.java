package io.robustok.tokenizer;

import io.robustok.train.StepContext;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

/**
 * Images/s of one training step at demo scale (a harness, not a test: {@code bench/tokenizer/run.sh}). System
 * properties {@code -Dbench.patch=8 -Dbench.gan=true -Dbench.batch=N -Dbench.steps=N -Dbench.warmup=N -Dbench.profile=true}.
 * {@code -Dbench.paper=true}: paper scale instead (256 px, patch 16, ViT-B 12+12 blocks, codebook 4096 x 64, batch
 * {@code bench.batch}, default 1): forward + backward + AdamW seconds per image. {@code -Dbench.all=true} with
 * {@code bench.paper}: every loss of SPEC section 2 on (LPIPS-VGG16, DINOv2 initialisation and semantic loss, the
 * DINO ViT-S/16 discriminator and its step), from random weight files of the public checkpoints' names and shapes
 * written to a temporary directory; timed at epoch 60 (GAN on, discriminator past its warm-up). The same step in
 * PyTorch: {@code model/src/test/python/reference.py bench}. Diagnostics: {@code -Dbench.trace=true} prints every
 * step's time, the process's resident size and its minor page faults as it goes; {@code -Dbench.count-misses=true}
 * counts the allocations the training graph's array cache could not serve, by shape, per timed step;
 * {@code -Dbench.workers=2} runs two workers at once in this JVM, as the demo's local[*] trainer does.
 */
public final class TokenizerBench {
    public static void main(String[] args) throws java.io.IOException {
        trainStepThroughput();
    }

    public static long residentMb() {
        try {
            return Long.parseLong(java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/statm")).split(" ")[1]) * 4096 / (1 << 20);
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    public static long minorFaults() {
        try {
            String st = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/stat"));
            return Long.parseLong(st.substring(st.lastIndexOf(')') + 2).split(" ")[7]);
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * {@code -Dbench.workers=N}: N workers, each with its own model and batch, stepping in N threads of this JVM at once,
     * as local[*] runs the trainer's workers in the driver (bin/robustok: one OpenMP thread each). Per worker: median
     * step and thread CPU time; in all: images/s summed over the workers.
     */
    static void concurrentWorkers(TokenizerConfig c, int workers, int batch, int size, double epoch, int warm, int runs) {
        double[][] t = new double[workers][runs], cpu = new double[workers][runs];
        java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(workers);
        Thread[] threads = new Thread[workers];
        RuntimeException[] failed = new RuntimeException[1];
        long[] wall = new long[2];
        for (int k = 0; k < workers; k++) {
            int id = k;
            threads[k] = new Thread(() -> {
                try {
                    TokenizerWorker w = new TokenizerWorker(c, 0);
                    ImageBatch b = new ImageBatch(TokenizerTrainingTest.images(batch, size, 1 + id), null);
                    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
                    for (int s = 0; s < warm + runs; s++) {
                        if (s == warm) {
                            start.await();
                            if (id == 0) wall[0] = System.nanoTime();
                        }
                        long t0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
                        w.step(b, new StepContext(s, (int) epoch, epoch, 1.0, s));
                        if (s >= warm) {
                            t[id][s - warm] = (System.nanoTime() - t0) / 1e9;
                            cpu[id][s - warm] = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
                        }
                    }
                    if (id == 0) wall[1] = System.nanoTime();
                } catch (Exception e) {
                    failed[0] = new IllegalStateException("worker " + id + " failed", e);
                    start.reset(); // the others, waiting at the barrier or yet to reach it, stop instead of waiting forever
                }
            }, "bench-worker-" + k);
            threads[k].start();
        }
        for (Thread th : threads) {
            try {
                th.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        if (failed[0] != null) throw failed[0];
        double total = 0;
        for (int k = 0; k < workers; k++) {
            double mean = Arrays.stream(t[k]).average().orElse(Double.NaN);
            Arrays.sort(t[k]);
            Arrays.sort(cpu[k]);
            total += batch / mean;
            System.out.printf("WORKER %d: median step %.3f s, mean %.3f s = %.1f images/s; CPU time median %.3f s%n",
                    k, t[k][runs / 2], mean, batch / mean, cpu[k][runs / 2]);
        }
        System.out.printf("BENCH workers=%d batch=%d: %.1f images/s in all (sum of the workers' means), %.1f per worker; worker 0's %d steps in %.1f s%n",
                workers, batch, total, total / workers, runs, (wall[1] - wall[0]) / 1e9);
    }

    static void trainStepThroughput() throws java.io.IOException {
        boolean paper = Boolean.getBoolean("bench.paper");
        int patch = Integer.getInteger("bench.patch", 4);
        int batch = Integer.getInteger("bench.batch", paper ? 1 : 32);
        int width = Integer.getInteger("bench.width", 128);
        boolean all = paper && Boolean.getBoolean("bench.all");
        boolean gan = Boolean.getBoolean("bench.gan") || all;
        int grid = 32 / patch;
        int size = paper ? 256 : 32;
        TokenizerConfig c = (paper ? TestConfigs.defaults().withSizes(256, 16, 16, 4096, 64, 768, 12, 12, 12, batch)
                : TestConfigs.defaults().withSizes(32, patch, grid, 512, 16, width, 2, 2, 4, batch))
                .withGan(gan ? 0 : -1, 2.4e-4, LatentPerturbation.Schedule.paper());
        if (paper) {
            patch = 16;
            width = 768;
        }
        double epoch = 0;
        if (all) {
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("paper-weights");
            c = c.withGan(56, 2.4e-4, LatentPerturbation.Schedule.paper()).withWeights(PaperWeights.lpips(dir), PaperWeights.dinov2(dir),
                    PaperWeights.dino(dir), "dino", true);
            epoch = 60;
        }
        int warm = Integer.getInteger("bench.warmup", paper ? 1 : 10), runs = Integer.getInteger("bench.steps", paper ? 3 : 40);
        int workers = Integer.getInteger("bench.workers", 1);
        if (workers > 1) {
            concurrentWorkers(c, workers, batch, size, epoch, warm, runs);
            return;
        }
        TokenizerWorker w = new TokenizerWorker(c, 0);
        java.util.Map<String, long[]> prof = new java.util.TreeMap<>();
        boolean[] timing = {false};
        if (Boolean.getBoolean("bench.profile")) w.recGraph().addListeners(io.robustok.generator.GeneratorBench.profiler(prof, timing));
        INDArray x = TokenizerTrainingTest.images(batch, size, 1);
        ImageBatch b = new ImageBatch(x, null);
        double[] t = new double[runs], cpu = new double[runs];
        MissCounter counter = null;
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int s = 0; s < warm + runs; s++) {
            timing[0] = s >= warm;
            long t0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
            w.step(b, new StepContext(s, (int) epoch, epoch, 1.0, s));
            if (Boolean.getBoolean("bench.count-misses") && s == 0) {
                MissCounter.Counting cache = new MissCounter.Counting(true);
                MissCounter.install(w.recGraph(), cache);
                counter = cache.counter;
            }
            if (counter != null && s == warm - 1) counter.misses.clear();
            if (Boolean.getBoolean("bench.trace"))
                System.out.printf("STEP %d %.3f s at uptime %d ms, resident MB %d, minor faults %d%n", s, (System.nanoTime() - t0) / 1e9,
                        java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime(), residentMb(), minorFaults());
            if (s >= warm) {
                t[s - warm] = (System.nanoTime() - t0) / 1e9;
                cpu[s - warm] = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
            }
        }
        if (Boolean.getBoolean("bench.trace")) {
            StringBuilder sb = new StringBuilder("TRACE step seconds in order:");
            for (double v : t) sb.append(String.format(" %.3f", v));
            System.out.println(sb);
        }
        if (counter != null) {
            long n = 0, bytes = 0;
            for (java.util.Map.Entry<String, long[]> e : counter.misses.entrySet()) {
                n += e.getValue()[0];
                bytes += e.getValue()[1];
            }
            System.out.printf("MISSES per step: %.1f arrays, %.2f MB%n", n / (double) runs, bytes / 1e6 / runs);
            counter.misses.entrySet().stream().sorted((a, bb) -> Long.compare(bb.getValue()[1], a.getValue()[1])).limit(25)
                    .forEach(e -> System.out.printf("MISS %-40s %6.2f per step %8.3f MB per step%n", e.getKey(), e.getValue()[0] / (double) runs, e.getValue()[1] / 1e6 / runs));
        }
        double mean = Arrays.stream(t).average().orElse(Double.NaN);
        Arrays.sort(t);
        Arrays.sort(cpu);
        prof.entrySet().stream().sorted((a, bb) -> Long.compare(bb.getValue()[0], a.getValue()[0])).limit(Integer.getInteger("bench.profile-top", 15))
                .forEach(e -> System.out.printf("PROF %8.2f ms/step %5.1f calls/step  %s%n", e.getValue()[0] / 1e6 / runs, e.getValue()[1] / (double) runs, e.getKey()));
        double med = t[runs / 2];
        System.out.printf("BENCH size=%d patch=%d width=%d batch=%d gan=%s all-losses=%s params=%d: median step %.3f s = %.4g images/s = %.3f s/image (min %.3f max %.3f; mean %.3f s = %.4g images/s); "
                        + "CPU time of the stepping thread: median %.3f s = %.1f images/s per CPU-second, min %.3f s = %.1f%n",
                size, patch, width, batch, gan, all, w.state().parameterCount(), med, batch / med, med / batch, t[0], t[runs - 1], mean, batch / mean,
                cpu[runs / 2], batch / cpu[runs / 2], cpu[0], batch / cpu[0]);
    }
}
