package io.robustok.sweep;

import io.robustok.config.ConfigError;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The study's verdict rules and its section's checks (the whole study on tiny data: ReproductionStudyTest). */
class StudyTest {
    @Test
    void aRecipeWinsOnlyWhenEverySeedBeatsEverySeedOfTheOther() {
        assertEquals("reproduced", Study.lowerIsBetter(List.of(10.0, 10.5), List.of(11.0, 12.0)));
        assertEquals("not reproduced", Study.lowerIsBetter(List.of(11.5, 12.5), List.of(10.0, 11.0)));
        // the ranges overlap: the difference of the means (-0.75) is inside the seeds' spread
        assertEquals("unclear", Study.lowerIsBetter(List.of(10.0, 11.5), List.of(11.0, 12.0)));
        assertEquals("not measured", Study.lowerIsBetter(List.of(), List.of(11.0)));
    }

    @Test
    void headlinePointsComeFromTheColumnsThatExist() {
        List<String> cols = List.of("variant", "rfid", "pfid@0.25", "pfid@1.0", "gfid@2.0", "gfid@1.0", "posttrain.gfid@2.0");
        assertEquals("2.0", Study.mainGuidance(cols));
        assertEquals("1.0", Study.mainGuidance(List.of("gfid@1.0")));
        assertEquals("0.25", Study.headlineAlpha(0.5, cols), "the nearest evaluated alpha when 0.5 was not");
        assertEquals("1.0", Study.headlineAlpha(0.9, cols));
        assertEquals("0.5", Study.headlineAlpha(0.5, List.of("pfid@0.5", "pfid@0.75")));
    }

    @Test
    void theShippedStudyNamesItsOwnVariantsAndABadSectionIsNamed() {
        SweepFile shipped = SweepFile.load(new File("../conf/sweeps/reproduction.conf"));
        Study.check(shipped, "reproduction.conf");
        assertEquals("docs/REPRODUCTION.md", shipped.study().getString("doc"));
        SweepFile bad = SweepFileTest.parse("""
                variants = [ { name = a, overrides { tokenizer.perturb.enabled = false } }, { name = b } ]
                study { doc = "x.md", unperturbed = [a], perturbed = [c] }
                """);
        String m = assertThrows(ConfigError.class, () -> Study.check(bad, "t.conf")).getMessage();
        assertTrue(m.contains("study.perturbed names 'c'") && m.contains("[a, b]"), m);
        SweepFile typo = SweepFileTest.parse("""
                variants = [ { name = a } ]
                study { doc = "x.md", unperturbed = [a], perturbed = [a], discusion = "d.md" }
                """);
        m = assertThrows(ConfigError.class, () -> Study.check(typo, "t.conf")).getMessage();
        assertTrue(m.contains("unknown study entry 'discusion'"), m);
    }
}
