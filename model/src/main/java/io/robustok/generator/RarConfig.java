package io.robustok.generator;

import com.typesafe.config.Config;

import java.io.Serializable;
import java.util.LinkedHashMap;

/**
 * Architecture of the RAR generator (SPEC section 5): a decoder-only causal transformer over the tokenizer's
 * {@code tokens} latent tokens, class-conditional through adaLN, with QK-norm, a learned position embedding and a
 * "target-aware" position embedding of the next position to predict.
 *
 * <p>Embedding table rows (one table, shared by image tokens and conditions, as in RAR): {@code [0, V)} image
 * tokens, {@code [V, V + C)} classes, {@code V + C} the null class of classifier-free guidance, {@code V + C + 1}
 * the start token. The sequence the network reads has {@code L = tokens + 1} positions:
 * {@code [start, class, x_o0, ..., x_o(T-2)]}; the output at position {@code j >= 1} predicts {@code x_o(j-1)}.
 * The last token is never an input, so it is not fed (RAR feeds it and drops its output).
 *
 * @param tokens        T, the latent grid (256 at paper scale, 16 or 64 at demo scale)
 * @param codebookSize  V, the tokenizer's codebook size (the output vocabulary)
 * @param numClasses    C, class labels 0..C-1
 * @param width         model width D
 * @param depth         transformer blocks
 * @param heads         attention heads (width divisible by heads)
 * @param mlpRatio      MLP hidden width / D (4 in RAR)
 * @param stepEmbedding add a learned per-position embedding to the adaLN condition, as RAR does; costs a per-token
 *                      (instead of per-sample) adaLN projection, about a third more compute per block
 */
public record RarConfig(int tokens, int codebookSize, int numClasses, int width, int depth, int heads, double mlpRatio,
                        boolean stepEmbedding) implements Serializable {

    public RarConfig {
        if (tokens < 2) throw new IllegalArgumentException("generator.tokens must be >= 2, got " + tokens);
        if (codebookSize < 2 || numClasses < 1) throw new IllegalArgumentException("codebook-size >= 2 and num-classes >= 1");
        if (width < 1 || depth < 1 || heads < 1 || width % heads != 0) {
            throw new IllegalArgumentException("generator.model.width (" + width + ") must be a positive multiple of heads (" + heads + ")");
        }
        if (mlpRatio <= 0) throw new IllegalArgumentException("generator.model.mlp-ratio must be > 0");
    }

    /** RAR-B (SPEC section 5: 768 wide, 24 blocks, 16 heads; about 261M parameters). */
    public static RarConfig rarB(int tokens, int codebookSize, int numClasses) {
        return new RarConfig(tokens, codebookSize, numClasses, 768, 24, 16, 4.0, true);
    }

    /** RAR-L (SPEC section 5: 1024 wide, 24 blocks, 16 heads; about 461M parameters). */
    public static RarConfig rarL(int tokens, int codebookSize, int numClasses) {
        return new RarConfig(tokens, codebookSize, numClasses, 1024, 24, 16, 4.0, true);
    }

    /** From the {@code generator} section: tokens, codebook-size, num-classes and the {@code model} block. */
    public static RarConfig from(Config g) {
        Config m = g.getConfig("model");
        return new RarConfig(g.getInt("tokens"), g.getInt("codebook-size"), g.getInt("num-classes"), m.getInt("width"),
                m.getInt("depth"), m.getInt("heads"), m.getDouble("mlp-ratio"), m.getBoolean("step-embedding"));
    }

    /** Rows of the shared embedding table. */
    public int embeddingRows() {
        return codebookSize + numClasses + 2;
    }

    /** Embedding row of class {@code label}. */
    public int classRow(int label) {
        if (label < 0 || label >= numClasses) throw new IllegalArgumentException("class " + label + " not in [0, " + numClasses + ")");
        return codebookSize + label;
    }

    /** Embedding row of the null class (classifier-free guidance, class dropout). */
    public int nullClassRow() {
        return codebookSize + numClasses;
    }

    public int startRow() {
        return codebookSize + numClasses + 1;
    }

    /** Positions the network reads: start, class, and T - 1 tokens. */
    public int seqLen() {
        return tokens + 1;
    }

    public int headDim() {
        return width / heads;
    }

    public int mlpWidth() {
        return (int) Math.round(width * mlpRatio);
    }

    /** Names and shapes of every parameter, in checkpoint order. Linear weights are [in, out] (y = x W + b). */
    public LinkedHashMap<String, long[]> parameterShapes() {
        long d = width, t = tokens, hd = headDim(), f = mlpWidth();
        LinkedHashMap<String, long[]> s = new LinkedHashMap<>();
        s.put("tok_emb", new long[]{embeddingRows(), d});
        // rows: 0 start, 1 class, 2 + p image position p (RAR's two prefix positions + T)
        s.put("pos_emb", new long[]{t + 2, d});
        // row p: "the next token to predict sits at position p" (SPEC section 5)
        s.put("target_pos_emb", new long[]{t, d});
        if (stepEmbedding) s.put("step_emb", new long[]{seqLen(), d});
        for (int i = 0; i < depth; i++) {
            String b = "blocks." + i + ".";
            s.put(b + "ada.w", new long[]{d, 6 * d});
            s.put(b + "ada.b", new long[]{6 * d});
            s.put(b + "attn.qkv.w", new long[]{d, 3 * d});
            s.put(b + "attn.qkv.b", new long[]{3 * d});
            s.put(b + "attn.q_norm.g", new long[]{hd});
            s.put(b + "attn.q_norm.b", new long[]{hd});
            s.put(b + "attn.k_norm.g", new long[]{hd});
            s.put(b + "attn.k_norm.b", new long[]{hd});
            s.put(b + "attn.proj.w", new long[]{d, d});
            s.put(b + "attn.proj.b", new long[]{d});
            s.put(b + "mlp.fc1.w", new long[]{d, f});
            s.put(b + "mlp.fc1.b", new long[]{f});
            s.put(b + "mlp.fc2.w", new long[]{f, d});
            s.put(b + "mlp.fc2.b", new long[]{d});
        }
        s.put("final.ada.w", new long[]{d, 2 * d});
        s.put("final.ada.b", new long[]{2 * d});
        s.put("head.w", new long[]{d, codebookSize});
        s.put("head.b", new long[]{codebookSize});
        return s;
    }

    /** Total parameters, from {@link #parameterShapes()}. */
    public long parameterCount() {
        long n = 0;
        for (long[] sh : parameterShapes().values()) {
            long k = 1;
            for (long x : sh) k *= x;
            n += k;
        }
        return n;
    }
}
