package io.robustok.reliability;

import io.robustok.cli.Main;
import io.robustok.cli.Status;
import io.robustok.spark.StageOutput;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code robustok status} on a run whose driver was killed with SIGKILL inside the tokenizer's training: prep in a
 * JVM of its own (local mode), then train-tokenizer in another, frozen while it writes its second checkpoint and
 * killed there. The tokenizer is partial at its first checkpoint (the half-written one is not counted), every
 * later stage missing, and the exit code says the run is incomplete.
 * <p>Slow group (two driver JVMs; about a minute on 2 cores): .ci/run runs it with the spark-submit test.
 */
@Tag("slow")
class StatusAfterKillTest {
    @TempDir
    Path tmp;

    @Test
    void aDriverKilledMidTokenizerIsPartialAtItsNewestWholeCheckpoint() throws Exception {
        Path folder = tmp.resolve("imagefolder");
        Path words = ImageFolders.write(folder, 8, 2);
        Path run = tmp.resolve("run");
        Path log = tmp.resolve("drivers.log");
        // tiny models; one minibatch per round and a checkpoint every round: 10 rounds an epoch
        // a user's own ImageFolder (no demo-data)
        List<String> settings = List.of("spark.master=\"local[1]\"", "run.out=" + run, "data.fashion-mnist=\"\"",
                "data.imagefolder=" + folder,
                "prep.class-names=" + words, "data.image-size=16", "trainer.averaging-frequency=1", "trainer.checkpoint-every=1",
                "tokenizer.patch=4", "tokenizer.latent-grid=4", "tokenizer.codebook-size=64", "tokenizer.code-dim=8",
                "tokenizer.perturb.delta-max=20", "tokenizer.model.width=32", "tokenizer.model.encoder-depth=1",
                "tokenizer.model.decoder-depth=1", "tokenizer.model.heads=2", "tokenizer.batch-size=8",
                "tokenizer.stage.val-images=8", "tokenizer.trainer.epochs=1", "tokenizer.trainer.ema-decay=0.9");
        try (ChildDriver prep = ChildDriver.start(log, Map.of(), with("prep", settings))) {
            assertEquals(0, prep.waitFor(10), "prep\n" + prep.tail());
        }
        Path marker = tmp.resolve("marker");
        try (ChildDriver tok = ChildDriver.start(log, ChildDriver.pauseAt("checkpoint-write", 2, marker),
                with("train-tokenizer", settings))) {
            assertEquals(tok.pid(), tok.awaitMarker(marker, 10), "the driver froze writing its second checkpoint");
            tok.kill9();
        }
        Path checkpoints = run.resolve("tokenizer.train/checkpoints");
        try (Stream<Path> s = Files.list(checkpoints)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals("round-00000001", names.get(names.size() - 1), names.toString());
            assertTrue(names.stream().anyMatch(n -> n.startsWith("_tmp-round-00000002")), "the killed write is left: " + names);
        }
        assertFalse(StageOutput.isComplete(run.resolve("tokenizer").toString()));

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = Main.run(with("status", settings).toArray(new String[0]), new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(Status.INCOMPLETE, rc, text);
        assertTrue(line(text, "demo-data").contains(" not used "), text);
        assertTrue(line(text, "prep").contains(" complete "), text);
        String tokenizer = line(text, "train-tokenizer");
        assertTrue(tokenizer.contains(" partial ") && tokenizer.contains("round-00000001") && tokenizer.contains("step 1,")
                && tokenizer.contains("rerun resumes there"), text);
        for (String st : List.of("tokenize", "train-generator", "pair-tokens", "post-train", "train-features", "eval")) {
            assertTrue(line(text, st).contains(" missing "), text);
        }
    }

    static List<String> with(String command, List<String> settings) {
        List<String> a = new ArrayList<>(List.of(command));
        a.addAll(settings);
        return a;
    }

    static String line(String text, String stage) {
        return text.lines().filter(l -> l.startsWith(stage + " ")).findFirst().orElse("(no line for " + stage + ")");
    }
}
