package io.robustok.tokenizer;

import io.robustok.nn.FrozenVit;
import io.robustok.nn.Resample;
import io.robustok.train.SafeTensors;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * DINOv2 ViT-B/14 weights (SPEC section 2): the initialisation of the tokenizer's encoder and decoder blocks, and the
 * frozen CLS feature of the semantic loss.
 *
 * <p>Files: safetensors in timm's / the official checkpoint's naming ({@code blocks.N.attn.qkv.weight},
 * {@code blocks.N.ls1.gamma}, ...) or in Hugging Face's {@code Dinov2Model} naming ({@code encoder.layer.N.attention
 * .attention.query.weight}, ...), which is translated to timm's on reading. {@code deploy/convert_weights.py} writes
 * such a file from the public .pth checkpoints.
 *
 * <p>Initialisation ({@link #initTokenizer}): the 14x14 patch kernel is resampled to the tokenizer's patch with timm's
 * pseudo-inverse resize and the 37x37 position table to the tokenizer's patch grid with timm's anti-aliased bicubic
 * resize ({@link Resample}); blocks, final norm and position table go to encoder and decoder, the patch embedding to
 * the encoder only (the decoder has none). Every tensor is reported as loaded, resampled, left at its initialisation
 * or unused; a tensor whose shape cannot be mapped stops the run with its name and the setting to change.
 */
public final class Dinov2 {
    private Dinov2() {
    }

    /** Reads a DINOv2 (or DINO) ViT file, translating Hugging Face names to timm's. */
    public static LinkedHashMap<String, INDArray> read(Path file, String key) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(key + ": file " + file + " does not exist (set it to a safetensors file, see deploy/convert_weights.py)");
        }
        try (InputStream in = new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
            return timmNames(SafeTensors.read(in).tensors());
        }
    }

    private static final Pattern HF_LAYER = Pattern.compile("encoder\\.layer\\.(\\d+)\\.(.+)");

    /** Hugging Face Dinov2Model / ViTModel names to timm's (query, key, value fused into qkv); timm names pass through. */
    static LinkedHashMap<String, INDArray> timmNames(Map<String, INDArray> in) {
        LinkedHashMap<String, INDArray> src = new LinkedHashMap<>();
        in.forEach((k, v) -> src.put(k.startsWith("dinov2.") ? k.substring(7) : k.startsWith("vit.") ? k.substring(4) : k, v));
        if (!src.containsKey("embeddings.patch_embeddings.projection.weight")) return src;
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        Map<String, INDArray[]> qkv = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : src.entrySet()) {
            String k = e.getKey();
            Matcher m = HF_LAYER.matcher(k);
            String t;
            if (m.matches()) {
                String b = "blocks." + m.group(1) + ".";
                String rest = m.group(2);
                String[] kind = {"attention.attention.query.", "attention.attention.key.", "attention.attention.value."};
                int part = -1;
                for (int i = 0; i < 3; i++) if (rest.startsWith(kind[i])) part = i;
                if (part >= 0) {
                    String suffix = rest.substring(kind[part].length());
                    qkv.computeIfAbsent(b + "attn.qkv." + suffix, x -> new INDArray[3])[part] = e.getValue();
                    continue;
                }
                t = b + rest.replace("attention.output.dense.", "attn.proj.").replace("layer_scale1.lambda1", "ls1.gamma")
                        .replace("layer_scale2.lambda1", "ls2.gamma").replace("layernorm_before.", "norm1.")
                        .replace("layernorm_after.", "norm2.").replace("intermediate.dense.", "mlp.fc1.")
                        .replace("output.dense.", "mlp.fc2.");
            } else {
                t = switch (k) {
                    case "embeddings.cls_token" -> "cls_token";
                    case "embeddings.mask_token" -> "mask_token";
                    case "embeddings.position_embeddings" -> "pos_embed";
                    case "embeddings.patch_embeddings.projection.weight" -> "patch_embed.proj.weight";
                    case "embeddings.patch_embeddings.projection.bias" -> "patch_embed.proj.bias";
                    case "layernorm.weight" -> "norm.weight";
                    case "layernorm.bias" -> "norm.bias";
                    default -> k;
                };
            }
            out.put(t, e.getValue());
        }
        qkv.forEach((k, parts) -> {
            for (int i = 0; i < 3; i++) if (parts[i] == null) throw new IllegalArgumentException("Hugging Face DINOv2 file: " + k + " lacks its query, key or value part");
            out.put(k, org.nd4j.linalg.factory.Nd4j.concat(0, parts[0], parts[1], parts[2]));
        });
        return out;
    }

    /** One block's tensors: our name under "blocks.N." (ParamStore, [in, out] layout), timm's, transposed or not. */
    static final String[][] BLOCK = {
            {"norm1.g", "norm1.weight", ""}, {"norm1.b", "norm1.bias", ""},
            {"attn.qkv.w", "attn.qkv.weight", "T"}, {"attn.qkv.b", "attn.qkv.bias", ""},
            {"attn.proj.w", "attn.proj.weight", "T"}, {"attn.proj.b", "attn.proj.bias", ""},
            {"norm2.g", "norm2.weight", ""}, {"norm2.b", "norm2.bias", ""},
            {"mlp.fc1.w", "mlp.fc1.weight", "T"}, {"mlp.fc1.b", "mlp.fc1.bias", ""},
            {"mlp.fc2.w", "mlp.fc2.weight", "T"}, {"mlp.fc2.b", "mlp.fc2.bias", ""}};
    static final String[][] LAYER_SCALE = {{"ls1", "ls1.gamma", ""}, {"ls2", "ls2.gamma", ""}};

    /** What {@link #initTokenizer} did with every tensor. */
    public record Report(List<String> loaded, List<String> resampled, List<String> initialised, List<String> unused) {
        public String summary() {
            return "DINOv2 initialisation: " + loaded.size() + " tensors loaded, " + resampled.size() + " resampled ("
                    + String.join("; ", resampled) + "), " + initialised.size() + " left at initialisation ("
                    + String.join(", ", initialised) + "), " + unused.size() + " unused (" + String.join(", ", unused) + ")";
        }
    }

    /**
     * Copies DINOv2 weights into the tokenizer's live parameter arrays (in place): encoder and decoder blocks, norms
     * and position tables, the encoder's patch embedding; resampled to the tokenizer's patch and patch grid. Tensors
     * the file lacks (latent and mask tokens, level embeddings, projections, head, codebook, blocks beyond the file's
     * depth) keep their initialisation.
     *
     * @throws IllegalArgumentException naming the tensor whose shape does not fit (width, MLP ratio, layer scale)
     */
    public static Report initTokenizer(Map<String, INDArray> file, Map<String, INDArray> params, TokenizerConfig c) {
        List<String> loaded = new ArrayList<>(), resampled = new ArrayList<>();
        java.util.Set<String> used = new java.util.HashSet<>();
        java.util.Set<String> written = new java.util.HashSet<>();
        int fileDepth = 0;
        while (file.containsKey("blocks." + fileDepth + ".attn.qkv.weight")) fileDepth++;
        if (fileDepth == 0) throw new IllegalArgumentException("tokenizer.weights.dinov2: no tensor blocks.0.attn.qkv.weight (not a DINOv2 ViT state dict)");
        if (!c.layerScale() && file.containsKey("blocks.0.ls1.gamma")) {
            throw new IllegalArgumentException("tokenizer.weights.dinov2: tensor blocks.0.ls1.gamma (layer scale) has no place in the tokenizer: "
                    + "set tokenizer.model.layer-scale = true");
        }
        for (String net : List.of("encoder", "decoder")) {
            int depth = net.equals("encoder") ? c.encoderDepth() : c.decoderDepth();
            for (int i = 0; i < Math.min(depth, fileDepth); i++) {
                String b = "blocks." + i + ".";
                String t = net + "/" + b;
                for (String[] m : BLOCK) copy(file, b + m[1], params, t + m[0], !m[2].isEmpty(), loaded, used, written);
                if (c.layerScale() && file.containsKey(b + "ls1.gamma")) {
                    for (String[] m : LAYER_SCALE) copy(file, b + m[1], params, t + m[0], false, loaded, used, written);
                }
            }
            copy(file, "norm.weight", params, net + "/norm.g", false, loaded, used, written);
            copy(file, "norm.bias", params, net + "/norm.b", false, loaded, used, written);
            INDArray pos = need(file, "pos_embed");
            int from = (int) Math.round(Math.sqrt(pos.size(pos.rank() - 2) - 1));
            INDArray table = Resample.positionTable(pos, 1, c.patchGrid());
            INDArray grid = table.reshape(table.size(table.rank() - 2), table.size(table.rank() - 1))
                    .get(org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 1 + c.patchTokens()), org.nd4j.linalg.indexing.NDArrayIndex.all());
            put(params, net + "/pos_embed", grid, "pos_embed");
            used.add("pos_embed");
            written.add(net + "/pos_embed");
            resampled.add(net + "/pos_embed <- pos_embed (" + from + "x" + from + " -> " + c.patchGrid() + "x" + c.patchGrid() + ", bicubic)");
        }
        INDArray kernel = need(file, "patch_embed.proj.weight");
        INDArray k = Resample.patchKernel(kernel, c.patch());
        put(params, "encoder/patch_embed.w", k.reshape(k.size(0), (long) c.patchDim()).transpose(), "patch_embed.proj.weight");
        used.add("patch_embed.proj.weight");
        written.add("encoder/patch_embed.w");
        resampled.add("encoder/patch_embed.w <- patch_embed.proj.weight (" + kernel.size(2) + "x" + kernel.size(3) + " -> "
                + c.patch() + "x" + c.patch() + ", pseudo-inverse resize)");
        copy(file, "patch_embed.proj.bias", params, "encoder/patch_embed.b", false, loaded, used, written);
        List<String> init = new ArrayList<>();
        for (String p : params.keySet()) if (!written.contains(p)) init.add(p);
        List<String> unused = new ArrayList<>();
        for (String f : file.keySet()) if (!used.contains(f)) unused.add(f);
        return new Report(loaded, resampled, init, unused);
    }

    private static INDArray need(Map<String, INDArray> file, String name) {
        INDArray a = file.get(name);
        if (a == null) throw new IllegalArgumentException("tokenizer.weights.dinov2: tensor " + name + " missing");
        return a;
    }

    private static void copy(Map<String, INDArray> file, String from, Map<String, INDArray> params, String to, boolean transpose,
                             List<String> loaded, java.util.Set<String> used, java.util.Set<String> written) {
        INDArray v = need(file, from);
        put(params, to, transpose ? v.transpose() : v, from);
        loaded.add(to + " <- " + from);
        used.add(from);
        written.add(to);
    }

    private static void put(Map<String, INDArray> params, String to, INDArray v, String from) {
        INDArray dst = params.get(to);
        if (dst == null) throw new IllegalStateException("tokenizer has no parameter " + to);
        long[] s = v.rank() == 1 || dst.rank() == v.rank() ? v.shape() : null;
        if (!Arrays.equals(s, dst.shape())) {
            throw new IllegalArgumentException("tokenizer.weights.dinov2: tensor " + from + " (shape " + Arrays.toString(v.shape())
                    + ") cannot be mapped to " + to + " (shape " + Arrays.toString(dst.shape()) + "): the tokenizer must be ViT-B "
                    + "(tokenizer.model.width = 768, heads = 12, mlp-ratio = 4.0, layer-scale = true) to load DINOv2 ViT-B/14");
        }
        dst.assign(v.castTo(dst.dataType()));
    }

    /**
     * The frozen DINOv2 of the semantic loss: images in [-1, 1] of side {@code imageSize} to the final-norm CLS feature
     * [N, D]. The image goes to [0, 1], is resized (anti-aliased bicubic) to {@code resolution} (224: a 16x16 grid of
     * 14-px patches), ImageNet-normalised; the position table is resampled to that grid on loading.
     */
    public static final class Feature {
        private final SameDiff sd;
        private final int dim;

        public Feature(Map<String, INDArray> file, int heads, int imageSize, int resolution) {
            INDArray kernel = need(file, "patch_embed.proj.weight");
            int patch = (int) kernel.size(2);
            if (resolution % patch != 0) {
                throw new IllegalArgumentException("DINOv2 feature resolution " + resolution + " is not a multiple of its patch " + patch);
            }
            LinkedHashMap<String, INDArray> w = new LinkedHashMap<>(file);
            w.put("pos_embed", Resample.positionTable(need(file, "pos_embed"), 1, resolution / patch));
            FrozenVit vit = new FrozenVit(w, heads);
            this.dim = vit.dim();
            sd = SameDiff.create();
            SDVariable img = sd.placeHolder("image", DataType.FLOAT, -1, 3, imageSize, imageSize);
            SDVariable x01 = img.add(1.0).mul(0.5);
            if (imageSize != resolution) {
                SDVariable r = sd.constant("resize", Resample.toArray(Resample.bicubic(imageSize, resolution)));
                x01 = Resample.resize(sd, x01, r, r, 3, imageSize, imageSize, resolution, resolution);
            }
            List<SDVariable> outs = vit.forward(sd, "dinov2/", FrozenVit.imagenetNormalize(sd, x01));
            SDVariable last = outs.get(outs.size() - 1).reshape(-1, vit.length(), dim);
            SDVariable cls = last.get(SDIndex.all(), SDIndex.point(0), SDIndex.all());
            sd.updateVariableNameAndReference(cls, "cls");
        }

        public int dim() {
            return dim;
        }

        /** CLS features [N, D] of images [N, 3, S, S] in [-1, 1]. */
        public INDArray cls(INDArray images) {
            return sd.output(Map.of("image", images), "cls").get("cls");
        }
    }
}
