package io.robustok.eval;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;

/**
 * FID / IS / precision / recall over a stream of image batches: {@code reset}, {@code update(images)},
 * {@code result(reference)} (SPEC section 7). rFID, pFID and gFID are the same loop over different images:
 * <pre>{@code
 * FidEvaluator ev = new FidEvaluator(extractor, EvalSettings.from(settings));
 * for (INDArray batch : realImages) ev.update(tokenizer.decode(tokenizer.encode(batch)));     // rFID
 * // pFID: ev.update(tokenizer.decode(perturbation.apply(tokenizer.encode(batch), alpha, delta, rng)))
 * // gFID: ev.update(tokenizer.decode(generator.sample(classes, rng)))
 * EvalResult r = ev.result(reference);
 * }</pre>
 * On Spark, each partition builds its own evaluator and returns {@link #partial()}; partials merge
 * (io.robustok.jobs.eval.DistributedEval does the treeAggregate).
 */
public final class FidEvaluator {
    private final FeatureExtractor extractor;
    private final EvalSettings settings;
    private EvalPartial state;
    private long next;

    public FidEvaluator(FeatureExtractor extractor, EvalSettings settings) {
        this.extractor = extractor;
        this.settings = settings;
        reset();
    }

    public void reset() {
        state = newPartial();
        next = 0;
    }

    public EvalPartial newPartial() {
        int keep = settings.precisionRecall() ? settings.prMaxSamples() : 0;
        return new EvalPartial(extractor.label(), extractor.featureDim(), extractor.classes(), settings.isSplitSize(), keep);
    }

    /** Adds the next batch (uint8 NHWC or float NCHW in [-1, 1]); samples are numbered in arrival order. */
    public void update(INDArray images) {
        update(images, next);
    }

    /** Adds a batch whose samples have global indices {@code firstIndex ..} (distributed callers). */
    public void update(INDArray images, long firstIndex) {
        Features f = extractor.extract(images);
        state.add(f, firstIndex);
        next = Math.max(next, firstIndex + f.count());
    }

    public EvalPartial partial() {
        return state;
    }

    public FidEvaluator merge(EvalPartial other) {
        state.merge(other);
        return this;
    }

    public FeatureExtractor extractor() {
        return extractor;
    }

    /** FID against {@code ref}; IS when the extractor has logits; precision/recall when both sides kept features. */
    public EvalResult result(Reference ref) {
        return result(state, ref, settings);
    }

    public static EvalResult result(EvalPartial samples, Reference ref, EvalSettings settings) {
        if (!samples.extractor().equals(ref.extractor())) {
            throw new IllegalArgumentException("samples were featurized by " + samples.extractor() + " but the reference "
                    + ref.source() + " by " + ref.extractor() + ": FIDs across feature networks are meaningless");
        }
        double fid = FrechetDistance.compute(samples.stats().mean(), samples.stats().covariance(), ref.mu(), ref.sigma());
        double precision = Double.NaN, recall = Double.NaN;
        if (settings.precisionRecall() && ref.hasActivations() && samples.keptCount() > settings.prK()) {
            PrecisionRecall.Result pr = PrecisionRecall.compute(ref.activations(), ref.activationCount(),
                    samples.keptFeatures(), samples.keptCount(), ref.dim(), settings.prK(), settings.prBlock());
            precision = pr.precision();
            recall = pr.recall();
        }
        return new EvalResult(fid, samples.inceptionScore(), precision, recall, samples.count(), ref.count(),
                samples.extractor(), ref.source());
    }

    /** Featurizes every image of {@code arr_0} of an ADM-layout batch (uint8 NHWC), in blocks of rows. */
    EvalPartial evaluateBatchFile(Npz z, int batch) throws IOException {
        EvalPartial p = newPartial();
        try (Npz.RowReader rows = z.rows("arr_0")) {
            long[] shape = rows.header().shape();
            int h = (int) shape[1], w = (int) shape[2];
            long index = 0;
            while (rows.rowsLeft() > 0) {
                byte[] b = rows.nextBytes(batch);
                int n = b.length / (h * w * 3);
                p.add(extractor.extract(Images.fromBytes(b, n, h, w)), index);
                index += n;
            }
        }
        return p;
    }
}
