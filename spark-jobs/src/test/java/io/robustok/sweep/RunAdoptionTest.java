package io.robustok.sweep;

import io.robustok.config.Settings;
import io.robustok.spark.StageOutput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Taking an ordinary run's committed outputs into the store (sweep.adopt) only when they are what the entry holds. */
class RunAdoptionTest {
    static final StageGraph.Node PREP = StageGraph.node("prep"), TOKENIZER = StageGraph.node("train-tokenizer");

    @TempDir
    Path tmp;

    /** A committed output of an ordinary run at {@code run}, computed with {@code overrides}. */
    static void commit(Path run, StageGraph.Node n, String... overrides) throws Exception {
        List<String> o = new java.util.ArrayList<>(List.of("run.out=" + run));
        o.addAll(List.of(overrides));
        Path dir = run.resolve(n.output());
        Files.createDirectories(dir.resolve("part"));
        Files.writeString(dir.resolve("part/weights.bin"), n.stage() + " weights");
        Files.writeString(dir.resolve(StageOutput.CONFIG), Settings.load(null, o).render());
        Files.writeString(dir.resolve(StageOutput.COMPLETE), "{\"stage\":\"" + n.stage() + "\",\"wall_s\":12.5}");
    }

    /** The identities a sweep variant has: another run.out, a store. */
    Map<String, String> variant(String... overrides) {
        List<String> o = new java.util.ArrayList<>(List.of("run.out=" + tmp.resolve("variant"), "run.store=" + tmp.resolve("store")));
        o.addAll(List.of(overrides));
        return StageGraph.identities(Settings.load(null, o));
    }

    @Test
    void anOutputQualifiesWhenItAndEveryInputItReadCarryTheIdentity() throws Exception {
        Path run = tmp.resolve("demo");
        commit(run, PREP);
        commit(run, TOKENIZER);
        List<String> runs = List.of(run.toString());
        assertEquals(run + "/tokenizer", RunAdoption.find(TOKENIZER, variant(), runs));
        assertEquals(run + "/data", RunAdoption.find(PREP, variant(), runs));
        // a variant that differs in a key the tokenizer reads: not this output; prep is still the same
        assertNull(RunAdoption.find(TOKENIZER, variant("tokenizer.perturb.alpha-max=0.5"), runs));
        assertEquals(run + "/data", RunAdoption.find(PREP, variant("tokenizer.perturb.alpha-max=0.5"), runs));
        // not committed yet (tokens): nothing to take
        assertNull(RunAdoption.find(StageGraph.node("tokenize"), variant(), runs));
    }

    @Test
    void aRunWithARelativeRunOutIsFoundFromAnyDirectory() throws Exception {
        // bin/demo's run.out is "work/demo", relative to where it ran: its paths are taken from that directory
        Path run = tmp.resolve("clone/work/demo");
        commit(run, PREP, "run.out=work/demo");
        commit(run, TOKENIZER, "run.out=work/demo");
        assertEquals(run + "/tokenizer", RunAdoption.find(TOKENIZER, variant(), List.of(run.toString())));
        assertEquals("file:" + tmp.resolve("clone"), RunAdoption.base("work/demo", run.toString()));
        assertNull(RunAdoption.base("work/other", run.toString()));
        assertNull(RunAdoption.base(tmp.resolve("elsewhere").toString(), run.toString()));
        assertEquals("", RunAdoption.base(run.toString(), run.toString()));
    }

    @Test
    void anOutputWhoseInputWasRedoneWithOtherSettingsDoesNotQualify() throws Exception {
        Path run = tmp.resolve("demo");
        commit(run, PREP, "prep.jpeg-quality=90"); // prep redone with another setting after the tokenizer ran
        commit(run, TOKENIZER);
        assertNull(RunAdoption.find(TOKENIZER, variant(), List.of(run.toString())));
        assertEquals(run + "/data", RunAdoption.find(PREP, variant("prep.jpeg-quality=90"), List.of(run.toString())));

        // a tokenizer that read its data from somewhere else (data.parquet outside the run) does not qualify either
        Path other = tmp.resolve("other");
        commit(other, PREP);
        commit(other, TOKENIZER, "data.parquet=" + tmp.resolve("elsewhere/data"));
        assertNull(RunAdoption.find(TOKENIZER, variant(), List.of(other.toString())));
    }

    @Test
    void takingAnOutputLinksItsFilesIntoTheEntryAndLeavesTheRunAlone() throws Exception {
        Path run = tmp.resolve("demo");
        commit(run, PREP);
        commit(run, TOKENIZER);
        Map<String, String> ids = variant();
        StageStore store = new StageStore(tmp.resolve("store").toString(), 60_000);
        String from = RunAdoption.find(TOKENIZER, ids, List.of(run.toString()));
        StageStore.Result r = store.computeOnce(TOKENIZER, ids.get("train-tokenizer"), "", Map.of(), from, () -> {
            throw new AssertionError("computed although the run has it");
        });
        assertEquals(StageStore.Outcome.ADOPTED, r.outcome());
        assertTrue(store.isComplete(TOKENIZER, ids.get("train-tokenizer")));
        Path entry = Path.of(store.location(TOKENIZER, ids.get("train-tokenizer")));
        assertTrue(Files.isSameFile(run.resolve("tokenizer/part/weights.bin"), entry.resolve("part/weights.bin")), "hard link");
        assertTrue(Files.isRegularFile(run.resolve("tokenizer/_COMPLETE.json")) && !Files.isSymbolicLink(run.resolve("tokenizer")),
                "the run keeps its own output");
        Map<String, Object> meta = store.meta(TOKENIZER, ids.get("train-tokenizer"));
        assertEquals(StageOutput.qualify(run + "/tokenizer"), meta.get("adopted_from"));
        assertEquals(12.5, ((Number) meta.get("seconds")).doubleValue(), 1e-9, "the seconds it took to compute");
        try (var left = Files.list(tmp.resolve("store"))) {
            assertFalse(left.anyMatch(p -> p.getFileName().toString().contains("._adopt-")), "no temporary left");
        }
        // found complete next time
        assertEquals(StageStore.Outcome.CACHED, store.computeOnce(TOKENIZER, ids.get("train-tokenizer"), "", Map.of(), from, () -> {
            throw new AssertionError("computed again");
        }).outcome());
    }
}
