package io.robustok.cli;

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

    /** Whether {@code robustok pipeline} runs this stage (in registry order). */
    default boolean inPipeline() {
        return true;
    }
}
