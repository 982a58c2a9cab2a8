package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ops.impl.transforms.custom.TopK;

/**
 * Indices of the k largest entries along the last axis, sorted descending ([rows, k] INT), for graphs.
 *
 * <p>Why not {@code sd.nn().topK}: in ND4J 1.0.0-M2.1 the Java wrapper passes integer arguments [sorted, k] while
 * the native top_k reads the first integer argument as k, so every call silently returns k = 1
 * (TopKIndicesTest pins this). This subclass passes [k] and the sort flag as a boolean argument.
 */
public final class TopKIndices extends TopK {

    private TopKIndices(SameDiff sd, SDVariable in, int k) {
        super(sd, in, k, true);
        iArguments.clear();
        iArguments.add((long) k);
        bArguments.clear();
        bArguments.add(true);
    }

    public static SDVariable apply(SameDiff sd, SDVariable in, int k) {
        return new TopKIndices(sd, in, k).outputVariables()[1];
    }
}
