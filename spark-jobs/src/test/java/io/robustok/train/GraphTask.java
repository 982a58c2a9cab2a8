package io.robustok.train;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;

/**
 * Adapter that trains a DL4J ComputationGraph through our master: the graph's flat parameter vector and flat
 * updater state are the TrainState, a step is {@code graph.fit(batch)}. Used by the benchmark to compare with
 * DL4J's own ParameterAveragingTrainingMaster on the very same network. A record is float[in + 1] (features,
 * then the class index).
 */
public final class GraphTask implements TrainingTask<float[], DataSet> {
    final int in;
    final int hidden;
    final int classes;
    final int batch;
    final String confJson;

    public GraphTask(int in, int hidden, int classes, int batch) {
        this.in = in;
        this.hidden = hidden;
        this.classes = classes;
        this.batch = batch;
        this.confJson = conf(in, hidden, classes).toJson();
    }

    /** A 3-layer MLP with Adam; the same configuration goes to DL4J's master. */
    public static ComputationGraphConfiguration conf(int in, int hidden, int classes) {
        return new NeuralNetConfiguration.Builder().seed(1).updater(new Adam(1e-3)).graphBuilder()
                .addInputs("in")
                .addLayer("h1", new DenseLayer.Builder().nIn(in).nOut(hidden).activation(Activation.RELU).build(), "in")
                .addLayer("h2", new DenseLayer.Builder().nIn(hidden).nOut(hidden).activation(Activation.RELU).build(), "h1")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(hidden).nOut(classes)
                        .activation(Activation.SOFTMAX).build(), "h2")
                .setOutputs("out").build();
    }

    ComputationGraph newGraph() {
        ComputationGraph g = new ComputationGraph(ComputationGraphConfiguration.fromJson(confJson));
        g.init();
        return g;
    }

    @Override
    public String name() {
        return "mlp";
    }

    @Override
    public TrainState init() {
        ComputationGraph g = newGraph();
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        p.put("graph/params", g.params().dup());
        LinkedHashMap<String, INDArray> o = new LinkedHashMap<>();
        o.put("graph/updater", g.getUpdater().getStateViewArray().dup());
        return new TrainState(p, o);
    }

    @Override
    public Worker<DataSet> newWorker() {
        ComputationGraph g = newGraph();
        return new Worker<>() {
            @Override
            public void load(TrainState s) {
                g.params().assign(s.params().get("graph/params"));
                g.getUpdater().getStateViewArray().assign(s.optState().get("graph/updater"));
            }

            @Override
            public double[] step(DataSet b, StepContext ctx) {
                g.fit(b);
                return new double[]{g.score()};
            }

            @Override
            public TrainState state() {
                LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
                p.put("graph/params", g.params());
                LinkedHashMap<String, INDArray> o = new LinkedHashMap<>();
                o.put("graph/updater", g.getUpdater().getStateViewArray());
                return new TrainState(p, o);
            }
        };
    }

    @Override
    public String workerKey() {
        return "mlp-" + in + "-" + hidden + "-" + classes;
    }

    @Override
    public List<String> metricNames() {
        return List.of("loss");
    }

    @Override
    public int batchSize() {
        return batch;
    }

    @Override
    public Iterator<DataSet> batches(Iterator<float[]> records, long seed) {
        return new Iterator<>() {
            DataSet next = fill();

            private DataSet fill() {
                List<float[]> rows = new ArrayList<>(batch);
                while (rows.size() < batch && records.hasNext()) rows.add(records.next());
                return rows.size() == batch ? toDataSet(rows, in, classes) : null;
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public DataSet next() {
                if (next == null) throw new NoSuchElementException();
                DataSet d = next;
                next = fill();
                return d;
            }
        };
    }

    static DataSet toDataSet(List<float[]> rows, int in, int classes) {
        float[][] x = new float[rows.size()][in];
        float[][] y = new float[rows.size()][classes];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(rows.get(i), 0, x[i], 0, in);
            y[i][(int) rows.get(i)[in]] = 1f;
        }
        return new DataSet(Nd4j.create(x), Nd4j.create(y));
    }

    @Override
    public int size(DataSet b) {
        return b.numExamples();
    }

    /** Synthetic classification data: labels from a fixed random linear teacher. */
    public static List<float[]> data(int n, int in, int classes, long seed) {
        Random r = new Random(seed);
        float[][] teacher = new float[classes][in];
        for (float[] t : teacher) for (int j = 0; j < in; j++) t[j] = (float) r.nextGaussian();
        List<float[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            float[] row = new float[in + 1];
            for (int j = 0; j < in; j++) row[j] = (float) r.nextGaussian();
            int best = 0;
            double bestV = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                double v = 0;
                for (int j = 0; j < in; j++) v += teacher[c][j] * row[j];
                if (v > bestV) {
                    bestV = v;
                    best = c;
                }
            }
            row[in] = best;
            out.add(row);
        }
        return out;
    }
}
