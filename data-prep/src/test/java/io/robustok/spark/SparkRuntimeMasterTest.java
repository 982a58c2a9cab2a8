package io.robustok.spark;

import io.robustok.config.ConfigError;
import io.robustok.config.Settings;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A cluster master that needs spark-submit is one line that says how to run, not Spark's stack trace. */
class SparkRuntimeMasterTest {
    @Test
    void paperConfigWithoutAClusterSaysHowToRunIt() {
        // conf/imagenet256.conf as a user runs it on a laptop: spark.master = yarn, no YARN on the classpath
        Settings paper = Settings.load(new File("../conf/imagenet256.conf"), List.of());
        ConfigError e = assertThrows(ConfigError.class, () -> SparkRuntime.session(paper));
        assertTrue(e.getMessage().contains("deploy/submit.sh") && e.getMessage().contains("spark.master=\"local[*]\""), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");

        ConfigError k8s = assertThrows(ConfigError.class, () -> SparkRuntime.checkMaster("k8s://https://10.0.0.1:6443"));
        assertTrue(k8s.getMessage().contains("k8s://https://10.0.0.1:6443"), k8s.getMessage());
        assertDoesNotThrow(() -> SparkRuntime.checkMaster("local[2]"));
        assertDoesNotThrow(() -> SparkRuntime.checkMaster("spark://127.0.0.1:7077"));
    }
}
