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
     * The perturbation's encoder forward runs on the touched images rounded up to a multiple of a quarter batch (so
     * that the graph's array cache sees a few shapes, not a new one every step), and picks the same codes as a forward
     * on exactly the touched images.
     */
    @Test
    void perturbationForwardRoundsItsBatchUpWithoutChangingThePicks() {
        assertEquals(8, TokenizerWorker.subBatchRows(1, 32));
        assertEquals(8, TokenizerWorker.subBatchRows(8, 32));
        assertEquals(16, TokenizerWorker.subBatchRows(9, 32));
        assertEquals(32, TokenizerWorker.subBatchRows(25, 32));
        assertEquals(32, TokenizerWorker.subBatchRows(32, 32));
        assertEquals(3, TokenizerWorker.subBatchRows(3, 4));
        assertEquals(1, TokenizerWorker.subBatchRows(1, 1));
        assertEquals(6, TokenizerWorker.subBatchRows(5, 6));

        int batch = 8;
        TokenizerConfig c = TestConfigs.tiny(batch);
        int nT = c.tokens();
        TokenizerWorker w = new TokenizerWorker(c, 0);
        INDArray images = TokenizerTrainingTest.images(batch, c.imageSize(), 11);
        // touched: image 2 (token 0 at rank 1), image 5 (token 3 at rank 4), image 6 (every token at rank 2): 3 images,
        // a forward of 4 rows
        int[] ranks = new int[batch * nT];
        ranks[2 * nT] = 1;
        ranks[5 * nT + 3] = 4;
        for (int t = 0; t < nT; t++) ranks[6 * nT + t] = 2;
        int[] touched = {2, 5, 6};
        assertEquals(4, TokenizerWorker.subBatchRows(touched.length, batch));
        Map<String, INDArray> ph = new HashMap<>();
        w.perturbationInputs(ph, images, ranks);
        int[] ids = ph.get("pertIds").toIntVector();
        float[] mask = ph.get("pertMask").data().asFloat();

        INDArray exact = Nd4j.create(DataType.FLOAT, touched.length, 3, c.imageSize(), c.imageSize());
        for (int i = 0; i < touched.length; i++) exact.putSlice(i, images.slice(touched[i]));
        INDArray sims = w.simsGraph().output(Map.of("image", exact), "sims").get("sims");
        int picked = 0;
        for (int n = 0; n < batch; n++) {
            int i = Arrays.binarySearch(touched, n);
            for (int t = 0; t < nT; t++) {
                int row = n * nT + t, r = ranks[row];
                if (r == 0) {
                    assertEquals(0f, mask[row], "mask of clean row " + row);
                    continue;
                }
                assertEquals(1f, mask[row], "mask of row " + row);
                assertEquals(LatentPerturbation.nearest(sims, (long) i * nT + t, r), ids[row], "code of row " + row);
                picked++;
            }
        }
        assertEquals(2 + nT, picked);
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
