package io.robustok.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The registry of stages, in pipeline order. Add a stage here and it is a CLI subcommand. */
public final class Stages {
    private Stages() {
    }

    public static List<Stage> all() {
        return List.of(
                // stages in pipeline order (the pipeline runs those with inPipeline() in this order)
                new io.robustok.jobs.prep.DemoDataStage(),
                new io.robustok.jobs.prep.PrepStage(),
                new io.robustok.jobs.tokenizer.TrainTokenizerStage(),
                new io.robustok.jobs.generator.TokenizeStage(),
                new io.robustok.jobs.generator.TrainGeneratorStage(),
                new io.robustok.jobs.posttrain.PairTokensStage(),
                new io.robustok.jobs.posttrain.PostTrainStage(),
                new io.robustok.jobs.eval.TrainFeaturesStage(),
                new io.robustok.jobs.eval.EvalStage(),
                new io.robustok.jobs.PipelineStage(),
                new io.robustok.jobs.ReportStage(),
                new io.robustok.sweep.SweepStage(),
                new io.robustok.sweep.StudyStage()
        );
    }

    public static Map<String, Stage> byName() {
        Map<String, Stage> m = new LinkedHashMap<>();
        for (Stage s : all()) m.put(s.name(), s);
        return m;
    }
}
