package io.robustok.tokenizer;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The latent perturbation as the training step wires it (SPEC section 3), checked inside the step's own graph. */
class StepWiringTest {
    @Test
    void decoderSeesPerturbedCodesExactlyOnDrawnTokensWhileLossesStayClean() {
        int batch = 4;
        TokenizerConfig c = TestConfigs.tiny(batch);
        int nT = c.tokens();
        TokenizerWorker w = new TokenizerWorker(c, 0);
        INDArray images = TokenizerTrainingTest.images(batch, c.imageSize(), 9);
        // image 1: tokens 0, 3, 7 at ranks 1, 5, 2; image 3: every token at rank 1; images 0 and 2 clean
        int[] ranks = new int[batch * nT];
        ranks[nT] = 1;
        ranks[nT + 3] = 5;
        ranks[nT + 7] = 2;
        for (int t = 0; t < nT; t++) ranks[3 * nT + t] = 1;
        Map<String, INDArray> ph = new HashMap<>();
        ph.put("image", images);
        w.perturbationInputs(ph, images, ranks);
        Map<String, INDArray> out = w.recGraph().output(ph, "zqDecoderInput", "ids", "codebook", "commit");

        // expected codes, computed here from the encoder output and the normalised codebook
        INDArray z = w.simsGraph().output(Map.of("image", images), "z").get("z");
        INDArray cb = w.state().params().get("quantizer/codebook");
        INDArray cbn = cb.divColumnVector(cb.norm2(1).reshape(-1, 1).add(1e-6));
        INDArray sims = z.mmul(cbn.transpose());
        int[] ids = out.get("ids").toIntVector();
        for (int row = 0; row < batch * nT; row++) {
            double[] s = sims.getRow(row).toDoubleVector();
            Integer[] order = new Integer[s.length];
            for (int i = 0; i < s.length; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> Double.compare(s[b], s[a]));
            assertEquals((int) order[0], ids[row], "clean id of row " + row);
            int expected = order[ranks[row]];
            INDArray got = out.get("zqDecoderInput").getRow(row);
            assertTrue(got.equalsWithEps(cbn.getRow(expected), 1e-5),
                    "row " + row + " (rank " + ranks[row] + ") should carry code " + expected);
        }
        // codebook and commitment losses are those of the clean quantisation
        Map<String, INDArray> clean = new HashMap<>(ph);
        clean.put("pertMask", Nd4j.zeros(DataType.FLOAT, batch * nT, 1));
        Map<String, INDArray> ref = w.recGraph().output(clean, "codebook", "commit", "zqDecoderInput");
        assertEquals(ref.get("codebook").getDouble(0), out.get("codebook").getDouble(0), 1e-7);
        assertEquals(ref.get("commit").getDouble(0), out.get("commit").getDouble(0), 1e-7);
        // and the perturbation did change what the decoder sees (an all-zero mask would not)
        assertTrue(!ref.get("zqDecoderInput").equalsWithEps(out.get("zqDecoderInput"), 1e-6));
    }

    /**
     * The adaptive GAN weight the step computes from its probes (h^T dL/dy at the linear head) equals VQGAN's formula
     * on the real weight gradients: ||dL_rec/dW|| / (||dL_gan/dW|| + 1e-4) at the decoder head W, where dL_gan/dW is
     * the GAN graph's head gradient minus the reconstruction graph's.
     */
    @Test
    void adaptiveWeightIsTheRatioOfHeadGradientNorms() {
        int batch = 4;
        TokenizerConfig c = TestConfigs.tiny(batch).withGan(0, 1e-3, LatentPerturbation.Schedule.paper());
        TokenizerWorker w = new TokenizerWorker(c, 0);
        INDArray images = TokenizerTrainingTest.images(batch, c.imageSize(), 4);
        Map<String, INDArray> ph = new HashMap<>();
        ph.put("image", images);
        w.perturbationInputs(ph, images, new int[batch * c.tokens()]);
        String head = "decoder/head.w";
        INDArray gRec = w.recGraph().calculateGradients(ph, List.of(head)).get(head);
        Map<String, INDArray> gph = new HashMap<>(ph);
        new DiffAugment(c.diffAug(), c.imageSize(), c.cutout()).draw(gph, "fake", batch, 3);
        gph.put("ganWeight", Nd4j.scalar(1f));
        var gan = w.ganGraph().calculateGradientsAndOutputs(gph, List.of("headIn"), List.of(head, "probeRec", "probeGan"));
        INDArray gGan = gan.getGradients().get(head).sub(gRec);
        double expected = Math.min(c.adaptiveMax(), gRec.norm2Number().doubleValue() / (gGan.norm2Number().doubleValue() + 1e-4));
        double got = w.adaptiveWeight(gan.getOutputs().get("headIn"), gan.getGradients().get("probeRec"), gan.getGradients().get("probeGan"), 1.0);
        assertEquals(expected, got, 1e-4 * expected);
        assertTrue(expected > 0);
    }

    /** Tokenizer.encode / decode (what later stages use) compute the training graph's clean ids and reconstruction. */
    @Test
    void encodeAndDecodeAreTheTrainingGraphsIdsAndReconstruction() {
        int batch = 4;
        TokenizerConfig c = TestConfigs.tiny(batch);
        TokenizerWorker w = new TokenizerWorker(c, 0);
        INDArray images = TokenizerTrainingTest.images(batch, c.imageSize(), 6);
        Map<String, INDArray> ph = new HashMap<>();
        ph.put("image", images);
        w.perturbationInputs(ph, images, new int[batch * c.tokens()]);
        Map<String, INDArray> out = w.recGraph().output(ph, "ids", "recon");
        Tokenizer tok = new Tokenizer(c, w.state().params(), 8, batch);
        INDArray ids = tok.encode(images);
        assertEquals(out.get("ids").castTo(ids.dataType()).reshape(batch, c.tokens()), ids);
        assertTrue(out.get("recon").equalsWithEps(tok.decode(ids), 1e-5), "decode(encode(x)) is the training graph's clean reconstruction");
    }
}
