package io.robustok.data;

import io.robustok.config.Settings;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.opencv_core.Mat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.DataInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.zip.GZIPInputStream;

/**
 * Demo data (SPEC section 9): Fashion-MNIST from the Debian package dataset-fashion-mnist, written in ImageNet's
 * folder layout so that prep and everything after it run the paper-scale code path unchanged:
 * {@code train/n0000000<c>/n0000000<c>_<index>.png} (60,000) and {@code val/...} (the 10,000 test images),
 * class folders n00000000..n00000009 in Fashion-MNIST's label order, plus {@code synset_words.txt} with the
 * class names (the LOC_synset_mapping.txt form prep.class-names reads).
 *
 * <p>Images are RGB PNGs (grey replicated to three channels): lossless like the source, RGB like ImageNet, so
 * prep keeps their bytes. {@code data.fashion-mnist-pad} black pixels are added on every side (2: 32x32, the
 * demo's size; 0: the original 28x28, which the transforms then upscale). Committed through {@link StageOutput}:
 * the {@code _COMPLETE.json} marker is written last, so a rerun skips complete output and an interrupted one starts
 * again.
 */
public final class FashionMnistImageFolder {
    private static final Logger log = LoggerFactory.getLogger(FashionMnistImageFolder.class);
    public static final String STAGE = "demo-data";
    public static final String[] NAMES = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
            "Sneaker", "Bag", "Ankle boot"};
    static final String[][] FILES = {
            {"train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
            {"val", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}};

    private FashionMnistImageFolder() {
    }

    /** Returns the number of images written, or 0 when the output was complete and not forced. */
    public static long write(String source, String out, Settings settings, boolean force) {
        int pad = settings.config().getInt("data.fashion-mnist-pad");
        int want = 28 + 2 * pad;
        if (!force && StageOutput.isComplete(out)) {
            Object side = StageOutput.readProvenance(out).get("side");
            if (side != null && ((Number) side).intValue() != want) {
                log.warn("demo-data: {} holds {}x{} images but data.fashion-mnist-pad asks for {}x{}: kept; rerun with --force "
                        + "(and the stages after it) to rewrite them", out, side, side, want, want);
            }
            log.info("demo-data: {} is complete, skipped (--force redoes it)", out);
            return 0;
        }
        if (exists(out)) {
            // commit replaces the directory: never let that happen to a folder this stage did not write
            Object stage = StageOutput.isComplete(out) ? StageOutput.readProvenance(out).get("stage") : null;
            if (!STAGE.equals(stage)) {
                throw new PrepInputException(out + " exists and was not written by demo-data: refusing to replace it"
                        + " (point data.imagefolder elsewhere or remove it)");
            }
        }
        if (pad < 0 || pad > 100) {
            throw new PrepInputException("data.fashion-mnist-pad = " + pad + ": expected 0..100 black pixels per side (2 gives 32x32)");
        }
        for (String[] f : FILES) {
            for (int i = 1; i < 3; i++) {
                if (find(source, f[i]) == null) {
                    throw new PrepInputException("Fashion-MNIST not found: no " + f[i] + "(.gz) in " + source
                            + "; install it with `apt-get install dataset-fashion-mnist` (or set data.fashion-mnist)");
                }
            }
        }
        StageOutput o = StageOutput.begin(out);
        try {
            FileSystem fs = StageOutput.fs(o.tmp());
            if (fs instanceof LocalFileSystem local) fs = local.getRawFileSystem(); // no .crc next to 70k files
            long n = 0;
            Map<String, Object> counts = new LinkedHashMap<>();
            for (String[] f : FILES) {
                byte[][] images = readImages(find(source, f[1]));
                byte[] labels = readLabels(find(source, f[2]));
                if (images.length != labels.length) {
                    throw new PrepInputException(f[1] + " has " + images.length + " images but " + f[2] + " has "
                            + labels.length + " labels");
                }
                for (int c = 0; c < NAMES.length; c++) fs.mkdirs(new Path(o.tmp() + "/" + f[0] + "/" + wnid(c)));
                writeSplit(fs, o.tmp() + "/" + f[0], images, labels, pad);
                counts.put(f[0], images.length);
                n += images.length;
            }
            StringBuilder names = new StringBuilder();
            for (int c = 0; c < NAMES.length; c++) names.append(wnid(c)).append(' ').append(NAMES[c]).append('\n');
            o.writeText("synset_words.txt", names.toString());
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("source", source);
            prov.put("images", counts);
            prov.put("side", want);
            o.commit(STAGE, settings, prov);
            return n;
        } catch (IOException e) {
            o.abort();
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            o.abort();
            throw e;
        }
    }

    private static boolean exists(String dir) {
        try {
            return StageOutput.fs(dir).exists(new Path(StageOutput.qualify(dir)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String wnid(int c) {
        return String.format("n%08d", c);
    }

    private static void writeSplit(FileSystem fs, String dir, byte[][] images, byte[] labels, int pad) {
        java.nio.file.Path local = dir.startsWith("file:") ? Paths.get(URI.create(dir)) : null;
        int chunk = 1000;
        IntStream.range(0, (images.length + chunk - 1) / chunk).parallel().forEach(k -> {
            ImageCodec.init();
            int side = 28 + 2 * pad;
            try (Mat rgb = new Mat(side, side, opencv_core.CV_8UC3)) {
                byte[] px = new byte[side * side * 3]; // the border stays 0
                for (int i = k * chunk; i < Math.min(images.length, (k + 1) * chunk); i++) {
                    byte[] g = images[i];
                    for (int p = 0; p < g.length; p++) {
                        int q = 3 * ((p / 28 + pad) * side + p % 28 + pad);
                        px[q] = g[p];
                        px[q + 1] = g[p];
                        px[q + 2] = g[p];
                    }
                    rgb.data().put(px);
                    byte[] png = ImageCodec.encode(rgb, ImageHeader.PNG, 0);
                    String w = wnid(labels[i]);
                    String name = w + "/" + w + String.format("_%05d.png", i);
                    try {
                        if (local != null) {
                            Files.write(local.resolve(name), png); // Hadoop's local FS costs ms per small file
                        } else {
                            try (FSDataOutputStream os = fs.create(new Path(dir + "/" + name), true)) {
                                os.write(png);
                            }
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }
        });
    }

    private static File find(String dir, String name) {
        File gz = new File(dir, name + ".gz");
        if (gz.isFile()) return gz;
        File plain = new File(dir, name);
        return plain.isFile() ? plain : null;
    }

    private static InputStream open(File f) throws IOException {
        InputStream in = new FileInputStream(f);
        return f.getName().endsWith(".gz") ? new GZIPInputStream(in, 1 << 16) : in;
    }

    static byte[][] readImages(File f) {
        try (DataInputStream in = new DataInputStream(open(f))) {
            int magic = in.readInt();
            if (magic != 0x803) throw new PrepInputException(f + " is not an idx3 image file (magic " + magic + ")");
            int n = in.readInt();
            int rows = in.readInt();
            int cols = in.readInt();
            if (rows != 28 || cols != 28) throw new PrepInputException(f + " has " + rows + "x" + cols + " images, expected 28x28");
            byte[][] out = new byte[n][rows * cols];
            for (byte[] img : out) in.readFully(img);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f, e);
        }
    }

    static byte[] readLabels(File f) {
        try (DataInputStream in = new DataInputStream(open(f))) {
            int magic = in.readInt();
            if (magic != 0x801) throw new PrepInputException(f + " is not an idx1 label file (magic " + magic + ")");
            byte[] out = new byte[in.readInt()];
            in.readFully(out);
            for (byte b : out) if (b < 0 || b >= NAMES.length) throw new PrepInputException(f + " has label " + b);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f, e);
        }
    }

}
