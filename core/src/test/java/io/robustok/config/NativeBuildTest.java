package io.robustok.config;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * An explicit choice wins; without one the oneDNN build is chosen only when its library is on the classpath, and
 * JavaCPP's resident-size check is off.
 */
class NativeBuildTest {
    @Test
    void explicitChoiceWinsAndAbsentBuildIsNotChosen() {
        String saved = System.getProperty(NativeBuild.PROPERTY);
        try {
            System.setProperty(NativeBuild.PROPERTY, "-avx2");
            assertEquals("-avx2", NativeBuild.select());
            System.setProperty(NativeBuild.PROPERTY, "");
            assertEquals("", NativeBuild.select());
            // core's test classpath has no libnd4j at all: nothing is chosen and the property stays unset
            System.clearProperty(NativeBuild.PROPERTY);
            assertEquals("", NativeBuild.select());
            assertNull(System.getProperty(NativeBuild.PROPERTY));
        } finally {
            if (saved == null) System.clearProperty(NativeBuild.PROPERTY);
            else System.setProperty(NativeBuild.PROPERTY, saved);
        }
    }

    @Test
    void residentSizeCheckIsOffUnlessSet() {
        String saved = System.getProperty(NativeBuild.MAX_PHYSICAL_BYTES);
        try {
            System.clearProperty(NativeBuild.MAX_PHYSICAL_BYTES);
            NativeBuild.select();
            assertEquals("0", System.getProperty(NativeBuild.MAX_PHYSICAL_BYTES));
            System.setProperty(NativeBuild.MAX_PHYSICAL_BYTES, "12g");
            NativeBuild.select();
            assertEquals("12g", System.getProperty(NativeBuild.MAX_PHYSICAL_BYTES));
        } finally {
            if (saved == null) System.clearProperty(NativeBuild.MAX_PHYSICAL_BYTES);
            else System.setProperty(NativeBuild.MAX_PHYSICAL_BYTES, saved);
        }
    }
}
