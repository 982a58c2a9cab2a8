package io.robustok.tokenizer;

import io.robustok.nn.ParamStore;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 2: which parameters each quantizer loss moves, and the straight-through path. */
class QuantizerTest {
    private static final int BATCH = 2;

    /** Gradient norm per network ("encoder/", "quantizer/", "decoder/") of the scalar {@code loss}. */
    private static Map<String, Double> gradNorms(String loss) {
        TokenizerConfig c = TestConfigs.tiny(BATCH);
        SameDiff sd = SameDiff.create();
        ParamStore p = ParamStore.create(sd, 7);
        SDVariable image = sd.placeHolder("image", DataType.FLOAT, -1, 3, c.imageSize(), c.imageSize());
        SDVariable z = TokenizerNet.encoder(p, c, image);
        TokenizerNet.Quantized q = TokenizerNet.quantize(sd, z, TokenizerNet.codebook(p, c), c.codebookSize(), null, null, 0.25);
        SDVariable recon = TokenizerNet.toImage(sd, c, TokenizerNet.decoder(p, c, q.decoderIn()).pixels());
        sd.updateVariableNameAndReference(sd.mean(sd.math().square(recon.sub(image))), "rec");
        sd.updateVariableNameAndReference(q.codebookLoss(), "codebook");
        sd.updateVariableNameAndReference(q.commitLoss(), "commit");
        sd.setLossVariables(loss);
        Map<String, INDArray> ph = new HashMap<>();
        Nd4j.getRandom().setSeed(1);
        ph.put("image", Nd4j.rand(DataType.FLOAT, BATCH, 3, c.imageSize(), c.imageSize()).muli(2).subi(1));
        Map<String, INDArray> g = sd.calculateGradients(ph, p.arrays().keySet());
        Map<String, Double> norms = new HashMap<>(Map.of("encoder/", 0.0, "quantizer/", 0.0, "decoder/", 0.0));
        for (String name : p.arrays().keySet()) {
            INDArray gi = g.get(name);
            double n = gi == null ? 0 : gi.norm2Number().doubleValue();
            String net = name.substring(0, name.indexOf('/') + 1);
            norms.merge(net, n * n, Double::sum);
        }
        return norms;
    }

    @Test
    void reconstructionGradientReachesEncoderThroughStraightThrough() {
        Map<String, Double> n = gradNorms("rec");
        assertTrue(n.get("encoder/") > 1e-12, "encoder gets the rec gradient: " + n);
        assertTrue(n.get("decoder/") > 1e-12, "decoder gets the rec gradient: " + n);
        assertEquals(0.0, n.get("quantizer/"), 1e-20, "rec loss must not move the codebook (sg on zq - z): " + n);
    }

    @Test
    void codebookLossMovesOnlyTheCodebook() {
        Map<String, Double> n = gradNorms("codebook");
        assertTrue(n.get("quantizer/") > 1e-12, "" + n);
        assertEquals(0.0, n.get("encoder/"), 1e-20, "" + n);
        assertEquals(0.0, n.get("decoder/"), 1e-20, "" + n);
    }

    @Test
    void commitmentLossMovesOnlyTheEncoder() {
        Map<String, Double> n = gradNorms("commit");
        assertTrue(n.get("encoder/") > 1e-12, "" + n);
        assertEquals(0.0, n.get("quantizer/"), 1e-20, "" + n);
        assertEquals(0.0, n.get("decoder/"), 1e-20, "" + n);
    }

    /**
     * The straight-through path with the perturbation on, as the training step builds it: the decoder input is
     * {@code z + sg(code - z)}, so any loss's gradient with respect to the encoder output z is exactly its gradient
     * with respect to the decoder input, on perturbed and clean rows alike, and none of it reaches the codebook.
     * The loss is {@code sum(decoderIn * W)}: its gradient with respect to the decoder input is W.
     */
    @Test
    void straightThroughPassesTheDecoderInputGradientToTheEncoderOutputOnPerturbedRows() {
        int rows = 12, k = 16, dim = 8;
        Nd4j.getRandom().setSeed(3);
        SameDiff sd = SameDiff.create();
        SDVariable z = sd.placeHolder("z", DataType.FLOAT, -1, dim);
        SDVariable cb = TokenizerNet.l2normalize(sd, sd.var("codebook", Nd4j.randn(DataType.FLOAT, k, dim)));
        SDVariable pertIds = sd.placeHolder("pertIds", DataType.INT, -1);
        SDVariable pertMask = sd.placeHolder("pertMask", DataType.FLOAT, -1, 1);
        TokenizerNet.Quantized q = TokenizerNet.quantize(sd, z, cb, k, pertIds, pertMask, 0.25);
        INDArray w = Nd4j.randn(DataType.FLOAT, rows, dim);
        sd.updateVariableNameAndReference(sd.sum(q.decoderIn().mul(sd.constant(w))), "loss");
        sd.setLossVariables("loss");

        INDArray zIn = Nd4j.randn(DataType.FLOAT, rows, dim);
        zIn.diviColumnVector(zIn.norm2(1).reshape(rows, 1));
        int[] ids = new int[rows];
        float[] mask = new float[rows];
        for (int i = 0; i < rows; i++) {
            ids[i] = (3 * i + 1) % k;
            mask[i] = i % 3 == 0 ? 1 : 0; // every third row perturbed
        }
        Map<String, INDArray> ph = new HashMap<>();
        ph.put("z", zIn);
        ph.put("pertIds", Nd4j.createFromArray(ids));
        ph.put("pertMask", Nd4j.createFromArray(mask).reshape(rows, 1));
        Map<String, INDArray> g = sd.calculateGradients(ph, "z", "codebook");
        assertEquals(w, g.get("z"), "dL/dz = dL/d(decoder input), every row");
        INDArray cbGrad = g.get("codebook");
        assertTrue(cbGrad == null || cbGrad.norm2Number().doubleValue() == 0.0, "no decoder gradient reaches the codebook: " + cbGrad);

        // the forward value is the code: the perturbed code where the mask is 1, the clean nearest code elsewhere
        Map<String, INDArray> out = sd.output(ph, q.decoderIn().name(), "ids");
        INDArray code = out.get(q.decoderIn().name());
        INDArray cbn = sd.getVariable("codebook").getArr();
        INDArray unit = cbn.div(cbn.norm2(1).reshape(k, 1));
        INDArray clean = out.get("ids");
        for (int i = 0; i < rows; i++) {
            int want = mask[i] == 1 ? ids[i] : clean.getInt(i);
            assertTrue(code.getRow(i).equalsWithEps(unit.getRow(want), 1e-5), "row " + i + " carries code " + want);
        }
    }

    @Test
    void usageCountsMergeAndGivePerplexity() {
        CodeUsage a = new CodeUsage(4);
        a.add(new int[]{0, 1});
        CodeUsage b = new CodeUsage(4);
        b.add(new int[]{2, 3});
        a.merge(b);
        assertEquals(4, a.total());
        assertEquals(1.0, a.usedFraction(), 1e-12);
        assertEquals(Math.log(4), a.entropy(), 1e-12);
        assertEquals(4.0, a.perplexity(), 1e-9);
        CodeUsage c = new CodeUsage(4);
        c.add(new int[]{1, 1, 1, 1});
        assertEquals(1.0, c.perplexity(), 1e-12);
        assertEquals(0.25, c.usedFraction(), 1e-12);
    }
}
