package io.robustok.tokenizer;

import io.robustok.nn.VitBlock;
import io.robustok.train.StepContext;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 2 sizes: ViT-B stacks of ~86M parameters; one train step on ONE 256x256 image on CPU. */
class PaperScaleTest {
    @Test
    void vitBStacksAndOneStepOn256() {
        // 256 px, patch 16, 16x16 latent grid, 4096 x 64 codebook, 768 wide, 12 + 12 blocks, 12 heads, batch 1
        TokenizerConfig c = TestConfigs.defaults().withSizes(256, 16, 16, 4096, 64, 768, 12, 12, 12, 1)
                .withGan(-1, 2.4e-4, LatentPerturbation.Schedule.paper());
        long block = VitBlock.paramCount(c.blockSpec());
        assertEquals(7_087_872, block, "one ViT-B block");
        TokenizerWorker w = new TokenizerWorker(c, 0);
        Map<String, org.nd4j.linalg.api.ndarray.INDArray> p = w.state().params();
        long enc = p.entrySet().stream().filter(e -> e.getKey().startsWith("encoder/")).mapToLong(e -> e.getValue().length()).sum();
        long dec = p.entrySet().stream().filter(e -> e.getKey().startsWith("decoder/")).mapToLong(e -> e.getValue().length()).sum();
        System.out.println("PAPER encoder " + enc + " decoder " + dec);
        assertTrue(enc > 85_000_000 && enc < 87_500_000, "encoder ~86M: " + enc);
        assertTrue(dec > 85_000_000 && dec < 87_500_000, "decoder ~86M: " + dec);
        double[] m = w.step(new ImageBatch(TokenizerTrainingTest.images(1, 256, 3), null), new StepContext(0, 0, 0, 1.0, 1));
        assertTrue(Double.isFinite(m[0]), "finite loss");
    }
}
