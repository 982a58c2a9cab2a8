package io.robustok.train;

import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** Averaging's equivalence to synchronous training, exact resume, checkpoint refusal and the non-finite guard. */
class ParameterAveragingMasterTest {
    static JavaSparkContext jsc;

    @BeforeAll
    static void spark() {
        SparkSession s = SparkRuntime.session(Settings.load(null, List.of("spark.master=\"local[2]\"")));
        jsc = JavaSparkContext.fromSparkContext(s.sparkContext());
    }

    static JavaRDD<float[]> rdd(List<float[]> rows) {
        return jsc.parallelize(rows, 3);
    }

    /** The records of one epoch in the master's shuffled order (position p holds records[i] with perm(i) = p). */
    static List<float[]> epochOrder(List<float[]> rows, long seed, int epoch) {
        SeededPermutation perm = new SeededPermutation(rows.size(), Seeds.derive(seed, 1, epoch));
        float[][] out = new float[rows.size()][];
        for (int i = 0; i < rows.size(); i++) out[(int) perm.apply(i)] = rows.get(i);
        return List.of(out);
    }

    static void assertClose(Map<String, INDArray> expected, Map<String, INDArray> actual, double tol) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String k : expected.keySet()) {
            float[] e = expected.get(k).dup().data().asFloat();
            float[] a = actual.get(k).dup().data().asFloat();
            assertEquals(e.length, a.length, k);
            for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], tol, k + "[" + i + "]");
        }
    }

    static void assertExact(Map<String, INDArray> expected, Map<String, INDArray> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String k : expected.keySet()) {
            assertArrayEquals(expected.get(k).dup().data().asFloat(), actual.get(k).dup().data().asFloat(), k);
        }
    }

    @Test
    void sgdTwoWorkersOnHalfBatchesEqualOneWorkerOnTheWholeBatch(@TempDir Path tmp) {
        List<float[]> rows = LinearTask.data(32, 3, 7);
        long seed = 11;
        double lr = 0.05;
        var two = ParameterAveragingMaster.fit(rdd(rows), new LinearTask(3, 8, LinearTask.Opt.SGD, lr),
                TrainerConfig.simple(2, 1, 2, seed), tmp.resolve("two").toString());
        var one = ParameterAveragingMaster.fit(rdd(rows), new LinearTask(3, 16, LinearTask.Opt.SGD, lr),
                TrainerConfig.simple(1, 1, 2, seed), tmp.resolve("one").toString());

        // by hand: full-batch gradient descent over the same 16-record rounds
        TrainState s = new LinearTask(3, 16, LinearTask.Opt.SGD, lr).init();
        for (int epoch = 0; epoch < 2; epoch++) {
            List<float[]> order = epochOrder(rows, seed, epoch);
            for (int r = 0; r < 2; r++) {
                LinearTask.Batch b = LinearTask.toBatch(order.subList(16 * r, 16 * r + 16), 3);
                Object[] g = LinearTask.gradients(s.params().get("lin/w"), s.params().get("lin/b"), b);
                LinearTask.update(LinearTask.Opt.SGD, lr, s.params(), s.optState(), (INDArray) g[2], (INDArray) g[3]);
            }
        }
        assertEquals(4, two.progress().step());
        assertEquals(4, one.progress().step());
        assertClose(s.params(), one.state().params(), 1e-6);
        assertClose(s.params(), two.state().params(), 1e-6);
        // training moved the weights: the comparison is not between two copies of the initial state
        assertNotEquals(0.0, two.state().params().get("lin/b").getDouble(0));
    }

    @Test
    void epochSamplesTrainEachEpochOnAFreshDrawFromAllRecords(@TempDir Path tmp) {
        List<float[]> rows = LinearTask.data(48, 3, 5);
        long seed = 13;
        double lr = 0.05;
        var fit = ParameterAveragingMaster.fit(rdd(rows), new LinearTask(3, 8, LinearTask.Opt.SGD, lr),
                TrainerConfig.simple(2, 1, 3, seed).withEpochSamples(16), tmp.resolve("draw").toString());
        // by hand: each epoch, positions 0..15 of that epoch's permutation of all 48 records, one 16-record round
        TrainState s = new LinearTask(3, 16, LinearTask.Opt.SGD, lr).init();
        java.util.Set<float[]> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (int epoch = 0; epoch < 3; epoch++) {
            List<float[]> drawn = epochOrder(rows, seed, epoch).subList(0, 16);
            seen.addAll(drawn);
            LinearTask.Batch b = LinearTask.toBatch(drawn, 3);
            Object[] g = LinearTask.gradients(s.params().get("lin/w"), s.params().get("lin/b"), b);
            LinearTask.update(LinearTask.Opt.SGD, lr, s.params(), s.optState(), (INDArray) g[2], (INDArray) g[3]);
        }
        assertEquals(3, fit.progress().step(), "one 16-record round per epoch");
        assertClose(s.params(), fit.state().params(), 1e-6);
        assertTrue(seen.size() > 16 + 8, "the epochs drew different records: " + seen.size() + " distinct of 48");
    }

    @Test
    void adamWithUpdaterAveragingMatchesHandComputedAverages(@TempDir Path tmp) {
        List<float[]> rows = LinearTask.data(16, 3, 5);
        long seed = 3;
        double lr = 0.01;
        int workers = 2, batch = 4, freq = 2, epochs = 2;
        var res = ParameterAveragingMaster.fit(rdd(rows), new LinearTask(3, batch, LinearTask.Opt.ADAM, lr),
                TrainerConfig.simple(workers, freq, epochs, seed), tmp.resolve("adam").toString());

        // by hand: every round each worker runs `freq` Adam steps from the global state on its own slice,
        // then parameters and Adam moments (and step counts) are averaged
        LinearTask task = new LinearTask(3, batch, LinearTask.Opt.ADAM, lr);
        TrainState global = task.init();
        for (int epoch = 0; epoch < epochs; epoch++) {
            List<float[]> order = epochOrder(rows, seed, epoch);
            List<TrainState> locals = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                TrainState s = global.copy();
                for (int step = 0; step < freq; step++) {
                    int from = w * freq * batch + step * batch;
                    LinearTask.Batch b = LinearTask.toBatch(order.subList(from, from + batch), 3);
                    Object[] g = LinearTask.gradients(s.params().get("lin/w"), s.params().get("lin/b"), b);
                    LinearTask.update(LinearTask.Opt.ADAM, lr, s.params(), s.optState(), (INDArray) g[2], (INDArray) g[3]);
                }
                locals.add(s);
            }
            global = new TrainState(mean(locals, true), mean(locals, false));
        }
        assertEquals(2.0 * freq, global.optState().get("adam/t").getDouble(0) * 1.0, 0.0);
        assertClose(global.params(), res.state().params(), 1e-6);
        assertClose(global.optState(), res.state().optState(), 1e-7);

        // average-updater = false: DL4J keeps the driver's previous optimizer state
        var kept = ParameterAveragingMaster.fit(rdd(rows), new LinearTask(3, batch, LinearTask.Opt.ADAM, lr),
                TrainerConfig.simple(workers, freq, epochs, seed).withAverageUpdater(false), tmp.resolve("keep").toString());
        assertEquals(0.0, kept.state().optState().get("adam/t").getDouble(0));
        assertEquals(0.0, kept.state().optState().get("lin/w#m").sumNumber().doubleValue());
    }

    private static LinkedHashMap<String, INDArray> mean(List<TrainState> states, boolean params) {
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        Map<String, INDArray> first = params ? states.get(0).params() : states.get(0).optState();
        for (String k : first.keySet()) {
            INDArray sum = first.get(k).dup();
            for (int i = 1; i < states.size(); i++) sum.addi(params ? states.get(i).params().get(k) : states.get(i).optState().get(k));
            out.put(k, sum.divi(states.size()));
        }
        return out;
    }

    /** 64 records, 2 workers x batch 4 x frequency 2: 4 rounds per epoch, 3 epochs, per-epoch warm-up + cosine. */
    private static TrainerConfig resumeConfig() {
        return TrainerConfig.simple(2, 2, 3, 99).withSchedule(LrSchedule.Mode.EPOCH, 1, 0.1).withCheckpointEvery(2);
    }

    @Test
    void stoppedAndCrashedRunsResumeToTheUninterruptedResult(@TempDir Path tmp) throws Exception {
        List<float[]> rows = LinearTask.data(64, 3, 21);
        LinearTask task = new LinearTask(3, 4, LinearTask.Opt.ADAM, 0.02);
        var straight = ParameterAveragingMaster.fit(rdd(rows), task, resumeConfig(), tmp.resolve("a").toString());
        assertEquals(12, straight.progress().round());
        assertTrue(straight.finished());

        String dir = tmp.resolve("b").toString();
        // 1. stop cleanly after 5 rounds (checkpoint written at the stop)
        var part = ParameterAveragingMaster.fit(rdd(rows), task, resumeConfig().withStopAfterRounds(5), dir);
        assertFalse(part.finished());
        assertEquals(5, part.progress().round());
        // 2. resume, then crash inside round 9 (steps 18-19): the newest checkpoint is then round 8
        LinearTask crashing = new LinearTask(3, 4, LinearTask.Opt.ADAM, 0.02, -1, 18);
        Exception crash = assertThrows(Exception.class,
                () -> ParameterAveragingMaster.fit(rdd(rows), crashing, resumeConfig(), dir));
        assertTrue(stackMentions(crash, "injected failure"), crash.toString());
        // 3. resume again and finish; the epoch listener hears of the epoch completed in this invocation (1-based)
        List<Integer> epochsSeen = new ArrayList<>();
        var resumed = ParameterAveragingMaster.fit(rdd(rows), task, resumeConfig(), dir,
                (epoch, state, ema) -> epochsSeen.add(epoch));
        assertEquals(List.of(3), epochsSeen);
        assertTrue(resumed.resumedFrom().endsWith("round-00000008"), resumed.resumedFrom());
        assertEquals(12, resumed.progress().round());
        assertExact(straight.state().params(), resumed.state().params());
        assertExact(straight.state().optState(), resumed.state().optState());
        assertExact(straight.ema(), resumed.ema());

        // metrics.jsonl describes the run that made the weights: rounds 0..11 once each
        List<String> lines = Files.readAllLines(Path.of(tmp.resolve("b").resolve("metrics.jsonl").toString()));
        assertEquals(12, lines.size(), String.join("\n", lines));
        for (int i = 0; i < 12; i++) assertTrue(lines.get(i).startsWith("{\"round\":" + i + ","), lines.get(i));
        for (String k : List.of("\"epoch\"", "\"step\"", "\"lr_scale\"", "\"loss\"", "\"mae\"", "\"samples_per_s\"",
                "\"broadcast_s\"", "\"compute_s\"", "\"aggregate_s\"")) {
            assertTrue(lines.get(3).contains(k), k + " in " + lines.get(3));
        }
        // keep-checkpoints = 2
        try (var s = Files.list(tmp.resolve("b").resolve("checkpoints"))) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted(Comparator.reverseOrder()).toList();
            assertEquals(List.of("round-00000012", "round-00000010"), names);
        }
        // a finished run reruns as a no-op returning the same weights
        var again = ParameterAveragingMaster.fit(rdd(rows), task, resumeConfig(), dir);
        assertExact(straight.state().params(), again.state().params());
    }

    private static boolean stackMentions(Throwable t, String s) {
        for (Throwable c = t; c != null; c = c.getCause()) if (String.valueOf(c.getMessage()).contains(s)) return true;
        return false;
    }

    @Test
    void checkpointOfAnotherArchitectureIsRefusedNamingTheTensor(@TempDir Path tmp) {
        String dir = tmp.resolve("out").toString();
        ParameterAveragingMaster.fit(rdd(LinearTask.data(32, 3, 1)), new LinearTask(3, 4, LinearTask.Opt.SGD, 0.01),
                TrainerConfig.simple(2, 1, 1, 5), dir);
        CheckpointMismatchException e = assertThrows(CheckpointMismatchException.class, () ->
                ParameterAveragingMaster.fit(rdd(LinearTask.data(32, 4, 1)), new LinearTask(4, 4, LinearTask.Opt.SGD, 0.01),
                        TrainerConfig.simple(2, 1, 1, 5), dir));
        assertTrue(e.getMessage().contains("'lin/w' has shape [3, 1] in the checkpoint but [4, 1] in the model"), e.getMessage());
        // optimizer state counts too: an Adam model over an SGD checkpoint
        CheckpointMismatchException e2 = assertThrows(CheckpointMismatchException.class, () ->
                ParameterAveragingMaster.fit(rdd(LinearTask.data(32, 3, 1)), new LinearTask(3, 4, LinearTask.Opt.ADAM, 0.01),
                        TrainerConfig.simple(2, 1, 1, 5), dir));
        assertTrue(e2.getMessage().contains("'lin/w#m' [1, 3]".replace("[1, 3]", "[3, 1]")), e2.getMessage());
    }

    @Test
    void nonFiniteRoundsAreDroppedAndStopTheStageWithTheLastCheckpointIntact(@TempDir Path tmp) throws Exception {
        String dir = tmp.resolve("out").toString();
        List<float[]> rows = LinearTask.data(64, 3, 2);
        // NaN loss from step 10 = round 5 on; checkpoints every 2 rounds; stop after 3 bad rounds
        LinearTask task = new LinearTask(3, 4, LinearTask.Opt.SGD, 0.01, 10, -1);
        TrainerConfig cfg = TrainerConfig.simple(2, 2, 5, 8).withCheckpointEvery(2).withMaxBadRounds(3);
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                () -> ParameterAveragingMaster.fit(rdd(rows), task, cfg, dir));
        assertTrue(e.getMessage().contains("3 consecutive rounds") && e.getMessage().contains("round-00000004"), e.getMessage());

        Checkpoints.Loaded last = new Checkpoints(dir + "/checkpoints", 2).latest(task.init()).orElseThrow();
        assertEquals(4, last.progress().round());
        assertTrue(ParameterAveragingMaster.finite(last.state().params()));
        // the checkpoint holds exactly the weights of a clean run stopped after 4 rounds
        var clean = ParameterAveragingMaster.fit(rdd(rows), new LinearTask(3, 4, LinearTask.Opt.SGD, 0.01),
                cfg.withStopAfterRounds(4), tmp.resolve("clean").toString());
        assertExact(clean.state().params(), last.state().params());

        List<String> lines = Files.readAllLines(tmp.resolve("out").resolve("metrics.jsonl"));
        assertEquals(8, lines.size());
        IntStream.range(5, 8).forEach(i -> assertTrue(lines.get(i).contains("\"dropped\":true"), lines.get(i)));
    }
}
