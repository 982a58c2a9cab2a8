package io.robustok.cli;

import io.robustok.config.Settings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Verdicts of {@code robustok status} on run directories laid out as the stages leave them (committed outputs with
 * their config, a training stopped after a checkpoint, an output left uncommitted); the end-to-end test checks
 * the same on a real pipeline run.
 */
class StatusTest {
    static final File DEMO = new File("../conf/demo.conf");

    static List<String> base(Path run) {
        return new ArrayList<>(List.of("run.out=" + run, "data.fashion-mnist=\"\""));
    }

    /** A committed output of {@code stage} at {@code dir}, written with {@code settings}, finished at {@code when}. */
    static void commit(Path dir, String stage, Settings settings, String when, String extra) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("_config.conf"), settings.render());
        Files.writeString(dir.resolve("_COMPLETE.json"), "{\"stage\":\"" + stage + "\",\"config_sha256\":\"" + settings.hash()
                + "\",\"revision\":\"r1\",\"finished\":\"" + when + "\",\"wall_s\":12.5" + extra + "}");
    }

    static Settings settings(Path run, String... extra) {
        List<String> o = base(run);
        o.addAll(List.of(extra));
        return Settings.load(DEMO, o);
    }

    static String status(Settings s, int expectedRc) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = Status.print(s, new PrintStream(out, true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(expectedRc, rc, text);
        return text;
    }

    static String line(String text, String stage) {
        return text.lines().filter(l -> l.startsWith(stage + " ")).findFirst().orElse("(none for " + stage + ")");
    }

    static void finishedRun(Path run, Settings s) throws Exception {
        commit(run.resolve("data"), "prep", s, "2026-11-30T01:00:00Z", ",\"rows\":60,\"rejects\":0");
        commit(run.resolve("tokenizer"), "train-tokenizer", s, "2026-11-30T01:10:00Z",
                ",\"global_step\":40,\"final_val\":{\"val_psnr\":16.25,\"val_usage\":0.184}");
        commit(run.resolve("tokens"), "tokenize", s, "2026-11-30T01:11:00Z", ",\"rows\":{\"train\":40,\"val\":20}");
        commit(run.resolve("generator"), "train-generator", s, "2026-11-30T01:20:00Z",
                ",\"global_step\":6,\"final_val_loss\":1.6,\"unigram_entropy\":4.38");
        commit(run.resolve("pairs"), "pair-tokens", s, "2026-11-30T01:21:00Z", ",\"sigma\":0.7,\"stats\":{\"pairs\":40,\"kept_fraction\":0.7}");
        commit(run.resolve("posttrain"), "post-train", s, "2026-11-30T01:25:00Z", ",\"global_step\":5,\"final_val\":{\"val_psnr\":16.5}");
        commit(run.resolve("features"), "train-features", s, "2026-11-30T01:05:00Z", ",\"test_accuracy\":0.9");
        commit(run.resolve("eval"), "eval", s, "2026-11-30T01:30:00Z", "");
        Files.writeString(run.resolve("eval/summary.json"), "{\"rfid\":54.27,\"gfid\":{\"2.0\":{\"gfid\":54.46,\"is\":4.58}}}");
    }

    @Test
    void finishedChangedAndHalfFinishedRuns(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        Settings s = settings(run);
        finishedRun(run, s);
        String done = status(s, 0);
        for (String st : List.of("prep", "train-tokenizer", "tokenize", "train-generator", "pair-tokens", "post-train",
                "train-features", "eval")) {
            assertTrue(line(done, st).contains(" complete "), done);
        }
        assertTrue(line(done, "demo-data").contains(" not used "), done);
        assertTrue(line(done, "train-tokenizer").contains("val PSNR 16.25 dB, codebook usage 18.4%") && line(done, "train-tokenizer").contains("wall 12.5 s"), done);
        assertTrue(line(done, "eval").contains("rFID 54.27, gFID@g2.0 54.46 (IS 4.58)"), done);

        // a changed key: the stage whose config holds it and every stage downstream of it are stale
        String changed = status(settings(run, "generator.model.depth=3"), Status.INCOMPLETE);
        assertTrue(line(changed, "train-generator").contains(" stale ") && line(changed, "train-generator").contains("generator.model.depth = 3 (was"), changed);
        for (String st : List.of("pair-tokens", "post-train", "eval")) {
            assertTrue(line(changed, st).contains(" stale ") && line(changed, st).contains("input train-generator is stale")
                    || line(changed, st).contains("is stale"), changed);
        }
        for (String st : List.of("prep", "train-tokenizer", "tokenize", "train-features")) assertTrue(line(changed, st).contains(" complete "), changed);

        // an input rewritten after its reader: the reader is stale
        commit(run.resolve("tokens"), "tokenize", s, "2026-11-30T02:00:00Z", ",\"rows\":{}");
        String rewritten = status(s, Status.INCOMPLETE);
        assertTrue(line(rewritten, "train-generator").contains("input tokenize was rewritten after it"), rewritten);
    }

    @Test
    void trainingStoppedAfterACheckpointIsPartialAndAnUncommittedOutputToo(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        Settings s = settings(run);
        commit(run.resolve("data"), "prep", s, "2026-11-30T01:00:00Z", ",\"rows\":60,\"rejects\":0");
        for (String round : List.of("round-00000002", "round-00000004")) {
            Path ck = Files.createDirectories(run.resolve("tokenizer.train/checkpoints").resolve(round));
            int r = Integer.parseInt(round.substring(6));
            Files.writeString(ck.resolve("state.json"), "{\"progress\":{\"epoch\":0,\"roundInEpoch\":" + r + ",\"round\":" + r
                    + ",\"step\":" + 5 * r + ",\"samples\":" + 40 * r + ",\"badRounds\":0}}");
        }
        // a checkpoint being written when the process died has no state.json yet
        Files.createDirectories(run.resolve("tokenizer.train/checkpoints/round-00000006"));
        Files.createDirectories(run.resolve("tokens._tmp-1234abcd"));
        String text = status(s, Status.INCOMPLETE);
        assertTrue(line(text, "prep").contains(" complete "), text);
        assertTrue(line(text, "train-tokenizer").contains(" partial ") && line(text, "train-tokenizer").contains("round-00000004")
                && line(text, "train-tokenizer").contains("step 20, 160 samples"), text);
        assertTrue(line(text, "tokenize").contains(" partial ") && line(text, "tokenize").contains("uncommitted"), text);
        for (String st : List.of("train-generator", "pair-tokens", "post-train", "train-features", "eval")) {
            assertTrue(line(text, st).contains(" missing "), text);
        }
    }
}
