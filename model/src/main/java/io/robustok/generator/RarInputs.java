package io.robustok.generator;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;


/**
 * The index arrays one forward pass of {@link Rar} reads, for N sequences in a given generation order.
 *
 * <p>For a sequence with tokens {@code x} (raster order) and order {@code o} (a permutation of 0..T-1; the identity
 * is raster AR), position j of the network's input (L = T + 1 positions) holds:
 * <pre>
 *   j = 0: the start token,  pos row 0,              no target (row 0 of the zero-padded target table)
 *   j = 1: the class row,    pos row 1,              target-aware row 1 + o[0]
 *   j >= 2: token x[o[j-2]], pos row 2 + o[j-2],     target-aware row 1 + o[j-1]
 * </pre>
 * and the label of output j (j = 1..T) is {@code x[o[j-1]]}.
 *
 * @param ids    [N, L] embedding rows
 * @param pos    [N, L] rows of pos_emb
 * @param target [N, L] rows of the zero-padded target-aware table
 * @param cond   [N] embedding row of the condition (class or null class)
 * @param labels [N, T] tokens to predict, in generation order
 */
public record RarInputs(INDArray ids, INDArray pos, INDArray target, INDArray cond, INDArray labels) {

    /**
     * @param tokens  [N][T] token ids in raster order (for sampling, entries not yet generated are ignored by the
     *                causal mask and may hold anything in [0, V))
     * @param condRows [N] embedding row of each sequence's condition ({@link RarConfig#classRow}, {@link RarConfig#nullClassRow})
     * @param orders  [N][T] generation order of each sequence, or null for raster order
     */
    public static RarInputs of(RarConfig cfg, int[][] tokens, int[] condRows, int[][] orders) {
        int n = tokens.length, t = cfg.tokens(), l = cfg.seqLen();
        int[][] ids = new int[n][l], pos = new int[n][l], target = new int[n][l], labels = new int[n][t];
        for (int i = 0; i < n; i++) {
            int[] x = tokens[i];
            if (x.length != t) throw new IllegalArgumentException("token row has " + x.length + " tokens, the generator expects " + t);
            int[] o = orders == null ? null : orders[i];
            ids[i][0] = cfg.startRow();
            ids[i][1] = condRows[i];
            pos[i][0] = 0;
            pos[i][1] = 1;
            target[i][0] = 0;
            for (int j = 0; j < t; j++) {
                int p = o == null ? j : o[j];
                int tok = x[p];
                if (tok < 0 || tok >= cfg.codebookSize()) {
                    throw new IllegalArgumentException("token id " + tok + " not in [0, " + cfg.codebookSize() + ")");
                }
                labels[i][j] = tok;
                target[i][j + 1] = 1 + p;
                if (j + 2 < l) {
                    ids[i][j + 2] = tok;
                    pos[i][j + 2] = 2 + p;
                }
            }
        }
        return new RarInputs(Nd4j.createFromArray(ids), Nd4j.createFromArray(pos), Nd4j.createFromArray(target),
                Nd4j.createFromArray(condRows), Nd4j.createFromArray(labels));
    }
}
