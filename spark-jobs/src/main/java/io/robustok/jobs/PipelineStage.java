package io.robustok.jobs;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.Stages;
import io.robustok.sweep.StageRunner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs every pipeline stage in order on one Spark session, then the report. Each stage skips itself when
 * its output is complete, so a rerun after a failure resumes at the first unfinished stage. With run.store set,
 * stage outputs are shared through the store ({@link StageRunner}); run.out/_stages.json records every stage.
 */
public final class PipelineStage implements Stage {
    private static final Logger log = LoggerFactory.getLogger(PipelineStage.class);

    public static void main(String[] args) {
        Main.runStage("pipeline", args);
    }

    @Override
    public String name() {
        return "pipeline";
    }

    @Override
    public String summary() {
        return "every stage in order (demo-data/prep to eval), then the report";
    }

    @Override
    public boolean inPipeline() {
        return false;
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        long t0 = System.nanoTime();
        // a missing pretrained weight file stops the pipeline now, not after prep
        io.robustok.jobs.tokenizer.TrainTokenizerStage.requireWeightFiles(ctx);
        StageRunner runner = new StageRunner(ctx);
        for (Stage s : Stages.all()) {
            if (!s.inPipeline()) continue;
            long t = System.nanoTime();
            log.info("pipeline: stage {} ...", s.name());
            runner.run(s);
            log.info("pipeline: stage {} done in {}", s.name(), seconds(t));
        }
        io.robustok.spark.StageOutput.stageStarted(); // the report's own wall time, not the pipeline's since eval began
        new ReportStage().run(runner.context());
        log.info("pipeline: all stages done in {}", seconds(t0));
    }

    static String seconds(long t0) {
        return String.format("%.1f s", (System.nanoTime() - t0) / 1e9);
    }
}
