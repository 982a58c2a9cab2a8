package io.robustok.sweep;

import com.typesafe.config.ConfigFactory;
import io.robustok.config.ConfigError;
import io.robustok.config.Settings;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SweepFileTest {
    static SweepFile parse(String hocon) {
        return SweepFile.parse(ConfigFactory.parseString(hocon).resolve(), "test-sweep", "t.conf");
    }

    static String error(String hocon) {
        return assertThrows(ConfigError.class, () -> parse(hocon)).getMessage();
    }

    @Test
    void gridIsTheCartesianProductWithReadableNamesPlusNamedSets() {
        SweepFile f = parse("""
                base { generator.trainer.max-steps = 10 }
                grid { tokenizer.perturb.alpha-max = [0.5, 1.0], tokenizer.perturb.end-ratio = [0.5, 1] }
                variants = [ { name = off, overrides { tokenizer.perturb.enabled = false } }, { overrides { run.seed = 3 } } ]
                """);
        assertEquals("test-sweep", f.name());
        assertEquals(List.of("alpha-max-0.5_end-ratio-0.5", "alpha-max-0.5_end-ratio-1", "alpha-max-1_end-ratio-0.5",
                "alpha-max-1_end-ratio-1", "off", "seed-3"), f.variants().stream().map(SweepFile.Variant::name).toList());
        assertEquals(List.of("run.seed", "tokenizer.perturb.alpha-max", "tokenizer.perturb.enabled", "tokenizer.perturb.end-ratio"), f.swept());
        assertEquals(Map.of("generator.trainer.max-steps", 10), Map.of("generator.trainer.max-steps",
                f.base().get("generator.trainer.max-steps").unwrapped()));
        assertEquals(List.of("tokenizer.perturb.alpha-max=0.5", "tokenizer.perturb.end-ratio=1"), f.variants().get(1).overrideStrings());
    }

    @Test
    void keysThatShareTheirLastSegmentAreNamedByMore() {
        SweepFile f = parse("grid { tokenizer.trainer.averaging-frequency = [1], generator.trainer.averaging-frequency = [2, 4] }");
        assertEquals(List.of("generator.trainer.averaging-frequency-2_tokenizer.trainer.averaging-frequency-1",
                "generator.trainer.averaging-frequency-4_tokenizer.trainer.averaging-frequency-1"),
                f.variants().stream().map(SweepFile.Variant::name).toList());
    }

    @Test
    void unknownKeysAreNamedWithTheClosestValidKey() {
        String m = error("grid { tokenizer.perturb.alpha-mx = [0.5] }");
        assertTrue(m.contains("'tokenizer.perturb.alpha-mx'") && m.contains("did you mean 'tokenizer.perturb.alpha-max'"), m);
        assertTrue(m.startsWith("sweep file t.conf"), m);
        m = error("base { trainer.averaging-frequncy = 2 }\ngrid { run.seed = [1] }");
        assertTrue(m.contains("trainer.averaging-frequency"), m);
        m = error("gird { run.seed = [1, 2] }");
        assertTrue(m.contains("'gird'") && m.contains("did you mean 'grid'"), m);
        m = error("variants = [ { name = a, overides { run.seed = 1 } } ]");
        assertTrue(m.contains("'overides'") && m.contains("'overrides'"), m);
        assertEquals(1, m.lines().count(), "one line");
    }

    @Test
    void emptyGridsAndSweepsWithoutVariantsAreRefused() {
        assertTrue(error("grid { run.seed = [] }").contains("grid.run.seed is an empty list"));
        assertTrue(error("grid {}").contains("grid is empty"));
        assertTrue(error("base { run.seed = 1 }").contains("defines no variants"));
        assertTrue(error("grid { run.seed = 3 }").contains("must be a list"));
        assertTrue(error("variants = [ { name = a }, { name = a } ]").contains("two variants are named 'a'"));
    }

    @Test
    void invalidVariantsFailAloneAndIdenticalConfigsRunOnce() {
        SweepFile f = parse("""
                variants = [
                  { name = ok, overrides { tokenizer.perturb.alpha-max = 0.5 } }
                  { name = bad-patch, overrides { tokenizer.patch = 5 } }
                  { name = bad-type, overrides { generator.batch-size = many } }
                  { name = same, overrides { tokenizer.perturb.alpha-max = 0.50 } }
                ]
                """);
        Sweep s = Sweep.plan(Settings.load(null, List.of("sweep.out=/tmp/never-written", "sweep.store=/tmp/never-written/s")), f, "t.conf");
        Map<String, Sweep.Variant> v = new java.util.LinkedHashMap<>();
        for (Sweep.Variant x : s.variants()) v.put(x.name(), x);
        assertEquals("pending", v.get("ok").status());
        assertEquals("invalid", v.get("bad-patch").status());
        assertTrue(v.get("bad-patch").reason.contains("tokenizer.image-size (32) must be a multiple of tokenizer.patch (5)"), v.get("bad-patch").reason);
        assertEquals("invalid", v.get("bad-type").status());
        assertTrue(v.get("bad-type").reason.contains("batch-size"), v.get("bad-type").reason);
        assertEquals("duplicate", v.get("same").status());
        assertEquals("ok", v.get("same").duplicateOf);
        assertNull(v.get("ok").duplicateOf);
        assertEquals(List.of("bad-patch", "bad-type"), s.failures().stream().map(Sweep.Variant::name).toList());
        // each runnable variant runs in its own directory of the sweep, against the shared store
        assertEquals("/tmp/never-written/test-sweep/runs/ok", v.get("ok").settings.config().getString("run.out"));
        assertEquals("/tmp/never-written/s", v.get("ok").settings.config().getString("run.store"));
    }

    @Test
    void theShippedConfigsPassTheSweepsValidation() {
        // every variant is checked before anything runs: the project's own configs must pass (imagenet256's
        // codebook init "uniform" was once refused)
        for (String f : List.of("../conf/demo.conf", "../conf/imagenet256.conf")) {
            Sweep.validate(Settings.load(new java.io.File(f), List.of()));
        }
        Settings bad = Settings.load(new java.io.File("../conf/demo.conf"), List.of("tokenizer.stage.codebook-init=zeros"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Sweep.validate(bad)).getMessage().contains("codebook-init"));
    }
}
