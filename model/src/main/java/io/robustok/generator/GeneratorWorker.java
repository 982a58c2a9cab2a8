package io.robustok.generator;

import io.robustok.train.GradClip;
import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import io.robustok.train.Worker;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Executor-side generator training: one {@link Rar} graph, updated in place by AdamW. */
final class GeneratorWorker implements Worker<TokenBatch> {
    static final List<String> METRICS = List.of("loss", "acc", "grad_norm", "random_ratio");

    private final GeneratorConfig cfg;
    private final Rar rar;
    /** "generator/<name>" -> the graph's own arrays, split by AdamW group. */
    private final LinkedHashMap<String, INDArray> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, INDArray> decay, noDecay;
    private final LinkedHashMap<String, INDArray> opt = new LinkedHashMap<>();
    /** Condition rows the last step fed the graph (class or null class per sequence; tests read the dropout rate). */
    private int[] lastConditions = new int[0];

    GeneratorWorker(GeneratorConfig cfg) {
        this.cfg = cfg;
        this.rar = Rar.initial(cfg.model(), cfg.seed());
        rar.params().forEach((k, v) -> params.put(GeneratorTask.PREFIX + k, v));
        decay = GeneratorTask.group(params, true);
        noDecay = GeneratorTask.group(params, false);
        cfg.optimizer().init(GeneratorTask.GROUP_DECAY, decay, opt);
        cfg.optimizer().init(GeneratorTask.GROUP_NO_DECAY, noDecay, opt);
    }

    @Override
    public void load(TrainState state) {
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray src = state.params().get(e.getKey());
            if (src == null) throw new IllegalArgumentException("state has no parameter " + e.getKey());
            e.getValue().assign(src);
        }
        for (Map.Entry<String, INDArray> e : opt.entrySet()) {
            INDArray src = state.optState().get(e.getKey());
            if (src == null) throw new IllegalArgumentException("state has no optimizer tensor " + e.getKey());
            e.getValue().assign(src);
        }
    }

    @Override
    public double[] step(TokenBatch batch, StepContext ctx) {
        RarConfig m = cfg.model();
        int n = batch.size();
        SplittableRandom rng = new SplittableRandom(ctx.seed());
        // random order with probability r, annealed 1 -> 0 (SPEC section 5); class dropout 0.1 -> null class
        double r = cfg.order().randomRatio(ctx.globalStep());
        int[][] orders = TokenOrder.sample(n, m.tokens(), r, rng);
        int[] cond = new int[n];
        for (int i = 0; i < n; i++) {
            cond[i] = rng.nextDouble() < cfg.classDropout() ? m.nullClassRow() : m.classRow(batch.labels()[i]);
        }
        lastConditions = cond;
        OutAndGrad og = rar.lossAndGradients(RarInputs.of(m, batch.tokens(), cond, orders));
        double loss = og.getOutputs().get(Rar.LOSS).getDouble(0);
        double acc = og.getOutputs().get(Rar.ACC).getDouble(0);
        LinkedHashMap<String, INDArray> grads = new LinkedHashMap<>();
        og.getGradients().forEach((k, v) -> grads.put(GeneratorTask.PREFIX + k, v));
        double norm = GradClip.clip(grads.values(), cfg.gradClip());
        if (Double.isFinite(loss) && Double.isFinite(norm)) {
            double lr = cfg.lr() * ctx.lrScale();
            cfg.optimizer().step(GeneratorTask.GROUP_DECAY, decay, grads, opt, lr);
            cfg.optimizer().step(GeneratorTask.GROUP_NO_DECAY, noDecay, grads, opt, lr);
        }
        rar.recycle(og);
        return new double[]{loss, acc, norm, r};
    }

    @Override
    public TrainState state() {
        return new TrainState(params, opt);
    }

    Rar rar() {
        return rar;
    }

    int[] lastConditions() {
        return lastConditions.clone();
    }
}
