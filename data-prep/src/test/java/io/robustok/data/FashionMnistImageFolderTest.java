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
        Path src = dir.resolve("fmnist");
        Files.createDirectories(src);
        idx(src, "train", 30);
        idx(src, "t10k", 10);
        Settings s = Settings.defaults();
        String out = dir.resolve("folder").toString();
        assertEquals(40, FashionMnistImageFolder.write(src.toString(), out, s, false));
        assertTrue(StageOutput.isComplete(out));
        try (Stream<Path> files = Files.walk(dir.resolve("folder/train"))) {
            assertEquals(30, files.filter(p -> p.toString().endsWith(".png")).count());
        }
        // image 7 of train has label 7 % 10: its file is in class folder n00000007, an RGB 28x28 PNG
        byte[] png = Files.readAllBytes(dir.resolve("folder/train/n00000007/n00000007_00007.png"));
        ImageHeader h = ImageHeader.parse(png);
        assertEquals(28, h.width());
        assertTrue(h.plainRgb());
        assertEquals(10, Files.list(dir.resolve("folder/val")).count());
        assertTrue(Files.readString(dir.resolve("folder/synset_words.txt")).startsWith("n00000000 T-shirt/top\n"));
        assertEquals(0, FashionMnistImageFolder.write(src.toString(), out, s, false), "complete: skipped");
        assertEquals(40, FashionMnistImageFolder.write(src.toString(), out, s, true), "forced: rewritten");
    }

    @Test
    void missingPackageNamesTheInstallCommand() {
        PrepInputException e = assertThrows(PrepInputException.class, () -> FashionMnistImageFolder.write(
                dir.resolve("none").toString(), dir.resolve("out").toString(), Settings.defaults(), false));
        assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
    }

    @Test
    void refusesToReplaceAFolderItDidNotWrite() throws IOException {
        Path src = dir.resolve("fmnist");
        Files.createDirectories(src);
        idx(src, "train", 10);
        idx(src, "t10k", 10);
        Path precious = dir.resolve("imagenet");
        Files.createDirectories(precious.resolve("train/n01440764"));
        PrepInputException e = assertThrows(PrepInputException.class, () -> FashionMnistImageFolder.write(
                src.toString(), precious.toString(), Settings.defaults(), true));
        assertTrue(e.getMessage().contains("refusing"), e.getMessage());
        assertTrue(Files.isDirectory(precious.resolve("train/n01440764")));
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
