package io.robustok.sweep;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;
import io.robustok.cli.UserError;
import io.robustok.jobs.PipelineStage;
import io.robustok.jobs.TrainFiles;
import io.robustok.spark.SparkRuntime;
import org.apache.spark.launcher.SparkLauncher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * sweep.mode = cluster: each variant's pipeline is its own Spark application, started with Spark's launcher
 * (spark-submit of sweep.spark-home, master = the variant's spark.master), at most sweep.parallel at once, its
 * output in the variant's log.txt. The applications share stage outputs through the store and its locks exactly as
 * local variants do; the coordinator only starts them and reads each run's _stages.json when it ends.
 */
final class ClusterSweep {
    private static final Logger log = LoggerFactory.getLogger(ClusterSweep.class);
    private final Sweep sweep;
    private final String sparkHome;
    private final String appJar;
    private final Config submitConf;

    ClusterSweep(Sweep sweep, Config c) {
        this.sweep = sweep;
        String home = c.getString("sweep.spark-home");
        if (home.isBlank()) home = System.getenv().getOrDefault("SPARK_HOME", "");
        if (home.isBlank() || !new File(home, "bin/spark-submit").isFile()) {
            throw new UserError("sweep.mode = cluster needs a Spark installation with bin/spark-submit: set sweep.spark-home or SPARK_HOME"
                    + (home.isBlank() ? "" : " (" + home + " has none)"));
        }
        this.sparkHome = home;
        String jar = c.getString("sweep.app-jar");
        if (jar.isBlank()) jar = defaultJar();
        if (!new File(jar).isFile()) {
            throw new UserError("sweep.app-jar " + jar + " does not exist: build the cluster jar (mvn -B -Pcluster package -DskipTests) or set sweep.app-jar");
        }
        this.appJar = jar;
        this.submitConf = c.getConfig("sweep.submit-conf");
    }

    /** The shaded jar next to the jar this code runs from (spark-jobs/target/robustok-cluster.jar). */
    private static String defaultJar() {
        try {
            File here = new File(ClusterSweep.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            File dir = here.isFile() ? here.getParentFile() : here.getParentFile();
            return new File(dir, "robustok-cluster.jar").getPath();
        } catch (Exception e) {
            return "spark-jobs/target/robustok-cluster.jar";
        }
    }

    void run(int parallel) {
        sweep.writeState();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallel));
        List<Future<?>> jobs = new ArrayList<>();
        for (Sweep.Variant v : sweep.variants()) {
            if (v.runnable()) jobs.add(pool.submit(() -> launch(v)));
        }
        for (Future<?> f : jobs) {
            try {
                f.get();
            } catch (Exception e) {
                throw new IllegalStateException("sweep launcher failed", e);
            }
        }
        pool.shutdown();
    }

    private void launch(Sweep.Variant v) {
        String conf = Sweep.localPath(v.dir() + "/variant.conf");
        TrainFiles.write(conf, v.settings.render().getBytes(StandardCharsets.UTF_8));
        File logFile = new File(Sweep.localPath(v.log()));
        long t0 = System.nanoTime();
        v.status = "running";
        sweep.writeState();
        int code;
        String failure = null;
        try {
            String opens = SparkRuntime.JAVA17_OPENS;
            SparkLauncher l = new SparkLauncher(Map.of("OMP_NUM_THREADS", System.getenv().getOrDefault("OMP_NUM_THREADS", "1")))
                    .setSparkHome(sparkHome)
                    .setAppResource(appJar)
                    .setMainClass(PipelineStage.class.getName())
                    .setMaster(v.settings.config().getString("spark.master"))
                    .setAppName("robustok-" + v.settings.config().getString("run.name"))
                    .setConf(SparkLauncher.DRIVER_EXTRA_JAVA_OPTIONS, opens)
                    .setConf(SparkLauncher.EXECUTOR_EXTRA_JAVA_OPTIONS, opens)
                    .addAppArgs("--conf", conf)
                    .redirectOutput(logFile)
                    .redirectError();
            for (Map.Entry<String, ConfigValue> e : submitConf.entrySet()) {
                l.setConf(e.getKey().replace("\"", ""), String.valueOf(e.getValue().unwrapped()));
            }
            log.info("sweep: variant {} as a Spark application (log {})", v.name(), logFile);
            Process p = l.launch();
            code = p.waitFor();
            if (code != 0) failure = "spark-submit exited with " + code;
        } catch (Exception e) {
            code = -1;
            failure = "could not launch: " + StageRunner.reason(e);
        }
        sweep.finished(v, code, failure, (System.nanoTime() - t0) / 1e9);
        log.info("sweep: variant {} {}", v.name(), v.status());
    }
}
