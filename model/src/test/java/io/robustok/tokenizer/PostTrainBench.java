package io.robustok.tokenizer;

import io.robustok.generator.Rar;
import io.robustok.generator.RarConfig;
import io.robustok.generator.RarSampler;
import io.robustok.generator.SamplingConfig;
import io.robustok.train.StepContext;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Post-training throughput at the demo sizes (BENCHMARKS.md, section Post-training), one worker: pair generation
 * (teacher-forced mixing, per-row seeds) against plain sampling in tokens/s, and a post-train step against main
 * training's steps (with and without the GAN) in images/s at the same decoder. Run with bench/posttrain/run.sh.
 */
public final class PostTrainBench {
    private PostTrainBench() {
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        System.out.printf("threads: OMP_NUM_THREADS=%s, cores %d%n", System.getenv("OMP_NUM_THREADS"),
                Runtime.getRuntime().availableProcessors());

        // 1. pair generation vs sampling: the demo RAR (16 tokens, 512 codes, width 128, depth 4), 64 rows, guidance 2
        RarConfig m = new RarConfig(16, 512, 10, 128, 4, 4, 4.0, true);
        var params = Rar.init(m, 1);
        for (var e : params.entrySet()) if (e.getKey().contains(".ada.")) e.getValue().assign(Nd4j.randn(7, e.getValue().shape()).muli(0.02));
        RarSampler sampler = new RarSampler(m, params);
        int n = 64;
        int[] labels = new int[n];
        long[] seeds = new long[n];
        int[][] truth = new int[n][m.tokens()];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            labels[i] = i % 10;
            seeds[i] = r.nextLong();
            for (int j = 0; j < m.tokens(); j++) truth[i][j] = r.nextInt(512);
        }
        SamplingConfig s = new SamplingConfig(1.0, 2.0, 1.0);
        double[] plain = new double[reps], mixed = new double[reps];
        sampler.sample(labels, s, 0);
        sampler.sampleMixed(truth, labels, 0.7, s, seeds);
        for (int k = 0; k < reps; k++) {
            sampler.sample(labels, s, k);
            plain[k] = sampler.lastTokensPerSecond();
            sampler.sampleMixed(truth, labels, 0.7, s, seeds);
            mixed[k] = sampler.lastTokensPerSecond();
        }
        System.out.printf("pair generation (sigma 0.7, per-row seeds) %.0f tokens/s vs sampling %.0f tokens/s: %.2fx  (runs %s / %s)%n",
                median(mixed), median(plain), median(mixed) / median(plain), Arrays.toString(mixed), Arrays.toString(plain));

        // 2. post-train step vs main training steps: the demo tokenizer (32 px, patch 8, width 128, 2+2 blocks, 512 x 16), batch 32
        int batch = 32;
        TokenizerConfig noGan = TestConfigs.defaults().withSizes(32, 8, 4, 512, 16, 128, 2, 2, 4, batch);
        TokenizerConfig gan = noGan.withGan(0, 2e-3, noGan.perturb());
        INDArray x = TokenizerTrainingTest.images(batch, 32, 5);
        ImageBatch ib = new ImageBatch(x, null);
        // the first worker of a JVM pays one-time costs (allocator, op caches) over its first steps: measure each
        // configuration twice, alternating, and keep the second
        imagesPerSecond(new TokenizerWorker(noGan, 0), ib, reps, batch);
        imagesPerSecond(new TokenizerWorker(gan, 0), ib, reps, batch);
        double mainNoGan = imagesPerSecond(new TokenizerWorker(noGan, 0), ib, reps, batch);
        double mainGan = imagesPerSecond(new TokenizerWorker(gan, 0), ib, reps, batch);
        Map<String, INDArray> tok = new TokenizerTask<Object>(gan, 0, null).init().params();
        PostTrainTask<Object> task = new PostTrainTask<>(gan, new PostTrainConfig(batch, 2e-4, 0.9, 0.95, 1e-8, 0, 2e-4, 5e-4, 1), tok, 0, null);
        PostTrainWorker pw = task.newWorker();
        pw.load(task.init());
        INDArray ids = Nd4j.createFromArray(new Tokenizer(gan, tok, 1, 64).encode(x).toIntMatrix()).castTo(DataType.INT);
        double post = imagesPerSecond(pw, new PairBatch(ids, x), reps, batch);
        System.out.printf("post-train %.1f images/s vs main training %.1f images/s with the GAN (%.2fx), %.1f images/s before the GAN starts%n",
                post, mainGan, post / mainGan, mainNoGan);
    }

    private static <B> double imagesPerSecond(io.robustok.train.Worker<B> w, B b, int reps, int batch) {
        for (int i = 0; i < 2; i++) w.step(b, new StepContext(i, 0, 0.5, 1.0, i));
        double[] ips = new double[Math.max(5, reps)];
        for (int i = 0; i < ips.length; i++) {
            long t0 = System.nanoTime();
            w.step(b, new StepContext(i + 2, 0, 0.5, 1.0, i + 2));
            ips[i] = batch / ((System.nanoTime() - t0) / 1e9);
        }
        return median(ips);
    }
}
