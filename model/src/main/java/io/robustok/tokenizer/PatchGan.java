package io.robustok.tokenizer;

import io.robustok.nn.ParamStore;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;

/**
 * Small PatchGAN discriminator trained from scratch (the demo's default; SPEC section 2's frozen-DINO
 * discriminator needs weights that cannot be had offline): {@code layers} 4x4 stride-2 convs with LeakyReLU(0.2),
 * channels doubling from {@code channels}, then a 3x3 conv to one logit per patch. No normalisation layers, so
 * parameter averaging has no running statistics to reconcile. Parameters under {@code disc/}.
 */
final class PatchGan {
    private PatchGan() {
    }

    /** Logits [N, 1, h, w] of images [N, 3, H, W]. */
    static SDVariable apply(ParamStore root, SDVariable x, int channels, int layers) {
        SameDiff sd = root.sd();
        ParamStore p = root.network("disc");
        long in = 3;
        for (int i = 0; i < layers; i++) {
            long out = (long) channels << i;
            x = sd.nn().leakyRelu(conv(p, "conv" + i, x, in, out, 4, 2, 1), 0.2);
            in = out;
        }
        return conv(p, "out", x, in, 1, 3, 1, 1);
    }

    private static SDVariable conv(ParamStore p, String name, SDVariable x, long in, long out, int k, int stride, int pad) {
        ParamStore s = p.scope(name);
        SDVariable w = s.normal("w", 0.02, k, k, in, out);
        SDVariable b = s.zeros("b", out);
        Conv2DConfig cfg = Conv2DConfig.builder().kH(k).kW(k).sH(stride).sW(stride).pH(pad).pW(pad).dH(1).dW(1)
                .dataFormat("NCHW").weightsFormat(WeightsFormat.YXIO).build();
        return p.sd().cnn().conv2d(x, w, b, cfg);
    }
}
