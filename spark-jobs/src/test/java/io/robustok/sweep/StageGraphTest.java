package io.robustok.sweep;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import io.robustok.cli.Stage;
import io.robustok.cli.Stages;
import io.robustok.config.Settings;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StageGraphTest {
    static final List<String> ORDER = List.of("demo-data", "prep", "train-tokenizer", "tokenize", "train-generator",
            "pair-tokens", "post-train", "train-features", "eval");

    static Map<String, String> ids(String... overrides) {
        return StageGraph.identities(Settings.load(null, List.of(overrides)));
    }

    /** Stages whose identity differs between the defaults and the defaults with {@code override}. */
    static List<String> changed(String override) {
        Map<String, String> a = ids(), b = ids(override);
        List<String> out = new ArrayList<>();
        for (String s : a.keySet()) if (!a.get(s).equals(b.get(s))) out.add(s);
        return out;
    }

    @Test
    void aKeyChangesExactlyTheStagesThatReadItAndTheirDescendants() {
        List<String> fromTokenizer = List.of("train-tokenizer", "tokenize", "train-generator", "pair-tokens", "post-train", "eval");
        // generator settings: the tokenizer, its tokens, prep and the feature network are shared
        assertEquals(List.of("train-generator", "pair-tokens", "post-train", "eval"), changed("generator.model.width=64"));
        // perturbation strength: the tokenizer and everything downstream of it, not prep or the feature network
        assertEquals(fromTokenizer, changed("tokenizer.perturb.alpha-max=0.5"));
        // averaging frequency of every trainer: the trained models (the feature network has its own)
        assertEquals(fromTokenizer, changed("trainer.averaging-frequency=2"));
        assertEquals(List.of("train-generator", "pair-tokens", "post-train", "eval"), changed("generator.trainer.averaging-frequency=2"));
        assertEquals(List.of("tokenize", "train-generator", "pair-tokens", "post-train", "eval"), changed("tokenize.train-crops=10"));
        // post-training: sigma changes the pairs; its optimizer only the post-trained decoder; neither the generator
        assertEquals(List.of("pair-tokens", "post-train", "eval"), changed("posttrain.sigma=0.5"));
        assertEquals(List.of("post-train", "eval"), changed("posttrain.optimizer.lr=1e-4"));
        assertEquals(List.of("train-features", "eval"), changed("eval.feature-net.epochs=2"));
        assertEquals(List.of("eval"), changed("eval.pfid.delta=20"));
        assertEquals(List.of("prep", "train-tokenizer", "tokenize", "train-generator", "pair-tokens", "post-train", "eval"),
                changed("prep.jpeg-quality=90"));
        // the seed reaches every stage that samples, not prep
        assertEquals(List.of("train-tokenizer", "tokenize", "train-generator", "pair-tokens", "post-train", "train-features", "eval"),
                changed("run.seed=7"));
    }

    @Test
    void ignoredKeysLeaveEveryIdentityAlone() {
        for (String o : List.of("run.out=elsewhere", "run.name=x", "run.force=true", "data.parquet=/tmp/p",
                "eval.feature-net.dir=/tmp/f", "spark.nd4j-maxbytes=1g", "sweep.parallel=4", "run.store=/tmp/s")) {
            assertEquals(List.of(), changed(o), o);
        }
        // the same value written another way
        assertEquals(List.of(), changed("tokenizer.perturb.alpha-max=1"));
        assertEquals(ids("tokenizer.perturb.alpha-max=0.50"), ids("tokenizer.perturb.alpha-max=0.5"));
    }

    @Test
    void everyKeyOfDefaultsIsReadBySomeStageOrDeclaredNeutral() {
        var defaults = ConfigFactory.parseResources("defaults.conf").resolve();
        for (Map.Entry<String, ConfigValue> e : defaults.entrySet()) {
            String k = e.getKey();
            boolean read = StageGraph.NODES.stream().anyMatch(n -> StageGraph.dependsOn(n, k));
            boolean neutral = StageGraph.NEUTRAL.stream().anyMatch(p -> StageGraph.under(k, p));
            assertTrue(read != neutral, k + (read ? " is declared neutral but a stage reads it"
                    : " is read by no stage in StageGraph.NODES and not declared neutral: add it to the stage that reads it"));
        }
    }

    @Test
    void everyPipelineStageHasOneEntryInPipelineOrder() {
        List<String> pipeline = new ArrayList<>();
        for (Stage s : Stages.all()) if (s.inPipeline()) pipeline.add(s.name());
        List<String> declared = StageGraph.NODES.stream().map(StageGraph.Node::stage).toList();
        assertEquals(pipeline, declared);
        assertEquals(ORDER, declared);
        for (StageGraph.Node n : StageGraph.NODES) {
            for (String in : n.inputs()) assertTrue(declared.indexOf(in) < declared.indexOf(n.stage()), n.stage() + " reads " + in);
        }
    }

    @Test
    void identitiesAreStableHexDigests() {
        Map<String, String> a = ids(), b = ids();
        assertEquals(a, b);
        for (String id : a.values()) assertTrue(id.matches("[0-9a-f]{64}"), id);
        assertNotEquals(a.get("prep"), a.get("train-features"));
    }
}
