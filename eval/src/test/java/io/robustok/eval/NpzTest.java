package io.robustok.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** ADM's .npz layouts (SPEC section 7): fixtures written by numpy (src/test/resources/npz/make_fixtures.py). */
class NpzTest {

    static Path fixture(String name) throws URISyntaxException {
        return Path.of(NpzTest.class.getResource("/npz/" + name).toURI());
    }

    @Test
    void readsNumpyReferenceBatch() throws Exception {
        try (Npz z = Npz.open(fixture("ref.npz"))) {
            assertEquals(List.of("mu", "sigma", "arr_0"), List.copyOf(z.keys()));
            assertEquals("<f8", z.header("mu").descr());
            assertArrayEquals(new long[]{6, 4}, z.header("arr_0").shape());
            double[] mu = z.readDoubles("mu");
            double[] sigma = z.readDoubles("sigma");
            float[] acts = z.readFloats("arr_0");
            for (int i = 0; i < 4; i++) {
                assertEquals(i / 8.0, mu[i], 0);
                for (int j = 0; j < 4; j++) assertEquals(1.0 / (1 + i + j), sigma[i * 4 + j], 0);
            }
            for (int r = 0; r < 6; r++) for (int c = 0; c < 4; c++) assertEquals(r - c / 4f, acts[r * 4 + c], 0);
        }
    }

    @Test
    void readsNumpySampleBatchInBlocksOfRows() throws Exception {
        try (Npz z = Npz.open(fixture("samples.npz")); Npz.RowReader rows = z.rows("arr_0")) {
            assertEquals("|u1", rows.header().descr());
            assertArrayEquals(new long[]{2, 3, 3, 3}, rows.header().shape());
            byte[] first = rows.nextBytes(1), second = rows.nextBytes(5), none = rows.nextBytes(5);
            assertEquals(27, first.length);
            assertEquals(27, second.length);
            assertEquals(0, none.length);
            for (int n = 0; n < 2; n++)
                for (int h = 0; h < 3; h++)
                    for (int w = 0; w < 3; w++)
                        for (int c = 0; c < 3; c++) {
                            byte[] img = n == 0 ? first : second;
                            assertEquals((n * 100 + h * 10 + w * 3 + c) % 256, img[((h * 3) + w) * 3 + c] & 0xff);
                        }
            assertArrayEquals(new double[]{7, 3}, z.readDoubles("arr_1"));
        }
    }

    @Test
    void readsCompressedHalfAndBigEndian() throws Exception {
        try (Npz z = Npz.open(fixture("mixed.npz"))) {
            assertArrayEquals(new double[]{0.5, -2, 65504}, z.readDoubles("a"));
            assertEquals(">f4", z.header("b").descr());
            assertArrayEquals(new float[]{1, 2, 3, 4}, z.readFloats("b"));
        }
    }

    @Test
    void oursReadsBackInTheSameLayout(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("ours.npz");
        byte[] imgs = new byte[2 * 3 * 3 * 3];
        for (int i = 0; i < imgs.length; i++) imgs[i] = (byte) (i * 37);
        try (NpzWriter w = new NpzWriter(p)) {
            w.write("mu", new double[]{0.125, -1e-300, 3}, 3);
            w.write("sigma", new double[]{1, 2, 3, 4}, 2, 2);
            try (OutputStream s = w.begin("arr_0", "|u1", 2, 3, 3, 3)) {
                s.write(imgs, 0, 27);
                s.write(imgs, 27, 27);
            }
            w.writeScalar("count", 123);
            assertThrows(IOException.class, () -> {
                try (OutputStream s = w.begin("bad", "|u1", 4)) {
                    s.write(1);
                }
            });
        }
        try (Npz z = Npz.open(p)) {
            assertEquals(List.of("mu", "sigma", "arr_0", "count"), List.copyOf(z.keys()));
            assertArrayEquals(new double[]{0.125, -1e-300, 3}, z.readDoubles("mu"));
            assertArrayEquals(new long[]{2, 2}, z.header("sigma").shape());
            assertArrayEquals(imgs, z.readBytes("arr_0"));
            assertArrayEquals(new long[0], z.header("count").shape());
            assertEquals(123, z.readLong("count"));
        }
        // leave a copy for bench/fid/check_npz.py, which reads it with numpy
        Path keep = Path.of("target", "npz-roundtrip.npz");
        Files.createDirectories(keep.getParent());
        Files.copy(p, keep, StandardCopyOption.REPLACE_EXISTING);
    }
}
