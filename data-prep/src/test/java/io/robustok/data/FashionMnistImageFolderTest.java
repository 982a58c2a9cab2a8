package io.robustok.data;

import io.robustok.config.Settings;
import io.robustok.spark.StageOutput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** demo-data on a tiny fake Fashion-MNIST (the real one is checked end to end from the CLI). */
class FashionMnistImageFolderTest {
    @TempDir
    Path dir;

    @Test
    void writesImageFolderLayoutOnceAndSkipsAfterwards() throws IOException {
        Path src = fakeSource(30, 10);
        Settings s = Settings.defaults();
        String out = dir.resolve("folder").toString();
        assertEquals(40, FashionMnistImageFolder.write(src.toString(), out, s, false));
        assertTrue(StageOutput.isComplete(out));
        try (Stream<Path> files = Files.walk(dir.resolve("folder/train"))) {
            assertEquals(30, files.filter(p -> p.toString().endsWith(".png")).count());
        }
        // image 7 of train has label 7 % 10: its file is in class folder n00000007, an RGB 32x32 PNG (the default
        // data.fashion-mnist-pad = 2): the 28x28 pixels (7 + p) & 0xff at offset (2, 2), black around them
        byte[] png = Files.readAllBytes(dir.resolve("folder/train/n00000007/n00000007_00007.png"));
        ImageHeader h = ImageHeader.parse(png);
        assertEquals(32, h.width());
        assertEquals(32, h.height());
        assertTrue(h.plainRgb());
        java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png));
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                boolean inside = x >= 2 && x < 30 && y >= 2 && y < 30;
                int v = inside ? (7 + (y - 2) * 28 + (x - 2)) & 0xff : 0;
                assertEquals(v * 0x010101, img.getRGB(x, y) & 0xffffff, "pixel (" + x + ", " + y + ")");
            }
        }
        assertEquals(32, ((Number) StageOutput.readProvenance(out).get("side")).intValue());
        assertEquals(10, Files.list(dir.resolve("folder/val")).count());
        assertTrue(Files.readString(dir.resolve("folder/synset_words.txt")).startsWith("n00000000 T-shirt/top\n"));
        assertEquals(0, FashionMnistImageFolder.write(src.toString(), out, s, false), "complete: skipped");
        assertEquals(40, FashionMnistImageFolder.write(src.toString(), out, s, true), "forced: rewritten");
    }

    @Test
    void padZeroKeepsTheOriginal28PixelImages() throws IOException {
        Path src = fakeSource(10, 10);
        Settings s = Settings.defaults().with(java.util.List.of("data.fashion-mnist-pad=0"));
        String out = dir.resolve("folder28").toString();
        assertEquals(20, FashionMnistImageFolder.write(src.toString(), out, s, false));
        ImageHeader h = ImageHeader.parse(Files.readAllBytes(dir.resolve("folder28/train/n00000003/n00000003_00003.png")));
        assertEquals(28, h.width());
        assertEquals(28, ((Number) StageOutput.readProvenance(out).get("side")).intValue());
        PrepInputException e = assertThrows(PrepInputException.class, () -> FashionMnistImageFolder.write(src.toString(),
                dir.resolve("bad").toString(), Settings.defaults().with(java.util.List.of("data.fashion-mnist-pad=-1")), false));
        assertTrue(e.getMessage().contains("data.fashion-mnist-pad"), e.getMessage());
    }

    @Test
    void missingPackageNamesTheInstallCommand() {
        PrepInputException e = assertThrows(PrepInputException.class, () -> FashionMnistImageFolder.write(
                dir.resolve("none").toString(), dir.resolve("out").toString(), Settings.defaults(), false));
        assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
    }

    @Test
    void refusesToReplaceAFolderItDidNotWrite() throws IOException {
        Path src = fakeSource(10, 10);
        Path precious = dir.resolve("imagenet");
        Files.createDirectories(precious.resolve("train/n01440764"));
        PrepInputException e = assertThrows(PrepInputException.class, () -> FashionMnistImageFolder.write(
                src.toString(), precious.toString(), Settings.defaults(), true));
        assertTrue(e.getMessage().contains("refusing"), e.getMessage());
        assertTrue(Files.isDirectory(precious.resolve("train/n01440764")));
    }

    /** A folder with fake Fashion-MNIST idx files: {@code train} train and {@code val} test images. */
    private Path fakeSource(int train, int val) throws IOException {
        Path src = dir.resolve("fmnist");
        Files.createDirectories(src);
        idx(src, "train", train);
        idx(src, "t10k", val);
        return src;
    }

    /** idx files of n images with label i % 10 and pixel value (i + p) & 0xff. */
    static void idx(Path dir, String prefix, int n) throws IOException {
        try (DataOutputStream o = new DataOutputStream(new GZIPOutputStream(new FileOutputStream(
                dir.resolve(prefix + "-images-idx3-ubyte.gz").toFile())))) {
            o.writeInt(0x803);
            o.writeInt(n);
            o.writeInt(28);
            o.writeInt(28);
            for (int i = 0; i < n; i++) for (int p = 0; p < 784; p++) o.write((i + p) & 0xff);
        }
        try (DataOutputStream o = new DataOutputStream(new GZIPOutputStream(new FileOutputStream(
                dir.resolve(prefix + "-labels-idx1-ubyte.gz").toFile())))) {
            o.writeInt(0x801);
            o.writeInt(n);
            for (int i = 0; i < n; i++) o.write(i % 10);
        }
    }

}
