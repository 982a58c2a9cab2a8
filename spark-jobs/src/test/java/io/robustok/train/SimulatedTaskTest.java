package io.robustok.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The simulated-GPU task of the scaling benchmark goes through the trainer's own path (same round, same
 * RoundResult, same metrics rows as a real task), and the lossy transfer formats are off by default and
 * accumulate in float32.
 */
class SimulatedTaskTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static JavaSparkContext jsc;

    @BeforeAll
    static void spark() {
        SparkSession s = SparkRuntime.session(Settings.load(null, List.of("spark.master=\"local[2]\"")));
        jsc = JavaSparkContext.fromSparkContext(s.sparkContext());
    }

    static Set<String> keys(Path metrics) throws Exception {
        Set<String> k = new HashSet<>();
        for (String line : Files.readAllLines(metrics)) JSON.readTree(line).fieldNames().forEachRemaining(k::add);
        return k;
    }

    @Test
    void simulatedTaskTrainsThroughTheMasterToTheClosedFormAverage(@TempDir Path tmp) throws Exception {
        int workers = 2, freq = 3, epochs = 2;
        SimulatedTask task = new SimulatedTask(10, 4, 1, 0);
        int rows = workers * freq * 2; // two rounds per epoch
        ParameterAveragingMaster.FitResult r = ParameterAveragingMaster.fit(
                jsc.parallelize(LongStream.range(0, rows).boxed().toList(), 3), task,
                TrainerConfig.simple(workers, freq, epochs, 5), tmp.resolve("sim").toString());
        assertTrue(r.finished());
        long steps = r.progress().step();
        assertEquals((long) epochs * rows / workers, steps);
        // step g on worker w adds (w + 1) DELTA at g mod length; the average over 2 equal workers adds 1.5 DELTA
        TrainState init = task.init();
        for (Map<String, INDArray> m : List.of(r.state().params(), r.state().optState())) {
            assertEquals(3, m.size(), m.keySet().toString());
            for (Map.Entry<String, INDArray> e : m.entrySet()) {
                INDArray a = e.getValue();
                INDArray start = init.params().containsKey(e.getKey()) ? init.params().get(e.getKey()) : init.optState().get(e.getKey());
                double[] expected = start.toDoubleVector();
                for (long g = 0; g < steps; g++) expected[(int) (g % a.length())] += 1.5 * SimulatedTask.DELTA;
                assertArrayEquals(expected, a.toDoubleVector(), 1e-6);
            }
        }
        assertEquals(List.of(4L, 4L, 2L), task.init().params().values().stream().map(INDArray::length).toList());

        // the same metrics rows as a real task (LinearTask) through the same master: same keys but the metric names
        ParameterAveragingMaster.fit(jsc.parallelize(LinearTask.data(32, 3, 1), 2), new LinearTask(3, 4, LinearTask.Opt.ADAM, 0.01),
                TrainerConfig.simple(workers, freq, 1, 5), tmp.resolve("lin").toString());
        Set<String> sim = keys(tmp.resolve("sim/metrics.jsonl"));
        Set<String> lin = keys(tmp.resolve("lin/metrics.jsonl"));
        lin.remove("mae");
        assertEquals(lin, sim);
        assertTrue(sim.containsAll(List.of("broadcast_s", "schedule_s", "result_prep_s", "transfer_s", "sum_s", "update_s",
                "state_mb")), sim.toString());
        JsonNode row = JSON.readTree(Files.readAllLines(tmp.resolve("sim/metrics.jsonl")).get(0));
        assertEquals(20 * 4 / 1e6, row.get("state_mb").asDouble(), 1e-12, "10 parameters + 10 optimizer floats");
    }

    @Test
    void simulatedWorkerReturnsTheRoundResultOfARealWorker() {
        // runWorker directly: one RoundResult with sample-weighted tensors, as for every task
        SimulatedTask task = new SimulatedTask(6, 6, 2, 0);
        TrainState init = task.init();
        init.params().get("sim/t0").assign(1);
        RoundSpec spec = new RoundSpec(0, 0, 0, 0, 4, new double[]{1, 1, 1, 1}, new double[]{0, 0, 0, 0}, 1, true,
                TrainerConfig.TransferFormat.FLOAT32);
        Iterator<Long> rows = LongStream.range(0, 10).boxed().iterator();
        RoundResult out = ParameterAveragingMaster.runWorker(task, jsc.broadcast(init), spec, 0, rows).next();
        assertEquals(1, out.workers);
        assertEquals(4, out.samples);
        assertEquals(4, out.maxSteps);
        // (1 + DELTA at elements 0..3) x 4 samples
        assertArrayEquals(new double[]{4.004, 4.004, 4.004, 4.004, 4, 4}, out.params.get("sim/t0").toDoubleVector(), 1e-5);
        assertEquals(Set.of("sim/t0#m0", "sim/t0#m1"), out.optState.keySet());
        assertTrue(out.maxEndUs >= out.maxStartUs && out.maxStartUs > 0);
    }

    @Test
    void sixteenBitResultsAreAccumulatedInFloat32() {
        // 256 + 1 + 1 + 1 is 256 in bfloat16 (8 significant bits) and 259 in float32
        List<RoundResult> parts = new ArrayList<>();
        for (double v : new double[]{256, 1, 1, 1}) {
            RoundResult r = new RoundResult();
            r.workers = 1;
            r.samples = 1;
            r.params.put("w", ParameterAveragingMaster.weighted(Nd4j.createFromArray(new float[]{(float) v}), 1,
                    ParameterAveragingMaster.wireType(TrainerConfig.TransferFormat.BFLOAT16)));
            parts.add(r);
        }
        assertEquals(DataType.BFLOAT16, parts.get(0).params.get("w").dataType());
        RoundResult sum = RoundResult.empty();
        for (RoundResult p : parts) sum = sum.merge(p);
        assertEquals(DataType.FLOAT, sum.params.get("w").dataType());
        assertEquals(259.0, sum.params.get("w").getDouble(0), 0.0);
        // the average comes back in the state's type
        TrainState prev = new TrainState(Map.of("w", Nd4j.createFromArray(new float[]{0})), Map.of());
        assertEquals(DataType.FLOAT, ParameterAveragingMaster.average(sum, prev, true).params().get("w").dataType());
        // float32 is sent as computed
        assertEquals(DataType.FLOAT, ParameterAveragingMaster.weighted(Nd4j.createFromArray(new float[]{1}), 3,
                ParameterAveragingMaster.wireType(TrainerConfig.TransferFormat.FLOAT32)).dataType());
    }

    @Test
    void bfloat16TransferIsOffByDefaultAndLandsNearTheFloat32Loss(@TempDir Path tmp) {
        TrainerConfig defaults = TrainerConfig.from(Settings.load(null, List.of()).config());
        assertEquals(TrainerConfig.TransferFormat.FLOAT32, defaults.transferFormat());
        assertEquals(AveragingCostModel.DEFAULT_GBPS, defaults.networkGbps());
        // a small real regression, Adam, 4 epochs: final loss with bfloat16 results against float32
        List<float[]> data = LinearTask.data(256, 8, 3);
        double[] loss = new double[2];
        TrainerConfig.TransferFormat[] formats = {TrainerConfig.TransferFormat.FLOAT32, TrainerConfig.TransferFormat.BFLOAT16};
        for (int i = 0; i < 2; i++) {
            ParameterAveragingMaster.FitResult r = ParameterAveragingMaster.fit(jsc.parallelize(data, 2),
                    new LinearTask(8, 16, LinearTask.Opt.ADAM, 0.05), TrainerConfig.simple(2, 2, 4, 9).withTransferFormat(formats[i]),
                    tmp.resolve("f" + i).toString());
            INDArray w = r.state().params().get("lin/w");
            INDArray b = r.state().params().get("lin/b");
            double sq = 0;
            for (float[] row : data) {
                double y = b.getDouble(0);
                for (int j = 0; j < 8; j++) y += row[j] * w.getDouble(j);
                sq += (y - row[8]) * (y - row[8]);
            }
            loss[i] = sq / data.size();
        }
        // the targets have a variance of about 51; both runs must have learned, and land within 5% of each other
        assertTrue(loss[0] < 25, "float32 loss " + loss[0]);
        assertEquals(loss[0], loss[1], 0.05 * loss[0] + 1e-3, "float32 " + loss[0] + " bfloat16 " + loss[1]);
    }

    @Test
    void badTransferFormatOrBandwidthNamesTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainerConfig.from(
                Settings.load(null, List.of("trainer.transfer-format=int8")).config()));
        assertTrue(e.getMessage().contains("trainer.transfer-format") && e.getMessage().contains("int8"), e.getMessage());
        for (String bad : List.of("0", "-5")) {
            e = assertThrows(IllegalArgumentException.class, () -> TrainerConfig.from(
                    Settings.load(null, List.of("trainer.network-gbps=" + bad)).config()));
            assertTrue(e.getMessage().contains("trainer.network-gbps"), e.getMessage());
        }
    }

    @Test
    void costModelFrequencyIsTheSmallestThatKeepsTheShareUnderTheBound() {
        long bytes = 1_376_000_000L; // 172M parameters + one optimizer tensor, float32
        for (TrainerConfig.Aggregation agg : TrainerConfig.Aggregation.values()) {
            for (int w : new int[]{1, 4, 8}) {
                for (double t : new double[]{0.15, 0.3, 0.6}) {
                    int f = AveragingCostModel.frequencyFor(agg, bytes, w, 25, t, 0.10);
                    double o = AveragingCostModel.roundOverheadSec(agg, bytes, w, 25);
                    assertTrue(o / (f * t + o) <= 0.10 + 1e-12, agg + " f=" + f);
                    if (f > 1) assertTrue(o / ((f - 1) * t + o) > 0.10, agg + ": f-1 would do: " + (f - 1));
                }
            }
        }
        // on the wire, sharding moves fewer bytes through the busiest link than the tree from W = 2 on
        double gb = bytes / 1e9;
        for (int w : new int[]{2, 8, 32}) {
            double treeWire = AveragingCostModel.roundOverheadSec(TrainerConfig.Aggregation.TREE, bytes, w, 1)
                    - AveragingCostModel.roundOverheadSec(TrainerConfig.Aggregation.TREE, bytes, w, Double.MAX_VALUE);
            double shardedWire = AveragingCostModel.roundOverheadSec(TrainerConfig.Aggregation.SHARDED, bytes, w, 1)
                    - AveragingCostModel.roundOverheadSec(TrainerConfig.Aggregation.SHARDED, bytes, w, Double.MAX_VALUE);
            assertEquals(8 * gb * (1 + w), treeWire, 1e-6);
            assertEquals(8 * gb * (3 - 1.0 / w), shardedWire, 1e-6);
            assertTrue(shardedWire < treeWire, "W=" + w);
        }
        // more bytes, more workers or less bandwidth never cost less
        assertTrue(AveragingCostModel.roundOverheadSec(bytes, 8, 25) > AveragingCostModel.roundOverheadSec(bytes, 4, 25));
        assertTrue(AveragingCostModel.roundOverheadSec(bytes, 4, 10) > AveragingCostModel.roundOverheadSec(bytes, 4, 100));
        assertTrue(AveragingCostModel.roundOverheadSec(2 * bytes, 4, 25) > AveragingCostModel.roundOverheadSec(bytes, 4, 25));
    }
}
