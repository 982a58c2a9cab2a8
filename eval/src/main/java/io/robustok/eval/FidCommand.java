package io.robustok.eval;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code robustok eval fid --ref A.npz --samples B.npz [--out metrics.json] [--save-stats S.npz]}: either side is
 * an ADM reference batch, an ADM sample batch (uint8 NHWC arr_0; features extracted with the configured
 * extractor), or a statistics file of ours. Prints one JSON line with fid, is, precision, recall.
 */
public final class FidCommand {
    private FidCommand() {
    }

    public static EvalResult run(List<String> args, EvalSettings settings, PrintStream out) throws IOException {
        String ref = flag(args, "--ref"), samples = flag(args, "--samples");
        if (ref == null || samples == null) {
            throw new IllegalArgumentException("usage: eval fid --ref A.npz --samples B.npz [--out metrics.json] [--save-stats S.npz]");
        }
        String save = flag(args, "--save-stats");
        EvalResult r = fid(Path.of(ref), Path.of(samples), settings, save == null ? null : Path.of(save));
        out.println(r.toJsonLine());
        String o = flag(args, "--out");
        if (o != null) {
            new EvalResultsWriter().result("", r, null).provenance("reference", ref).provenance("samples", samples)
                    .write(Path.of(o));
        }
        return r;
    }

    /** FID/IS/precision/recall of {@code samples} against {@code ref}; opens the extractor only when images need it. */
    public static EvalResult fid(Path ref, Path samples, EvalSettings settings) throws IOException {
        return fid(ref, samples, settings, null);
    }

    /** As {@link #fid(Path, Path, EvalSettings)}, also saving the samples' statistics (ours) to {@code saveStats}. */
    public static EvalResult fid(Path ref, Path samples, EvalSettings settings, Path saveStats) throws IOException {
        FeatureExtractor extractor = null;
        try {
            FidEvaluator ev = null;
            if (needsExtractor(ref, settings) || needsExtractor(samples, settings)) {
                extractor = settings.extractorSpec().open();
                ev = new FidEvaluator(extractor, settings);
            }
            Reference r = Reference.load(ref, ev, settings.precisionRecall(), settings.batchSize());
            Reference s = Reference.load(samples, ev, settings.precisionRecall(), settings.batchSize());
            if (saveStats != null) s.save(saveStats);
            return compare(s, r, settings);
        } finally {
            if (extractor != null) extractor.close();
        }
    }

    private static EvalResult compare(Reference s, Reference r, EvalSettings settings) {
        if (!s.extractor().equals(r.extractor())) {
            throw new IllegalArgumentException(s.source() + " has features of " + s.extractor() + " but " + r.source()
                    + " of " + r.extractor() + ": FIDs across feature networks are meaningless");
        }
        if (s.dim() != r.dim()) {
            throw new io.robustok.config.InputError(s.source() + " has " + s.dim() + "-d features but " + r.source() + " has "
                    + r.dim() + "-d: both must come from the same feature network");
        }
        double fid = FrechetDistance.compute(s.mu(), s.sigma(), r.mu(), r.sigma());
        double p = Double.NaN, rc = Double.NaN;
        if (settings.precisionRecall() && s.hasActivations() && r.hasActivations()) {
            PrecisionRecall.Result pr = PrecisionRecall.compute(r.activations(), r.activationCount(), s.activations(),
                    s.activationCount(), r.dim(), settings.prK(), settings.prBlock());
            p = pr.precision();
            rc = pr.recall();
        }
        return new EvalResult(fid, s.inceptionScore(), p, rc, s.count(), r.count(), s.extractor(), r.source());
    }

    private static boolean isImageBatch(Path p) throws IOException {
        try (Npz z = Npz.open(p)) {
            if (!z.has("arr_0")) return false;
            NpyHeader h = z.header("arr_0");
            return h.shape().length == 4 && h.descr().endsWith("u1");
        }
    }

    private static boolean needsExtractor(Path p, EvalSettings settings) throws IOException {
        try (Npz z = Npz.open(p)) {
            boolean stats = z.has("mu") && z.has("sigma");
            return isImageBatch(p) && (!stats || settings.precisionRecall());
        }
    }

    static String flag(List<String> args, String name) {
        int i = args.indexOf(name);
        return i >= 0 && i + 1 < args.size() ? args.get(i + 1) : null;
    }
}
