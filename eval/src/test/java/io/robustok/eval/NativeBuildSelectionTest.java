package io.robustok.eval;

import io.robustok.config.NativeBuild;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The eval module's classpath carries (Inception-v3's convolutions are ~20x faster in it, BENCHMARKS.md) the oneDNN build of libnd4j; it is found, chosen and loaded. */
class NativeBuildSelectionTest {
    @Test
    void oneDnnBuildIsOnTheClasspathAndLoaded() {
        String saved = System.getProperty(NativeBuild.PROPERTY);
        try {
            System.clearProperty(NativeBuild.PROPERTY);
            assertEquals(NativeBuild.ONEDNN, NativeBuild.select());
            assertEquals(NativeBuild.ONEDNN, System.getProperty(NativeBuild.PROPERTY));
        } finally {
            if (saved == null) System.clearProperty(NativeBuild.PROPERTY);
            else System.setProperty(NativeBuild.PROPERTY, saved);
        }
        // and it is what this JVM loaded (surefire passes the same choice before ND4J starts)
        Nd4j.create(1);
        java.util.Map<String, String> libs = org.bytedeco.javacpp.Loader.getLoadedLibraries();
        assertTrue(libs.values().stream().anyMatch(p -> p != null && p.contains("linux-x86_64-onednn") && p.contains("nd4jcpu")),
                "loaded native libraries: " + libs);
    }
}
