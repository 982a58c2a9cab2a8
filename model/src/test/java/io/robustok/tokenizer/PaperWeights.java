package io.robustok.tokenizer;

import io.robustok.train.SafeTensors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Random weight files with the names and shapes of the public checkpoints (torchvision VGG16 + lpips v0.1, DINOv2
 * ViT-B/14, DINO ViT-S/16), for the paper-scale benchmark: what runs is what the real files would run.
 */
final class PaperWeights {
    private PaperWeights() {
    }

    private static long seed = 1;

    private static INDArray normal(double std, long... shape) {
        return Nd4j.randn(seed++, shape).castTo(DataType.FLOAT).muli(std);
    }

    private static String write(Path dir, String name, Map<String, INDArray> t) throws IOException {
        Path p = dir.resolve(name);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(p), 1 << 20)) {
            SafeTensors.write(out, t, Map.of());
        }
        return p.toString();
    }

    static String lpips(Path dir) throws IOException {
        LinkedHashMap<String, INDArray> t = new LinkedHashMap<>();
        long[] widths = {64, 128, 256, 512, 512};
        long in = 3;
        for (int s = 0; s < Lpips.STAGES.length; s++) {
            for (int idx : Lpips.STAGES[s]) {
                t.put("features." + idx + ".weight", normal(Math.sqrt(2.0 / (9 * in)), widths[s], in, 3, 3));
                t.put("features." + idx + ".bias", Nd4j.zeros(DataType.FLOAT, widths[s]));
                in = widths[s];
            }
        }
        for (int s = 0; s < 5; s++) t.put("lin" + s + ".model.1.weight", Nd4j.rand(DataType.FLOAT, 1, widths[s], 1, 1).muli(0.1));
        return write(dir, "lpips-vgg16.safetensors", t);
    }

    private static LinkedHashMap<String, INDArray> vit(long dim, int depth, int patch, int grid, boolean layerScale) {
        LinkedHashMap<String, INDArray> t = new LinkedHashMap<>();
        t.put("cls_token", normal(0.02, 1, 1, dim));
        t.put("pos_embed", normal(0.02, 1, 1 + (long) grid * grid, dim));
        t.put("patch_embed.proj.weight", normal(0.02, dim, 3, patch, patch));
        t.put("patch_embed.proj.bias", Nd4j.zeros(DataType.FLOAT, dim));
        for (int i = 0; i < depth; i++) {
            String b = "blocks." + i + ".";
            t.put(b + "norm1.weight", Nd4j.ones(DataType.FLOAT, dim));
            t.put(b + "norm1.bias", Nd4j.zeros(DataType.FLOAT, dim));
            t.put(b + "attn.qkv.weight", normal(0.02, 3 * dim, dim));
            t.put(b + "attn.qkv.bias", Nd4j.zeros(DataType.FLOAT, 3 * dim));
            t.put(b + "attn.proj.weight", normal(0.02, dim, dim));
            t.put(b + "attn.proj.bias", Nd4j.zeros(DataType.FLOAT, dim));
            if (layerScale) t.put(b + "ls1.gamma", Nd4j.valueArrayOf(new long[]{dim}, 0.1f, DataType.FLOAT));
            t.put(b + "norm2.weight", Nd4j.ones(DataType.FLOAT, dim));
            t.put(b + "norm2.bias", Nd4j.zeros(DataType.FLOAT, dim));
            t.put(b + "mlp.fc1.weight", normal(0.02, 4 * dim, dim));
            t.put(b + "mlp.fc1.bias", Nd4j.zeros(DataType.FLOAT, 4 * dim));
            t.put(b + "mlp.fc2.weight", normal(0.02, dim, 4 * dim));
            t.put(b + "mlp.fc2.bias", Nd4j.zeros(DataType.FLOAT, dim));
            if (layerScale) t.put(b + "ls2.gamma", Nd4j.valueArrayOf(new long[]{dim}, 0.1f, DataType.FLOAT));
        }
        t.put("norm.weight", Nd4j.ones(DataType.FLOAT, dim));
        t.put("norm.bias", Nd4j.zeros(DataType.FLOAT, dim));
        return t;
    }

    /** DINOv2 ViT-B/14 at 518 px (37x37 position table), with its mask token. */
    static String dinov2(Path dir) throws IOException {
        LinkedHashMap<String, INDArray> t = vit(768, 12, 14, 37, true);
        t.put("mask_token", Nd4j.zeros(DataType.FLOAT, 1, 768));
        return write(dir, "dinov2-vitb14.safetensors", t);
    }

    /** DINO ViT-S/16 at 224 px. */
    static String dino(Path dir) throws IOException {
        return write(dir, "dino-vits16.safetensors", vit(384, 12, 16, 14, false));
    }
}
