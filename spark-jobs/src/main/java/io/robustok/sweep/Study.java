package io.robustok.sweep;

import com.typesafe.config.Config;
import io.robustok.config.ConfigError;
import io.robustok.config.Settings;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The write-up of a reproduction study (the {@code study} section of a sweep file, run by {@code robustok study}): the
 * sweep's table and correlations turned into one Markdown document with a verdict per claim of the paper (SPEC
 * section 1), computed from the numbers by the rules stated in the document, never tuned by hand:
 * <ol>
 *   <li>latent perturbation lowers gFID at the same generator budget, and at earlier generator checkpoints, while rFID
 *       barely moves: the {@code perturbed} variants against the {@code unperturbed} ones (the same recipe under
 *       several seeds each);</li>
 *   <li>pFID ranks the tokenizers as gFID does and rFID does not: Spearman's rho over every variant, with the sweep's
 *       bootstrap intervals;</li>
 *   <li>post-training the decoder lowers gFID on the same generated tokens: every variant that was post-trained.</li>
 * </ol>
 * Section keys: {@code doc} (the document; its figures and copies of the table go to a directory beside it named
 * after it in lower case), {@code unperturbed}, {@code perturbed} (variant names), {@code pfid-alpha} (the headline
 * pFID point, default 0.5), {@code discussion} (an optional hand-written Markdown file included at the end).
 */
public final class Study {
    /** The paper's figures the verdicts are set beside (SPEC sections 4 and 8). */
    static final String PAPER = "RAR-L on RobusTok: gFID 1.60 after main training, 1.36 after post-training (RAR-B 1.83 -> 1.60); "
            + "pFID 2.28 for RobusTok against 6.98 for a plain VQ tokenizer of similar rFID (1.02 vs 0.91), ImageNet 256";

    record Verdict(String word, String text) {
    }

    private final SweepStage.Ran ran;
    private final Config study;
    private final List<Map<String, Object>> rows;
    private final String g;
    private final String alpha;
    private final Path doc;
    private final List<String> controls;

    /** @param doc where to write the document; null: the section's {@code doc} */
    Study(SweepStage.Ran ran, String doc) {
        this.ran = ran;
        this.study = ran.file().study();
        this.rows = ran.results().table().rows();
        this.g = mainGuidance(ran.results().table().columns());
        this.alpha = headlineAlpha(study.hasPath("pfid-alpha") ? study.getDouble("pfid-alpha") : 0.5, ran.results().table().columns());
        this.doc = Path.of(doc != null ? doc : study.getString("doc"));
        this.controls = study.hasPath("controls") ? study.getStringList("controls") : List.of();
    }

