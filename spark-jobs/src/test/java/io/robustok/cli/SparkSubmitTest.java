package io.robustok.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.train.LocalStandaloneCluster;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/submit.sh against a real multi-process standalone cluster: the shaded cluster jar (built here when missing
 * or older than the sources, under target/cluster), a Master and two Workers as separate JVMs on 127.0.0.1 whose
 * SPARK_HOME/jars holds Spark's jars but none of the project's, and a {@code spark-submit} that is Spark's own
 * launcher and SparkSubmit, so the driver JVM gets exactly the options submit.sh passes. The prep stage runs on
 * tiny data with GPU=0; its Parquet shards are written by the executors, which load the project's code from the
 * jar the driver ships.
 * <p>Slow group; .ci/run runs it after the suite. On 2 cores: about 1 minute with the jar reused, plus about 5 for
 * the jar build.
 */
@Tag("slow")
class SparkSubmitTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @Test
    void prepThroughDeploySubmitShOnAStandaloneCluster(@TempDir Path tmp) throws Exception {
        Path jar = clusterJar(tmp);
        Path images = imageFolder(tmp.resolve("images"), 4, 2);
        Path run = tmp.resolve("run");
        try (LocalStandaloneCluster cluster = new LocalStandaloneCluster(2, 1, "1500m", true)) {
            Path bin = Files.createDirectories(tmp.resolve("bin"));
            Path submit = bin.resolve("spark-submit");
            // what $SPARK_HOME/bin/spark-submit does: Spark's launcher prints its messages, a line holding one NUL,
            // then the driver's command with a NUL after every argument; the command is run
            Files.writeString(submit, """
                    #!/usr/bin/env bash
                    CMD=(); DELIM=$'\\n'; STARTED=0
                    while IFS= read -d "$DELIM" -r ARG; do
                      if [ "$STARTED" = 1 ]; then CMD+=("$ARG")
                      elif [ -z "$ARG" ]; then DELIM=''; STARTED=1
                      else echo "$ARG"; fi
                    done < <("%s" -cp "$SPARK_HOME/jars/*" org.apache.spark.launcher.Main org.apache.spark.deploy.SparkSubmit "$@")
                    [ ${#CMD[@]} -gt 0 ] || { echo "spark-submit: the launcher printed no command" >&2; exit 1; }
                    exec "${CMD[@]}"
                    """.formatted(Path.of(System.getProperty("java.home"), "bin", "java")));
            assertTrue(submit.toFile().setExecutable(true));

            ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("deploy/submit.sh").toString(), "prep",
                    "--conf", ROOT.resolve("conf/demo.conf").toString(), "run.out=" + run, "data.imagefolder=" + images,
                    "prep.min-shards=2");
            Map<String, String> env = pb.environment();
            env.put("PATH", bin + ":" + env.get("PATH"));
            env.put("SPARK_HOME", cluster.home().toString());
            env.put("SPARK_SCALA_VERSION", "2.12");
            env.put("SPARK_LOCAL_IP", "127.0.0.1");
            env.put("SPARK_MASTER", cluster.masterUrl());
            env.put("JAR", jar.toString());
            env.put("GPU", "0");
            env.put("EXECUTORS", "2");
            env.put("EXECUTOR_CORES", "1");
            env.put("EXECUTOR_MEMORY", "1g");
            env.put("ND4J_MAXBYTES", "1g");
            env.put("ND4J_MAXPHYSICALBYTES", "2g");
            Path log = tmp.resolve("submit.log");
            Process p = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean ended = p.waitFor(10, TimeUnit.MINUTES);
            if (!ended) p.descendants().forEach(ProcessHandle::destroyForcibly);
            String output = Files.readString(log);
            String context = "\n== spark-submit output\n" + output + "\n" + cluster.daemonLogs() + cluster.executorLogs();
            assertTrue(ended, "submit did not finish in 10 minutes" + context);
            assertEquals(0, p.exitValue(), "deploy/submit.sh exit code" + context);

            JsonNode done = new ObjectMapper().readTree(run.resolve("data/_COMPLETE.json").toFile());
            assertEquals("prep", done.path("stage").asText(), context);
            assertEquals(10 * (4 + 2), done.path("rows").asLong(), "every image prepared" + context);
            assertEquals(64, done.path("config_sha256").asText().length());
            String conf = Files.readString(run.resolve("data/_config.conf"));
            assertTrue(conf.contains("workers=2") || conf.contains("workers = 2") || conf.contains("\"workers\" : 2"),
                    "submit.sh's spark.workers reached the config:\n" + conf);
            try (Stream<Path> s = Files.walk(run.resolve("data"))) {
                assertTrue(s.anyMatch(f -> f.toString().endsWith(".parquet")), "Parquet shards written");
            }
            // the executors are separate JVMs that fetched the application jar from the driver
            String executors = cluster.executorLogs();
            assertTrue(executors.contains("robustok-cluster.jar"), "executors loaded the shipped jar:\n" + executors);
        }
    }

    /** The jar of {@code mvn -Pcluster package}, rebuilt under target/cluster when a source is newer. */
    static Path clusterJar(Path tmp) throws IOException, InterruptedException {
        Path jar = ROOT.resolve("spark-jobs/target/cluster/robustok-cluster.jar");
        if (Files.isRegularFile(jar) && newestSource().compareTo(Files.getLastModifiedTime(jar)) < 0) return jar;
        Path log = tmp.resolve("cluster-build.log");
        Process p = new ProcessBuilder("mvn", "-B", "-q", "-f", ROOT.resolve("pom.xml").toString(), "-Pcluster",
                "-pl", "spark-jobs", "-am", "package", "-DskipTests", "-Drobustok.build.directory=target/cluster")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(20, TimeUnit.MINUTES), "cluster jar build took over 20 minutes");
        assertEquals(0, p.exitValue(), "mvn -Pcluster package failed:\n" + Files.readString(log));
        assertTrue(Files.isRegularFile(jar), jar + " built");
        return jar;
    }

    private static FileTime newestSource() throws IOException {
        FileTime newest = FileTime.fromMillis(0);
        for (String m : List.of("core", "data-prep", "model", "eval", "spark-jobs")) {
            for (Path dir : List.of(ROOT.resolve(m).resolve("src/main"), ROOT.resolve(m).resolve("pom.xml"), ROOT.resolve("pom.xml"),
                    ROOT.resolve("conf"))) {
                if (!Files.exists(dir)) continue;
                try (Stream<Path> s = Files.walk(dir)) {
                    for (Path f : s.filter(Files::isRegularFile).toList()) {
                        FileTime t = Files.getLastModifiedTime(f);
                        if (t.compareTo(newest) > 0) newest = t;
                    }
                }
            }
        }
        return newest;
    }

    /** 10 classes, {@code train} + {@code val} 28x28 PNGs each, and the class-name file demo.conf expects. */
    static Path imageFolder(Path root, int train, int val) throws IOException {
        StringBuilder words = new StringBuilder();
        java.util.Random rnd = new java.util.Random(3);
        for (int c = 0; c < 10; c++) {
            String wnid = String.format("n%08d", c);
            words.append(wnid).append(" class").append(c).append('\n');
            for (String split : List.of("train", "val")) {
                Path d = Files.createDirectories(root.resolve(split).resolve(wnid));
                for (int i = 0; i < (split.equals("train") ? train : val); i++) {
                    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
                    for (int y = 0; y < 28; y++) for (int x = 0; x < 28; x++) img.setRGB(x, y, rnd.nextInt(1 << 24));
                    ImageIO.write(img, "png", d.resolve(wnid + "_" + i + ".png").toFile());
                }
            }
        }
        Files.writeString(root.resolve("synset_words.txt"), words.toString());
        return root;
    }
}
