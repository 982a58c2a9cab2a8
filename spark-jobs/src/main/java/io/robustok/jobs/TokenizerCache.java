package io.robustok.jobs;

import io.robustok.tokenizer.Tokenizer;
import io.robustok.tokenizer.TokenizerConfig;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One loaded tokenizer per executor JVM and thread: Spark tasks that encode or decode share it instead of
 * reading the weights and building graphs per partition. Keyed by artifact directory and thread, since a
 * {@link Tokenizer} is not thread-safe.
 */
public final class TokenizerCache {
    private static final Map<String, Tokenizer> CACHE = new ConcurrentHashMap<>();

    private TokenizerCache() {
    }

    /**
     * Drops every cached model (their native arrays go with the next collection). A sweep clears the cache after each
     * variant: in one JVM the tokenizers of every variant, snapshot and post-training piled up (a study's JVM reached
     * 24 GB resident and was killed in its fourth variant).
     */
    public static void clear() {
        CACHE.clear();
    }

    public static Tokenizer get(String dir, int maxDelta) {
        String key = dir + "|" + maxDelta + "|" + Thread.currentThread().getId();
        return CACHE.computeIfAbsent(key, k -> {
            ModelArtifact a = ModelArtifact.load(dir, "train-tokenizer");
            TokenizerConfig cfg = TokenizerConfig.from(a.settings().at("tokenizer"));
            try {
                return new Tokenizer(cfg, a.weights(), maxDelta, 64);
            } catch (IllegalArgumentException e) {
                throw new io.robustok.cli.UserError(dir + "/" + ModelArtifact.WEIGHTS + " does not fit the tokenizer its "
                        + "_config.conf describes (" + e.getMessage() + "): rerun 'robustok train-tokenizer --force'", e);
            }
        });
    }
}
