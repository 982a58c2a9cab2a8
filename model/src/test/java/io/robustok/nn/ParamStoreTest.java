package io.robustok.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The store's arrays are the graphs' arrays: an in-place update changes what every sharing graph computes. */
class ParamStoreTest {
    @Test
    void inPlaceUpdatesReachSharingGraphs() {
        SameDiff a = SameDiff.create();
        ParamStore pa = ParamStore.create(a, 1);
        SDVariable xa = a.placeHolder("x", DataType.FLOAT, -1, 2);
        a.updateVariableNameAndReference(Linear.apply(pa, "fc", xa, 2, 1), "y");
        SameDiff b = SameDiff.create();
        ParamStore pb = ParamStore.frozen(b, pa.arrays());
        SDVariable xb = b.placeHolder("x", DataType.FLOAT, -1, 2);
        b.updateVariableNameAndReference(Linear.apply(pb, "fc", xb, 2, 1), "y");
        INDArray x = Nd4j.ones(DataType.FLOAT, 1, 2);
        pa.arrays().get("fc.w").assign(1.0);
        pa.arrays().get("fc.b").assign(0.5);
        assertEquals(2.5, a.output(Map.of("x", x), "y").get("y").getDouble(0), 1e-6);
        assertEquals(2.5, b.output(Map.of("x", x), "y").get("y").getDouble(0), 1e-6);
        assertThrows(IllegalArgumentException.class, () -> ParamStore.frozen(SameDiff.create(), Map.of()).normal("w", 1, 2, 2));
    }
}
