package io.robustok.jobs.eval;

import io.robustok.eval.DemoFeatureNet;
import io.robustok.eval.EvalPartial;
import io.robustok.eval.EvalSettings;
import io.robustok.eval.FashionMnist;
import io.robustok.eval.FeatureExtractorSpec;
import io.robustok.eval.FidEvaluator;
import io.robustok.eval.Images;
import io.robustok.eval.FrechetDistance;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo feature network trained through DL4J's Spark parameter averaging (on a subset: the full 60k run is
 * bench/fid/feature_net.sh), cached with its checksum; and distributed extraction equal to one pass.
 */
class FeatureNetTrainingTest {
    static SparkSession spark;
    static JavaSparkContext jsc;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("eval-test")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .config("spark.kryo.registrator", "org.nd4j.kryo.Nd4jRegistrator").getOrCreate();
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void trainsCachesAndEvaluatesDistributed(@TempDir Path dir) throws Exception {
        EvalSettings adm = EvalSettings.adm("demo");
        EvalSettings s = new EvalSettings("demo", "", dir.resolve("fnet").toString(),
                new EvalSettings.FeatureNet(1, 32, 2e-3, 1.0, 16, 0.60, FashionMnist.DEFAULT_DIR, 3000, 1000, 2),
                "", 400, 50, 100, true, 3, 256, 400, 11, adm.pfidAlphas(), 50, 11);
        FeatureNetTraining.Result r = FeatureNetTraining.ensure(jsc, s, 2);
        assertTrue(r.testAccuracy() >= 0.60, "accuracy " + r.testAccuracy());
        assertTrue(Files.isRegularFile(r.model()));
        FeatureNetTraining.Result again = FeatureNetTraining.ensure(jsc, s, 2);
        assertTrue(again.cached());
        assertEquals(r.checksum(), again.checksum());

        // 400 test images as uint8 batches of 50 on 3 partitions vs one local pass
        FashionMnist.Split test = FashionMnist.read(Path.of(FashionMnist.DEFAULT_DIR), false, 400);
        List<DistributedEval.ImageBatch> batches = new ArrayList<>();
        for (int i = 0; i < 400; i += 50) {
            byte[] px = Images.toUint8Bytes(Nd4j.create(test.toNchw32(i, 50, 2), 50, 3, 32, 32));
            batches.add(new DistributedEval.ImageBatch(i, 50, 32, 32, px));
        }
        FeatureExtractorSpec spec = s.extractorSpec();
        EvalPartial dist = DistributedEval.evaluate(jsc.parallelize(batches, 3), spec, s, 2);
        try (DemoFeatureNet net = (DemoFeatureNet) spec.open()) {
            FidEvaluator local = new FidEvaluator(net, s);
            for (DistributedEval.ImageBatch b : batches) local.update(Images.fromBytes(b.pixels(), 50, 32, 32));
            assertEquals(400, dist.count());
            assertEquals(net.label(), dist.extractor());
            assertEquals(0.0, FrechetDistance.compute(dist.stats(), local.partial().stats()), 1e-6);
            assertEquals(local.partial().inceptionScore(), dist.inceptionScore(), 1e-6);
            assertEquals(400, dist.keptCount());
        }
    }
}
