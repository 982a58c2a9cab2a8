package io.robustok.generator;

import io.robustok.train.TrainState;
import io.robustok.train.TrainingTask;
import io.robustok.train.Worker;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * RAR generator training (SPEC section 5) as a stage of the parameter-averaging master: next-token cross-entropy
 * over token rows, random generation order with probability r(globalStep), class dropout for guidance, AdamW with
 * global-norm clipping. Parameters are named {@code "generator/<name>"}; optimizer state {@code "<param>#m|#v"}
 * and one step counter per AdamW group.
 */
public final class GeneratorTask implements TrainingTask<TokenRow, TokenBatch> {
    private static final long serialVersionUID = 1L;

    /** Network name in {@link TrainState} keys. */
    public static final String PREFIX = "generator/";
    /** AdamW groups: weight matrices with decay, and embedding tables / vectors without. */
    static final String GROUP_DECAY = "generator", GROUP_NO_DECAY = "generator.no-decay";

    private final GeneratorConfig cfg;

    public GeneratorTask(GeneratorConfig cfg) {
        this.cfg = cfg;
    }

    public GeneratorConfig config() {
        return cfg;
    }

    @Override
    public String name() {
        return "generator";
    }

    /**
     * Weight decay as RAR applies it: to linear weights only; embedding and position tables, biases and norm gains
     * are not decayed (AdamW itself already skips tensors of rank < 2).
     */
    static boolean decayed(String name) {
        return !name.contains("emb");
    }

    @Override
    public TrainState init() {
        LinkedHashMap<String, INDArray> params = new LinkedHashMap<>();
        Rar.init(cfg.model(), cfg.seed()).forEach((k, v) -> params.put(PREFIX + k, v));
        LinkedHashMap<String, INDArray> opt = new LinkedHashMap<>();
        cfg.optimizer().init(GROUP_DECAY, group(params, true), opt);
        cfg.optimizer().init(GROUP_NO_DECAY, group(params, false), opt);
        return new TrainState(params, opt);
    }

    static LinkedHashMap<String, INDArray> group(Map<String, INDArray> prefixed, boolean decay) {
        LinkedHashMap<String, INDArray> g = new LinkedHashMap<>();
        prefixed.forEach((k, v) -> {
            if (decayed(k) == decay) g.put(k, v);
        });
        return g;
    }

    @Override
    public Worker<TokenBatch> newWorker() {
        return new GeneratorWorker(cfg);
    }

    @Override
    public String workerKey() {
        // every setting the worker's step reads (class dropout, order anneal, optimizer, ...), not only the
        // architecture: two trainings in one JVM (a sweep's variants) that differ in any of them must not share a worker
        return "generator:" + cfg;
    }

    @Override
    public List<String> metricNames() {
        return GeneratorWorker.METRICS;
    }

    @Override
    public int batchSize() {
        return cfg.batchSize();
    }

    @Override
    public Iterator<TokenBatch> batches(Iterator<TokenRow> records, long seed) {
        int n = cfg.batchSize(), t = cfg.model().tokens();
        return new Iterator<>() {
            TokenBatch next = fill();

            private TokenBatch fill() {
                List<TokenRow> rows = new ArrayList<>(n);
                while (rows.size() < n && records.hasNext()) rows.add(records.next());
                if (rows.size() < n) return null; // the last short batch is dropped (contract)
                int[][] tok = new int[n][];
                int[] lab = new int[n];
                for (int i = 0; i < n; i++) {
                    TokenRow r = rows.get(i);
                    if (r.tokens().length != t) {
                        throw new IllegalArgumentException("token row of " + r.tokens().length + " tokens; generator.latent-grid gives " + t);
                    }
                    tok[i] = r.tokens();
                    lab[i] = r.label();
                }
                return new TokenBatch(tok, lab);
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public TokenBatch next() {
                if (next == null) throw new NoSuchElementException();
                TokenBatch b = next;
                next = fill();
                return b;
            }
        };
    }

    @Override
    public int size(TokenBatch batch) {
        return batch.size();
    }
}
