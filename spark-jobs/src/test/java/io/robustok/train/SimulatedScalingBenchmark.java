package io.robustok.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.config.Settings;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.LongStream;

/**
 * The averaging cost of the parameter-averaging master with simulated GPU executors ({@link SimulatedTask}: the
 * step sleeps, so the host's CPUs only carry the trainer's own work), on a standalone cluster of W one-core
 * executors (separate JVMs on 127.0.0.1), for each model size P, executor count W and averaging frequency f.
 *
 * <p>Each cell is one fit of 1 + {@code rounds} rounds; the first round (worker build, first allocation) is
 * dropped and the medians of the others are reported: round time, the overhead (round time minus the pure step
 * time, i.e. broadcast + scheduling + result building + transfer + sum + update) and its parts from
 * metrics.jsonl. Efficiency for a step time t is then (f t + o_1) / (f t + o_W), with o_W the measured
 * overhead at W executors; the run also reports the efficiency measured directly at its own step time.
 * Run: bench/trainer/sim.sh [key=value ...].
 */
public final class SimulatedScalingBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        a.put("params", "1000000,20000000");
        a.put("executors", "1,2,4,8");
        a.put("freq", "1,5,20,50");
        a.put("rounds", "4");
        // rounds of the warm-up fit (JIT, worker build, first allocations) on each cluster
        a.put("warmup-rounds", "3");
        a.put("step-ms", "20");
        a.put("steps-ms", "40,80,160");
        a.put("moments", "1");
        a.put("chunk", "2097152");
        a.put("executor-memory", "1g");
        a.put("nd4j-maxbytes", "2g");
        a.put("driver-nd4j", "");
        a.put("trainer", "");
        // any Spark properties, ';'-separated key=value (e.g. spark.shuffle.compress=false)
        a.put("spark", "");
        // the trainer's levers, for before/after runs: ND4J's per-element array serializer, broadcast compression
        a.put("nd4j-kryo", "false");
        a.put("broadcast-compress", "false");
        a.put("out", "bench/trainer/sim-results.json");
        for (String s : args) a.put(s.substring(0, s.indexOf('=')), s.substring(s.indexOf('=') + 1));
        long[] sizes = Arrays.stream(a.get("params").split(",")).mapToLong(Long::parseLong).toArray();
        int[] executors = Arrays.stream(a.get("executors").split(",")).mapToInt(Integer::parseInt).toArray();
        int[] freqs = Arrays.stream(a.get("freq").split(",")).mapToInt(Integer::parseInt).toArray();
        int rounds = Integer.parseInt(a.get("rounds"));
        long stepMs = Long.parseLong(a.get("step-ms"));
        double[] stepTimes = Arrays.stream(a.get("steps-ms").split(",")).mapToDouble(s -> Double.parseDouble(s) / 1e3).toArray();
        int moments = Integer.parseInt(a.get("moments"));
        int chunk = Integer.parseInt(a.get("chunk"));
        Path out = Path.of(a.get("out"));
        List<Map<String, Object>> results = new ArrayList<>();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("settings", a);
        doc.put("cores", Runtime.getRuntime().availableProcessors());
        doc.put("results", results);
        System.out.printf(Locale.ROOT, "simulated GPU executors: P=%s, %d optimizer tensor(s) per parameter, step %d ms, %d rounds after a warm-up round, %d cores%n",
                a.get("params"), moments, stepMs, rounds, Runtime.getRuntime().availableProcessors());

        for (long p : sizes) {
            SimulatedTask task = new SimulatedTask(p, chunk, moments, stepMs);
            for (int w : executors) {
                String load0 = loadAverage();
                try (LocalStandaloneCluster cluster = new LocalStandaloneCluster(w, 1, a.get("executor-memory"))) {
                    List<String> conf = new ArrayList<>(cluster.sparkConf(w, 1));
                    conf.add("spark.conf.\"spark.executor.memory\"=\"" + a.get("executor-memory") + "\"");
                    conf.add("spark.conf.\"spark.kryoserializer.buffer.max\"=\"2047m\"");
                    conf.add("spark.conf.\"spark.driver.maxResultSize\"=\"0\"");
                    conf.add("spark.nd4j-maxbytes=\"" + a.get("nd4j-maxbytes") + "\"");
                    conf.add("spark.nd4j-maxphysicalbytes=\"" + a.get("nd4j-maxbytes") + "\"");
                    conf.add("spark.conf.\"spark.broadcast.compress\"=" + a.get("broadcast-compress"));
                    if (Boolean.parseBoolean(a.get("nd4j-kryo"))) {
                        System.setProperty("robustok.nd4j-kryo", "true");
                        conf.add("spark.conf.\"spark.executorEnv.JAVA_TOOL_OPTIONS\"=\"-Drobustok.nd4j-kryo=true\"");
                    }
                    if (!a.get("trainer").isEmpty()) for (String kv : a.get("trainer").split(";")) conf.add("trainer." + kv);
                    if (!a.get("spark").isEmpty()) {
                        for (String kv : a.get("spark").split(";")) {
                            int eq = kv.indexOf('=');
                            conf.add("spark.conf.\"" + kv.substring(0, eq) + "\"=\"" + kv.substring(eq + 1) + "\"");
                        }
                    }
                    Settings settings = Settings.load(null, conf);
                    SparkSession spark = SparkRuntime.session(settings);
                    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
                    long end = System.currentTimeMillis() + 120_000;
                    while (jsc.sc().statusTracker().getExecutorInfos().length < w + 1 && System.currentTimeMillis() < end) Thread.sleep(200);
                    TrainerConfig base = TrainerConfig.from(settings.config());
                    // warm-up fit (worker build, JIT, first off-heap allocations on every executor), not reported
                    Path warm = Files.createTempDirectory("bench-sim-warm");
                    ParameterAveragingMaster.fit(jsc.parallelize(LongStream.range(0, Long.parseLong(a.get("warmup-rounds")) * w).boxed().toList(), w), task,
                            base.withWorkers(w, 1).withEpochs(1).withSchedule(LrSchedule.Mode.CONSTANT, 0, 1), warm.toString());
                    delete(warm);
                    for (int f : freqs) {
                        long rows = (long) w * f * (rounds + 1);
                        JavaRDD<Long> data = jsc.parallelize(LongStream.range(0, rows).boxed().toList(), w);
                        Path dir = Files.createTempDirectory("bench-sim");
                        TrainerConfig cfg = base.withWorkers(w, f).withEpochs(1).withSchedule(LrSchedule.Mode.CONSTANT, 0, 1);
                        Map<Long, Double> cpu0 = cpuSeconds();
                        long t0 = System.nanoTime();
                        ParameterAveragingMaster.fit(data, task, cfg, dir.toString());
                        double fitSec = (System.nanoTime() - t0) / 1e9;
                        Map<Long, Double> cpu1 = cpuSeconds();
                        Map<String, Object> row = cell(dir.resolve("metrics.jsonl"), p, moments, w, f, stepMs);
                        row.put("fit_s", fitSec);
                        cpuPerRound(row, cpu0, cpu1, rounds + 1);
                        row.put("load_before", load0);
                        row.put("load_after", loadAverage());
                        results.add(row);
                        System.out.println(JSON.writeValueAsString(row));
                        delete(dir);
                        // results so far survive a run killed part-way (memory)
                        write(out, doc, stepTimes);
                    }
                    spark.stop();
                } catch (Exception | OutOfMemoryError e) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("params", p);
                    row.put("executors", w);
                    row.put("failed", e.toString());
                    results.add(row);
                    System.out.println(JSON.writeValueAsString(row));
                    write(out, doc, stepTimes);
                    SparkSession.getActiveSession().foreach(s -> {
                        s.stop();
                        return null;
                    });
                }
            }
        }
        write(out, doc, stepTimes);
        System.out.println("wrote " + out);
    }

    /** Medians over the rounds after the first of one fit's metrics.jsonl. */
    static Map<String, Object> cell(Path metrics, long p, int moments, int w, int f, long stepMs) throws Exception {
        List<JsonNode> rows = new ArrayList<>();
        for (String line : Files.readAllLines(metrics)) rows.add(JSON.readTree(line));
        List<JsonNode> kept = rows.subList(Math.min(1, rows.size() - 1), rows.size());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("params", p);
        m.put("moments", moments);
        m.put("executors", w);
        m.put("frequency", f);
        m.put("step_ms", stepMs);
        m.put("rounds", kept.size());
        m.put("state_mb", kept.get(0).get("state_mb").asDouble());
        for (String k : List.of("round_s", "broadcast_s", "schedule_s", "result_prep_s", "transfer_s", "sum_s", "update_s",
                "compute_s", "aggregate_s")) {
            m.put(k, median(kept.stream().mapToDouble(n -> n.get(k).asDouble()).toArray()));
        }
        // overhead: everything but the steps themselves
        m.put("overhead_s", median(kept.stream().mapToDouble(n -> n.get("round_s").asDouble()
                - (n.get("compute_s").asDouble() - n.get("result_prep_s").asDouble())).toArray()));
        m.put("steps_per_s", median(kept.stream().mapToDouble(n -> n.get("samples").asDouble() / n.get("round_s").asDouble()).toArray()));
        return m;
    }

    /** Adds efficiencies (against the W = 1 cell of the same P and f) and writes the document. */
    static void write(Path out, Map<String, Object> doc, double[] stepTimes) throws Exception {
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> results = (List<Map<String, Object>>) doc.get("results");
        for (Map<String, Object> r : results) {
            if (r.containsKey("failed")) continue;
            Map<String, Object> one = results.stream().filter(o -> !o.containsKey("failed") && o.get("params").equals(r.get("params"))
                    && o.get("frequency").equals(r.get("frequency")) && (int) o.get("executors") == 1).findFirst().orElse(null);
            if (one == null) continue;
            int w = (int) r.get("executors");
            int f = (int) r.get("frequency");
            r.put("efficiency_measured", (double) r.get("steps_per_s") / (w * (double) one.get("steps_per_s")));
            double o1 = (double) one.get("overhead_s"), ow = (double) r.get("overhead_s");
            Map<String, Object> eff = new LinkedHashMap<>();
            Map<String, Object> share = new LinkedHashMap<>();
            for (double t : stepTimes) {
                String key = String.format(Locale.ROOT, "%.0fms", t * 1e3);
                eff.put(key, (f * t + o1) / (f * t + ow));
                share.put(key, ow / (f * t + ow));
            }
            r.put("efficiency_at_step", eff);
            r.put("overhead_share_at_step", share);
        }
        if (out.getParent() != null) Files.createDirectories(out.getParent());
        Files.writeString(out, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(doc));
    }

    /** CPU seconds (user + system) so far of this JVM (key 0) and of every executor JVM on the machine (by pid). */
    static Map<Long, Double> cpuSeconds() {
        Map<Long, Double> m = new LinkedHashMap<>();
        m.put(0L, procCpu(ProcessHandle.current().pid()));
        ProcessHandle.allProcesses().forEach(h -> {
            String cmd;
            try {
                cmd = Files.readString(Path.of("/proc/" + h.pid() + "/cmdline"));
            } catch (Exception e) {
                return;
            }
            if (cmd.contains("CoarseGrainedExecutorBackend")) m.put(h.pid(), procCpu(h.pid()));
        });
        return m;
    }

    /** utime + stime of a process from /proc/PID/stat, seconds (USER_HZ = 100 on Linux). */
    static double procCpu(long pid) {
        try {
            String st = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
            // fields after the command: state(3) ... utime(14) stime(15), i.e. indices 11 and 12 here
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
        } catch (Exception e) {
            return Double.NaN;
        }
    }

    /**
     * The driver's and the executors' CPU seconds per round over one fit (the harness's JVM is the driver; the
     * Master and Workers idle): what each process would spend of its own host's CPU on a cluster. The slowest
     * executor plus the driver bound the CPU part of a round's overhead there (the phases are sequential).
     */
    static void cpuPerRound(Map<String, Object> row, Map<Long, Double> before, Map<Long, Double> after, int rounds) {
        row.put("driver_cpu_s", (after.get(0L) - before.get(0L)) / rounds);
        double max = 0, sum = 0;
        int n = 0;
        for (Map.Entry<Long, Double> e : after.entrySet()) {
            if (e.getKey() == 0L) continue;
            double d = (e.getValue() - before.getOrDefault(e.getKey(), e.getValue())) / rounds;
            max = Math.max(max, d);
            sum += d;
            n++;
        }
        row.put("executor_cpu_s_max", max);
        row.put("executor_cpu_s_mean", n == 0 ? 0 : sum / n);
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return String.format(Locale.ROOT, "%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static void delete(Path dir) throws Exception {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(q -> q.toFile().delete());
        }
    }
}
