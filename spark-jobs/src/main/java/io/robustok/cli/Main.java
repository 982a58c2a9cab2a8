package io.robustok.cli;

import io.robustok.config.ConfigError;
import io.robustok.config.InputError;
import io.robustok.config.Settings;

import java.io.File;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * {@code robustok <stage> [--conf FILE] [--force] [key=value ...] [stage args]}.
 * Exit codes: 0 done (or skipped: output complete), 1 bad input or failure (one line on stderr saying why),
 * 2 usage; {@code robustok status} exits 3 when the run is not complete.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        QuietStdout.install();
        System.exit(run(args, System.out, System.err));
    }

    /** Entry for a stage's own main class (spark-submit --class): same flags, stage fixed. */
    public static void runStage(String stage, String[] args) {
        String[] all = new String[args.length + 1];
        all[0] = stage;
        System.arraycopy(args, 0, all, 1, args.length);
        QuietStdout.install();
        System.exit(run(all, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        io.robustok.config.NativeBuild.select(); // before anything loads ND4J
        Map<String, Stage> stages = Stages.byName();
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            usage(out, stages);
            return args.length == 0 ? 2 : 0;
        }
        if (args[0].equals("status")) return status(args, out, err);
        Stage stage = stages.get(args[0]);
        if (stage == null) {
            err.println("robustok: unknown stage '" + args[0] + "'" + suggest(args[0], stages)
                    + "; run 'robustok --help' for the list");
            return 2;
        }
        try {
            return runStage(stage, args, out, err);
        } catch (ConfigError | InputError e) {
            err.println("robustok " + stage.name() + ": " + e.getMessage());
            return 1;
        }
    }

    private static int runStage(Stage stage, String[] args, PrintStream out, PrintStream err) {
        File conf = null;
        List<String> overrides = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--conf")) {
                if (i + 1 >= args.length) {
                    err.println("robustok: --conf needs a file, e.g. --conf conf/demo.conf");
                    return 2;
                }
                conf = resolveConf(args[++i]);
            } else if (a.startsWith("--conf=")) {
                conf = resolveConf(a.substring(7));
            } else if (a.equals("--force")) {
                overrides.add("run.force=true");
            } else if (a.equals("--help") || a.equals("-h")) {
                out.println("robustok " + stage.name() + ": " + stage.summary());
                out.println("usage: robustok " + stage.name() + " [--conf FILE] [--force] [key=value ...]");
                return 0;
            } else if (!a.startsWith("-") && a.contains("=") && a.indexOf('=') > 0 && !a.contains("/") || isKeyValue(a)) {
                overrides.add(a);
            } else {
                rest.add(a);
            }
        }
        try {
            Settings settings = Settings.load(conf, overrides);
            io.robustok.spark.StageOutput.stageStarted();
            stage.run(new StageContext(settings, rest));
            return 0;
        } catch (ConfigError | InputError e) {
            err.println("robustok " + stage.name() + ": " + e.getMessage());
            return 1;
        } catch (Exception | org.apache.hadoop.fs.FSError e) {
            Throwable root = e;
            for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
                // bad input found inside a Spark task arrives wrapped in the job's failure
                if (c instanceof InputError || c instanceof ConfigError || namesConfigKey(c)) {
                    err.println("robustok " + stage.name() + ": " + c.getMessage());
                    return 1;
                }
                root = c;
            }
            String io = OutputFailure.describe(e);
            if (io != null) {
                err.println("robustok " + stage.name() + ": " + io);
                return 1;
            }
            e.printStackTrace(err);
            err.println("robustok " + stage.name() + ": failed: " + e + (root != e ? " (cause: " + root + ")" : ""));
            return 1;
        }
    }

    /** {@code robustok status [--conf FILE] [key=value ...]}: see {@link Status}. */
    private static int status(String[] args, PrintStream out, PrintStream err) {
        File conf = null;
        List<String> overrides = new ArrayList<>();
        try {
            for (int i = 1; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--conf") && i + 1 < args.length) conf = resolveConf(args[++i]);
                else if (a.startsWith("--conf=")) conf = resolveConf(a.substring(7));
                else if (isKeyValue(a)) overrides.add(a);
                else {
                    err.println("usage: robustok status [--conf FILE] [key=value ...]   (exit 0: run complete, "
                            + Status.INCOMPLETE + ": not complete, 1: bad input)");
                    return 2;
                }
            }
            return Status.print(Settings.load(conf, overrides), out);
        } catch (ConfigError | UserError e) {
            err.println("robustok status: " + e.getMessage());
            return 1;
        }
    }

    /**
     * A config record's range check: an IllegalArgumentException whose one-line message starts with a key of a
     * config section ("trainer.averaging-frequency must be >= 1", "tokenizer: ...").
     */
    static boolean namesConfigKey(Throwable t) {
        if (!(t instanceof IllegalArgumentException) || t.getMessage() == null || t.getMessage().contains("\n")) return false;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^([a-z][a-z0-9-]*)[.:]").matcher(t.getMessage());
        return m.find() && Settings.defaults().config().root().containsKey(m.group(1));
    }

    private static boolean isKeyValue(String a) {
        int eq = a.indexOf('=');
        return eq > 0 && a.substring(0, eq).matches("[A-Za-z0-9_.\"-]+") && !a.startsWith("-");
    }

    /** --conf demo works too (conf/demo.conf, or the copy packaged in the jar). */
    private static File resolveConf(String name) {
        File f = new File(name);
        if (f.isFile()) return f;
        File c = new File("conf", name.endsWith(".conf") ? name : name + ".conf");
        if (c.isFile()) return c;
        throw new ConfigError("config file " + name + " does not exist: pass --conf with a path such as conf/demo.conf");
    }

    private static String suggest(String name, Map<String, Stage> stages) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String s : stages.keySet()) {
            int d = io.robustok.config.Settings.levenshtein(name, s);
            if (d < bestD) {
                bestD = d;
                best = s;
            }
        }
        return best != null && bestD <= 3 ? " (did you mean '" + best + "'?)" : "";
    }

    private static void usage(PrintStream out, Map<String, Stage> stages) {
        out.println("usage: robustok <stage> [--conf FILE] [--force] [key=value ...]");
        out.println();
        out.println("stages:");
        for (Stage s : stages.values()) out.printf("  %-18s %s%n", s.name(), s.summary());
        out.printf("  %-18s %s%n", "status", "one line per stage: complete / partial / missing / stale (exit 0 when complete, "
                + Status.INCOMPLETE + " when not)");
        out.println();
        out.println("--conf FILE   experiment config (HOCON) that includes defaults.conf; default: defaults alone");
        out.println("--force       redo the stage even if its complete output exists");
        out.println("key=value     override any key of conf/defaults.conf, e.g. trainer.averaging-frequency=5");
        out.println("Exit codes: 0 done or skipped, 1 bad input or failure (reason on stderr), 2 usage, 3 (status) run not complete.");
    }
}
