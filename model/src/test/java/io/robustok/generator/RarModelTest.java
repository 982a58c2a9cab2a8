package io.robustok.generator;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RarModelTest {

    private static double maxDiffAt(INDArray a, INDArray b, int j) {
        INDArray x = a.get(NDArrayIndex.all(), NDArrayIndex.point(j), NDArrayIndex.all());
        INDArray y = b.get(NDArrayIndex.all(), NDArrayIndex.point(j), NDArrayIndex.all());
        return x.sub(y).amaxNumber().doubleValue();
    }

    /**
     * Changing the token at generation step k must leave the predictions of steps 0..k unchanged (step k predicts
     * that very token: it must not see it) and must change some later prediction. Checked in raster order and in a
     * random order, with and without the step embedding.
     */
    @Test
    void causalMaskHidesTargetAndFuture() {
        for (boolean step : new boolean[]{true, false}) {
            RarConfig cfg = Fixtures.tiny(step);
            Rar rar = new Rar(cfg, Fixtures.randomParams(cfg, 7));
            int t = cfg.tokens();
            int[][] x = Fixtures.randomTokens(2, t, cfg.codebookSize(), 3);
            int[] cond = {cfg.classRow(1), cfg.nullClassRow()};
            int[][] orders = {TokenOrder.sample(1, t, 0.0, new SplittableRandom(1))[0],
                    TokenOrder.sample(1, t, 1.0, new SplittableRandom(2))[0]};
            INDArray base = rar.logits(RarInputs.of(cfg, x, cond, orders));
            for (int k = 0; k < t; k++) {
                int[][] y = new int[][]{x[0].clone(), x[1].clone()};
                for (int i = 0; i < 2; i++) {
                    int p = orders[i][k];
                    y[i][p] = (y[i][p] + 1 + k) % cfg.codebookSize();
                }
                INDArray changed = rar.logits(RarInputs.of(cfg, y, cond, orders));
                for (int j = 0; j <= k; j++) {
                    assertTrue(maxDiffAt(base, changed, j) == 0.0,
                            "step " + j + " saw the token of step " + k + " (stepEmbedding=" + step + ")");
                }
                if (k < t - 1) {
                    assertTrue(maxDiffAt(base, changed, k + 1) > 1e-4, "step " + (k + 1) + " ignores its prefix");
                }
            }
        }
    }

    /** The class condition reaches every prediction (through the class token and adaLN). */
    @Test
    void classConditionMatters() {
        RarConfig cfg = Fixtures.tiny(true);
        Rar rar = new Rar(cfg, Fixtures.randomParams(cfg, 8));
        int[][] x = Fixtures.randomTokens(1, cfg.tokens(), cfg.codebookSize(), 4);
        INDArray a = rar.logits(RarInputs.of(cfg, x, new int[]{cfg.classRow(0)}, null));
        INDArray b = rar.logits(RarInputs.of(cfg, x, new int[]{cfg.classRow(2)}, null));
        for (int j = 0; j < cfg.tokens(); j++) assertTrue(maxDiffAt(a, b, j) > 1e-4, "step " + j);
    }

    /**
     * The target-aware embedding is what tells the network which position comes next: the same prefix with two
     * orders that differ only in the next position must give different predictions.
     */
    @Test
    void targetAwareEmbeddingTellsNextPosition() {
        RarConfig cfg = Fixtures.tiny(true);
        Rar rar = new Rar(cfg, Fixtures.randomParams(cfg, 9));
        int t = cfg.tokens();
        int[][] x = Fixtures.randomTokens(1, t, cfg.codebookSize(), 5);
        int[] o1 = new int[t], o2 = new int[t];
        for (int j = 0; j < t; j++) o1[j] = o2[j] = j;
        o2[2] = 5;
        o2[5] = 2; // same prefix (0, 1), next position 5 instead of 2
        int[] cond = {cfg.classRow(0)};
        INDArray a = rar.logits(RarInputs.of(cfg, x, cond, new int[][]{o1}));
        INDArray b = rar.logits(RarInputs.of(cfg, x, cond, new int[][]{o2}));
        assertEquals(0.0, maxDiffAt(a, b, 0) + maxDiffAt(a, b, 1), 0.0);
        assertTrue(maxDiffAt(a, b, 2) > 1e-4);
        RarInputs in = RarInputs.of(cfg, x, cond, new int[][]{o2});
        assertArrayEquals(new int[]{0, 1, 2, 6, 4, 5, 3, 7, 8}, in.target().toIntVector());
        assertArrayEquals(new int[]{0, 1, 2, 3, 7, 5, 6, 4, 8}, in.pos().toIntVector());
        assertEquals(x[0][5], in.labels().getInt(0, 2));
    }

    @Test
    void randomOrderIsPermutationAtROneAndRasterAtRZero() {
        int n = 64, t = 16;
        int[][] random = TokenOrder.sample(n, t, 1.0, new SplittableRandom(11));
        int nonRaster = 0;
        for (int[] o : random) {
            int[] sorted = o.clone();
            Arrays.sort(sorted);
            for (int j = 0; j < t; j++) assertEquals(j, sorted[j], "not a permutation: " + Arrays.toString(o));
            boolean raster = true;
            for (int j = 0; j < t; j++) raster &= o[j] == j;
            if (!raster) nonRaster++;
        }
        assertEquals(n, nonRaster);
        for (int[] o : TokenOrder.sample(n, t, 0.0, new SplittableRandom(12))) {
            for (int j = 0; j < t; j++) assertEquals(j, o[j]);
        }
        int[][] half = TokenOrder.sample(2000, t, 0.5, new SplittableRandom(13));
        int permuted = 0;
        for (int[] o : half) if (o[0] != 0 || o[1] != 1 || o[2] != 2) permuted++;
        assertEquals(1000, permuted, 80);
    }

    @Test
    void randomRatioAnneals() {
        TokenOrder a = new TokenOrder(125_000, 187_500);
        assertEquals(1.0, a.randomRatio(0));
        assertEquals(1.0, a.randomRatio(125_000));
        assertEquals(0.5, a.randomRatio(156_250), 1e-12);
        assertEquals(0.0, a.randomRatio(187_500));
        assertEquals(0.0, a.randomRatio(250_000));
    }

    @Test
    void parameterCountMatchesShapes() {
        RarConfig cfg = Fixtures.tiny(true);
        long n = 0;
        for (INDArray a : Rar.init(cfg, 1).values()) n += a.length();
        assertEquals(cfg.parameterCount(), n);
    }

    /**
     * The loss is the MEAN token cross-entropy, and so is its gradient: for the output bias, dL/db is the mean over
     * the N x T predictions of softmax(logits) - onehot(label), computed here from the logits independently.
     */
    @Test
    void lossGradientIsTheMeanOverTokens() {
        RarConfig cfg = Fixtures.tiny(true);
        Rar rar = new Rar(cfg, Fixtures.randomParams(cfg, 11));
        int n = 3, t = cfg.tokens(), v = cfg.codebookSize();
        int[][] x = Fixtures.randomTokens(n, t, v, 5);
        RarInputs in = RarInputs.of(cfg, x, new int[]{cfg.classRow(0), cfg.classRow(2), cfg.nullClassRow()}, null);
        INDArray logits = rar.logits(in).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE);
        double[] expected = new double[v];
        double loss = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < t; j++) {
                double[] row = logits.get(NDArrayIndex.point(i), NDArrayIndex.point(j), NDArrayIndex.all()).toDoubleVector();
                double max = Arrays.stream(row).max().orElseThrow(), z = 0;
                for (double r : row) z += Math.exp(r - max);
                int label = in.labels().getInt(i, j);
                loss += -(row[label] - max - Math.log(z)) / (n * t);
                for (int k = 0; k < v; k++) expected[k] += (Math.exp(row[k] - max) / z - (k == label ? 1 : 0)) / (n * t);
            }
        }
        var r = rar.lossAndGradients(in);
        assertEquals(loss, r.getOutputs().get(Rar.LOSS).getDouble(0), 1e-4, "mean cross-entropy");
        double[] got = r.getGradients().get("head.b").reshape(-1).toDoubleVector();
        for (int k = 0; k < v; k++) assertEquals(expected[k], got[k], 1e-5, "dL/d head.b[" + k + "]");
    }

    /**
     * The generator's loss and gradients through io.robustok.nn.Backprop (array cache on) are bitwise those of
     * SameDiff's calculateGradientsAndOutputs (cache off), call after call with new tokens.
     */
    @Test
    void cachedBackpropIsBitwiseSameDiffs() {
        RarConfig cfg = Fixtures.tiny(true);
        Rar rar = new Rar(cfg, Fixtures.randomParams(cfg, 11));
        java.util.List<String> names = new java.util.ArrayList<>(rar.params().keySet());
        for (int call = 0; call < 3; call++) {
            int[][] x = Fixtures.randomTokens(3, cfg.tokens(), cfg.codebookSize(), 40 + call);
            int[] cond = {cfg.classRow(0), cfg.classRow(2), cfg.nullClassRow()};
            int[][] orders = TokenOrder.sample(3, cfg.tokens(), 0.5, new SplittableRandom(call));
            RarInputs in = RarInputs.of(cfg, x, cond, orders);
            // the graph's own gradients (the embedding tables' are scattered in Java: the test below)
            java.util.List<String> graphNames = names.stream().filter(n -> !Rar.TABLES.contains(n)).toList();
            var ref = rar.sameDiff().calculateGradientsAndOutputs(rar.placeholders(in, true), java.util.List.of(Rar.LOSS), graphNames);
            var got = rar.lossAndGradients(in);
            assertEquals(ref.getOutputs().get(Rar.LOSS).getFloat(0), got.getOutputs().get(Rar.LOSS).getFloat(0));
            assertEquals(new java.util.HashSet<>(names), got.getGradients().keySet(), "a gradient for every parameter");
            for (String n : graphNames) {
                assertArrayEquals(ref.getGradients().get(n).dup().data().asFloat(), got.getGradients().get(n).dup().data().asFloat(),
                        "gradient of " + n + ", call " + call);
            }
        }
    }

    /**
     * The embedding lookups run in Java: the inputs equal the one-hot matmul into the stacked tables
     * {@code tok_emb | pos_emb | zero row | target_pos_emb} that the graph used to do, and the tables' gradients equal
     * that matmul's gradient (one-hot transposed times the gradient of the embeddings), within float rounding.
     */
    @Test
    void javaEmbeddingLookupMatchesTheOneHotMatmulItReplaced() {
        for (boolean step : new boolean[]{true, false}) {
            RarConfig cfg = Fixtures.tiny(step);
            Rar rar = new Rar(cfg, Fixtures.randomParams(cfg, 13));
            int n = 4, l = cfg.seqLen(), d = cfg.width(), rows = cfg.embeddingRows(), t = cfg.tokens();
            int[][] x = Fixtures.randomTokens(n, t, cfg.codebookSize(), 17);
            int[] cond = {cfg.classRow(1), cfg.nullClassRow(), cfg.classRow(0), cfg.classRow(1)};
            RarInputs in = RarInputs.of(cfg, x, cond, TokenOrder.sample(n, t, 1.0, new SplittableRandom(5)));
            var params = rar.params();
            INDArray table = org.nd4j.linalg.factory.Nd4j.concat(0, params.get("tok_emb"), params.get("pos_emb"),
                    org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, d), params.get("target_pos_emb"));
            int all = (int) table.size(0);
            // one-hot rows of [token, position, target] per input position, and of the condition per sequence
            INDArray ohX = org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, n * l, all);
            INDArray ohC = org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, n, all);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < l; j++) {
                    ohX.putScalar(i * l + j, in.ids().getInt(i, j), 1);
                    ohX.putScalar(i * l + j, rows + in.pos().getInt(i, j), 1);
                    ohX.putScalar(i * l + j, rows + t + 2 + in.target().getInt(i, j), 1);
                }
                ohC.putScalar(i, cond[i], 1);
            }
            var ph = rar.placeholders(in, true);
            assertTrue(ph.get(Rar.EMB_X).reshape(n * l, d).equalsWithEps(ohX.mmul(table), 1e-6), "input embeddings, step " + step);
            assertTrue(ph.get(Rar.EMB_C).reshape(n, d).equalsWithEps(ohC.mmul(table), 1e-6), "condition embeddings");

            // (SameDiff's own call returns no gradients of placeholders; Backprop's does)
            var ref = io.robustok.nn.Backprop.run(rar.sameDiff(), ph, java.util.List.of(Rar.LOSS), java.util.List.of(Rar.EMB_X, Rar.EMB_C));
            INDArray g = ohX.transpose().mmul(ref.getGradients().get(Rar.EMB_X).reshape(n * l, d))
                    .add(ohC.transpose().mmul(ref.getGradients().get(Rar.EMB_C).reshape(n, d)));
            var got = rar.lossAndGradients(in).getGradients();
            INDArray stacked = org.nd4j.linalg.factory.Nd4j.concat(0, got.get("tok_emb"), got.get("pos_emb"),
                    org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, d), got.get("target_pos_emb"));
            // the zero row (the start position's target) is a constant: its gradient is dropped
            g.getRow(rows + t + 2).assign(0);
            assertTrue(g.amaxNumber().doubleValue() > 1e-4, "the gradient reaches the tables");
            assertTrue(stacked.equalsWithEps(g, 1e-6), "tables' gradients, step " + step + ": max diff " + stacked.sub(g).amaxNumber());
        }
    }
}
