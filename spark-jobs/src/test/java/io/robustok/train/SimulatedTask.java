package io.robustok.train;

import org.apache.spark.TaskContext;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Test and benchmark task standing for a model trained on GPU executors: {@code params} float parameters in
 * tensors of at most {@code chunk} elements, with {@code moments} optimizer-state tensors of the same shape per
 * parameter tensor (AdamW has two: m and v), and a step that sleeps {@code stepMs} (the GPU's time for one
 * minibatch, which uses no host CPU) and then changes one element of every tensor. So the only CPU work of a
 * round is the trainer's own: broadcast, task scheduling, result serialization and transfer, the sum, the EMA.
 *
 * <p>A record is a minibatch index (one record = one per-GPU minibatch, {@link #size} 1), so samples/s reads
 * as steps/s. The step is deterministic: step g on worker w adds {@code (w + 1) * DELTA} to element
 * {@code g mod length} of every tensor, so with W workers of equal weight the average gains
 * {@code (W + 1) / 2 * DELTA} there per step (what the tests check).
 */
public final class SimulatedTask implements TrainingTask<Long, Long> {
    static final float DELTA = 1e-3f;

    final long params;
    final int chunk;
    final int moments;
    final long stepMs;

    public SimulatedTask(long params, int chunk, int moments, long stepMs) {
        if (params < 1 || chunk < 1 || moments < 0 || stepMs < 0) throw new IllegalArgumentException("bad simulated task");
        this.params = params;
        this.chunk = chunk;
        this.moments = moments;
        this.stepMs = stepMs;
    }

    @Override
    public String name() {
        return "simulated";
    }

    /** Tensor lengths: full chunks, then the rest. */
    long[] lengths() {
        int n = (int) ((params + chunk - 1) / chunk);
        long[] l = new long[n];
        for (int i = 0; i < n; i++) l[i] = Math.min(chunk, params - (long) i * chunk);
        return l;
    }

    /**
     * Seeded uniform values (std 0.02, like initialised weights): random floats, so that the trainer's transfer
     * costs what it costs for real weights (zeros would make any compression on the way unrealistically cheap).
     */
    @Override
    public TrainState init() {
        return build(true);
    }

    private TrainState build(boolean values) {
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        LinkedHashMap<String, INDArray> o = new LinkedHashMap<>();
        long[] l = lengths();
        for (int i = 0; i < l.length; i++) {
            String k = "sim/t" + i;
            p.put(k, tensor(l[i], values, 2L * i));
            for (int m = 0; m < moments; m++) o.put(k + "#m" + m, tensor(l[i], values, 2L * i + 1 + 1000L * m));
        }
        return new TrainState(p, o);
    }

    private static INDArray tensor(long length, boolean values, long seed) {
        if (!values) return Nd4j.createUninitialized(DataType.FLOAT, length);
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] v = new float[(int) length];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((r.nextDouble() - 0.5) * 0.07);
        return Nd4j.createFromArray(v);
    }

    @Override
    public Worker<Long> newWorker() {
        return new SimulatedWorker(this);
    }

    @Override
    public String workerKey() {
        return "simulated-" + params + "-" + chunk + "-" + moments + "-" + stepMs;
    }

    @Override
    public List<String> metricNames() {
        return List.of("loss");
    }

    @Override
    public int batchSize() {
        return 1;
    }

    @Override
    public Iterator<Long> batches(Iterator<Long> records, long seed) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return records.hasNext();
            }

            @Override
            public Long next() {
                if (!records.hasNext()) throw new NoSuchElementException();
                return records.next();
            }
        };
    }

    @Override
    public int size(Long batch) {
        return 1;
    }

    /** Holds its state in buffers allocated once, as a SameDiff worker holds its variables; load copies into them. */
    static final class SimulatedWorker implements Worker<Long> {
        private final SimulatedTask task;
        private final TrainState state;

        SimulatedWorker(SimulatedTask task) {
            this.task = task;
            this.state = task.build(false);
        }

        @Override
        public void load(TrainState s) {
            copyInto(s.params(), state.params());
            copyInto(s.optState(), state.optState());
        }

        private static void copyInto(Map<String, INDArray> from, Map<String, INDArray> to) {
            for (Map.Entry<String, INDArray> e : to.entrySet()) {
                INDArray src = from.get(e.getKey());
                if (src == null) throw new IllegalArgumentException("simulated: no tensor " + e.getKey() + " in the loaded state");
                e.getValue().assign(src);
            }
        }

        @Override
        public double[] step(Long batch, StepContext ctx) {
            if (task.stepMs > 0) {
                try {
                    Thread.sleep(task.stepMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("simulated step interrupted", e);
                }
            }
            // worker w of a round runs partition w of the round's RDD
            TaskContext tc = TaskContext.get();
            float add = ((tc == null ? 0 : tc.partitionId()) + 1) * DELTA;
            perturb(state.params(), ctx.globalStep(), add);
            perturb(state.optState(), ctx.globalStep(), add);
            return new double[]{1.0 / (1 + ctx.globalStep())};
        }

        private static void perturb(Map<String, INDArray> tensors, long step, float add) {
            for (INDArray a : tensors.values()) {
                long i = step % a.length();
                a.putScalar(i, a.getFloat(i) + add);
            }
        }

        @Override
        public TrainState state() {
            return state;
        }
    }
}
