package io.robustok.sweep;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;

import java.io.File;
import java.nio.file.Path;
import java.time.Instant;

/**
 * {@code robustok study --conf BASE --sweep FILE [--doc FILE] [--dry-run] [key=value ...]}: the sweep of a file with a
 * {@code study} section (conf/sweeps/reproduction.conf), then its write-up ({@link Study}) at {@code study.doc} (or
 * {@code --doc}). Like
 * a sweep it resumes: a rerun computes only what is missing and rewrites the document from the results.
 */
public final class StudyStage implements Stage {
    public static final String NAME = "study";
    static final String USAGE = "usage: robustok study --conf BASE --sweep FILE [--doc FILE] [--dry-run] [key=value ...]";

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "run a study's sweep (a sweep file with a study section) and write its document with a verdict per claim (--sweep FILE)";
    }

    @Override
    public boolean inPipeline() {
        return false;
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        long t0 = System.nanoTime();
        Instant started = Instant.now();
        SweepStage.Args a = SweepStage.Args.parse(ctx, USAGE, true);
        File file = a.file();
        SweepFile sf = SweepFile.load(file);
        if (sf.study().isEmpty()) {
            throw new UserError(file + " has no study section: 'robustok study' writes up a sweep file with one "
                    + "(e.g. conf/sweeps/reproduction.conf); run other sweep files with 'robustok sweep'");
        }
        Study.check(sf, file.getPath());
        SweepStage.Ran ran = SweepStage.execute(ctx, file, a.dryRun());
        if (ran == null) return;
        Path written = new Study(ran, a.doc()).write((System.nanoTime() - t0) / 1e9, started);
        System.out.println("study: " + written + " written from " + ran.sweep().dir() + "/results");
        SweepStage.failIfAny(ran.sweep());
    }
}
