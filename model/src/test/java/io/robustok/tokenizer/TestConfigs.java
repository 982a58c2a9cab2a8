package io.robustok.tokenizer;

import io.robustok.config.Settings;

/** Small configurations built from defaults.conf so the tests follow the shipped keys. */
final class TestConfigs {
    private TestConfigs() {
    }

    static TokenizerConfig defaults() {
        return TokenizerConfig.from(Settings.defaults().at("tokenizer"));
    }

    /** 16x16 images, patch 4 (16 tokens), width 32, 1+1 blocks, 64 codes of dim 8. */
    static TokenizerConfig tiny(int batch) {
        return defaults().withSizes(16, 4, 4, 64, 8, 32, 1, 1, 2, batch);
    }
}
