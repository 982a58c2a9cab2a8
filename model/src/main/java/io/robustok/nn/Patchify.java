package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * Images [N, C, H, W] to flat patch rows [N * (H/p) * (W/p), C * p * p] and back. Patches are in raster order
 * and each row is laid out (c, py, px), the order of a flattened PyTorch conv weight [D, C, p, p], so a
 * patch-embedding conv is a {@link Linear} with its weight reshaped to [D, C*p*p] and transposed.
 */
public final class Patchify {
    private Patchify() {
    }

    public static SDVariable patchify(SameDiff sd, SDVariable img, int channels, int size, int patch) {
        int g = size / patch;
        SDVariable t = img.reshape(-1, channels, g, patch, g, patch);      // n c gy py gx px
        return sd.permute(t, 0, 2, 4, 1, 3, 5).reshape(-1, (long) channels * patch * patch);
    }

    public static SDVariable unpatchify(SameDiff sd, SDVariable rows, int channels, int size, int patch) {
        int g = size / patch;
        SDVariable t = rows.reshape(-1, g, g, channels, patch, patch);     // n gy gx c py px
        return sd.permute(t, 0, 3, 1, 4, 2, 5).reshape(-1, channels, size, size);
    }
}
