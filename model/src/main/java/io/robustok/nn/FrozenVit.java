package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pretrained ViT (DINO, DINOv2) as a frozen SameDiff subgraph: its weights are graph constants (no gradients, not
 * part of any training state) while gradients still flow to its input. Weights are in timm's naming and PyTorch's
 * layouts: {@code cls_token [1,1,D]}, {@code pos_embed [1,1+g*g,D]} (already at this grid, see {@link Resample}),
 * {@code patch_embed.proj.weight [D,3,p,p]} / {@code .bias}, and per block {@code blocks.N.norm1.weight/bias},
 * {@code attn.qkv.weight [3D,D]/bias}, {@code attn.proj}, {@code ls1.gamma} (DINOv2's layer scale, optional),
 * {@code norm2}, {@code mlp.fc1}, {@code mlp.fc2}, {@code ls2.gamma}; final {@code norm}. LayerNorm eps 1e-6 and exact
 * (erf) GELU, as both models were trained with.
 */
public final class FrozenVit {
    private final Map<String, INDArray> w;
    private final int dim;
    private final int depth;
    private final int heads;
    private final int patch;
    private final int grid;
    private final boolean layerScale;

    /**
     * @param weights timm-named tensors (PyTorch layouts); checked here: a missing tensor or a wrong shape is an error
     *                naming it
     * @param heads   attention heads; 0 or less: width / 64 (DINO and DINOv2 use 64-wide heads: ViT-S 6, ViT-B 12)
     */
    public FrozenVit(Map<String, INDArray> weights, int heads) {
        this.w = new LinkedHashMap<>();
        weights.forEach((k, v) -> w.put(k, v.castTo(DataType.FLOAT)));
        INDArray pe = need("patch_embed.proj.weight", -1, 3, -1, -1);
        this.dim = (int) pe.size(0);
        this.patch = (int) pe.size(2);
        INDArray pos = need("pos_embed", 1, -1, dim);
        this.grid = (int) Math.round(Math.sqrt(pos.size(1) - 1));
        if (grid * grid + 1 != pos.size(1)) throw new IllegalArgumentException("pos_embed has " + pos.size(1) + " rows, expected 1 + a square grid");
        int d = 0;
        while (w.containsKey("blocks." + d + ".attn.qkv.weight")) d++;
        if (d == 0) throw new IllegalArgumentException("no tensor blocks.0.attn.qkv.weight: not a timm/DINO ViT state dict");
        this.depth = d;
        this.heads = heads > 0 ? heads : Math.max(1, dim / 64);
        if (dim % this.heads != 0) throw new IllegalArgumentException("width " + dim + " is not a multiple of " + this.heads + " heads");
        this.layerScale = w.containsKey("blocks.0.ls1.gamma");
        need("cls_token", 1, 1, dim);
        need("patch_embed.proj.bias", dim);
        for (int i = 0; i < depth; i++) {
            String b = "blocks." + i + ".";
            need(b + "norm1.weight", dim);
            need(b + "norm1.bias", dim);
            need(b + "attn.qkv.weight", 3L * dim, dim);
            need(b + "attn.qkv.bias", 3L * dim);
            need(b + "attn.proj.weight", dim, dim);
            need(b + "attn.proj.bias", dim);
            need(b + "norm2.weight", dim);
            need(b + "norm2.bias", dim);
            INDArray fc1 = need(b + "mlp.fc1.weight", -1, dim);
            need(b + "mlp.fc1.bias", fc1.size(0));
            need(b + "mlp.fc2.weight", dim, fc1.size(0));
            need(b + "mlp.fc2.bias", dim);
            if (layerScale) {
                need(b + "ls1.gamma", dim);
                need(b + "ls2.gamma", dim);
            }
        }
        need("norm.weight", dim);
        need("norm.bias", dim);
    }

    private INDArray need(String name, long... shape) {
        INDArray a = w.get(name);
        if (a == null) throw new IllegalArgumentException("pretrained ViT: tensor " + name + " missing");
        boolean ok = a.rank() == shape.length;
        for (int i = 0; ok && i < shape.length; i++) ok = shape[i] < 0 || shape[i] == a.size(i);
        if (!ok) {
            throw new IllegalArgumentException("pretrained ViT: tensor " + name + " has shape " + Arrays.toString(a.shape())
                    + ", expected " + Arrays.toString(shape).replace("-1", "*"));
        }
        return a;
    }

    public int dim() {
        return dim;
    }

    public int depth() {
        return depth;
    }

    public int patch() {
        return patch;
    }

    public int grid() {
        return grid;
    }

    /** Input side in pixels: patch x grid. */
    public int resolution() {
        return patch * grid;
    }

    /** Tokens per image: CLS + grid^2. */
    public int length() {
        return 1 + grid * grid;
    }

    private SDVariable c(SameDiff sd, String prefix, String name) {
        String full = prefix + name;
        SDVariable v = sd.getVariable(full);
        return v != null ? v : sd.constant(full, w.get(name));
    }

    private SDVariable cT(SameDiff sd, String prefix, String name) {
        String full = prefix + name + "^T";
        SDVariable v = sd.getVariable(full);
        return v != null ? v : sd.constant(full, w.get(name).transpose().dup('c'));
    }

    /**
     * Token sequences of normalised images x [N, 3, res, res]: element 0 is the embedded input (patch embedding,
     * CLS, position table), element i the output of block i-1, the last the final norm's. Each is flat [N * L, D],
     * CLS first in every image. Constants are named {@code prefix + tensor}; a second call with the same prefix
     * reuses them.
     */
    public List<SDVariable> forward(SameDiff sd, String prefix, SDVariable x) {
        long d = dim;
        int len = length();
        SDVariable pw = sd.getVariable(prefix + "patch_embed.w");
        if (pw == null) pw = sd.constant(prefix + "patch_embed.w", w.get("patch_embed.proj.weight").reshape(d, 3L * patch * patch).transpose().dup('c'));
        SDVariable rows = Patchify.patchify(sd, x, 3, resolution(), patch).mmul(pw).add(c(sd, prefix, "patch_embed.proj.bias"));
        SDVariable pos = c(sd, prefix, "pos_embed").reshape(len, d);
        SDVariable clsRow = c(sd, prefix, "cls_token").reshape(1, d);
        SDVariable p3 = rows.reshape(-1, len - 1, d);
        SDVariable zeros = p3.get(SDIndex.all(), SDIndex.interval(0, 1), SDIndex.all()).mul(0.0);
        SDVariable seq = sd.concat(1, zeros.add(clsRow), p3).add(pos).reshape(-1, d);
        List<SDVariable> outs = new ArrayList<>();
        outs.add(seq);
        for (int i = 0; i < depth; i++) {
            seq = block(sd, prefix, "blocks." + i + ".", seq, len);
            outs.add(seq);
        }
        outs.add(layerNorm(sd, prefix, "norm.", seq));
        return outs;
    }

    private SDVariable block(SameDiff sd, String prefix, String b, SDVariable x, int len) {
        SDVariable a = attention(sd, prefix, b + "attn.", layerNorm(sd, prefix, b + "norm1.", x), len);
        if (layerScale) a = a.mul(c(sd, prefix, b + "ls1.gamma"));
        x = x.add(a);
        SDVariable h = linear(sd, prefix, b + "mlp.fc1.", layerNorm(sd, prefix, b + "norm2.", x));
        SDVariable m = linear(sd, prefix, b + "mlp.fc2.", gelu(sd, h));
        if (layerScale) m = m.mul(c(sd, prefix, b + "ls2.gamma"));
        return x.add(m);
    }

    /** Exact GELU {@code 0.5 x (1 + erf(x / sqrt 2))} (ND4J's gelu op is the sigmoid approximation). */
    public static SDVariable gelu(SameDiff sd, SDVariable x) {
        return x.mul(sd.math().erf(x.mul(1 / Math.sqrt(2))).add(1.0)).mul(0.5);
    }

    private SDVariable linear(SameDiff sd, String prefix, String name, SDVariable x) {
        return x.mmul(cT(sd, prefix, name + "weight")).add(c(sd, prefix, name + "bias"));
    }

    private SDVariable layerNorm(SameDiff sd, String prefix, String name, SDVariable x) {
        SDVariable mu = x.mean(true, 1);
        SDVariable xc = x.sub(mu);
        SDVariable inv = sd.math().rsqrt(sd.math().square(xc).mean(true, 1).add(1e-6));
        return xc.mul(inv).mul(c(sd, prefix, name + "weight")).add(c(sd, prefix, name + "bias"));
    }

    private SDVariable attention(SameDiff sd, String prefix, String name, SDVariable x, int len) {
        long dh = dim / heads;
        SDVariable qkv = linear(sd, prefix, name + "qkv.", x);
        SDVariable t = sd.permute(qkv.reshape(-1, len, 3, heads, dh), 2, 0, 3, 1, 4);
        SDVariable[] parts = sd.split(t, 3, 0);
        SDVariable q = parts[0].reshape(-1, len, dh).mul(1.0 / Math.sqrt(dh));
        SDVariable k = parts[1].reshape(-1, len, dh);
        SDVariable v = parts[2].reshape(-1, len, dh);
        SDVariable attn = sd.nn().softmax(sd.mmul(q, k, false, true, false), 2);
        SDVariable o = sd.mmul(attn, v);
        SDVariable merged = sd.permute(o.reshape(-1, heads, len, dh), 0, 2, 1, 3).reshape(-1, (long) dim);
        return linear(sd, prefix, name + "proj.", merged);
    }

    /** ImageNet normalisation of images in [0, 1] (the mean and std DINO and DINOv2 were trained with). */
    public static SDVariable imagenetNormalize(SameDiff sd, SDVariable x01) {
        INDArray mean = org.nd4j.linalg.factory.Nd4j.create(new float[]{0.485f, 0.456f, 0.406f}, new long[]{1, 3, 1, 1}, DataType.FLOAT);
        INDArray std = org.nd4j.linalg.factory.Nd4j.create(new float[]{0.229f, 0.224f, 0.225f}, new long[]{1, 3, 1, 1}, DataType.FLOAT);
        return x01.sub(sd.constant(mean)).div(sd.constant(std));
    }
}
