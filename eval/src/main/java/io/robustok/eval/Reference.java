package io.robustok.eval;

import io.robustok.config.InputError;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The side an evaluation compares against: mean and covariance (FID), optionally activations (precision/recall),
 * the feature network they came from, and the Inception Score when the side was evaluated from images.
 *
 * <p>Read from an {@code .npz} that is either ADM's reference batch ({@code mu}, {@code sigma}, {@code arr_0}:
 * 2-D activations, or uint8 NHWC images whose activations are then extracted), a statistics file of ours
 * (ADM's keys plus {@code count} and {@code feature_extractor}), or a sample batch ({@code arr_0} uint8 NHWC only,
 * features extracted). ADM's files name no network: they are taken to be {@link #ADM_INCEPTION}.
 */
public record Reference(String source, String extractor, long count, double[] mu, double[] sigma,
                        float[] activations, int activationCount, double inceptionScore) {
    /** Label assumed for ADM files, which were made with the TF Inception-v3 graph's pool_3. */
    public static final String ADM_INCEPTION = InceptionV3Tf.NAME;

    public int dim() {
        return mu.length;
    }

    public boolean hasActivations() {
        return activations != null && activationCount > 0;
    }

    /** From evaluated samples (e.g. the real images of rFID, or a saved statistics file). */
    public static Reference of(String source, EvalPartial p) {
        return new Reference(source, p.extractor(), p.count(), p.stats().mean(), p.stats().covariance(),
                p.keptCount() > 0 ? p.keptFeatures() : null, p.keptCount(), p.inceptionScore());
    }

    /**
     * Loads any of the three layouts. {@code evaluator} (may be null) extracts features when the file holds
     * images; {@code withActivations} asks for activations (precision/recall) even when mu/sigma are present.
     */
    public static Reference load(Path path, FidEvaluator evaluator, boolean withActivations, int batch) throws IOException {
        try {
            return loadChecked(path, evaluator, withActivations, batch);
        } catch (IOException | RuntimeException e) {
            if (e instanceof InputError ie) throw ie;
            String why = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(e.toString());
            throw new InputError("cannot use " + path + " as a reference or sample file (" + why + "): expected an ADM "
                    + ".npz (mu [d] and sigma [d, d], or arr_0 of uint8 images [N, H, W, 3] or features [N, d])", e);
        }
    }

    private static Reference loadChecked(Path path, FidEvaluator evaluator, boolean withActivations, int batch) throws IOException {
        try (Npz z = Npz.open(path)) {
            String extractor = z.has("feature_extractor")
                    ? new String(z.readBytes("feature_extractor"), StandardCharsets.UTF_8) : null;
            NpyHeader arr = z.has("arr_0") ? z.header("arr_0") : null;
            boolean images = arr != null && arr.shape().length == 4 && arr.descr().endsWith("u1");
            if (z.has("mu") && z.has("sigma")) {
                long[] ms = z.header("mu").shape();
                long[] ss = z.header("sigma").shape();
                if (ms.length != 1 || ss.length != 2 || ss[0] != ms[0] || ss[1] != ms[0]) {
                    throw new InputError(path + " has mu of shape " + java.util.Arrays.toString(ms) + " and sigma of shape "
                            + java.util.Arrays.toString(ss) + ": expected mu [d] and sigma [d, d] (an ADM reference batch)");
                }
                double[] mu = z.readDoubles("mu");
                double[] sigma = z.readDoubles("sigma");
                long count = z.has("count") ? z.readLong("count") : arr != null ? arr.shape()[0] : 0;
                float[] acts = null;
                int nActs = 0;
                String label = extractor != null ? extractor : ADM_INCEPTION;
                if (withActivations && arr != null && !images) {
                    acts = z.readFloats("arr_0");
                    nActs = (int) arr.shape()[0];
                } else if (withActivations && images && evaluator != null) {
                    EvalPartial p = evaluator.evaluateBatchFile(z, batch);
                    acts = p.keptFeatures();
                    nActs = p.keptCount();
                    label = p.extractor();
                }
                return new Reference(path.toString(), label, count, mu, sigma, acts, nActs, Double.NaN);
            }
            if (images) {
                if (evaluator == null) throw new IOException(path + " holds images: a feature extractor is needed");
                return of(path.toString(), evaluator.evaluateBatchFile(z, batch));
            }
            if (arr != null && arr.shape().length == 2) {
                float[] acts = z.readFloats("arr_0");
                int n = (int) arr.shape()[0], d = (int) arr.shape()[1];
                FeatureStats s = new FeatureStats(d).update(acts, n);
                return new Reference(path.toString(), extractor != null ? extractor : ADM_INCEPTION, n, s.mean(),
                        s.covariance(), acts, n, Double.NaN);
            }
            throw new InputError(path + " is neither an ADM reference/sample batch nor a statistics file: it has arrays "
                    + z.keys() + ", expected mu and sigma, or arr_0 (uint8 images [N, H, W, 3] or features [N, d])");
        }
    }

    /** Writes ADM's keys plus ours ({@code count}, {@code feature_extractor}); activations as arr_0 when present. */
    public void save(Path path) throws IOException {
        int d = dim();
        try (NpzWriter w = new NpzWriter(path)) {
            w.write("mu", mu, d);
            w.write("sigma", sigma, d, d);
            if (hasActivations()) w.write("arr_0", activations, activationCount, d);
            w.writeScalar("count", count);
            byte[] label = extractor.getBytes(StandardCharsets.UTF_8);
            w.write("feature_extractor", label, label.length);
        }
    }
}
