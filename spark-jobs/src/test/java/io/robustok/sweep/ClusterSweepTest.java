package io.robustok.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.robustok.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * sweep.mode = cluster through Spark's launcher: SPARK_HOME here is a minimal installation whose bin/spark-submit
 * runs the real org.apache.spark.deploy.SparkSubmit on this build's classpath, so each variant is a separate Spark
 * application (its own JVM, master local[1]). Both variants point at a missing image folder: each application starts,
 * runs the pipeline, fails at prep; the sweep records each failure from the variant's own run record, with its log.
 */
class ClusterSweepTest {
    @TempDir
    Path tmp;

    @Test
    void eachVariantIsItsOwnApplicationWithItsOwnLogAndItsFailureRecorded() throws Exception {
        Path home = tmp.resolve("spark-home");
        Files.createDirectories(home.resolve("bin"));
        List<String> jvm = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-opens") || a.startsWith("--add-modules") || a.startsWith("-Djdk.") || a.startsWith("-Dio.netty")) jvm.add(a);
        }
        Path submit = home.resolve("bin/spark-submit");
        Files.writeString(submit, "#!/bin/sh\nexec '" + Path.of(System.getProperty("java.home"), "bin", "java") + "' "
                + String.join(" ", jvm) + " -Xmx1g -cp '" + System.getProperty("java.class.path")
                + "' org.apache.spark.deploy.SparkSubmit \"$@\"\n");
        Files.setPosixFilePermissions(submit, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path jar = tmp.resolve("app.jar");
        new JarOutputStream(Files.newOutputStream(jar)).close();
        Path sweepFile = tmp.resolve("c.conf");
        Files.writeString(sweepFile, "name = c\ngrid { generator.class-dropout = [0.1, 0.2] }\n");

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(new String[]{"sweep", "--sweep", sweepFile.toString(), "sweep.mode=cluster", "sweep.parallel=2",
                "sweep.spark-home=" + home, "sweep.app-jar=" + jar, "sweep.out=" + tmp.resolve("sweeps"),
                "sweep.store=" + tmp.resolve("store"), "spark.master=local[1]", "data.fashion-mnist=\"\"",
                "data.imagefolder=" + tmp.resolve("missing")}, System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        String msg = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, rc, msg);
        assertTrue(msg.contains("2 of 2 variants failed") && msg.contains("class-dropout-0.1 (failed at prep"), msg);

        JsonNode sweep = new ObjectMapper().readTree(tmp.resolve("sweeps/c/sweep.json").toFile());
        for (JsonNode v : sweep.path("variants")) {
            assertEquals("failed", v.path("status").asText(), v.toString());
            assertEquals("prep", v.path("stage").asText(), v.toString());
            assertTrue(v.path("reason").asText().contains(tmp.resolve("missing").toString()), v.toString());
            String log = Files.readString(Path.of(v.path("log").asText()));
            // the application's own output: its pipeline's lines and the one-line error it exited with
            assertTrue(log.contains("pipeline: stage prep") && log.contains("robustok pipeline: input path"), log);
        }
        // the run record each application left
        JsonNode st = new ObjectMapper().readTree(tmp.resolve("sweeps/c/runs/class-dropout-0.2/_stages.json").toFile());
        assertEquals("ran", st.path("demo-data").path("status").asText());
        assertEquals("failed", st.path("prep").path("status").asText());
    }
}
