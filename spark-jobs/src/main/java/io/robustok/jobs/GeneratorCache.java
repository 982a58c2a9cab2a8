package io.robustok.jobs;

import io.robustok.generator.GeneratorConfig;
import io.robustok.generator.GeneratorTask;
import io.robustok.generator.RarConfig;
import io.robustok.generator.RarSampler;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One KV-cache sampler of the committed (EMA) generator per executor JVM, thread and generator output: Spark tasks
 * that sample share it instead of reading the weights per partition ({@link RarSampler} is not thread-safe).
 */
public final class GeneratorCache {
    private static final Map<String, RarSampler> CACHE = new ConcurrentHashMap<>();

    private GeneratorCache() {
    }

    /**
     * Drops every cached model (their native arrays go with the next collection). A sweep clears the cache after each
     * variant: in one JVM the generators of every variant, snapshot and post-training piled up (a study's JVM reached
     * 24 GB resident and was killed in its fourth variant).
     */
    public static void clear() {
        CACHE.clear();
    }

    public static RarSampler get(String genDir) {
        return CACHE.computeIfAbsent(genDir + "|" + Thread.currentThread().getId(), k -> {
            ModelArtifact a = ModelArtifact.load(genDir, "train-generator");
            RarConfig rc = GeneratorConfig.from(a.settings().config()).model();
            Map<String, INDArray> p = new HashMap<>();
            for (var e : a.weights().entrySet()) {
                String name = e.getKey().startsWith(GeneratorTask.PREFIX) ? e.getKey().substring(GeneratorTask.PREFIX.length()) : e.getKey();
                p.put(name, e.getValue());
            }
            return new RarSampler(rc, p);
        });
    }
}
