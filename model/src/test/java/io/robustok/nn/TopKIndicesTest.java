package io.robustok.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class TopKIndicesTest {
    @Test
    void returnsKSortedIndices() {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 6);
        sd.updateVariableNameAndReference(TopKIndices.apply(sd, x, 3), "idx");
        INDArray in = Nd4j.create(new float[]{0.1f, 0.9f, 0.3f, 0.8f, 0.0f, 0.5f, 6, 5, 4, 3, 2, 1}, new long[]{2, 6});
        INDArray idx = sd.output(Map.of("x", in), "idx").get("idx");
        assertArrayEquals(new long[]{2, 3}, idx.shape());
        assertArrayEquals(new int[]{1, 3, 5}, idx.getRow(0).toIntVector());
        assertArrayEquals(new int[]{0, 1, 2}, idx.getRow(1).toIntVector());
    }

    @Test
    void patchifyRoundTrips() {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 3, 8, 8);
        SDVariable rows = Patchify.patchify(sd, x, 3, 8, 4);
        sd.updateVariableNameAndReference(rows, "rows");
        sd.updateVariableNameAndReference(Patchify.unpatchify(sd, rows, 3, 8, 4), "back");
        INDArray in = Nd4j.rand(DataType.FLOAT, 2, 3, 8, 8);
        Map<String, INDArray> o = sd.output(Map.of("x", in), "rows", "back");
        assertArrayEquals(new long[]{8, 48}, o.get("rows").shape());
        assertEquals(in, o.get("back"));
        // row 1 = image 0, patch (0, 1); element (c=2, py=1, px=3)
        assertEquals(in.getFloat(0, 2, 1, 4 + 3), o.get("rows").getFloat(1, 2 * 16 + 1 * 4 + 3), 0);
    }
}
