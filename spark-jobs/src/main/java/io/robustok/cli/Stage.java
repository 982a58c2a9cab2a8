package io.robustok.cli;

import com.typesafe.config.Config;

import java.util.List;

/**
 * One pipeline step. Each stage is a CLI subcommand ({@code bin/robustok <name>}) and has a main class that
 * spark-submit takes ({@code --class io.robustok.jobs.<...>Job}).
 */
public interface Stage {
    /** Subcommand name, e.g. "prep", "train-tokenizer". */
    String name();

    /** One line for --help. */
    String summary();

    /**
     * Runs the stage. Skips (and returns quietly) when its complete output exists and
     * {@code ctx.force()} is false; writes to a temporary path and commits by rename.
     */
    void run(StageContext ctx) throws Exception;

    /**
     * Whether this config asks for the stage at all (post-training: {@code posttrain.enabled}). A disabled stage
     * writes nothing: the pipeline and sweeps record it as skipped, status calls it not used, and its subcommand
     * says so and returns.
     */
    default boolean enabled(Config c) {
        return true;
    }

    /** Whether {@code robustok pipeline} runs this stage (in registry order). */
    default boolean inPipeline() {
        return true;
    }

    /**
     * The directories this stage commits (full paths, normally under run.out): {@code robustok status}, the
     * report and the scheduler manifests read them. Empty for stages that only run others (pipeline, report).
     */
    default List<String> outputs(Config c) {
        return List.of();
    }

    /**
     * The stages whose outputs this one reads: the edges of the scheduled DAG (deploy/), and status calls an
     * output stale when one of these was rewritten after it.
     */
    default List<String> after() {
        return List.of();
    }

    /** Config paths that define this stage's output: status calls it stale when one changed since it was written. */
    default List<String> configPaths() {
        return List.of();
    }
}
