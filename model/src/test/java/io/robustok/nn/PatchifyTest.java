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

class PatchifyTest {
    @Test
    void patchifyRoundTripsInCPyPxOrder() {
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
        assertEquals(in.getFloat(0, 2, 1, 4 + 3), o.get("rows").getFloat(1, 2 * 16 + 4 + 3), 0);
    }

    @Test
    void resampleIsIdentityOnSameGridAndAveragesOnHalfGrid() {
        assertEquals(Nd4j.eye(16).castTo(DataType.FLOAT), PosEmbed2d.resampleMatrix(4, 4));
        INDArray r = PosEmbed2d.resampleMatrix(4, 2);
        // each coarse cell is the mean of a 2x2 block
        assertEquals(0.25, r.getDouble(0, 0), 1e-6);
        assertEquals(0.25, r.getDouble(0, 5), 1e-6);
        assertEquals(1.0, r.sumNumber().doubleValue() / 4, 1e-6);
    }
}
