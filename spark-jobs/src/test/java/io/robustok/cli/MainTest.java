package io.robustok.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class MainTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void misspelledKeyExitsNonZeroWithOneLineAndWritesNothing(@TempDir Path tmp) {
        Path runOut = tmp.resolve("run");
        int rc = run("report", "--conf", "../conf/demo.conf", "run.out=" + runOut, "trainer.averaging-frequncy=3");
        assertEquals(1, rc);
        String e = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(1, e.lines().count(), e);
        assertTrue(e.contains("'trainer.averaging-frequncy'") && e.contains("'trainer.averaging-frequency'"), e);
        assertFalse(Files.exists(runOut), "nothing written");
    }

    @Test
    void helpListsStagesAndUnknownStageSuggests() {
        assertEquals(0, run("--help"));
        String o = out.toString(StandardCharsets.UTF_8);
        for (Stage s : Stages.all()) assertTrue(o.contains(s.name()), s.name());
        assertEquals(2, run("reprot"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("did you mean 'report'"));
    }

    @Test
    void paperConfigStopsAtStartNamingAMissingWeightFile(@TempDir Path tmp) {
        for (String stage : new String[]{"train-tokenizer", "pipeline"}) {
            err.reset();
            Path runOut = tmp.resolve(stage);
            assertEquals(1, run(stage, "--conf", "../conf/imagenet256.conf", "run.out=" + runOut));
            String e = err.toString(StandardCharsets.UTF_8).strip();
            assertEquals(1, e.lines().count(), e);
            assertTrue(e.contains("tokenizer.weights.lpips: file assets/lpips-vgg16.safetensors does not exist"), e);
            assertFalse(Files.exists(runOut.resolve("data")), "pipeline stopped before prep");
        }
    }

    @Test
    void missingConfigFileIsOneLine() {
        assertEquals(1, run("report", "--conf", "nope/missing.conf"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("nope/missing.conf"));
    }
}
