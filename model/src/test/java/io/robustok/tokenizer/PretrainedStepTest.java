package io.robustok.tokenizer;

import io.robustok.train.SafeTensors;
import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training step with every loss of SPEC section 2 on (LPIPS, DINOv2 initialisation and semantic loss, DINO
 * discriminator), on small weight files of the public naming (the goldens' seeded random weights).
 */
class PretrainedStepTest {
    @TempDir
    Path dir;

    private String write(String golden) throws IOException {
        Path p = dir.resolve(golden + ".safetensors");
        try (OutputStream out = Files.newOutputStream(p)) {
            SafeTensors.write(out, PretrainedGoldenTest.golden(golden), Map.of());
        }
        return p.toString();
    }

    /** 32 px, patch 8, width 32 with layer scale (the DINOv2 golden's width), 2+2 blocks, batch 8, GAN from the start. */
    private TokenizerConfig config() throws IOException {
        return PretrainedGoldenTest.vitConfig(32, true).withSizes(32, 8, 2, 64, 8, 32, 2, 2, 2, 8)
                .withGan(0, 1e-3, LatentPerturbation.Schedule.paper())
                .withWeights(write("lpips-weights"), write("dinov2-weights"), write("dino-disc-weights"), "dino", true);
    }

    @Test
    void everyLossIsOnAndTheLossIsTheirWeightedSum() throws IOException {
        TokenizerConfig c = config();
        TokenizerWorker w = new TokenizerWorker(c, 1.0);
        // the encoder starts from DINOv2 (blocks copied, transposed to our [in, out] layout)
        INDArray qkv = PretrainedGoldenTest.golden("dinov2-weights").get("blocks.0.attn.qkv.weight");
        assertEquals(qkv.transpose(), w.state().params().get("encoder/blocks.0.attn.qkv.w"));
        TrainState before = w.state().copy();
        INDArray u0 = before.optState().get("disc/heads.0.main.0.0.weight_orig#u").dup();
        ImageBatch b = new ImageBatch(TokenizerTrainingTest.images(8, 32, 3), null);
        // epoch 5: past the discriminator's 4 warm-up epochs from the GAN start (its lr is 0 at the start)
        double[] m = w.step(b, new StepContext(0, 5, 5.0, 1.0, 11));
        double loss = m[TokenizerWorker.METRICS.indexOf("loss")];
        double rec = m[TokenizerWorker.METRICS.indexOf("rec")];
        double perceptual = m[TokenizerWorker.METRICS.indexOf("perceptual")];
        double semantic = m[TokenizerWorker.METRICS.indexOf("semantic")];
        double gan = m[TokenizerWorker.METRICS.indexOf("gan")];
        double disc = m[TokenizerWorker.METRICS.indexOf("disc")];
        double weight = m[TokenizerWorker.METRICS.indexOf("adaptive_weight")];
        assertTrue(perceptual > 0 && semantic > 0 && disc > 0, java.util.Arrays.toString(m));
        // InfoNCE over 8 images is near log 8 at initialisation
        assertEquals(Math.log(8), semantic, 1.0);
        double sum = rec * c.recWeight() + m[TokenizerWorker.METRICS.indexOf("codebook")] + m[TokenizerWorker.METRICS.indexOf("commit")]
                + perceptual * c.perceptualWeight() + semantic * c.semanticWeight();
        // the GAN term carries the weight measured before this step (the first step measures it first)
        double ganTerm = loss - sum;
        assertTrue(Math.abs(gan) > 0 && Double.isFinite(ganTerm), "gan " + gan + " term " + ganTerm);
        assertTrue(weight >= 0 && weight <= c.adaptiveMax(), "adaptive weight " + weight);
        // the discriminator heads trained, spectral-norm state moved, the frozen DINO is not part of the state
        TrainState after = w.state();
        assertNotEquals(before.params().get("disc/heads.2.cls.weight_orig"), after.params().get("disc/heads.2.cls.weight_orig"));
        assertNotEquals(u0, after.optState().get("disc/heads.0.main.0.0.weight_orig#u"));
        assertTrue(after.params().keySet().stream().noneMatch(k -> k.startsWith("dino") || k.startsWith("lpips")), "frozen nets stay out of the state");
        assertNotEquals(before.params().get("encoder/proj.w"), after.params().get("encoder/proj.w"));
    }

    @Test
    void aMissingWeightFileStopsTheRunNamingIt() throws IOException {
        TokenizerConfig c = config().withWeights(dir.resolve("nope.safetensors").toString(), "", "", "patchgan", true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TokenizerWorker(c, 0));
        assertTrue(e.getMessage().startsWith("tokenizer.weights.lpips: file ") && e.getMessage().contains("nope.safetensors"), e.getMessage());
        TokenizerConfig d = config().withWeights("", "", "", "dino", true);
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, d::requireWeightFiles);
        assertTrue(e2.getMessage().contains("tokenizer.weights.dino"), e2.getMessage());
    }
}
