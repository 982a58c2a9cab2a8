package io.robustok.config;

/**
 * Chooses which of the libnd4j builds on the classpath ND4J loads: the oneDNN build of nd4j-native (classifier
 * {@code linux-x86_64-onednn}, which the default Maven build packages next to the plain one) when it is there.
 * JavaCPP takes the choice from the system property {@value #PROPERTY} when ND4J first loads its native library,
 * so this must run before anything touches ND4J; an explicit {@code -D} setting wins (an empty value selects the
 * plain build). The Spark session passes the same choice to executors.
 *
 * <p>Why: on CPU the oneDNN build runs the discriminator's convolutions and their gradients without libnd4j's
 * generic im2col + copy loops; a demo tokenizer GAN step took 0.36 s instead of 1.18 s and a step without the GAN
 * 0.18 s instead of 0.23 s (BENCHMARKS.md, "Per-core speed against PyTorch").
 */
public final class NativeBuild {
    public static final String PROPERTY = "org.bytedeco.javacpp.platform.extension";
    public static final String ONEDNN = "-onednn";
    static final String ONEDNN_LIBRARY = "org/nd4j/linalg/cpu/nativecpu/bindings/linux-x86_64-onednn/libjnind4jcpu.so";

    private NativeBuild() {
    }

    /**
     * JavaCPP's limit on the process's resident size. When it is above 0, every native allocation that JavaCPP
     * tracks reads /proc/self/statm to compare against it, and a training step makes thousands of small ones (shape
     * descriptors, op arguments: about 4,000 per demo tokenizer step), about a fifth of the step's CPU time under
     * load. 0 (off) unless set with {@code -D}; the large arrays are libnd4j's own and never counted there anyway.
     */
    public static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxphysicalbytes";

    /**
     * Selects the oneDNN build if it is on the classpath and nothing was chosen, turns JavaCPP's resident-size check
     * off unless it was set ({@link #MAX_PHYSICAL_BYTES}) and starts {@link ResidentSizeWatch} in its place; returns
     * the extension in effect.
     */
    public static synchronized String select() {
        if (System.getProperty(MAX_PHYSICAL_BYTES) == null) System.setProperty(MAX_PHYSICAL_BYTES, "0");
        ResidentSizeWatch.start(); // the guard that replaces JavaCPP's per-allocation one
        String chosen = System.getProperty(PROPERTY);
        if (chosen != null) return chosen;
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        if (cl == null) cl = NativeBuild.class.getClassLoader();
        if (cl.getResource(ONEDNN_LIBRARY) == null) return "";
        System.setProperty(PROPERTY, ONEDNN);
        return ONEDNN;
    }
}
