package io.robustok.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The feature network's view of the idx images matches what demo-data writes (border) or the reader's upscale. */
class FashionMnistTest {
    /** Two 28x28 images with pixel (i * 7 + p) & 0xff. */
    private static FashionMnist.Split split() {
        byte[] px = new byte[2 * 784];
        for (int i = 0; i < 2; i++) for (int p = 0; p < 784; p++) px[i * 784 + p] = (byte) ((i * 7 + p) & 0xff);
        return new FashionMnist.Split(px, new byte[]{3, 4}, 2);
    }

    @Test
    void padTwoPlacesThe28PixelsInABlack32Frame() {
        float[] x = split().toNchw32(0, 2, 2);
        assertEquals(2 * 3 * 32 * 32, x.length);
        for (int i = 0; i < 2; i++) {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < 32; y++) {
                    for (int xx = 0; xx < 32; xx++) {
                        boolean inside = y >= 2 && y < 30 && xx >= 2 && xx < 30;
                        int v = inside ? (i * 7 + (y - 2) * 28 + xx - 2) & 0xff : 0;
                        assertEquals(v / 127.5f - 1f, x[((i * 3 + c) * 32 + y) * 32 + xx], 1e-6f, "image " + i + " (" + xx + ", " + y + ")");
                    }
                }
            }
        }
    }

    @Test
    void padZeroUpscalesBilinearlyAndOtherPadsResizeTheFramedImage() {
        FashionMnist.Split s = split();
        float[] up = new float[32 * 32];
        FashionMnist.resizeBilinear(s.pixels(), 784, 28, up, 32);
        float[] x = s.toNchw32(1, 1, 0);
        for (int p = 0; p < 32 * 32; p++) assertEquals(up[p] / 127.5f - 1f, x[2 * 32 * 32 + p], 1e-6f);
        // pad 4: a 36x36 frame resized to 32; its corner stays black, its centre is the image's centre region
        float[] y = s.toNchw32(0, 1, 4);
        assertEquals(-1f, y[0], 1e-6f);
        assertEquals(-1f, y[32 * 32 - 1], 1e-6f);
        float centre = y[16 * 32 + 16];
        assertEquals(true, centre > -1f, "centre " + centre);
    }
}
