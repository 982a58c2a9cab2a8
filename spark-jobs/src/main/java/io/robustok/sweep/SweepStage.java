package io.robustok.sweep;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.config.Settings;

import java.io.File;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code robustok sweep --conf BASE --sweep FILE [--dry-run] [key=value ...]}: every variant of the sweep file as a
 * pipeline run sharing stage outputs through the store; then the results table, rank correlations and plots in
 * {@code <sweep.out>/<name>/results}. Exit 1 when a variant failed (each failure is in sweep.json and on stderr);
 * rerunning the same command computes only what is missing.
 */
public final class SweepStage implements Stage {
    public static final String NAME = "sweep";
    static final String USAGE = "usage: robustok sweep --conf BASE --sweep FILE [--dry-run] [key=value ...]";

    public static void main(String[] args) {
        Main.runStage(NAME, args);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String summary() {
        return "run a grid of pipeline variants sharing common stages, then tabulate and correlate their metrics (--sweep FILE)";
    }

    @Override
    public boolean inPipeline() {
        return false;
    }

    @Override
    public void run(StageContext ctx) throws Exception {
        Args a = Args.parse(ctx, USAGE, false);
        Ran ran = execute(ctx, a.file(), a.dryRun());
        if (ran == null) return;
        failIfAny(ran.sweep());
        System.out.println("sweep: results in " + ran.sweep().dir() + "/results");
    }

    /** The command line of sweep and study: --sweep FILE, --dry-run and (study) --doc FILE. */
    record Args(File file, boolean dryRun, String doc) {
        static Args parse(StageContext ctx, String usage, boolean docAllowed) {
            File file = null;
            boolean dryRun = false;
            String doc = null;
            List<String> args = ctx.args();
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                if (a.equals("--sweep") && i + 1 < args.size()) file = new File(args.get(++i));
                else if (a.startsWith("--sweep=")) file = new File(a.substring(8));
                else if (a.equals("--dry-run")) dryRun = true;
                else if (docAllowed && a.equals("--doc") && i + 1 < args.size()) doc = args.get(++i);
                else throw new UserError("unexpected argument '" + a + "'; " + usage);
            }
            if (file == null) throw new UserError("--sweep FILE is missing; " + usage);
            if (ctx.settings().config().getBoolean("run.force")) {
                throw new UserError("--force does not apply to a sweep (it would recompute what the variants share): to redo a "
                        + "stage output, delete its entry in sweep.store (--dry-run names it)");
            }
            return new Args(file, dryRun, doc);
        }
    }

    /** A sweep that ran: its variants, the settings they share, and its results. */
    record Ran(Sweep sweep, SweepFile file, Settings common, SweepResults.Written results) {
    }

    /** Plans the sweep of {@code file}, prints the plan, and unless {@code dryRun} runs it and writes its results. */
    static Ran execute(StageContext ctx, File file, boolean dryRun) throws Exception {
        SweepFile sf = SweepFile.load(file);
        Settings base = ctx.settings();
        Sweep sweep = Sweep.plan(base, sf, file.getPath());
        sweep.printPlan(System.out);
        if (dryRun) return null;

        Settings common = base.with(new SweepFile.Variant("base", sf.base()).overrideStrings());
        var c = common.config();
        int parallel = c.getInt("sweep.parallel");
        String mode = c.getString("sweep.mode");
        switch (mode) {
            case "local" -> sweep.runLocal(ctx, parallel);
            case "cluster" -> new ClusterSweep(sweep, c).run(parallel);
            default -> throw new UserError("sweep.mode = \"" + mode + "\": expected local or cluster");
        }
        SweepResults.Written results = SweepResults.write(sweep, common);
        for (Sweep.Variant v : sweep.variants()) {
            if (v.status().equals("duplicate")) System.out.println("sweep: variant " + v.name() + ": " + v.reason);
        }
        return new Ran(sweep, sf, common, results);
    }

    /** Exit 1 (a UserError naming each) when a variant failed. */
    static void failIfAny(Sweep sweep) {
        List<Sweep.Variant> failed = sweep.failures();
        if (!failed.isEmpty()) {
            throw new UserError(failed.size() + " of " + sweep.variants().size() + " variants failed: "
                    + failed.stream().map(v -> v.name() + " (" + v.status() + " at " + v.failedStage + ": " + v.reason
                            + (v.status().equals("failed") ? "; log " + v.log() : "") + ")").collect(Collectors.joining("; "))
                    + "; the others are in " + sweep.dir() + "/results; rerun the same command to retry what is missing");
        }
    }
}
