package io.robustok.train;

import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The master on a real multi-process cluster: a standalone Master and two Workers as separate JVMs, one
 * executor of one core on each; the state crosses process boundaries by Kryo broadcast and task results.
 */
class SparkClusterTest {
    static LocalStandaloneCluster cluster;
    static SparkSession spark;

    @BeforeAll
    static void start() throws Exception {
        SparkSession.getActiveSession().foreach(s -> {
            s.stop();
            return null;
        });
        SparkSession.getDefaultSession().foreach(s -> {
            s.stop();
            return null;
        });
        cluster = new LocalStandaloneCluster(2, 1, "1500m");
        spark = SparkRuntime.session(Settings.load(null, cluster.sparkConf(2, 1)));
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        long end = System.currentTimeMillis() + 60_000;
        while (jsc.sc().statusTracker().getExecutorInfos().length < 3 && System.currentTimeMillis() < end) Thread.sleep(200);
        assertEquals(3, jsc.sc().statusTracker().getExecutorInfos().length,
                "driver + 2 executors expected\n" + cluster.daemonLogs() + cluster.executorLogs());
    }

    @AfterAll
    static void stop() throws Exception {
        if (spark != null) spark.stop();
        if (cluster != null) cluster.close();
    }

    @Test
    void trainsToCompletionOnTwoExecutorProcessesWithTheSynchronousResult(@TempDir Path tmp) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        // the state travels by Kryo (ND4J's registrator), as in production
        assertEquals("org.apache.spark.serializer.KryoSerializer", spark.conf().get("spark.serializer"));
        assertFalse(spark.conf().get("spark.kryo.registrator", "").isEmpty(), "SparkRuntime registers ND4J's Kryo serializers");
        // two executor JVMs, neither of them this one
        List<String> where = SparkRuntime.describeExecutors(spark, 2);
        Set<String> pids = where.stream().map(l -> l.replaceAll(".* pid=(\\d+) .*", "$1")).collect(Collectors.toSet());
        assertEquals(2, pids.size(), where.toString());
        assertFalse(pids.contains(Long.toString(ManagementFactory.getRuntimeMXBean().getPid())));

        List<float[]> rows = LinearTask.data(64, 3, 7);
        long seed = 17;
        double lr = 0.05;
        int epochs = 3;
        ParameterAveragingMaster.FitResult res;
        try {
            res = ParameterAveragingMaster.fit(jsc.parallelize(rows, 4), new LinearTask(3, 8, LinearTask.Opt.SGD, lr),
                    TrainerConfig.simple(2, 1, epochs, seed).withCheckpointEvery(4), tmp.toString());
        } catch (RuntimeException e) {
            throw new AssertionError("training failed\n" + cluster.executorLogs(), e);
        }
        assertTrue(res.finished());
        assertEquals(epochs * 4, res.progress().step());

        // expected: full-batch gradient descent over the same 16-record rounds, computed here
        TrainState s = new LinearTask(3, 16, LinearTask.Opt.SGD, lr).init();
        for (int epoch = 0; epoch < epochs; epoch++) {
            List<float[]> order = ParameterAveragingMasterTest.epochOrder(rows, seed, epoch);
            for (int r = 0; r < 4; r++) {
                LinearTask.Batch b = LinearTask.toBatch(order.subList(16 * r, 16 * r + 16), 3);
                Object[] g = LinearTask.gradients(s.params().get("lin/w"), s.params().get("lin/b"), b);
                LinearTask.update(LinearTask.Opt.SGD, lr, s.params(), s.optState(), (INDArray) g[2], (INDArray) g[3]);
            }
        }
        ParameterAveragingMasterTest.assertClose(s.params(), res.state().params(), 1e-6);
    }
}
