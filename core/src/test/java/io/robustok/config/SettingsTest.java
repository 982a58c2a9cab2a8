package io.robustok.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SettingsTest {

    @Test
    void misspelledOverrideNamesTheKeyAndTheClosestValidOne() {
        ConfigError e = assertThrows(ConfigError.class,
                () -> Settings.load(null, List.of("trainer.averaging-frequncy=3")));
        assertTrue(e.getMessage().contains("'trainer.averaging-frequncy'"), e.getMessage());
        assertTrue(e.getMessage().contains("did you mean 'trainer.averaging-frequency'"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
    }

    @Test
    void misspelledKeyInAnExperimentFileIsRefused(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("exp.conf");
        Files.writeString(f, "run { nmae = x }\n");
        ConfigError e = assertThrows(ConfigError.class, () -> Settings.load(f.toFile(), List.of()));
        assertTrue(e.getMessage().contains("'run.nmae'") && e.getMessage().contains("'run.name'"), e.getMessage());
    }

    @Test
    void overridesWinOverTheFileWhichWinsOverDefaults(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("exp.conf");
        Files.writeString(f, "trainer { averaging-frequency = 7, keep-checkpoints = 4 }\nrun.out = \"/tmp/x\"\n");
        Settings s = Settings.load(f.toFile(), List.of("trainer.averaging-frequency=9", "run.out=hdfs://nn:8020/a/b"));
        assertEquals(9, s.config().getInt("trainer.averaging-frequency"));
        assertEquals(4, s.config().getInt("trainer.keep-checkpoints"));
        assertEquals("hdfs://nn:8020/a/b", s.config().getString("run.out"));
        // substitutions see the final value
        assertEquals("hdfs://nn:8020/a/b/data", s.config().getString("data.parquet"));
        assertTrue(s.differencesFromDefaults().contains("trainer.averaging-frequency=9"), s.differencesFromDefaults().toString());
    }

    @Test
    void openSectionsAcceptAnyKey() {
        Settings s = Settings.load(null, List.of("spark.conf.\"spark.executor.memory\"=8g"));
        assertEquals("8g", s.config().getConfig("spark.conf").getString("\"spark.executor.memory\""));
    }

    @Test
    void stageSectionsOverlayTrainerKeysButNotUnknownOnes() {
        Settings s = Settings.load(null, List.of("tokenizer.trainer.epochs=3"));
        assertEquals(3, s.config().getInt("tokenizer.trainer.epochs"));
        ConfigError e = assertThrows(ConfigError.class, () -> Settings.load(null, List.of("tokenizer.trainer.epohcs=3")));
        assertTrue(e.getMessage().contains("'tokenizer.trainer.epohcs'"), e.getMessage());
    }

    @Test
    void hashIsStableAndTracksValues() {
        String a = Settings.load(null, List.of("run.seed=1")).hash();
        assertEquals(a, Settings.load(null, List.of("run.seed=1")).hash());
        assertNotEquals(a, Settings.load(null, List.of("run.seed=2")).hash());
        assertEquals(64, a.length());
    }

    @Test
    void shippedConfigsLoad() {
        for (String name : List.of("demo.conf", "imagenet256.conf")) {
            File f = new File("../conf/" + name);
            Settings s = Settings.load(f, List.of());
            assertNotNull(s.config().getString("run.name"));
        }
        assertEquals(256, Settings.load(new File("../conf/imagenet256.conf"), List.of()).config().getInt("data.image-size"));
    }

    @Test
    void missingFileAndMalformedOverrideAreOneLineErrors() {
        ConfigError e = assertThrows(ConfigError.class, () -> Settings.load(new File("/nonexistent/x.conf"), List.of()));
        assertTrue(e.getMessage().contains("/nonexistent/x.conf"));
        ConfigError e2 = assertThrows(ConfigError.class, () -> Settings.load(null, List.of("justaword")));
        assertTrue(e2.getMessage().contains("key=value"));
    }

    @Test
    void withAddsOverridesAndChecksThem() {
        Settings s = Settings.load(null, List.of()).with(List.of("run.seed=5"));
        assertEquals(5, s.config().getInt("run.seed"));
        assertThrows(ConfigError.class, () -> s.with(List.of("run.sead=5")));
        Settings moved = s.with(List.of("run.out=/elsewhere"));
        assertEquals("/elsewhere/data", moved.config().getString("data.parquet"), "substitutions follow");
        assertEquals(5, moved.config().getInt("run.seed"), "earlier overrides kept");
    }

    @Test
    void credentialsInSparkConfAreRedactedFromTheRenderedConfigTheOverridesAndTheHash() {
        List<String> base = List.of("spark.conf.\"spark.hadoop.fs.s3a.access.key\"=AKIAEXAMPLEKEY",
                "spark.conf.\"spark.hadoop.fs.s3a.session.token\"=tok-123-secret", "spark.conf.\"spark.executor.memory\"=4g");
        Settings s = Settings.load(null, new java.util.ArrayList<>(java.util.stream.Stream.concat(base.stream(),
                java.util.stream.Stream.of("spark.conf.\"spark.hadoop.fs.s3a.secret.key\"=wJalrSECRETvalue")).toList()));
        // the values are still there for Spark to use
        assertEquals("wJalrSECRETvalue", s.at("spark.conf").getString("\"spark.hadoop.fs.s3a.secret.key\""));
        String text = s.render() + String.join("\n", s.differencesFromDefaults());
        for (String secret : List.of("AKIAEXAMPLEKEY", "tok-123-secret", "wJalrSECRETvalue")) {
            assertFalse(text.contains(secret), secret + " leaked:\n" + text);
        }
        assertTrue(text.contains(Settings.REDACTED) && text.contains("4g"), "redacted keys are marked, others kept:\n" + text);
        // keys of our own sections are never taken for credentials (tokenizer.* contains "token")
        assertTrue(s.render().contains("codebook-size"), "tokenizer section kept");
        // rotating a credential is not another run
        Settings other = Settings.load(null, new java.util.ArrayList<>(java.util.stream.Stream.concat(base.stream(),
                java.util.stream.Stream.of("spark.conf.\"spark.hadoop.fs.s3a.secret.key\"=anotherSECRET")).toList()));
        assertEquals(s.hash(), other.hash());
        // a redacted _config.conf loads again (later stages rebuild a model from it)
        Settings back = Settings.load(writeTemp(s.render()), List.of());
        assertEquals(Settings.REDACTED, back.at("spark.conf").getString("\"spark.hadoop.fs.s3a.secret.key\""));
    }

    private static File writeTemp(String text) {
        try {
            Path f = Files.createTempFile("redacted", ".conf");
            Files.writeString(f, text);
            f.toFile().deleteOnExit();
            return f.toFile();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
