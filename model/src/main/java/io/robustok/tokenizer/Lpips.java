package io.robustok.tokenizer;

import io.robustok.train.SafeTensors;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Pooling2DConfig;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LPIPS v0.1 with VGG16 (Zhang et al. 2018), the tokenizer's perceptual loss (SPEC section 2), frozen:
 * the scaling layer, VGG16's conv stages to relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, each feature map unit-normalised
 * over channels, the squared difference through the stage's learned non-negative 1x1 head, averaged over space and
 * summed over the five stages.
 *
 * <p>Weights: one safetensors file with torchvision's VGG16 names {@code features.N.weight [out, in, 3, 3]} /
 * {@code features.N.bias} (N = 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) and lpips' heads
 * {@code lin0.model.1.weight [64, 1, 1] .. lin4}; deploy/convert_weights.py writes it from the two public .pth files.
 * Stage widths are read from the file (64, 128, 256, 512, 512 for VGG16). Weights enter the graph as constants
 * (kernels transposed to [3, 3, in, out] once on loading).
 */
public final class Lpips {
    /** VGG16's conv layer indices in torchvision's {@code features}, per stage (a 2x2 max-pool precedes stages 2-5). */
    static final int[][] STAGES = {{0, 2}, {5, 7}, {10, 12, 14}, {17, 19, 21}, {24, 26, 28}};
    private static final float[] SHIFT = {-0.030f, -0.088f, -0.188f};
    private static final float[] SCALE = {0.458f, 0.448f, 0.450f};

    private final Map<String, INDArray> w = new LinkedHashMap<>();

    public Lpips(Map<String, INDArray> weights) {
        long in = 3;
        for (int s = 0; s < STAGES.length; s++) {
            long out = -1;
            for (int idx : STAGES[s]) {
                INDArray k = need(weights, "features." + idx + ".weight", -1, in, 3, 3);
                out = k.size(0);
                // ND4J M2.1's conv2d backward rejects OIYX kernels: stored as YXIO [3, 3, in, out]
                w.put("features." + idx + ".weight", k.castTo(DataType.FLOAT).permute(2, 3, 1, 0).dup('c'));
                need(weights, "features." + idx + ".bias", out);
                in = out;
            }
            INDArray lin = weights.get("lin" + s + ".model.1.weight");
            if (lin == null) throw new IllegalArgumentException("tokenizer.weights.lpips: tensor lin" + s + ".model.1.weight missing");
            if (lin.length() != out) {
                throw new IllegalArgumentException("tokenizer.weights.lpips: tensor lin" + s + ".model.1.weight has shape "
                        + Arrays.toString(lin.shape()) + ", expected [1, " + out + ", 1, 1]");
            }
            w.put("lin" + s, lin.castTo(DataType.FLOAT).reshape(out, 1).dup());
        }
    }

    private INDArray need(Map<String, INDArray> weights, String name, long... shape) {
        INDArray a = weights.get(name);
        if (a == null) throw new IllegalArgumentException("tokenizer.weights.lpips: tensor " + name + " missing (torchvision VGG16 naming)");
        boolean ok = a.rank() == shape.length;
        for (int i = 0; ok && i < shape.length; i++) ok = shape[i] < 0 || shape[i] == a.size(i);
        if (!ok) {
            throw new IllegalArgumentException("tokenizer.weights.lpips: tensor " + name + " has shape " + Arrays.toString(a.shape())
                    + ", expected " + Arrays.toString(shape).replace("-1", "*"));
        }
        if (a.rank() == 1) w.put(name, a.castTo(DataType.FLOAT));
        return a;
    }

    public static Lpips read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("tokenizer.weights.lpips: file " + file + " does not exist (set it to a safetensors file, see deploy/convert_weights.py)");
        }
        try (InputStream in = new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
            return new Lpips(SafeTensors.read(in).tensors());
        }
    }

    private SDVariable c(SameDiff sd, String name) {
        SDVariable v = sd.getVariable("lpips/" + name);
        return v != null ? v : sd.constant("lpips/" + name, w.get(name));
    }

    /** The five unit-normalised stage outputs of images [N, 3, H, W] in [-1, 1]. */
    private SDVariable[] features(SameDiff sd, SDVariable x) {
        INDArray shift = Nd4j.create(SHIFT, new long[]{1, 3, 1, 1}, DataType.FLOAT);
        INDArray scale = Nd4j.create(SCALE, new long[]{1, 3, 1, 1}, DataType.FLOAT);
        x = x.sub(sd.constant(shift)).div(sd.constant(scale));
        SDVariable[] out = new SDVariable[STAGES.length];
        for (int s = 0; s < STAGES.length; s++) {
            if (s > 0) {
                x = sd.cnn().maxPooling2d(x, Pooling2DConfig.builder().kH(2).kW(2).sH(2).sW(2).pH(0).pW(0).dH(1).dW(1)
                        .isNHWC(false).build());
            }
            for (int idx : STAGES[s]) {
                Conv2DConfig cfg = Conv2DConfig.builder().kH(3).kW(3).sH(1).sW(1).pH(1).pW(1).dH(1).dW(1)
                        .dataFormat("NCHW").weightsFormat(WeightsFormat.YXIO).build();
                x = sd.nn().relu(sd.cnn().conv2d(x, c(sd, "features." + idx + ".weight"), c(sd, "features." + idx + ".bias"), cfg), 0);
            }
            SDVariable norm = sd.math().sqrt(sd.sum(sd.math().square(x), true, 1)).add(1e-10);
            out[s] = x.div(norm);
        }
        return out;
    }

    /** Per-image distance [N] between images x0 and x1 [N, 3, H, W] in [-1, 1]. */
    public SDVariable distance(SameDiff sd, SDVariable x0, SDVariable x1) {
        SDVariable[] f0 = features(sd, x0);
        SDVariable[] f1 = features(sd, x1);
        SDVariable total = null;
        for (int s = 0; s < STAGES.length; s++) {
            SDVariable d = sd.math().square(f0[s].sub(f1[s]));                       // [N, C, h, w]
            SDVariable perChannel = d.mean(false, 2, 3);                               // [N, C] (spatial mean commutes with the 1x1 head)
            SDVariable v = perChannel.mmul(c(sd, "lin" + s)).reshape(-1);               // [N]
            total = total == null ? v : total.add(v);
        }
        return total;
    }
}
