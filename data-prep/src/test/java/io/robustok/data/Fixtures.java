package io.robustok.data;

import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.opencv_core.Mat;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Test images made in code: every colour model and every kind of broken file prep must handle. */
final class Fixtures {
    private Fixtures() {
    }

    /** A BGR image with a gradient and a per-image pattern, so that images differ. */
    static Mat bgr(int w, int h, int seed) {
        Mat m = new Mat(h, w, opencv_core.CV_8UC3);
        byte[] px = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = 3 * (y * w + x);
                px[i] = (byte) (x * 255 / Math.max(1, w - 1));
                px[i + 1] = (byte) (y * 255 / Math.max(1, h - 1));
                px[i + 2] = (byte) ((x * 7 + y * 13 + seed * 31) & 0xff);
            }
        }
        m.data().put(px);
        return m;
    }

    static byte[] jpeg(int w, int h, int seed) {
        try (Mat m = bgr(w, h, seed)) {
            return ImageCodec.encode(m, ImageHeader.JPEG, 90);
        }
    }

    static byte[] png(int w, int h, int seed) {
        try (Mat m = bgr(w, h, seed)) {
            return ImageCodec.encode(m, ImageHeader.PNG, 0);
        }
    }

    static byte[] grayJpeg(int w, int h) {
        try (Mat m = new Mat(h, w, opencv_core.CV_8UC1)) {
            byte[] px = new byte[w * h];
            for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 5);
            m.data().put(px);
            return ImageCodec.encode(m, ImageHeader.JPEG, 90);
        }
    }

    /** 16-bit RGB PNG. */
    static byte[] png16(int w, int h) {
        try (Mat m = new Mat(h, w, opencv_core.CV_16UC3)) {
            short[] px = new short[w * h * 3];
            for (int i = 0; i < px.length; i++) px[i] = (short) (i * 997);
            new org.bytedeco.javacpp.ShortPointer(m.data()).put(px);
            return ImageCodec.encode(m, ImageHeader.PNG, 0);
        }
    }

    static byte[] rgbaPng(int w, int h) {
        try (Mat m = new Mat(h, w, opencv_core.CV_8UC4)) {
            byte[] px = new byte[w * h * 4];
            for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 3);
            m.data().put(px);
            return ImageCodec.encode(m, ImageHeader.PNG, 0);
        }
    }

    static byte[] palettePng(int w, int h) {
        byte[] r = new byte[16];
        byte[] g = new byte[16];
        byte[] b = new byte[16];
        for (int i = 0; i < 16; i++) {
            r[i] = (byte) (i * 16);
            g[i] = (byte) (255 - i * 16);
            b[i] = (byte) (i * 8);
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(4, 16, r, g, b));
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.getRaster().setSample(x, y, 0, (x + y) % 16);
        return imageio(img, "png");
    }

    /** A CMYK JPEG made with Pillow (neither ImageIO nor OpenCV writes one), 40x30. */
    static byte[] cmykJpeg() {
        try (InputStream in = Fixtures.class.getResourceAsStream("/prep/cmyk.jpg")) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A PNG whose header claims 100000 x 100000 pixels (a decompression bomb or a corrupt header). */
    static byte[] absurdPng() {
        byte[] b = png(8, 8, 1);
        byte[] out = Arrays.copyOf(b, b.length);
        int w = 100_000;
        for (int k = 0; k < 2; k++) {
            int o = 16 + 4 * k;
            out[o] = (byte) (w >>> 24);
            out[o + 1] = (byte) (w >>> 16);
            out[o + 2] = (byte) (w >>> 8);
            out[o + 3] = (byte) w;
        }
        return out;
    }

    static byte[] imageio(BufferedImage img, String format) {
        try (ByteArrayOutputStream out = new ByteArrayOutputStream()) {
            if (!ImageIO.write(img, format, out)) throw new IllegalStateException("no ImageIO writer for " + format);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Expected outcome of one fixture file. */
    record Expect(boolean good, String reasonPart, int width, int height, String format) {
    }

    /**
     * An ImageFolder tree under {@code root}: train/n01, train/n02 with good and bad files, val/ flat with a label
     * file val_labels.csv. Returns key -> expected outcome (stored size at data.image-size 32: resize target 40,
     * originals kept up to shorter side 80).
     */
    static Map<String, Expect> imageFolder(Path root) throws IOException {
        Map<String, Expect> m = new LinkedHashMap<>();
        put(root, m, "train/n01/rgb.JPEG", jpeg(64, 48, 1), new Expect(true, null, 64, 48, "jpeg"));
        put(root, m, "train/n01/rgb2.JPEG", jpeg(48, 64, 2), new Expect(true, null, 48, 64, "jpeg"));
        // shorter side 150 > 80: decoded at 1/2 in the DCT domain, area-resized to shorter side 40, re-encoded
        put(root, m, "train/n01/big.JPEG", jpeg(200, 150, 3), new Expect(true, null, 53, 40, "jpeg"));
        put(root, m, "train/n01/gray.JPEG", grayJpeg(30, 20), new Expect(true, null, 30, 20, "jpeg"));
        put(root, m, "train/n01/cmyk.JPEG", cmykJpeg(), new Expect(true, null, 40, 30, "jpeg"));
        put(root, m, "train/n01/sub/nested.JPEG", jpeg(33, 33, 4), new Expect(true, null, 33, 33, "jpeg"));
        put(root, m, "train/n02/palette.png", palettePng(24, 20), new Expect(true, null, 24, 20, "png"));
        put(root, m, "train/n02/sixteen.png", png16(20, 24), new Expect(true, null, 20, 24, "png"));
        put(root, m, "train/n02/rgba.png", rgbaPng(22, 22), new Expect(true, null, 22, 22, "png"));
        put(root, m, "train/n02/rgb.png", png(36, 28, 5), new Expect(true, null, 36, 28, "png"));
        // wrong extension but decodable: accepted, stored as what the bytes are
        put(root, m, "train/n02/png_named.JPEG", png(26, 26, 6), new Expect(true, null, 26, 26, "png"));
        byte[] full = jpeg(64, 48, 7);
        put(root, m, "train/n02/truncated.JPEG", Arrays.copyOf(full, full.length / 2), new Expect(false, "truncated", 0, 0, null));
        put(root, m, "train/n02/empty.JPEG", new byte[0], new Expect(false, "empty file", 0, 0, null));
        put(root, m, "train/n02/text.JPEG", "not an image, just text\n".getBytes(StandardCharsets.UTF_8),
                new Expect(false, "not an image (text)", 0, 0, null));
        put(root, m, "train/n02/huge.png", absurdPng(), new Expect(false, "absurd dimensions 100000x100000", 0, 0, null));
        byte[] garbage = new byte[300];
        for (int i = 0; i < garbage.length; i++) garbage[i] = (byte) (i * 37 + 11);
        put(root, m, "train/n02/garbage.JPEG", garbage, new Expect(false, "not an image (unknown signature)", 0, 0, null));
        put(root, m, "train/loose.JPEG", jpeg(16, 16, 8), new Expect(false, "not in a class folder", 0, 0, null));
        // ignored entirely: hidden and marker files
        Files.write(root.resolve("train/n01/.DS_Store"), new byte[]{1, 2, 3});
        Files.createDirectories(root.resolve("train/_tmp"));
        // flat val/ with a label file: by name, by name without extension, by number; one unlabelled, one unknown
        put(root, m, "val/ILSVRC2012_val_00000001.JPEG", jpeg(40, 40, 9), new Expect(true, null, 40, 40, "jpeg"));
        put(root, m, "val/ILSVRC2012_val_00000002.JPEG", png(40, 40, 10), new Expect(true, null, 40, 40, "png"));
        put(root, m, "val/ILSVRC2012_val_00000003.JPEG", jpeg(32, 40, 11), new Expect(true, null, 32, 40, "jpeg"));
        put(root, m, "val/ILSVRC2012_val_00000004.JPEG", jpeg(32, 40, 12), new Expect(false, "no label", 0, 0, null));
        put(root, m, "val/ILSVRC2012_val_00000005.JPEG", jpeg(32, 40, 13), new Expect(false, "label n99 is not a class", 0, 0, null));
        Files.writeString(root.resolve("val_labels.csv"), String.join("\n",
                "ImageId,PredictionString",
                "ILSVRC2012_val_00000001.JPEG,n02",
                "ILSVRC2012_val_00000002,n01 10 10 20 20",
                "ILSVRC2012_val_00000003,1",
                "ILSVRC2012_val_00000005,n99", ""));
        return m;
    }

    /** Label expected for a good fixture key (n01 = 0, n02 = 1; val from the label file). */
    static int label(String key) {
        if (key.startsWith("train/n01/")) return 0;
        if (key.startsWith("train/n02/")) return 1;
        return switch (key) {
            case "val/ILSVRC2012_val_00000001.JPEG" -> 1;
            case "val/ILSVRC2012_val_00000002.JPEG" -> 0;
            case "val/ILSVRC2012_val_00000003.JPEG" -> 1;
            default -> -1;
        };
    }

    private static void put(Path root, Map<String, Expect> m, String key, byte[] bytes, Expect e) throws IOException {
        Path p = root.resolve(key);
        Files.createDirectories(p.getParent());
        Files.write(p, bytes);
        m.put(key, e);
    }
}
