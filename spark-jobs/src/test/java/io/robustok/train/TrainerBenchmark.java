package io.robustok.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.linalg.dataset.DataSet;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Throughput of the parameter-averaging master on a standalone cluster of 1 and 2 one-core executors (separate
 * JVMs on 127.0.0.1), at several averaging frequencies, and side by side with DL4J's
 * ParameterAveragingTrainingMaster on the same ComputationGraph (an MLP), same batch per worker, same frequency,
 * same data RDD (cached). Run: bench/trainer/run.sh [key=value ...]; results go to stdout as a Markdown table
 * and to bench/trainer/results.json.
 */
public final class TrainerBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>(Map.of("executors", "1,2", "freq", "1,5,20", "runs", "3", "rows", "10240",
                "batch", "128", "in", "784", "hidden", "256", "epochs", "1", "dl4j", "true", "out", "bench/trainer/results.json"));
        for (String s : args) a.put(s.substring(0, s.indexOf('=')), s.substring(s.indexOf('=') + 1));
        int[] executors = Arrays.stream(a.get("executors").split(",")).mapToInt(Integer::parseInt).toArray();
        int[] freqs = Arrays.stream(a.get("freq").split(",")).mapToInt(Integer::parseInt).toArray();
        int runs = Integer.parseInt(a.get("runs"));
        int rows = Integer.parseInt(a.get("rows"));
        int batch = Integer.parseInt(a.get("batch"));
        int in = Integer.parseInt(a.get("in"));
        int hidden = Integer.parseInt(a.get("hidden"));
        int epochs = Integer.parseInt(a.get("epochs"));
        boolean dl4j = Boolean.parseBoolean(a.get("dl4j"));
        int classes = 10;
        List<float[]> data = GraphTask.data(rows, in, classes, 1);
        GraphTask task = new GraphTask(in, hidden, classes, batch);
        List<Map<String, Object>> results = new ArrayList<>();
        System.out.printf(Locale.ROOT, "model: MLP %d-%d-%d-%d (%d params), batch %d per worker, %d records, %d epoch(s), median of %d runs, %d cores on this machine%n",
                in, hidden, hidden, classes, task.init().parameterCount(), batch, rows, epochs, runs, Runtime.getRuntime().availableProcessors());

        for (int e : executors) {
            try (LocalStandaloneCluster cluster = new LocalStandaloneCluster(e, 1, "2g")) {
                SparkSession spark = SparkRuntime.session(Settings.load(null, cluster.sparkConf(e, 1)));
                JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
                long end = System.currentTimeMillis() + 90_000;
                while (jsc.sc().statusTracker().getExecutorInfos().length < e + 1 && System.currentTimeMillis() < end) Thread.sleep(200);
                // read from files like real data: a parallelized list would ship its records inside every task
                // of every stage that starts from it, which would penalise DL4J's per-split repartitioning
                Path files = Files.createTempDirectory("bench-data");
                jsc.parallelize(data, 2 * e).saveAsObjectFile(files.resolve("rows").toUri().toString());
                JavaRDD<float[]> rdd = jsc.<float[]>objectFile(files.resolve("rows").toUri().toString(), 2 * e)
                        .persist(StorageLevel.MEMORY_ONLY());
                rdd.count();
                JavaRDD<DataSet> single = rdd.map(r -> GraphTask.toDataSet(List.of(r), in, classes)).persist(StorageLevel.MEMORY_ONLY());
                single.count();
                // warm-up: worker build, JIT, ND4J init on every executor
                ours(rdd, task, e, 5, 1);
                if (dl4j) dl4j(jsc, single, task, e, 5, 1, batch);

                for (int f : freqs) {
                    double[] sps = new double[runs], bShare = new double[runs], aShare = new double[runs];
                    for (int i = 0; i < runs; i++) {
                        double[] r = ours(rdd, task, e, f, epochs);
                        sps[i] = r[0];
                        bShare[i] = r[1];
                        aShare[i] = r[2];
                    }
                    Map<String, Object> row = row("ours", e, f, sps);
                    row.put("broadcast_share", median(bShare));
                    row.put("aggregate_share", median(aShare));
                    results.add(row);
                    print(row);
                    if (dl4j) {
                        double[] d = new double[runs];
                        for (int i = 0; i < runs; i++) d[i] = dl4j(jsc, single, task, e, f, epochs, batch);
                        Map<String, Object> drow = row("dl4j", e, f, d);
                        results.add(drow);
                        print(drow);
                    }
                }
                layouts(rdd, e, batch, results);
                spark.stop();
            }
        }
        Path out = Path.of(a.get("out"));
        if (out.getParent() != null) Files.createDirectories(out.getParent());
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("settings", a);
        doc.put("cores", Runtime.getRuntime().availableProcessors());
        doc.put("results", results);
        Files.writeString(out, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(doc));
        System.out.println("wrote " + out);
    }

    /** One fit of our master: samples/s over the whole fit, broadcast share and aggregation share of round time. */
    static double[] ours(JavaRDD<float[]> rdd, GraphTask task, int workers, int freq, int epochs) throws Exception {
        Path dir = Files.createTempDirectory("bench-ours");
        try {
            TrainerConfig cfg = TrainerConfig.simple(workers, freq, epochs, 1);
            long t0 = System.nanoTime();
            ParameterAveragingMaster.FitResult r = ParameterAveragingMaster.fit(rdd, task, cfg, dir.toString());
            double sec = (System.nanoTime() - t0) / 1e9;
            double round = 0, bcast = 0, agg = 0;
            for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
                JsonNode n = JSON.readTree(line);
                round += n.get("round_s").asDouble();
                bcast += n.get("broadcast_s").asDouble();
                agg += n.get("aggregate_s").asDouble();
            }
            return new double[]{r.progress().samples() / sec, bcast / round, agg / round};
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** One fit of DL4J's ParameterAveragingTrainingMaster on the same graph, data and settings: samples/s. */
    static double dl4j(JavaSparkContext jsc, JavaRDD<DataSet> single, GraphTask task, int workers, int freq, int epochs, int batch) {
        ParameterAveragingTrainingMaster tm = new ParameterAveragingTrainingMaster.Builder(1)
                .batchSizePerWorker(batch).averagingFrequency(freq).aggregationDepth(2)
                .rddTrainingApproach(RDDTrainingApproach.Direct).collectTrainingStats(false).rngSeed(1).build();
        SparkComputationGraph net = new SparkComputationGraph(jsc, GraphTask.conf(task.in, task.hidden, task.classes), tm);
        long rows = single.count();
        long t0 = System.nanoTime();
        for (int i = 0; i < epochs; i++) net.fit(single);
        double sec = (System.nanoTime() - t0) / 1e9;
        // DL4J trains every record (its last minibatches may be short); ours skips < workers x batch per epoch
        return rows * epochs / sec;
    }

    /**
     * Cost of laying out one epoch into rounds, without training: ours (one seeded shuffle into rounds x workers
     * partitions, each round reads its own) against DL4J's (randomSplit into round-sized splits, each
     * repartitioned to the workers).
     */
    static void layouts(JavaRDD<float[]> rdd, int workers, int batch, List<Map<String, Object>> results) {
        int freq = 5;
        long n = rdd.count();
        EpochPlan plan = new EpochPlan(n, workers, freq, batch);
        double[] ours = new double[3], split = new double[3];
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            JavaRDD<float[]> epoch = ParameterAveragingMaster.shuffle(rdd.zipWithIndex(), n, plan, i, 0);
            for (int r = 0; r < plan.rounds(); r++) {
                ParameterAveragingMaster.partitions(epoch, r * workers, (r + 1) * workers).foreachPartition(it -> {
                    while (it.hasNext()) it.next();
                });
            }
            ours[i] = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            double[] w = new double[plan.rounds()];
            Arrays.fill(w, 1.0);
            for (JavaRDD<float[]> s : rdd.randomSplit(w, i)) {
                s.repartition(workers).foreachPartition(it -> {
                    while (it.hasNext()) it.next();
                });
            }
            split[i] = (System.nanoTime() - t0) / 1e9;
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("layout", "epoch of " + plan.rounds() + " rounds, " + workers + " workers");
        row.put("ours_shuffle_once_s", median(ours));
        row.put("randomsplit_repartition_s", median(split));
        results.add(row);
        System.out.println(row);
    }

    static Map<String, Object> row(String master, int executors, int freq, double[] sps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("master", master);
        m.put("executors", executors);
        m.put("frequency", freq);
        m.put("samples_per_s", median(sps));
        m.put("runs", Arrays.stream(sps).boxed().toList());
        return m;
    }

    static void print(Map<String, Object> m) {
        System.out.println(m);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
