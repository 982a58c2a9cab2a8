package io.robustok.eval;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * eval's own classpath carries the oneDNN build of libnd4j, and this JVM (surefire asks for it as bin/robustok does)
 * loads it: without it Inception-v3's convolutions ran on the plain build, ~20x slower (BENCHMARKS.md).
 */
class NativeBuildSelectionTest {
    @Test
    void evalLoadsTheOneDnnBuildOfLibnd4j() {
        assertNotNull(getClass().getClassLoader().getResource(
                "org/nd4j/linalg/cpu/nativecpu/bindings/linux-x86_64-onednn/libjnind4jcpu.so"),
                "the linux-x86_64-onednn classifier of nd4j-native is missing from eval's dependencies");
        Nd4j.create(1);
        Map<String, String> loaded = org.bytedeco.javacpp.Loader.getLoadedLibraries();
        assertTrue(loaded.values().stream().anyMatch(p -> p != null && p.contains("linux-x86_64-onednn") && p.contains("nd4jcpu")),
                "loaded native libraries: " + loaded);
    }
}