    /** The rows that are tokenizers of their own (controls repeat another variant's tokenizer and generator). */
    List<Map<String, Object>> studied() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> r : rows) if (!controls.contains(String.valueOf(r.get("variant")))) out.add(r);
        return out;
    }

    /**
     * Spearman's rho of {@code x} against {@code y} over the studied variants, with the sweep's bootstrap
     * (sweep.bootstrap resamples, sweep.confidence, sweep.seed).
     */
    Map<String, Object> correlation(String x, String y) {
        List<Double> xs = new ArrayList<>(), ys = new ArrayList<>();
        for (Map<String, Object> r : studied()) {
            Double a = num(r, x), b = num(r, y);
            if (a != null && b != null) {
                xs.add(a);
                ys.add(b);
            }
        }
        if (xs.size() < 3) return null;
        Config c = ran.common().config();
        RankCorrelation.Interval rho = RankCorrelation.bootstrap(xs.stream().mapToDouble(Double::doubleValue).toArray(),
                ys.stream().mapToDouble(Double::doubleValue).toArray(), RankCorrelation::spearman, c.getInt("sweep.bootstrap"),
                c.getDouble("sweep.confidence"), c.getLong("sweep.seed"));
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("x", x);
        e.put("y", y);
        e.put("variants", xs.size());
        e.put("spearman_rho", rho.estimate());
        e.put("spearman_low", rho.low());
        e.put("spearman_high", rho.high());
        e.put("level", c.getDouble("sweep.confidence"));
        return e;
    }

    /** Checks the section before anything runs: the document path and that every named variant exists. */
    static void check(SweepFile f, String where) {
        Config s = f.study();
        if (!s.hasPath("doc")) throw new ConfigError(where + ": study.doc is missing: the document to write, e.g. study { doc = \"docs/REPRODUCTION.md\" }");
        Set<String> names = new LinkedHashSet<>();
        for (SweepFile.Variant v : f.variants()) names.add(v.name());
        for (String k : List.of("unperturbed", "perturbed", "controls")) {
            if (k.equals("controls") && (!s.hasPath(k) || s.getStringList(k).isEmpty())) continue;
            if (!s.hasPath(k) || s.getStringList(k).isEmpty()) {
                throw new ConfigError(where + ": study." + k + " must list variants of this sweep (e.g. " + k + " = [" + names.iterator().next() + "])");
            }
            for (String n : s.getStringList(k)) {
                if (!names.contains(n)) throw new ConfigError(where + ": study." + k + " names '" + n + "', which is not a variant of this sweep (" + names + ")");
            }
        }
        for (String k : s.root().keySet()) {
            if (!List.of("doc", "unperturbed", "perturbed", "controls", "pfid-alpha", "discussion").contains(k)) {
                throw new ConfigError(where + ": unknown study entry '" + k + "' (a study has doc, unperturbed, perturbed, controls, pfid-alpha, discussion)");
            }
        }
    }

    /** The pFID point asked for, or the evaluated one nearest to it (eval.pfid.alphas decides which exist). */
    static String headlineAlpha(double wanted, List<String> columns) {
        String best = Double.toString(wanted);
        double dist = Double.POSITIVE_INFINITY;
        for (String c : columns) {
            if (!c.startsWith("pfid@")) continue;
            double a = Double.parseDouble(c.substring(5));
            if (Math.abs(a - wanted) < dist) {
                dist = Math.abs(a - wanted);
                best = c.substring(5);
            }
        }
        return best;
    }

    /** The generator's own guidance: the gFID column that is not guidance 1 (or 1 when it is the only one). */
    static String mainGuidance(List<String> columns) {
        String one = null;
        for (String c : columns) {
            if (c.startsWith("gfid@")) {
                String q = c.substring(5);
                if (!q.equals("1.0")) return q;
                one = q;
            }
        }
        return one == null ? "2.0" : one;
    }

    /** Writes the document and its assets; returns the document's path. */
    Path write(double wallSeconds, Instant started) throws IOException {
        String base = doc.getFileName().toString().replaceFirst("\\.md$", "").toLowerCase(Locale.ROOT);
        Path assets = doc.toAbsolutePath().getParent().resolve(base);
        Files.createDirectories(assets);
        Path results = Path.of(Sweep.localPath(ran.sweep().dir() + "/results"));
        for (String f : List.of("table.md", "table.csv", "correlations.json")) copy(results.resolve(f), assets.resolve(f));
        List<String> figures = new ArrayList<>();
        for (String x : List.of("rfid", "pfid@" + alpha)) {
            Path p = results.resolve("plots/scatter-" + x + "-vs-gfid@" + g + ".png");
            if (Files.isRegularFile(p)) {
                copy(p, assets.resolve(p.getFileName()));
                figures.add(p.getFileName().toString());
            }
        }
        byte[] conv = convergencePlot();
        if (conv != null) {
            atomicWrite(assets.resolve("convergence.png"), conv);
            figures.add("convergence.png");
        }
        List<Map<String, Object>> invocations = recordInvocation(wallSeconds, started);
        String md = markdown(base, figures, invocations);
        atomicWrite(doc, md.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return doc;
    }

    /**
     * Appends this invocation (start, wall seconds, stage outputs it computed) to {@code <sweep dir>/study-runs.jsonl}
     * and returns every invocation recorded there: a study finished over several invocations shows each.
     */
    List<Map<String, Object>> recordInvocation(double wallSeconds, Instant started) throws IOException {
        Set<String> computed = new LinkedHashSet<>();
        for (Sweep.Variant v : ran.sweep().variants()) {
            Sweep.stages(v).forEach((stage, st) -> {
                if ("computed".equals(st.get("status"))) computed.add(stage + "/" + st.get("identity"));
            });
        }
        Map<String, Object> me = new LinkedHashMap<>();
        me.put("started", started.toString());
        me.put("wall_s", Math.round(wallSeconds * 10) / 10.0);
        me.put("computed", computed.size());
        me.put("load_average", loadAverage());
        Path log = Path.of(Sweep.localPath(ran.sweep().dir() + "/study-runs.jsonl"));
        Files.writeString(log, io.robustok.spark.StageOutput.toJsonLine(me) + "\n", java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND);
        List<Map<String, Object>> all = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            if (line.isBlank()) continue;
            @SuppressWarnings("unchecked")
            Map<String, Object> m = Sweep.JSON.readValue(line, Map.class);
            all.add(m);
        }
        return all;
    }

    private static void copy(Path from, Path to) throws IOException {
        if (Files.isRegularFile(from)) atomicWrite(to, Files.readAllBytes(from));
    }

    private static void atomicWrite(Path to, byte[] bytes) throws IOException {
        Path tmp = to.resolveSibling("." + to.getFileName() + ".tmp");
        Files.write(tmp, bytes);
        Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    // ---- numbers ----

    Map<String, Object> row(String variant) {
        for (Map<String, Object> r : rows) if (variant.equals(r.get("variant"))) return r;
        return Map.of();
    }

    static Double num(Map<String, Object> r, String col) {
        return r.get(col) instanceof Double d && Double.isFinite(d) ? d : null;
    }

    /** Values of {@code col} for the named variants that have it. */
    List<Double> values(List<String> variants, String col) {
        List<Double> out = new ArrayList<>();
        for (String v : variants) {
            Double d = num(row(v), col);
            if (d != null) out.add(d);
        }
        return out;
    }

    static double mean(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    static double min(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    static double max(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    /** Generator steps with a gFID (snapshots and the end), ascending. */
    List<Long> steps() {
        Set<Long> s = new java.util.TreeSet<>();
        for (String c : ran.results().table().columns()) {
            if (c.startsWith("generator_steps.gfid@")) s.add(Long.parseLong(c.substring("generator_steps.gfid@".length())));
        }
        return new ArrayList<>(s);
    }

    /**
     * Lower is better for both groups' metric. Reproduced when every seed of the perturbed recipe is below every seed
     * of the unperturbed one, not reproduced when every one is above, unclear when the seeds' ranges overlap.
     */
    static String lowerIsBetter(List<Double> perturbed, List<Double> unperturbed) {
        if (perturbed.isEmpty() || unperturbed.isEmpty()) return "not measured";
        if (max(perturbed) < min(unperturbed)) return "reproduced";
        if (min(perturbed) > max(unperturbed)) return "not reproduced";
        return "unclear";
    }

    static String f2(Double d) {
        return d == null || d.isNaN() ? "n/a" : String.format(Locale.ROOT, "%.2f", d);
    }

    static String list(List<Double> xs) {
        List<String> s = new ArrayList<>();
        for (Double x : xs) s.add(f2(x));
        return String.join(", ", s);
    }

    Verdict claim1() {
        List<String> u = study.getStringList("unperturbed"), p = study.getStringList("perturbed");
        String col = "gfid@" + g;
        List<Double> gu = values(u, col), gp = values(p, col);
        String word = lowerIsBetter(gp, gu);
        StringBuilder t = new StringBuilder();
        t.append(String.format(Locale.ROOT, "gFID at guidance %s after the full generator budget: perturbed (%s) %s, mean %s; unperturbed (%s) %s, mean %s; "
                        + "difference of the means %s (negative: perturbation helps); spread between seeds %s (perturbed) and %s (unperturbed).",
                g, String.join(", ", p), list(gp), f2(mean(gp)), String.join(", ", u), list(gu), f2(mean(gu)),
                f2(mean(gp) - mean(gu)), f2(max(gp) - min(gp)), f2(max(gu) - min(gu))));
        List<Long> steps = steps();
        if (steps.size() > 1) {
            t.append(" Along the generator's training (gFID at guidance ").append(g).append(", per seed):");
            for (long s : steps) {
                List<Double> a = values(p, "generator_steps.gfid@" + s), b = values(u, "generator_steps.gfid@" + s);
                Double frac = num(row(p.get(0)), "generator_steps.fraction@" + s);
                t.append(String.format(Locale.ROOT, " step %d (%s of the steps): perturbed %s, unperturbed %s -> %s;", s,
                        frac == null ? "?" : String.format(Locale.ROOT, "%.0f%%", 100 * frac), list(a), list(b), lowerIsBetter(a, b)));
            }
            t.setLength(t.length() - 1);
            t.append('.');
        }
        List<Double> ru = values(u, "rfid"), rp = values(p, "rfid");
        List<Double> lu = values(u, "generator.final_val_loss"), lp = values(p, "generator.final_val_loss");
        t.append(String.format(Locale.ROOT, " rFID: perturbed %s, unperturbed %s (mean difference %s); the generator's final validation loss "
                + "(nats per token; its own tokens, so not comparable across tokenizers as a quality measure): perturbed %s, unperturbed %s.",
                list(rp), list(ru), f2(mean(rp) - mean(ru)), list(lp), list(lu)));
        t.append(" Rule: reproduced when every perturbed seed's gFID is below every unperturbed seed's, not reproduced when every one is above, "
                + "unclear when the seeds' ranges overlap (the difference is within seed noise).");
        if (word.equals("unclear")) {
            t.append(" The most likely reason at this scale: the effect, if any, is smaller than the seed-to-seed spread of a ")
                    .append("short CPU run (").append(f2(Math.max(max(gp) - min(gp), max(gu) - min(gu)))).append(" gFID here).");
        } else if (word.equals("not reproduced")) {
            t.append(" The unperturbed tokenizer generates better here; the perturbed one trains on its noisier objective for the same ")
                    .append("number of steps, so at this budget it may simply be less trained (compare its rFID and val PSNR in the table).");
        }
        return new Verdict(word, t.toString());
    }

    Verdict claim2() {
        String gcol = "gfid@" + g;
        Map<String, Object> cp = correlation("pfid@" + alpha, gcol), cr = correlation("rfid", gcol);
        if (cp == null || cr == null) return new Verdict("not measured", "The sweep has no rFID/pFID and gFID pairs to correlate.");
        double rp = (Double) cp.get("spearman_rho"), rr = (Double) cr.get("spearman_rho");
        double lo = (Double) cp.get("spearman_low");
        String word = rp <= rr || rp <= 0 ? "not reproduced" : lo > 0 ? "reproduced" : "unclear";
        StringBuilder t = new StringBuilder(String.format(Locale.ROOT,
                "Across the %s tokenizers (every perturbation setting and seed, before post-training; controls left out), Spearman's rho against gFID at guidance %s: "
                        + "pFID at alpha %s %s %s, rFID %s %s (%.0f%% bootstrap intervals).",
                cp.get("variants"), g, alpha, f2(rp), interval(cp), f2(rr), interval(cr), 100 * (Double) cp.get("level")));
        List<String> others = new ArrayList<>();
        for (String x : ran.results().table().columns()) {
            Map<String, Object> e = x.startsWith("pfid@") && !x.equals("pfid@" + alpha) ? correlation(x, gcol) : null;
            if (e != null) others.add(x.substring(5) + ": " + f2((Double) e.get("spearman_rho")) + " " + interval(e));
        }
        if (!others.isEmpty()) t.append(" pFID at the other alphas: ").append(String.join("; ", others)).append('.');
        t.append(" Rule: reproduced when pFID's rho is above rFID's and its interval lies above 0; not reproduced when it is not above ")
                .append("rFID's (or not positive); unclear otherwise.");
        if (word.equals("unclear")) {
            t.append(" With this few tokenizers the interval is wide: a rank correlation over ").append(cp.get("variants"))
                    .append(" points cannot exclude 0 unless the ranking is nearly perfect.");
        } else if (word.equals("not reproduced") && rr >= rp && rr > 0.5) {
            t.append(" rFID already ranks these tokenizers as gFID does: at this scale they differ mainly in how well they reconstruct, ")
                    .append("so a robustness measure has nothing to add that rFID does not see (the paper's tokenizers all reconstruct ")
                    .append("almost equally well, rFID 0.9-1.0, which is where rFID stops ranking them).");
        } else if (word.equals("not reproduced")) {
            t.append(" Neither predictor follows gFID well here: the tokenizers differ little in how they generate (see claim 1), so ")
                    .append("gFID's ranking is mostly seed noise.");
        }
        return new Verdict(word, t.toString());
    }

    Verdict claim3() {
        String col = "gfid@" + g;
        List<String> names = new ArrayList<>();
        List<Double> before = new ArrayList<>(), after = new ArrayList<>();
        for (Map<String, Object> r : studied()) {
            Double b = num(r, col), a = num(r, "posttrain." + col);
            if (b != null && a != null) {
                names.add(String.valueOf(r.get("variant")));
                before.add(b);
                after.add(a);
            }
        }
        if (names.isEmpty()) return new Verdict("not measured", "No variant was post-trained and evaluated.");
        int better = 0;
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            if (after.get(i) < before.get(i)) better++;
            Double rb = num(row(names.get(i)), "rfid"), ra = num(row(names.get(i)), "posttrain.rfid");
            parts.add(String.format(Locale.ROOT, "%s %s -> %s (rFID %s -> %s)", names.get(i), f2(before.get(i)), f2(after.get(i)), f2(rb), f2(ra)));
        }
        String word = better == names.size() ? "reproduced" : better == 0 ? "not reproduced" : "unclear";
        StringBuilder t = new StringBuilder(String.format(Locale.ROOT,
                "gFID at guidance %s before -> after post-training the decoder, the same generated tokens decoded by both decoders: %s. "
                        + "Mean change %s.", g, String.join("; ", parts), f2(mean(after) - mean(before))));
        for (String ctl : controls) {
            Map<String, Object> r = row(ctl);
            Double b = num(r, col), a = num(r, "posttrain." + col);
            Sweep.Variant v = variant(ctl);
            if (b == null || a == null || v == null) continue;
            t.append(String.format(Locale.ROOT, " Control %s (%s): %s -> %s (rFID %s -> %s).", ctl, overrides(v), f2(b), f2(a),
                    f2(num(r, "rfid")), f2(num(r, "posttrain.rfid"))));
            String twin = sameGenerator(v);
            Double ta = twin == null ? null : num(row(twin), "posttrain." + col);
            if (ta != null) {
                t.append(String.format(Locale.ROOT, " It fine-tunes the decoder of %s the same way on clean tokens only; with generated tokens "
                        + "that decoder reached %s, on clean tokens %s: %s", twin, f2(ta), f2(a), a <= ta
                        ? "what post-training gains here does not need generated tokens (it is further decoder training)."
                        : "the generated tokens add to what fine-tuning alone does."));
            }
        }
        t.append(" Rule: reproduced when post-training lowers gFID in every post-trained tokenizer, not reproduced when it raises it in every one, ")
                .append("unclear when it does both.");
        if (!word.equals("reproduced")) {
            t.append(" The likely reason at this scale: the decoder is fine-tuned for one short epoch with a fresh discriminator from ")
                    .append("step 0, and the GAN's first steps cost more fidelity than the generated-token pairs teach (compare rFID before and after).");
        }
        return new Verdict(word, t.toString());
    }

    private static String interval(Map<String, Object> e) {
        Double lo = (Double) e.get("spearman_low"), hi = (Double) e.get("spearman_high");
        return lo == null || lo.isNaN() ? "[n/a]" : "[" + f2(lo) + ", " + f2(hi) + "]";
    }

    // ---- the document ----

    String markdown(String assets, List<String> figures, List<Map<String, Object>> invocations) throws IOException {
        Config c = ran.common().config();
        StringBuilder md = new StringBuilder("# Reproduction study: RobusTok's three claims at demo scale\n\n");
        md.append("Written by `bin/robustok study --conf <base> --sweep ").append(ran.sweep().file().name().equals("reproduction")
                ? "conf/sweeps/reproduction.conf" : ran.sweep().file().name()).append("` (revision ")
                .append(io.robustok.spark.Provenance.revision()).append(", finished ").append(Instant.now().toString(), 0, 16)
                .append(" UTC). Every figure below is read from the sweep's results table, copied beside this file as [")
                .append(assets).append("/table.md](").append(assets).append("/table.md) (also `table.csv`, `correlations.json`); ")
                .append("the stage outputs are in ").append(ran.sweep().dir()).append(" and ").append(ran.sweep().store().root()).append(".\n\n");

        // time
        double compute = computeSeconds();
        md.append("## Time\n\n");
        md.append(String.format(Locale.ROOT, "Computing every stage output the study uses took %s in all (the sum of each output's own "
                        + "compute time, once per output: what one uninterrupted run from a fresh clone spends, less its start-up), on %d cores. "
                        + "A rerun skips what is stored, so after an interruption the same command continues. The invocations that "
                        + "made this document (wall time, stage outputs each computed, load average at its end):\n\n",
                hms(compute), Runtime.getRuntime().availableProcessors()));
        for (Map<String, Object> inv : invocations) {
            md.append("- ").append(String.valueOf(inv.get("started")), 0, 16).append(" UTC: ")
                    .append(hms(((Number) inv.get("wall_s")).doubleValue())).append(", ").append(inv.get("computed"))
                    .append(" outputs computed, load ").append(inv.get("load_average")).append('\n');
        }
        md.append('\n');
        md.append(stageTimes()).append('\n');

        // scale
        md.append("## Scale, and whether the claims can show at it\n\n");
        md.append(scale(c)).append("\n\n");
        md.append(testability()).append("\n\n");

        // table
        md.append("## Results\n\n").append(mainTable()).append('\n');
        String post = postTable();
        if (!post.isEmpty()) md.append("After post-training the decoder (same generated tokens, same evaluation):\n\n").append(post).append('\n');
        String conv = convergenceTable();
        if (!conv.isEmpty()) md.append("gFID at guidance ").append(g).append(" along the generator's training (EMA weights at each point):\n\n").append(conv).append('\n');

        // claims
        Verdict v1 = claim1(), v2 = claim2(), v3 = claim3();
        md.append("## The claims\n\nThe paper, for scale: ").append(PAPER).append(".\n\n");
        md.append("### 1. Latent perturbation improves generation at the same generator budget, and the generator converges faster, ")
                .append("while rFID barely changes: **").append(v1.word()).append("**\n\n").append(v1.text()).append("\n\n");
        md.append("### 2. pFID ranks tokenizers the way gFID does; rFID does not: **").append(v2.word()).append("**\n\n")
                .append(v2.text()).append("\n\n");
        md.append("### 3. Post-training the decoder on generator tokens lowers gFID, generator untouched: **").append(v3.word())
                .append("**\n\n").append(v3.text()).append("\n\n");

        if (!figures.isEmpty()) {
            md.append("## Plots\n\n");
            for (String f : figures) md.append("![").append(f).append("](").append(assets).append('/').append(f).append(")\n\n");
        }
        List<String> notes = new ArrayList<>();
        for (Sweep.Variant v : ran.sweep().variants()) {
            if (!v.status().equals("ok")) notes.add("- " + v.name() + ": " + v.status() + (v.reason == null ? "" : ": " + v.reason));
        }
        if (!notes.isEmpty()) md.append("## Variants not in the table as planned\n\n").append(String.join("\n", notes)).append("\n\n");
        if (study.hasPath("discussion")) {
            Path d = Path.of(study.getString("discussion"));
            if (Files.isRegularFile(d)) md.append(Files.readString(d).strip()).append('\n');
        }
        return md.toString();
    }

    private static String hms(double s) {
        long t = Math.round(s);
        return t >= 3600 ? String.format(Locale.ROOT, "%d h %02d min", t / 3600, (t % 3600) / 60)
                : String.format(Locale.ROOT, "%d min %02d s", t / 60, t % 60);
    }

    private static String loadAverage() {
        try {
            String[] p = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return p[0] + " / " + p[1] + " / " + p[2];
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }

    /** Sum of each distinct stage output's compute seconds (shared outputs once), plus unshared stages' own seconds. */
    double computeSeconds() {
        Map<String, Double> byOutput = new LinkedHashMap<>();
        double unshared = 0;
        for (Sweep.Variant v : ran.sweep().variants()) {
            for (Map.Entry<String, Map<String, Object>> e : Sweep.stages(v).entrySet()) {
                Map<String, Object> st = e.getValue();
                if (st.get("identity") != null && st.get("location") != null) {
                    if (st.get("compute_seconds") instanceof Number n) byOutput.put(e.getKey() + "/" + st.get("identity"), n.doubleValue());
                } else if (st.get("seconds") instanceof Number n && !"skipped".equals(st.get("status"))) {
                    unshared += n.doubleValue();
                }
            }
        }
        return unshared + byOutput.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    /** Compute seconds per stage, summed over the distinct outputs. */
    String stageTimes() {
        Map<String, double[]> per = new LinkedHashMap<>();
        Set<String> seen = new LinkedHashSet<>();
        for (Sweep.Variant v : ran.sweep().variants()) {
            for (Map.Entry<String, Map<String, Object>> e : Sweep.stages(v).entrySet()) {
                Map<String, Object> st = e.getValue();
                if (st.get("compute_seconds") instanceof Number n && seen.add(e.getKey() + "/" + st.get("identity"))) {
                    double[] a = per.computeIfAbsent(e.getKey(), k -> new double[2]);
                    a[0] += n.doubleValue();
                    a[1]++;
                }
            }
        }
        StringBuilder sb = new StringBuilder("| stage | outputs computed | compute time |\n|---|---:|---:|\n");
        per.forEach((k, a) -> sb.append("| ").append(k).append(" | ").append((long) a[1]).append(" | ").append(hms(a[0])).append(" |\n"));
        return sb.toString();
    }

    private static String scale(Config c) {
        List<String> s = new ArrayList<>();
        s.add(get(c, "data.image-size") + " px images");
        s.add("tokenizer: patch " + get(c, "tokenizer.patch") + ", " + get(c, "tokenizer.latent-grid") + "x" + get(c, "tokenizer.latent-grid")
                + " tokens, codebook " + get(c, "tokenizer.codebook-size") + " x " + get(c, "tokenizer.code-dim") + ", width "
                + get(c, "tokenizer.model.width") + ", " + get(c, "tokenizer.model.encoder-depth") + "+" + get(c, "tokenizer.model.decoder-depth")
                + " blocks, epochs: " + get(c, "tokenizer.trainer.epochs") + " of up to " + get(c, "tokenizer.trainer.epoch-samples") + " images");
        s.add("generator: RAR width " + get(c, "generator.model.width") + ", depth " + get(c, "generator.model.depth") + ", "
                + "steps: " + get(c, "generator.trainer.max-steps") + ", guidance " + get(c, "generator.sampling.guidance"));
        s.add("post-training: " + get(c, "posttrain.pairs") + " generator-paired images, epochs: " + get(c, "posttrain.trainer.epochs"));
        s.add("evaluation: " + get(c, "eval.num-samples") + " generated samples against the val split, feature network "
                + get(c, "eval.feature-extractor"));
        return "Sizes shared by every variant: " + String.join("; ", s) + ".";
    }

    private static String get(Config c, String k) {
        return c.hasPath(k) ? StageGraph.canonical(c.getValue(k)) : "?";
    }

    /** Whether gFID sits above rFID (generated tokens limit it) or at it (the decoder does). */
    String testability() {
        List<Double> ratios = new ArrayList<>();
        for (Map<String, Object> r : studied()) {
            Double gf = num(r, "gfid@" + g), rf = num(r, "rfid");
            if (gf != null && rf != null && rf > 0) ratios.add(gf / rf);
        }
        if (ratios.isEmpty()) return "(no variant has both rFID and gFID)";
        double lo = min(ratios), hi = max(ratios);
        String s = String.format(Locale.ROOT, "gFID at guidance %s is %.2f to %.2f times rFID across the variants. ", g, lo, hi);
        return s + (lo > 1.1 ? "Generation is limited by the generated tokens, not only by the decoder, in every variant: a tokenizer's "
                + "robustness to token errors has room to show in gFID at this scale."
                : "In some variants gFID is within 10% of rFID: there the decoder, not the generator's token errors, sets gFID, "
                + "and a robustness effect has little room to show.");
    }

    String mainTable() {
        List<String> alphas = new ArrayList<>();
        for (String c : ran.results().table().columns()) if (c.startsWith("pfid@")) alphas.add(c);
        List<String[]> cols = new ArrayList<>(List.of(new String[]{"val PSNR", "tokenizer.val_psnr"},
                new String[]{"codes used", "codebook_usage"}, new String[]{"rFID", "rfid"}));
        for (String a : alphas) cols.add(new String[]{"pFID " + a.substring(5), a});
        cols.addAll(List.of(new String[]{"gFID g" + g, "gfid@" + g}, new String[]{"gFID g1", "gfid@1.0"},
                new String[]{"IS", "gfid.is@" + g}, new String[]{"precision", "gfid.precision@" + g},
                new String[]{"recall", "gfid.recall@" + g}, new String[]{"gen. val loss", "generator.final_val_loss"}));
        StringBuilder sb = new StringBuilder("| variant | perturbation | seed |");
        for (String[] c : cols) sb.append(' ').append(c[0]).append(" |");
        sb.append("\n|---|---|---:|");
        sb.append("---:|".repeat(cols.size())).append('\n');
        for (Map<String, Object> r : rows) {
            String name = String.valueOf(r.get("variant"));
            Sweep.Variant v = variant(name);
            sb.append("| ").append(name).append(" | ").append(v == null ? "" : perturbation(v.settings)).append(" | ")
                    .append(v == null ? "" : get(v.settings.config(), "tokenizer.seed")).append(" |");
            for (String[] c : cols) {
                Double d = num(r, c[1]);
                sb.append(' ').append(d == null ? "" : c[1].contains("usage") ? String.format(Locale.ROOT, "%.1f%%", 100 * d) : f2(d)).append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    String postTable() {
        StringBuilder sb = new StringBuilder("| variant | rFID | -> after | pFID " + alpha + " | -> after | gFID g" + g + " | -> after | gFID g1 | -> after | IS | -> after |\n"
                + "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        int n = 0;
        for (Map<String, Object> r : rows) {
            if (num(r, "posttrain.gfid@" + g) == null) continue;
            n++;
            sb.append("| ").append(r.get("variant")).append(" |");
            for (String c : List.of("rfid", "pfid@" + alpha, "gfid@" + g, "gfid@1.0", "gfid.is@" + g)) {
                sb.append(' ').append(f2(num(r, c))).append(" | ").append(f2(num(r, "posttrain." + c))).append(" |");
            }
            sb.append('\n');
        }
        return n == 0 ? "" : sb.toString();
    }

    String convergenceTable() {
        List<Long> steps = steps();
        if (steps.size() < 2) return "";
        StringBuilder sb = new StringBuilder("| variant |");
        for (long s : steps) sb.append(" step ").append(s).append(" |");
        sb.append("\n|---|").append("---:|".repeat(steps.size())).append('\n');
        for (Map<String, Object> r : rows) {
            if (num(r, "generator_steps.gfid@" + steps.get(0)) == null) continue;
            sb.append("| ").append(r.get("variant")).append(" |");
            for (long s : steps) sb.append(' ').append(f2(num(r, "generator_steps.gfid@" + s))).append(" |");
            sb.append('\n');
        }
        return sb.toString();
    }

    private Sweep.Variant variant(String name) {
        for (Sweep.Variant v : ran.sweep().variants()) if (v.name().equals(name)) return v;
        return null;
    }

    /** The studied variant whose generator (and so tokenizer) the control shares, by the generator's identity. */
    private String sameGenerator(Sweep.Variant control) {
        Object id = Sweep.stages(control).getOrDefault("train-generator", Map.of()).get("identity");
        if (id == null) return null;
        for (Map<String, Object> r : studied()) {
            Sweep.Variant v = variant(String.valueOf(r.get("variant")));
            if (v != null && id.equals(Sweep.stages(v).getOrDefault("train-generator", Map.of()).get("identity"))) return v.name();
        }
        return null;
    }

    private static String overrides(Sweep.Variant v) {
        return String.join(", ", new SweepFile.Variant(v.name(), v.overrides()).overrideStrings());
    }

    static String perturbation(Settings s) {
        if (s == null) return "";
        Config c = s.config();
        if (!c.getBoolean("tokenizer.perturb.enabled")) return "none";
        double end = c.getDouble("tokenizer.perturb.end-ratio");
        return "alpha " + get(c, "tokenizer.perturb.alpha-max") + (end == 1.0 ? " constant" : " -> x" + get(c, "tokenizer.perturb.end-ratio"))
                + ", beta " + get(c, "tokenizer.perturb.beta");
    }

    /** gFID against the generator's step, a line per variant that kept snapshots. */
    byte[] convergencePlot() {
        List<Long> steps = steps();
        if (steps.size() < 2) return null;
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = new XYSeriesCollection();
        Set<String> perturbed = new LinkedHashSet<>(study.getStringList("perturbed"));
        Set<String> unperturbed = new LinkedHashSet<>(study.getStringList("unperturbed"));
        Map<String, XYSeries> series = new TreeMap<>(Comparator.comparing((String n) -> !perturbed.contains(n) && !unperturbed.contains(n))
                .thenComparing(Comparator.naturalOrder()));
        for (Map<String, Object> r : rows) {
            String name = String.valueOf(r.get("variant"));
            XYSeries s = new XYSeries(name);
            for (long st : steps) {
                Double d = num(r, "generator_steps.gfid@" + st);
                if (d != null) s.add(st, d);
            }
            if (s.getItemCount() > 1) series.put(name, s);
        }
        if (series.isEmpty()) return null;
        series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart("gFID (guidance " + g + ") along generator training", "generator step",
                "gFID", data, PlotOrientation.VERTICAL, true, false, false);
        chart.getXYPlot().setRenderer(new XYLineAndShapeRenderer(true, true));
        ((org.jfree.chart.axis.NumberAxis) chart.getXYPlot().getRangeAxis()).setAutoRangeIncludesZero(false);
        return SweepPlots.png(chart);
    }
}
