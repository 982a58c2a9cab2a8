package io.robustok.generator;

import io.robustok.config.Settings;
import io.robustok.train.AdamW;
import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import io.robustok.train.Worker;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GeneratorTaskTest {

    /** Synthetic data: x_0 uniform, then x_j = x_(j-1) + label + 1 (mod V). Given the class, only x_0 is random. */
    private static List<TokenRow> rows(int n, int t, int v, int classes, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<TokenRow> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(classes);
            int[] x = new int[t];
            x[0] = r.nextInt(v);
            for (int j = 1; j < t; j++) x[j] = (x[j - 1] + c + 1) % v;
            out.add(new TokenRow(c, x));
        }
        return out;
    }

    private static GeneratorConfig tinyConfig(RarConfig m, int batch, TokenOrder order, double lr) {
        return new GeneratorConfig(m, order, 0.1, lr, new AdamW(0.9, 0.96, 1e-8, 0.03), 1.0, batch, 1,
                new SamplingConfig(1.0, 1.0, 1.0));
    }

    /**
     * A step depends only on the loaded state, the batch and the step's seed, not on what the worker ran before: a
     * resumed run's fresh worker must continue exactly as the long-lived worker of an uninterrupted run.
     */
    @Test
    void aStepDependsOnlyOnTheLoadedStateNotOnTheWorkersHistory() {
        int t = 8, v = 16, classes = 3, batch = 16;
        RarConfig m = new RarConfig(t, v, classes, 32, 2, 2, 4.0, true);
        GeneratorTask task = new GeneratorTask(tinyConfig(m, batch, new TokenOrder(2, 6), 3e-3));
        Iterator<TokenBatch> it = task.batches(rows(10 * batch, t, v, classes, 21).iterator(), 0);
        List<TokenBatch> batches = new ArrayList<>();
        for (int i = 0; i < 10; i++) batches.add(it.next());
        Worker<TokenBatch> used = task.newWorker();
        used.load(task.init());
        for (int s = 0; s < 5; s++) used.step(batches.get(s), new StepContext(s, 0, 0, 1.0, 100 + s));
        TrainState mid = used.state().copy();
        Worker<TokenBatch> fresh = task.newWorker();
        fresh.load(mid);
        for (int s = 5; s < 10; s++) {
            double[] a = used.step(batches.get(s), new StepContext(s, 0, 0, 1.0, 100 + s));
            double[] b = fresh.step(batches.get(s), new StepContext(s, 0, 0, 1.0, 100 + s));
            assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b), "metrics of step " + s);
        }
        for (var e : used.state().params().entrySet()) {
            assertEquals(e.getValue(), fresh.state().params().get(e.getKey()), e.getKey());
            assertTrue(java.util.Arrays.equals(e.getValue().data().asFloat(), fresh.state().params().get(e.getKey()).data().asFloat()),
                    e.getKey() + " bitwise");
        }
    }

    /**
     * Class dropout inside the training step (SPEC section 5: 0.1 for classifier-free guidance): over 40 steps of 64
     * sequences the share of sequences conditioned on the null class is 0.1 within 4.5 standard deviations
     * (sd 0.006 at 2,560 draws), every other sequence carries its own label's row, the dropped positions change from
     * step to step, and with dropout 0 no sequence is ever dropped.
     */
    @Test
    void theStepDropsTheClassAtTheConfiguredRate() {
        int t = 4, v = 8, classes = 5, batch = 64, steps = 40;
        RarConfig m = new RarConfig(t, v, classes, 16, 1, 2, 4.0, true);
        for (double rate : new double[]{0.1, 0.0}) {
            GeneratorConfig cfg = new GeneratorConfig(m, new TokenOrder(0, 1), rate, 1e-3, new AdamW(0.9, 0.96, 1e-8, 0.03), 1.0,
                    batch, 1, new SamplingConfig(1.0, 1.0, 1.0));
            GeneratorTask task = new GeneratorTask(cfg);
            GeneratorWorker w = (GeneratorWorker) task.newWorker();
            w.load(task.init());
            Iterator<TokenBatch> it = task.batches(rows(steps * batch, t, v, classes, 11).iterator(), 0);
            int dropped = 0;
            List<String> patterns = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                TokenBatch b = it.next();
                w.step(b, new StepContext(s, 0, 0, 1.0, 500 + s));
                int[] cond = w.lastConditions();
                assertEquals(b.size(), cond.length);
                StringBuilder pattern = new StringBuilder();
                for (int i = 0; i < cond.length; i++) {
                    boolean isNull = cond[i] == m.nullClassRow();
                    if (!isNull) assertEquals(m.classRow(b.labels()[i]), cond[i], "sequence " + i + " keeps its label's row");
                    dropped += isNull ? 1 : 0;
                    pattern.append(isNull ? 'x' : '.');
                }
                patterns.add(pattern.toString());
            }
            double share = dropped / (double) (steps * batch);
            if (rate == 0) {
                assertEquals(0, dropped, "dropout 0 never drops a class");
            } else {
                assertEquals(rate, share, 4.5 * Math.sqrt(rate * (1 - rate) / (steps * batch)), "share of null-class sequences");
                assertTrue(patterns.stream().distinct().count() > steps / 2, "dropped positions differ between steps");
            }
        }
    }

    /**
     * A tiny generator learns the synthetic distribution: the loss starts at log(V) and ends far below it (random
     * orders first, raster at the end, as the anneal prescribes), and samples from the trained state follow the rule.
     */
    @Test
    void tinyGeneratorLearnsSyntheticDistribution() {
        // small enough for a busy 2-core machine (about 0.2 s a step there); it reaches ~0.27 (log V = 2.08)
        int t = 8, v = 8, classes = 2, steps = 150, batch = 16;
        RarConfig m = new RarConfig(t, v, classes, 32, 1, 2, 4.0, true);
        GeneratorConfig cfg = tinyConfig(m, batch, new TokenOrder(37, 90), 5e-3);
        GeneratorTask task = new GeneratorTask(cfg);
        Worker<TokenBatch> w = task.newWorker();
        w.load(task.init());
        Iterator<TokenBatch> it = task.batches(rows(steps * batch, t, v, classes, 5).iterator(), 0);
        double first = 0, last = 0, lastAcc = 0;
        for (int s = 0; s < steps; s++) {
            double[] met = w.step(it.next(), new StepContext(s, 0, 0, 1.0, 1000 + s));
            assertEquals(task.metricNames().size(), met.length);
            assertTrue(Double.isFinite(met[0]));
            if (s == 0) first = met[0];
            if (s >= steps - 20) {
                last += met[0] / 20;
                lastAcc += met[1] / 20;
            }
            if (s < 37) assertEquals(1.0, met[3]);
            if (s >= 90) assertEquals(0.0, met[3]);
        }
        assertEquals(Math.log(v), first, 0.3);
        assertTrue(last < 0.35 * Math.log(v), "final loss " + last + " vs log V " + Math.log(v));
        assertTrue(lastAcc > 0.75, "final token accuracy " + lastAcc);

        RarSampler sampler = RarSampler.fromState(m, w.state(), GeneratorTask.PREFIX);
        int[] labels = {0, 1, 0, 1, 0, 1, 0, 1};
        int[][] x = sampler.sample(labels, new SamplingConfig(1.0, 1.0, 1.0), 7);
        int ok = 0;
        for (int i = 0; i < labels.length; i++) {
            for (int j = 1; j < t; j++) if (x[i][j] == (x[i][j - 1] + labels[i] + 1) % v) ok++;
        }
        double frac = ok / (double) (labels.length * (t - 1));
        assertTrue(frac > 0.75, "sampled transitions following the rule: " + frac);
    }

    @Test
    void stateNamesBatchesAndLoad() {
        RarConfig m = Fixtures.tiny(true);
        GeneratorTask task = new GeneratorTask(tinyConfig(m, 4, new TokenOrder(0, 10), 1e-3));
        TrainState s0 = task.init();
        assertEquals(m.parameterCount(), s0.parameterCount());
        assertTrue(s0.params().keySet().stream().allMatch(k -> k.startsWith(GeneratorTask.PREFIX)));
        assertTrue(s0.optState().containsKey("generator/head.w#m"));
        assertTrue(s0.optState().containsKey(GeneratorTask.GROUP_DECAY + "#t"));
        assertTrue(s0.optState().containsKey(GeneratorTask.GROUP_NO_DECAY + "#t"));
        assertFalse(GeneratorTask.decayed("generator/tok_emb"));
        assertTrue(GeneratorTask.decayed("generator/blocks.0.attn.qkv.w"));

        Iterator<TokenBatch> it = task.batches(rows(10, m.tokens(), m.codebookSize(), m.numClasses(), 1).iterator(), 0);
        int nb = 0;
        while (it.hasNext()) {
            assertEquals(4, task.size(it.next()));
            nb++;
        }
        assertEquals(2, nb); // the short last batch is dropped

        Worker<TokenBatch> w = task.newWorker();
        w.load(s0);
        TokenBatch b = task.batches(rows(4, m.tokens(), m.codebookSize(), m.numClasses(), 2).iterator(), 0).next();
        double[] a1 = w.step(b, new StepContext(0, 0, 0, 1.0, 3));
        // loading the initial state again restores the same step exactly (parameters and optimizer state)
        w.load(s0);
        double[] a2 = w.step(b, new StepContext(0, 0, 0, 1.0, 3));
        assertEquals(a1[0], a2[0], 1e-6);
        assertEquals(a1[2], a2[2], 1e-5);
        assertTrue(w.state().params().get("generator/head.w").sub(s0.params().get("generator/head.w")).amaxNumber().doubleValue() > 0);
    }

    @Test
    void configFromFiles() {
        GeneratorConfig demo = GeneratorConfig.from(Settings.load(new File("../conf/demo.conf"), List.of()).config());
        assertEquals(1.0, demo.gradClip());
        assertEquals(0.96, demo.optimizer().beta2());
        assertEquals(0.03, demo.optimizer().weightDecay());
        assertEquals(0.1, demo.classDropout());
        GeneratorConfig paper = GeneratorConfig.from(Settings.load(new File("../conf/imagenet256.conf"), List.of()).config());
        assertEquals(1024, paper.model().width());
        assertEquals(1000, paper.model().numClasses());
        assertEquals(125_000, paper.order().annealStart());
        assertEquals(187_500, paper.order().annealEnd());
        assertEquals(6.75, paper.sampling().guidance());
    }

    @Test
    void workersAreSharedOnlyByTasksWithTheSameSettings() {
        // a worker keeps the config it was built with; a task that differs in anything its step reads needs its own
        GeneratorConfig base = GeneratorConfig.from(Settings.load(new File("../conf/demo.conf"), List.of()).config());
        GeneratorConfig dropout = GeneratorConfig.from(Settings.load(new File("../conf/demo.conf"),
                List.of("generator.class-dropout=0.2")).config());
        assertEquals(new GeneratorTask(base).workerKey(), new GeneratorTask(GeneratorConfig.from(
                Settings.load(new File("../conf/demo.conf"), List.of()).config())).workerKey());
        assertTrue(!new GeneratorTask(base).workerKey().equals(new GeneratorTask(dropout).workerKey()));
        assertTrue(!new GeneratorTask(base).workerKey().equals(new GeneratorTask(base.with(base.order(), 2e-3)).workerKey()));
    }
}
