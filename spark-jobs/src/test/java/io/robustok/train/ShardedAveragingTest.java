package io.robustok.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.serializer.KryoSerializer;
import org.apache.spark.serializer.SerializerInstance;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import scala.Tuple2;
import scala.reflect.ClassTag$;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.LongStream;

import static io.robustok.train.ParameterAveragingMasterTest.assertClose;
import static io.robustok.train.ParameterAveragingMasterTest.assertExact;
import static org.junit.jupiter.api.Assertions.*;

/**
 * trainer.aggregation = sharded: the same training as the tree (bit for bit with two workers, to rounding with
 * more), exact resume, the non-finite guard, and the slicing itself (shards across tensor boundaries, views,
 * other layouts and types, the bulk serializer).
 */
class ShardedAveragingTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static JavaSparkContext jsc;

    @BeforeAll
    static void spark() {
        SparkSession s = SparkRuntime.session(Settings.load(null, List.of("spark.master=\"local[2]\"")));
        jsc = JavaSparkContext.fromSparkContext(s.sparkContext());
    }

    /** 64 records, 2 workers x batch 4 x frequency 2: 4 rounds per epoch, 3 epochs, per-epoch warm-up + cosine. */
    private static TrainerConfig config(int workers) {
        return TrainerConfig.simple(workers, 2, 3, 99).withSchedule(LrSchedule.Mode.EPOCH, 1, 0.1).withCheckpointEvery(2);
    }

    @Test
    void twoWorkersTrainBitForBitAsTheTreeAndResumeExactly(@TempDir Path tmp) throws Exception {
        List<float[]> rows = LinearTask.data(64, 3, 21);
        LinearTask task = new LinearTask(3, 4, LinearTask.Opt.ADAM, 0.02);
        var tree = ParameterAveragingMaster.fit(jsc.parallelize(rows, 3), task, config(2), tmp.resolve("tree").toString());
        // 4 parameters + 8 Adam moments in 5 slices: every slice but one crosses a tensor boundary
        TrainerConfig sharded = config(2).withAggregation(TrainerConfig.Aggregation.SHARDED, 5);
        String dir = tmp.resolve("sharded").toString();
        var part = ParameterAveragingMaster.fit(jsc.parallelize(rows, 3), task, sharded.withStopAfterRounds(5), dir);
        assertFalse(part.finished());
        var resumed = ParameterAveragingMaster.fit(jsc.parallelize(rows, 3), task, sharded, dir);
        assertTrue(resumed.resumedFrom().endsWith("round-00000005"), resumed.resumedFrom());
        assertEquals(12, resumed.progress().round());
        assertExact(tree.state().params(), resumed.state().params());
        assertExact(tree.state().optState(), resumed.state().optState());
        assertExact(tree.ema(), resumed.ema());
        // and it trained: the weights moved from their start
        assertNotEquals(task.init().params().get("lin/w").getDouble(0), resumed.state().params().get("lin/w").getDouble(0));
        // the same metrics rows as the tree
        assertEquals(SimulatedTaskTest.keys(tmp.resolve("tree/metrics.jsonl")), SimulatedTaskTest.keys(tmp.resolve("sharded/metrics.jsonl")));
        for (String line : Files.readAllLines(tmp.resolve("sharded/metrics.jsonl"))) {
            assertTrue(JSON.readTree(line).get("samples").asLong() == 16, line);
        }
    }

    /**
     * Ids of the shuffles with files on this (local-mode) block manager's disk whose map outputs have
     * {@code partitions} reduce partitions (an index file holds partitions + 1 offsets).
     */
    private static Set<String> shuffleIds(int partitions) throws Exception {
        Set<String> ids = new HashSet<>();
        for (java.io.File dir : org.apache.spark.SparkEnv.get().blockManager().diskBlockManager().localDirs()) {
            try (var files = Files.walk(dir.toPath())) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String n = f.getFileName().toString();
                    if (n.startsWith("shuffle_") && n.endsWith(".index") && Files.size(f) == 8L * (partitions + 1)) ids.add(n.split("_")[1]);
                }
            }
        }
        return ids;
    }

    @Test
    void eachRoundsShuffleFilesAreDeletedWhenTheRoundEnds(@TempDir Path tmp) throws Exception {
        // 7 slices: no other shuffle of this test class has 7 reduce partitions (the epochs' have rounds x workers = 8)
        var r = ParameterAveragingMaster.fit(jsc.parallelize(LinearTask.data(64, 3, 5), 3), new LinearTask(3, 4, LinearTask.Opt.ADAM, 0.02),
                config(2).withAggregation(TrainerConfig.Aggregation.SHARDED, 7), tmp.resolve("out").toString());
        assertEquals(12, r.progress().round());
        Set<String> left = shuffleIds(7);
        for (int i = 0; i < 50 && !left.isEmpty(); i++) { // removal is asynchronous
            Thread.sleep(100);
            left = shuffleIds(7);
        }
        assertEquals(Set.of(), left, "the rounds' shuffles left on disk after the fit");
    }

    @Test
    void threeWorkersWithTheDriversOptimizerStateMatchTheTreeToRounding(@TempDir Path tmp) {
        List<float[]> rows = LinearTask.data(96, 3, 4);
        LinearTask task = new LinearTask(3, 4, LinearTask.Opt.ADAM, 0.02);
        TrainerConfig keep = config(3).withAverageUpdater(false);
        var tree = ParameterAveragingMaster.fit(jsc.parallelize(rows, 3), task, keep, tmp.resolve("tree").toString());
        var sharded = ParameterAveragingMaster.fit(jsc.parallelize(rows, 3), task,
                keep.withAggregation(TrainerConfig.Aggregation.SHARDED, 0), tmp.resolve("sharded").toString());
        assertClose(tree.state().params(), sharded.state().params(), 1e-6);
        // the optimizer state is the driver's (never averaged): both keep the initial one
        assertExact(tree.state().optState(), sharded.state().optState());
        assertExact(task.init().optState(), sharded.state().optState());
    }

    @Test
    void theSimulatedTaskAveragesToItsClosedFormThroughTheShuffle(@TempDir Path tmp) {
        int workers = 3, freq = 2;
        SimulatedTask task = new SimulatedTask(10, 4, 1, 0);
        int rows = workers * freq * 2;
        var r = ParameterAveragingMaster.fit(jsc.parallelize(LongStream.range(0, rows).boxed().toList(), 3), task,
                TrainerConfig.simple(workers, freq, 2, 5).withAggregation(TrainerConfig.Aggregation.SHARDED, 7),
                tmp.resolve("sim").toString());
        long steps = r.progress().step();
        assertEquals(2L * rows / workers, steps);
        // step g on worker w adds (w + 1) DELTA at g mod length; the average over 3 equal workers adds 2 DELTA
        TrainState init = task.init();
        for (Map<String, INDArray> m : List.of(r.state().params(), r.state().optState())) {
            for (Map.Entry<String, INDArray> e : m.entrySet()) {
                INDArray start = init.params().containsKey(e.getKey()) ? init.params().get(e.getKey()) : init.optState().get(e.getKey());
                double[] expected = start.toDoubleVector();
                for (long g = 0; g < steps; g++) expected[(int) (g % expected.length)] += 2 * SimulatedTask.DELTA;
                assertArrayEquals(expected, e.getValue().toDoubleVector(), 1e-6, e.getKey());
            }
        }
    }

    @Test
    void aNonFiniteWorkerDropsTheRoundAndStopsTheStage(@TempDir Path tmp) throws Exception {
        List<float[]> rows = LinearTask.data(64, 3, 2);
        LinearTask task = new LinearTask(3, 4, LinearTask.Opt.SGD, 0.01, 10, -1);
        TrainerConfig cfg = TrainerConfig.simple(2, 2, 5, 8).withCheckpointEvery(2).withMaxBadRounds(3)
                .withAggregation(TrainerConfig.Aggregation.SHARDED, 3);
        String dir = tmp.resolve("out").toString();
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                () -> ParameterAveragingMaster.fit(jsc.parallelize(rows, 3), task, cfg, dir));
        assertTrue(e.getMessage().contains("3 consecutive rounds") && e.getMessage().contains("round-00000004"), e.getMessage());
        List<String> lines = Files.readAllLines(tmp.resolve("out").resolve("metrics.jsonl"));
        assertEquals(8, lines.size());
        for (int i = 5; i < 8; i++) assertTrue(lines.get(i).contains("\"dropped\":true"), lines.get(i));
        // the good rounds before it are the tree's
        var clean = ParameterAveragingMaster.fit(jsc.parallelize(rows, 3), new LinearTask(3, 4, LinearTask.Opt.SGD, 0.01),
                TrainerConfig.simple(2, 2, 5, 8).withStopAfterRounds(4), tmp.resolve("clean").toString());
        Checkpoints.Loaded last = new Checkpoints(dir + "/checkpoints", 2).latest(task.init()).orElseThrow();
        assertExact(clean.state().params(), last.state().params());
    }

    @Test
    void slicesCrossTensorsOfAnyLayoutAndComeBackWhole() {
        // tensors of 5, 1 and 7 elements: a c-order matrix, a float64 vector, an f-order matrix's view
        INDArray a = Nd4j.arange(5).castTo(DataType.FLOAT).reshape(1, 5);
        INDArray b = Nd4j.createFromArray(new double[]{0.1});
        INDArray big = Nd4j.arange(14).castTo(DataType.FLOAT).reshape('f', 2, 7);
        INDArray c = big.getRow(1); // a strided view of 7 elements
        INDArray m = Nd4j.createFromArray(new float[]{9, 8, 7});
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        p.put("a", a);
        p.put("b", b);
        p.put("c", c);
        TrainState s = new TrainState(p, Map.of("a#m", m));

        ShardedAveraging.Layout withOpt = ShardedAveraging.Layout.of(s, true, 4);
        assertEquals(15, withOpt.total(), "the float32 tensors are sliced");
        assertArrayEquals(new String[]{"b"}, withOpt.extras(), "the float64 one travels whole");
        ShardedAveraging.Layout capped = ShardedAveraging.Layout.of(s, false, 50);
        assertEquals(12, capped.total());
        assertEquals(12, capped.shards(), "never more slices than elements");

        // two "workers" (weights 2 and 3) through the bulk serializer and the reduce side
        SerializerInstance kryo = new KryoSerializer(new SparkConf()
                .set("spark.kryo.registrator", io.robustok.spark.KryoRegistration.class.getName())).newInstance();
        List<Tuple2<Integer, ShardedAveraging.Piece>> shuffled = new ArrayList<>();
        for (float w : new float[]{2, 3}) {
            RoundResult summary = new RoundResult();
            summary.workers = 1;
            summary.samples = (long) w;
            summary.metricSums = new double[]{w};
            Iterator<Tuple2<Integer, ShardedAveraging.Piece>> it = ShardedAveraging.pieces(withOpt, s, w, summary, () -> { });
            while (it.hasNext()) {
                Tuple2<Integer, ShardedAveraging.Piece> t = it.next();
                ShardedAveraging.Piece copy = kryo.deserialize(kryo.serialize(t._2(), ClassTag$.MODULE$.apply(
                        ShardedAveraging.Piece.class)), ClassTag$.MODULE$.apply(ShardedAveraging.Piece.class));
                shuffled.add(new Tuple2<>(t._1(), copy));
            }
        }
        assertEquals(2 * (4 + 1), shuffled.size(), "4 slices and a summary per worker");
        List<ShardedAveraging.Piece> sums = new ArrayList<>();
        for (int shard = 0; shard < 4; shard++) {
            int sh = shard;
            sums.add(ShardedAveraging.sum(shard, shuffled.stream().filter(t -> t._1() == sh).iterator()).next());
        }
        RoundResult res = ShardedAveraging.assemble(withOpt, s, sums);
        assertEquals(5, res.samples);
        assertEquals(2, res.workers);
        assertArrayEquals(new double[]{5}, res.metricSums, 0);
        TrainState avg = ShardedAveraging.average(res, s, withOpt, true);
        assertTrue(ShardedAveraging.extrasFinite(avg, withOpt));
        // (2 x + 3 x) / 5 = x, each tensor back in its own shape and type
        assertArrayEquals(a.toDoubleVector(), avg.params().get("a").toDoubleVector(), 1e-6);
        assertArrayEquals(new long[]{1, 5}, avg.params().get("a").shape());
        assertEquals(DataType.DOUBLE, avg.params().get("b").dataType());
        assertEquals((2 * 0.1 + 3 * 0.1) / 5, avg.params().get("b").getDouble(0), 0, "in float64, not through float32");
        assertArrayEquals(c.toDoubleVector(), avg.params().get("c").toDoubleVector(), 1e-6);
        assertArrayEquals(new double[]{1, 3, 5, 7, 9, 11, 13}, avg.params().get("c").toDoubleVector(), 1e-6);
        assertArrayEquals(m.toDoubleVector(), avg.optState().get("a#m").toDoubleVector(), 1e-6);

        // finite pieces whose sum overflows float32: the reduce task's mean is not finite and the round is dropped
        List<Tuple2<Integer, ShardedAveraging.Piece>> huge = new ArrayList<>();
        for (int i = 0; i < 2; i++) huge.add(new Tuple2<>(0, new ShardedAveraging.Piece(0, new float[]{3e38f, 1}, null, 1)));
        ShardedAveraging.Piece overflow = ShardedAveraging.sum(0, huge.iterator()).next();
        assertFalse(overflow.finite);
        RoundResult meta = new RoundResult();
        meta.workers = 2;
        meta.samples = 2;
        overflow.meta = meta;
        ShardedAveraging.Layout two = ShardedAveraging.Layout.of(new TrainState(Map.of("v", Nd4j.zeros(DataType.FLOAT, 2)), Map.of()), false, 1);
        RoundResult dropped = ShardedAveraging.assemble(two, new TrainState(Map.of("v", Nd4j.zeros(DataType.FLOAT, 2)), Map.of()),
                List.of(overflow));
        assertTrue(dropped.bad && dropped.badReason.contains("non-finite"), dropped.badReason);
    }

    @Test
    void aStateTooBigForOneTaskResultIsRefusedBeforeTrainingWithTheFix() {
        SparkConf conf = new SparkConf().set("spark.serializer", KryoSerializer.class.getName())
                .set("spark.kryoserializer.buffer.max", "1m").set("spark.driver.maxResultSize", "4m");
        // 512k float32 parameters: 2 MB, twice the buffer
        INDArray w = Nd4j.zeros(DataType.FLOAT, 512, 1024);
        TrainState s = new TrainState(Map.of("w", w), Map.of("w#m", w.dup()));
        TrainerConfig tree = TrainerConfig.simple(2, 1, 1, 1).withAverageUpdater(false);
        long sent = ParameterAveragingMaster.sentBytes(s, tree);
        assertEquals(2L << 20, sent, "parameters only: the optimizer state is not averaged");
        var e = assertThrows(io.robustok.cli.UserError.class, () -> ParameterAveragingMaster.checkTransferLimits(conf, sent,
                TrainerConfig.Aggregation.TREE, null, "big"));
        assertTrue(e.getMessage().contains("spark.kryoserializer.buffer.max") && e.getMessage().contains("trainer.aggregation = sharded"),
                e.getMessage());
        // sharded in 8 slices of 256 KB passes; in one slice of 2 MB it names trainer.shards
        ParameterAveragingMaster.checkTransferLimits(conf, sent, TrainerConfig.Aggregation.SHARDED,
                ShardedAveraging.Layout.of(s, false, 8), "big");
        var one = assertThrows(io.robustok.cli.UserError.class, () -> ParameterAveragingMaster.checkTransferLimits(conf, sent,
                TrainerConfig.Aggregation.SHARDED, ShardedAveraging.Layout.of(s, false, 1), "big"));
        assertTrue(one.getMessage().contains("trainer.shards"), one.getMessage());
        // with the optimizer state the driver would receive 4 MB + : above spark.driver.maxResultSize either way
        long withOpt = ParameterAveragingMaster.sentBytes(s, TrainerConfig.simple(2, 1, 1, 1));
        conf.set("spark.driver.maxResultSize", "3m");
        var driver = assertThrows(io.robustok.cli.UserError.class, () -> ParameterAveragingMaster.checkTransferLimits(conf,
                withOpt, TrainerConfig.Aggregation.SHARDED, ShardedAveraging.Layout.of(s, true, 16), "big"));
        assertTrue(driver.getMessage().contains("spark.driver.maxResultSize"), driver.getMessage());
    }

    @Test
    void configNamesTheKeysAndRefusesLossyFormatsWithSharding() {
        TrainerConfig defaults = TrainerConfig.from(Settings.load(null, List.of()).config());
        assertEquals(TrainerConfig.Aggregation.TREE, defaults.aggregation());
        assertEquals(0, defaults.shards());
        TrainerConfig sharded = TrainerConfig.from(Settings.load(null, List.of("trainer.aggregation=sharded",
                "trainer.shards=6")).config());
        assertEquals(TrainerConfig.Aggregation.SHARDED, sharded.aggregation());
        assertEquals(6, sharded.shards());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () ->
                TrainerConfig.from(Settings.load(null, List.of("trainer.aggregation=ring")).config()));
        assertTrue(bad.getMessage().contains("trainer.aggregation must be tree or sharded"), bad.getMessage());
        IllegalArgumentException lossy = assertThrows(IllegalArgumentException.class, () ->
                TrainerConfig.from(Settings.load(null, List.of("trainer.aggregation=sharded",
                        "trainer.transfer-format=bfloat16")).config()));
        assertTrue(lossy.getMessage().contains("trainer.transfer-format = bfloat16"), lossy.getMessage());
        // auto: one slice per worker, more for a big state
        assertEquals(4, ShardedAveraging.shardCount(0, 1_000_000, 4));
        assertEquals(6, ShardedAveraging.shardCount(0, 688_000_000, 2));
        assertEquals(3, ShardedAveraging.shardCount(3, 688_000_000, 2));
    }
}
