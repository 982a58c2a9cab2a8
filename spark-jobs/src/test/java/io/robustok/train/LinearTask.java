package io.robustok.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Test-only training task: linear regression y = x w + b with mean squared error, trained by plain SGD or Adam
 * in plain ND4J. A record is float[dim + 1] (features, then target). Optionally reports NaN from a given step
 * (non-finite guard) or throws at a given step (crash and resume).
 */
public final class LinearTask implements TrainingTask<float[], LinearTask.Batch> {
    public enum Opt { SGD, ADAM }

    static final double B1 = 0.9, B2 = 0.999, EPS = 1e-8;

    final int dim;
    final int batch;
    final Opt opt;
    final double lr;
    final long nanFromStep;
    final long failAtStep;

    public LinearTask(int dim, int batch, Opt opt, double lr, long nanFromStep, long failAtStep) {
        this.dim = dim;
        this.batch = batch;
        this.opt = opt;
        this.lr = lr;
        this.nanFromStep = nanFromStep;
        this.failAtStep = failAtStep;
    }

    public LinearTask(int dim, int batch, Opt opt, double lr) {
        this(dim, batch, opt, lr, -1, -1);
    }

    public record Batch(INDArray x, INDArray y) {
    }

    @Override
    public String name() {
        return "linear";
    }

    @Override
    public TrainState init() {
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        p.put("lin/w", Nd4j.linspace(-0.5, 0.5, dim, DataType.FLOAT).reshape(dim, 1));
        p.put("lin/b", Nd4j.zeros(DataType.FLOAT, 1, 1));
        LinkedHashMap<String, INDArray> o = new LinkedHashMap<>();
        if (opt == Opt.ADAM) {
            for (String k : List.of("lin/w", "lin/b")) {
                o.put(k + "#m", Nd4j.zerosLike(p.get(k)));
                o.put(k + "#v", Nd4j.zerosLike(p.get(k)));
            }
            o.put("adam/t", Nd4j.zeros(DataType.FLOAT, 1));
        }
        return new TrainState(p, o);
    }

    @Override
    public Worker<Batch> newWorker() {
        return new LinearWorker(this);
    }

    @Override
    public String workerKey() {
        return "linear-" + dim + "-" + opt + "-" + lr + "-" + nanFromStep + "-" + failAtStep;
    }

    @Override
    public List<String> metricNames() {
        return List.of("loss", "mae");
    }

    @Override
    public int batchSize() {
        return batch;
    }

    @Override
    public Iterator<Batch> batches(Iterator<float[]> records, long seed) {
        return new Iterator<>() {
            Batch next = fill();

            private Batch fill() {
                List<float[]> rows = new ArrayList<>(batch);
                while (rows.size() < batch && records.hasNext()) rows.add(records.next());
                return rows.size() == batch ? toBatch(rows, dim) : null;
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public Batch next() {
                if (next == null) throw new NoSuchElementException();
                Batch b = next;
                next = fill();
                return b;
            }
        };
    }

    static Batch toBatch(List<float[]> rows, int dim) {
        float[][] x = new float[rows.size()][dim];
        float[][] y = new float[rows.size()][1];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(rows.get(i), 0, x[i], 0, dim);
            y[i][0] = rows.get(i)[dim];
        }
        return new Batch(Nd4j.create(x), Nd4j.create(y));
    }

    @Override
    public int size(Batch b) {
        return (int) b.x().rows();
    }

    /** Mean-squared-error gradients of (w, b) on a batch: {loss, mae, dw, db}. */
    static Object[] gradients(INDArray w, INDArray b, Batch batch) {
        INDArray err = batch.x().mmul(w).addi(b).subi(batch.y()); // [n, 1]
        long n = err.rows();
        double loss = err.mul(err).sumNumber().doubleValue() / n;
        double mae = Transforms.abs(err, true).sumNumber().doubleValue() / n;
        INDArray dw = batch.x().transpose().mmul(err).muli(2.0 / n);
        INDArray db = err.sum(true, 0).muli(2.0 / n);
        return new Object[]{loss, mae, dw, db};
    }

    /** One optimizer step in place on params (and Adam state); the same math the tests use for expectations. */
    static void update(Opt opt, double lr, Map<String, INDArray> p, Map<String, INDArray> o, INDArray dw, INDArray db) {
        if (opt == Opt.SGD) {
            p.get("lin/w").subi(dw.mul(lr));
            p.get("lin/b").subi(db.mul(lr));
            return;
        }
        INDArray t = o.get("adam/t");
        t.addi(1);
        double tt = t.getDouble(0);
        double c1 = 1 - Math.pow(B1, tt), c2 = 1 - Math.pow(B2, tt);
        for (String k : List.of("lin/w", "lin/b")) {
            INDArray g = k.equals("lin/w") ? dw : db;
            INDArray m = o.get(k + "#m").muli(B1).addi(g.mul(1 - B1));
            INDArray v = o.get(k + "#v").muli(B2).addi(g.mul(g).muli(1 - B2));
            INDArray step = m.div(c1).divi(Transforms.sqrt(v.div(c2), true).addi(EPS)).muli(lr);
            p.get(k).subi(step);
        }
    }

    static final class LinearWorker implements Worker<Batch> {
        private final LinearTask task;
        private TrainState state;

        LinearWorker(LinearTask task) {
            this.task = task;
        }

        @Override
        public void load(TrainState s) {
            state = s.copy();
        }

        @Override
        public double[] step(Batch batch, StepContext ctx) {
            if (task.failAtStep >= 0 && ctx.globalStep() == task.failAtStep) {
                throw new IllegalStateException("injected failure at step " + ctx.globalStep());
            }
            if (task.nanFromStep >= 0 && ctx.globalStep() >= task.nanFromStep) return new double[]{Double.NaN, Double.NaN};
            Object[] g = gradients(state.params().get("lin/w"), state.params().get("lin/b"), batch);
            update(task.opt, task.lr * ctx.lrScale(), state.params(), state.optState(), (INDArray) g[2], (INDArray) g[3]);
            return new double[]{(Double) g[0], (Double) g[1]};
        }

        @Override
        public TrainState state() {
            return state;
        }
    }

    /** {@code n} records of y = x w* + b* + small noise, from a fixed seed. */
    public static List<float[]> data(int n, int dim, long seed) {
        java.util.Random r = new java.util.Random(seed);
        List<float[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            float[] row = new float[dim + 1];
            float y = 0.3f;
            for (int j = 0; j < dim; j++) {
                row[j] = (float) r.nextGaussian();
                y += row[j] * (j + 1) * 0.5f;
            }
            row[dim] = y + 0.01f * (float) r.nextGaussian();
            out.add(row);
        }
        return out;
    }
}
