package io.robustok.jobs.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.robustok.eval.DemoFeatureNet;
import io.robustok.eval.EvalSettings;
import io.robustok.eval.FashionMnist;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Trains the demo feature network (SPEC section 9) on Fashion-MNIST's train split through DL4J's own Spark
 * integration (SparkComputationGraph + ParameterAveragingTrainingMaster: each worker fits its minibatches,
 * the driver averages parameters every few), checks its test accuracy and caches it: once trained, every
 * later evaluation loads the same file, and its SHA-256 labels every metric.
 */
public final class FeatureNetTraining {
    private static final Logger log = LoggerFactory.getLogger(FeatureNetTraining.class);

    private FeatureNetTraining() {
    }

    /** What training produced. */
    public record Result(Path model, String checksum, double testAccuracy, int trainImages, int epochs, double seconds, boolean cached) {
    }

    /** The cached network, trained first when missing. Fails when its test accuracy is below the configured minimum. */
    public static Result ensure(JavaSparkContext jsc, EvalSettings settings, int workers) throws IOException {
        Path model = DemoFeatureNet.modelPath(settings.featureNetDir());
        Path meta = model.resolveSibling("feature-net.json");
        if (Files.isRegularFile(model) && Files.isRegularFile(meta)) {
            var m = new ObjectMapper().readTree(meta.toFile());
            String sum = DemoFeatureNet.load(model).checksum();
            if (!sum.equals(m.get("checksum").asText())) {
                throw new IOException(model + " does not match the checksum in " + meta + ": delete the directory to retrain");
            }
            return new Result(model, sum, m.get("test_accuracy").asDouble(), m.get("train_images").asInt(),
                    m.get("epochs").asInt(), m.get("seconds").asDouble(), true);
        }
        return train(jsc, settings.featureNet(), model, workers, settings.seed());
    }

    public static Result train(JavaSparkContext jsc, EvalSettings.FeatureNet cfg, Path model, int workers, long seed) throws IOException {
        long t0 = System.nanoTime();
        Path idx = Path.of(cfg.idxDir());
        FashionMnist.Split train = FashionMnist.read(idx, true, cfg.trainLimit());
        FashionMnist.Split test = FashionMnist.read(idx, false, cfg.testLimit());
        // fixed-size minibatches, shipped compact (28x28 uint8 + labels, 0.8 KB per image) and expanded to
        // [bs, 3, 32, 32] float DataSets inside the partitions: the driver never holds 60k float images
        List<byte[][]> batches = new ArrayList<>();
        int[] order = permutation(train.count(), seed);
        int bs = cfg.batchSize();
        for (int i = 0; i + bs <= train.count(); i += bs) {
            byte[] px = new byte[bs * 784];
            byte[] lab = new byte[bs];
            for (int r = 0; r < bs; r++) {
                System.arraycopy(train.pixels(), order[i + r] * 784, px, r * 784, 784);
                lab[r] = train.labels()[order[i + r]];
            }
            batches.add(new byte[][]{px, lab});
        }
        // expanded once and kept: DL4J splits the RDD every averaging round, which would otherwise redo the
        // expansion of every image per round
        // the compact batches travel once per executor as a broadcast; the tasks carry only indices (DL4J runs
        // a job per averaging round, and a parallelized collection would ship its data with every task)
        Broadcast<List<byte[][]>> data = jsc.broadcast(batches);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < batches.size(); i++) ids.add(i);
        int pad = cfg.pad();
        JavaRDD<DataSet> rdd = jsc.parallelize(ids, workers).map(i -> {
            byte[][] b = data.value().get(i);
            int n = b[1].length;
            FashionMnist.Split s = new FashionMnist.Split(b[0], b[1], n);
            return new DataSet(Nd4j.create(s.toNchw32(0, n, pad), n, 3, 32, 32), Nd4j.create(s.oneHot(0, n), n, 10));
        }).persist(StorageLevel.MEMORY_ONLY());
        log.info("feature net: {} minibatches of {} on {} workers", rdd.count(), bs, workers);
        ParameterAveragingTrainingMaster tm = new ParameterAveragingTrainingMaster.Builder(bs)
                .batchSizePerWorker(bs)
                .averagingFrequency(cfg.averagingFrequency())
                .workerPrefetchNumBatches(2)
                .rddTrainingApproach(RDDTrainingApproach.Direct)
                .repartionData(Repartition.Never)
                .rngSeed(seed)
                .build();
        ComputationGraph init = new ComputationGraph(DemoFeatureNet.configuration(seed, cfg.learningRate()));
        init.init();
        SparkComputationGraph spark = new SparkComputationGraph(jsc, init, tm);
        for (int e = 0; e < cfg.epochs(); e++) {
            // step decay per epoch: the driver's network carries the rate into the next fit's broadcast configuration
            double lr = cfg.learningRate() * Math.pow(cfg.lrDecay(), e);
            spark.getNetwork().setLearningRate(lr);
            spark.fit(rdd);
            // the last epoch's accuracy is measured once, below, on the saved network
            String acc = e + 1 < cfg.epochs() ? String.valueOf(DemoFeatureNet.of(spark.getNetwork(), "").accuracy(test, 500, pad)) : "(below)";
            log.info("feature net: epoch {} done at lr {}, score {}, test accuracy {}, {} s", e + 1, lr, spark.getScore(), acc,
                    String.format("%.1f", (System.nanoTime() - t0) / 1e9));
        }
        rdd.unpersist();
        data.destroy();
        ComputationGraph net = spark.getNetwork();
        // write to a temporary name and rename: a crash leaves no half-written cache
        Files.createDirectories(model.getParent());
        Path tmp = model.resolveSibling(model.getFileName() + ".tmp");
        ModelSerializer.writeModel(net, tmp.toFile(), false);
        DemoFeatureNet fn = DemoFeatureNet.load(tmp);
        double acc = fn.accuracy(test, 500, pad);
        double secs = (System.nanoTime() - t0) / 1e9;
        log.info("feature net: test accuracy {} after {} epochs on {} images, {} s", acc, cfg.epochs(), train.count(), secs);
        ObjectNode meta = new ObjectMapper().createObjectNode()
                .put("name", DemoFeatureNet.NAME).put("checksum", fn.checksum()).put("test_accuracy", acc)
                .put("train_images", train.count()).put("epochs", cfg.epochs()).put("batch_size", bs)
                .put("learning_rate", cfg.learningRate()).put("lr_decay", cfg.lrDecay())
                .put("averaging_frequency", cfg.averagingFrequency()).put("workers", workers).put("seed", seed).put("seconds", secs)
                .put("test_images", test.count()).put("data", idx.toString());
        if (acc < cfg.minTestAccuracy()) {
            Files.writeString(model.resolveSibling("feature-net.rejected.json"), meta.toPrettyString());
            Files.deleteIfExists(tmp);
            throw new IllegalStateException("demo feature network reached test accuracy " + acc + " < eval.feature-net.min-test-accuracy "
                    + cfg.minTestAccuracy() + ": train longer (eval.feature-net.epochs)");
        }
        Files.move(tmp, model, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Files.writeString(model.resolveSibling("feature-net.json"), meta.toPrettyString());
        return new Result(model, fn.checksum(), acc, train.count(), cfg.epochs(), secs, false);
    }

    static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        java.util.Random r = new java.util.Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
