package io.robustok.jobs.prep;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.data.Prep;
import io.robustok.data.PrepConfig;
import io.robustok.data.PrepInputException;
import io.robustok.spark.StageOutput;

import java.util.Map;
import java.util.List;

/**
 * {@code robustok prep}: ImageFolder (prep.input) to Parquet shards, class index, manifest and rejects
 * (prep.output, normally run.out/data). See {@link Prep} for the layout and {@code io.robustok.data.ImageParquet}
 * for the row schema.
 */
public final class PrepStage implements Stage {

    public static void main(String[] args) {
        Main.runStage("prep", args);
    }

    @Override
    public String name() {
        return "prep";
    }

    @Override
    public String summary() {
        return "ImageFolder -> Parquet shards + class index + manifest + rejects (prep.output)";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        return List.of(c.getString("prep.output"));
    }

    @Override
    public List<String> after() {
        return List.of("demo-data");
    }

    @Override
    public List<String> configPaths() {
        return List.of("prep", "data.image-size", "data.max-scale");
    }

    @Override
    public void run(StageContext ctx) {
        PrepConfig cfg;
        try {
            cfg = PrepConfig.from(ctx.settings().config());
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage(), e);
        }
        if (!ctx.force() && StageOutput.isComplete(cfg.output())) {
            // checked before Spark starts: a skipped stage costs nothing
            System.out.println("prep: " + cfg.output() + " is complete, skipped (--force redoes it)");
            return;
        }
        Prep.Result r;
        try {
            r = Prep.run(ctx.jsc(), cfg, ctx.settings(), ctx.force());
        } catch (PrepInputException e) {
            throw new UserError(e.getMessage(), e);
        }
        if (r.skipped()) return;
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> splits = (Map<String, Map<String, Object>>) r.manifest().get("splits");
        StringBuilder sb = new StringBuilder("prep: wrote " + r.output() + ":");
        splits.forEach((split, s) -> sb.append(' ').append(split).append(' ').append(s.get("rows")).append(" rows (")
                .append(s.get("rejects")).append(" rejects, ").append(((java.util.List<?>) s.get("shards")).size())
                .append(" shards)"));
        System.out.println(sb);
    }
}
