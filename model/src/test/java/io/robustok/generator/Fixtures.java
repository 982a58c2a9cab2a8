package io.robustok.generator;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/** Small configurations and non-degenerate parameters for generator tests. */
final class Fixtures {
    private Fixtures() {
    }

    static RarConfig tiny(boolean stepEmbedding) {
        return new RarConfig(8, 11, 3, 16, 2, 2, 2.0, stepEmbedding);
    }

    /**
     * Every parameter random, adaLN included: the adaLN-zero init makes every block the identity, and a causality
     * test on an identity network proves nothing.
     */
    static LinkedHashMap<String, INDArray> randomParams(RarConfig cfg, long seed) {
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        long s = seed;
        for (Map.Entry<String, long[]> e : cfg.parameterShapes().entrySet()) {
            INDArray a = Nd4j.randn(++s, e.getValue()).castTo(DataType.FLOAT).muli(0.3);
            if (e.getKey().endsWith("norm.g")) a.addi(1.0);
            p.put(e.getKey(), a);
        }
        return p;
    }

    static int[][] randomTokens(int n, int t, int v, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] x = new int[n][t];
        for (int[] row : x) for (int j = 0; j < t; j++) row[j] = r.nextInt(v);
        return x;
    }
}
