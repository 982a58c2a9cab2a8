package io.robustok.jobs;

import org.nd4j.linalg.api.ndarray.INDArray;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/** PNG grids of image batches ([N, 3, H, W] in [-1, 1]) for a person to look at. */
public final class ImageGrid {
    private ImageGrid() {
    }

    /**
     * One row per image index, one column per batch: e.g. original | reconstruction | perturbed reconstruction.
     * {@code scale} enlarges each pixel (demo images are 32 px).
     */
    public static byte[] rowsOf(List<INDArray> columns, int rows, int scale) {
        int h = (int) columns.get(0).size(2), w = (int) columns.get(0).size(3);
        int gap = 2;
        int cols = columns.size();
        BufferedImage img = new BufferedImage(cols * (w * scale + gap) + gap, rows * (h * scale + gap) + gap, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) img.setRGB(x, y, 0xffffff);
        for (int c = 0; c < cols; c++) {
            INDArray b = columns.get(c);
            for (int r = 0; r < rows && r < b.size(0); r++) paint(img, b, r, gap + c * (w * scale + gap), gap + r * (h * scale + gap), scale);
        }
        return png(img);
    }

    /** A rows x cols grid of one batch (e.g. generator samples, one class per row). */
    public static byte[] tiled(INDArray batch, int cols, int scale) {
        int n = (int) batch.size(0), h = (int) batch.size(2), w = (int) batch.size(3);
        int rows = (n + cols - 1) / cols, gap = 2;
        BufferedImage img = new BufferedImage(cols * (w * scale + gap) + gap, rows * (h * scale + gap) + gap, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) img.setRGB(x, y, 0xffffff);
        for (int i = 0; i < n; i++) paint(img, batch, i, gap + (i % cols) * (w * scale + gap), gap + (i / cols) * (h * scale + gap), scale);
        return png(img);
    }

    private static void paint(BufferedImage img, INDArray b, int i, int x0, int y0, int scale) {
        int h = (int) b.size(2), w = (int) b.size(3);
        float[] px = b.get(org.nd4j.linalg.indexing.NDArrayIndex.point(i)).dup().castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).data().asFloat();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = 0;
                for (int ch = 0; ch < 3; ch++) {
                    float v = px[ch * h * w + y * w + x];
                    int u = Math.round((Math.max(-1f, Math.min(1f, v)) + 1f) * 127.5f);
                    rgb = (rgb << 8) | u;
                }
                for (int dy = 0; dy < scale; dy++) for (int dx = 0; dx < scale; dx++) img.setRGB(x0 + x * scale + dx, y0 + y * scale + dy, rgb);
            }
        }
    }

    private static byte[] png(BufferedImage img) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(img, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
