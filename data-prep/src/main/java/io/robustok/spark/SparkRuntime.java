package io.robustok.spark;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;
import io.robustok.config.ConfigError;
import io.robustok.config.NativeBuild;
import io.robustok.config.Settings;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The one place a SparkSession is made. Master from {@code spark.master} unless spark-submit already chose
 * one; Kryo with ND4J's registrator; the Java 17 --add-opens flags and ND4J's off-heap limits on executors.
 */
public final class SparkRuntime {
    private static final Logger log = LoggerFactory.getLogger(SparkRuntime.class);

    /** Flags Spark needs on Java 17 (driver flags come from the launcher: bin/robustok, spark-submit conf). */
    public static final String JAVA17_OPENS = String.join(" ",
            "--add-modules=jdk.incubator.vector", "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED", "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
            "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED", "-Djdk.reflect.useDirectMethodHandle=false",
            "-Dio.netty.tryReflectionSetAccessible=true");

    /** The context the progress reporter listens to (one reporter per context). */
    private static org.apache.spark.SparkContext progressOn;

    private SparkRuntime() {
    }

    /** Gets or creates the session for these settings. */
    public static SparkSession session(Settings settings) {
        Config s = settings.at("spark");
        SparkConf conf = new SparkConf(true); // picks up spark-submit's spark.* system properties
        if (!conf.contains("spark.master")) conf.setMaster(s.getString("master"));
        conf.setIfMissing("spark.app.name", s.getString("app-name") + "-" + settings.config().getString("run.name"));
        String master = conf.get("spark.master");
        checkMaster(master);
        boolean local = master.startsWith("local");
        conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        // ND4J's registrator (when present) plus Java serialization for records
        conf.setIfMissing("spark.kryo.registrator", KryoRegistration.class.getName());
        conf.setIfMissing("spark.kryoserializer.buffer.max", "1g");
        conf.setIfMissing("spark.driver.maxResultSize", "4g");
        // what this project broadcasts is float tensors (the trainer's state every round), which LZ4 barely
        // shrinks: compressing them cost more CPU than the rest of the broadcast (BENCHMARKS.md, "Simulated GPU
        // executors"); a slow network may want it back (spark.conf."spark.broadcast.compress" = true)
        conf.setIfMissing("spark.broadcast.compress", "false");
        conf.setIfMissing("spark.sql.shuffle.partitions", "8");
        String nd4jLimits = "-Dorg.bytedeco.javacpp.maxbytes=" + s.getString("nd4j-maxbytes")
                + " -Dorg.bytedeco.javacpp.maxphysicalbytes=" + s.getString("nd4j-maxphysicalbytes");
        // executors load the libnd4j build the driver chose (they run the same jar)
        String nativeBuild = NativeBuild.select();
        if (!nativeBuild.isEmpty()) nd4jLimits += " -D" + NativeBuild.PROPERTY + "=" + nativeBuild;
        conf.setIfMissing("spark.executor.extraJavaOptions", JAVA17_OPENS + " " + nd4jLimits);
        conf.setIfMissing("spark.driver.extraJavaOptions", JAVA17_OPENS + " " + nd4jLimits);
        if (local) {
            conf.setIfMissing("spark.ui.enabled", "false");
            conf.setIfMissing("spark.driver.host", "127.0.0.1");
            conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
        for (Map.Entry<String, ConfigValue> e : s.getConfig("conf").entrySet()) {
            conf.set(unquote(e.getKey()), String.valueOf(e.getValue().unwrapped()));
        }
        if (local) requireLoopback(conf, System.getenv("SPARK_LOCAL_IP"));
        SparkSession session = SparkSession.builder().config(conf).getOrCreate();
        session.sparkContext().setLogLevel("WARN");
        synchronized (SparkRuntime.class) {
            if (progressOn != session.sparkContext()) {
                JobProgress.install(session.sparkContext(), settings.config().getLong("run.progress-seconds"));
                progressOn = session.sparkContext();
            }
        }
        log.info("spark: master={} defaultParallelism={} workers={}", master,
                session.sparkContext().defaultParallelism(), workers(settings, session));
        return session;
    }

    /**
     * A cluster master this process cannot reach by itself (YARN or Kubernetes without Spark's cluster manager
     * on the classpath, i.e. not started by spark-submit) is one line saying how to run, not a stack trace
     * ("Could not parse Master URL: 'yarn'").
     */
    static void checkMaster(String master) {
        String manager = master.equals("yarn") ? "org.apache.spark.deploy.yarn.YarnClusterManager"
                : master.startsWith("k8s://") ? "org.apache.spark.scheduler.cluster.k8s.KubernetesClusterManager" : null;
        if (manager == null) return;
        try {
            Class.forName(manager, false, SparkRuntime.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new ConfigError("spark.master = " + master + " is a cluster: submit the stage there with deploy/submit.sh "
                    + "(SPARK_MASTER=" + master + " deploy/submit.sh <stage> --conf ...; deploy/README.md), or try it on this "
                    + "machine with spark.master=\"local[*]\"");
        }
    }

    /**
     * Number of parameter-averaging workers: {@code spark.workers} when set, else Spark's default
     * parallelism (cores of local[*], or executors x cores on a cluster).
     */
    public static int workers(Settings settings, SparkSession session) {
        int w = settings.config().getInt("spark.workers");
        return w > 0 ? w : session.sparkContext().defaultParallelism();
    }

    /** Runs one tiny task per worker slot and logs where it ran and the ND4J limits it sees. */
    public static List<String> describeExecutors(SparkSession session, int slots) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(session.sparkContext());
        List<Integer> ids = new ArrayList<>();
        IntStream.range(0, slots).forEach(ids::add);
        List<String> lines = jsc.parallelize(ids, slots).map(i -> {
            String host = InetAddress.getLocalHost().getHostName();
            return "executor slot " + i + ": host=" + host + " pid=" + ManagementFactory.getRuntimeMXBean().getPid()
                    + " maxbytes=" + System.getProperty("org.bytedeco.javacpp.maxbytes", "default")
                    + " maxphysicalbytes=" + System.getProperty("org.bytedeco.javacpp.maxphysicalbytes", "default")
                    + " heap=" + (Runtime.getRuntime().maxMemory() >> 20) + "MiB"
                    + " cores=" + Runtime.getRuntime().availableProcessors();
        }).collect();
        lines.forEach(log::info);
        return lines;
    }

    /**
     * Local mode listens on loopback only: the driver's RPC and block manager bind to spark.driver.bindAddress, and
     * Spark's web UI binds to SPARK_LOCAL_IP or, without it, to every interface. So in local mode a bind address
     * other than loopback, or an enabled UI without SPARK_LOCAL_IP on loopback (bin/robustok exports it), is refused.
     */
    static void requireLoopback(SparkConf conf, String sparkLocalIp) {
        String bind = conf.get("spark.driver.bindAddress", "127.0.0.1");
        if (!isLoopback(bind)) {
            throw new io.robustok.config.ConfigError("spark.driver.bindAddress = " + bind + " in local mode would accept "
                    + "connections from other hosts: leave it at 127.0.0.1 (or run on a cluster)");
        }
        if (conf.getBoolean("spark.ui.enabled", true) && !isLoopback(sparkLocalIp)) {
            throw new io.robustok.config.ConfigError("spark.ui.enabled = true in local mode would listen on "
                    + (sparkLocalIp == null ? "every interface" : sparkLocalIp) + ": set the environment variable "
                    + "SPARK_LOCAL_IP=127.0.0.1 (bin/robustok does) or leave the UI off");
        }
    }

    static boolean isLoopback(String host) {
        return host != null && (host.equals("localhost") || host.startsWith("127.") || host.equals("::1"));
    }

    private static String unquote(String k) {
        return k.startsWith("\"") && k.endsWith("\"") ? k.substring(1, k.length() - 1) : k;
    }
}
