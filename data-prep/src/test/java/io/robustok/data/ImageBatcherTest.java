package io.robustok.data;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The training input path: shapes, value range, seeding, the two transforms (speed: ImageBatcherBench). */
class ImageBatcherTest {
    static final int S = 32;
    static List<ImageRecord> demo;

    @BeforeAll
    static void images() {
        demo = new ArrayList<>();
        for (int i = 0; i < 64; i++) demo.add(new ImageRecord("k" + i, i % 10, Fixtures.png(28, 28, i), 28, 28));
    }

    @AfterAll
    static void done() {
        demo = null;
    }

    @Test
    void batchIsNchwFloatInMinusOneToOne() {
        try (ImageBatcher b = ImageBatcher.train(S, 1.25)) {
            ImageBatcher.Minibatch mb = b.batch(demo.subList(0, 8), 7);
            INDArray x = mb.images();
            assertArrayEquals(new long[]{8, 3, S, S}, x.shape());
            assertEquals(DataType.FLOAT, x.dataType());
            assertTrue(x.minNumber().floatValue() >= -1f && x.maxNumber().floatValue() <= 1f);
            assertTrue(x.maxNumber().floatValue() - x.minNumber().floatValue() > 1f, "not a constant image");
            assertArrayEquals(new int[]{0, 1, 2, 3, 4, 5, 6, 7}, mb.labels());
        }
    }

    @Test
    void sameSeedSameBatchOtherSeedOtherBatch() {
        try (ImageBatcher b = ImageBatcher.train(S, 1.25); ImageBatcher c = ImageBatcher.train(S, 1.25)) {
            float[] x = b.batch(demo.subList(0, 16), 11).images().data().asFloat();
            float[] y = c.batch(demo.subList(0, 16), 11).images().data().asFloat();
            float[] z = b.batch(demo.subList(0, 16), 12).images().data().asFloat();
            assertArrayEquals(x, y);
            assertFalse(java.util.Arrays.equals(x, z));
            // image i depends on (seed, i) only: the first half of a batch equals a batch of the first half
            float[] half = b.batch(demo.subList(0, 8), 11).images().data().asFloat();
            assertArrayEquals(half, java.util.Arrays.copyOf(x, half.length));
        }
    }

    @Test
    void evalOfAnSBySImageIsThePixelsThemselves() {
        // a 32x32 image needs no resize and the center crop is all of it: the output is exactly the pixels, RGB
        byte[] png = Fixtures.png(S, S, 3);
        float[] out = new float[3 * S * S];
        try (ImageBatcher b = ImageBatcher.eval(S); ImageCodec codec = new ImageCodec();
             var m = codec.decodeBgr(png, 1)) {
            b.transform(new ImageRecord("x", 0, png, S, S), new SplittableRandom(1), out, 0);
            byte[] px = new byte[S * S * 3];
            m.data().get(px);
            for (int y = 0; y < S; y++) {
                for (int x = 0; x < S; x++) {
                    int i = 3 * (y * S + x);
                    assertEquals((px[i + 2] & 0xff) / 127.5f - 1f, out[y * S + x], 1e-6, "R");
                    assertEquals((px[i + 1] & 0xff) / 127.5f - 1f, out[S * S + y * S + x], 1e-6, "G");
                    assertEquals((px[i] & 0xff) / 127.5f - 1f, out[2 * S * S + y * S + x], 1e-6, "B");
                }
            }
        }
    }

    @Test
    void trainWithoutScaleRangeIsTheImageOrItsMirror() {
        byte[] png = Fixtures.png(S, S, 4);
        ImageRecord r = new ImageRecord("x", 0, png, S, S);
        float[] id = new float[3 * S * S];
        try (ImageBatcher e = ImageBatcher.eval(S); ImageBatcher t = ImageBatcher.train(S, 1.0)) {
            e.transform(r, new SplittableRandom(0), id, 0);
            int flipped = 0;
            for (int seed = 0; seed < 40; seed++) {
                float[] out = new float[3 * S * S];
                t.transform(r, new SplittableRandom(seed), out, 0);
                boolean same = java.util.Arrays.equals(out, id);
                boolean mirror = true;
                for (int c = 0; c < 3 && mirror; c++)
                    for (int y = 0; y < S && mirror; y++)
                        for (int x = 0; x < S; x++)
                            if (out[c * S * S + y * S + x] != id[c * S * S + y * S + S - 1 - x]) {
                                mirror = false;
                                break;
                            }
                assertTrue(same || mirror, "seed " + seed + ": neither the image nor its mirror");
                if (!same) flipped++;
            }
            assertTrue(flipped > 5 && flipped < 35, "flip probability about 1/2, got " + flipped + "/40");
        }
    }

    /** data.flip = false: the same crops as with flips (same seeds), never mirrored. */
    @Test
    void withoutFlipsTheTrainTransformNeverMirrors() {
        byte[] png = Fixtures.png(S, S, 4);
        ImageRecord r = new ImageRecord("x", 0, png, S, S);
        float[] id = new float[3 * S * S];
        try (ImageBatcher e = ImageBatcher.eval(S); ImageBatcher t = ImageBatcher.train(S, 1.0, false)) {
            e.transform(r, new SplittableRandom(0), id, 0);
            for (int seed = 0; seed < 40; seed++) {
                float[] out = new float[3 * S * S];
                t.transform(r, new SplittableRandom(seed), out, 0);
                assertTrue(java.util.Arrays.equals(out, id), "seed " + seed + ": mirrored or changed");
            }
        }
        byte[] big = Fixtures.png(2 * S, 2 * S, 7);
        ImageRecord b = new ImageRecord("y", 0, big, 2 * S, 2 * S);
        try (ImageBatcher flips = ImageBatcher.train(S, 1.25); ImageBatcher none = ImageBatcher.train(S, 1.25, false)) {
            int mirrored = 0;
            for (int seed = 0; seed < 20; seed++) {
                float[] f = new float[3 * S * S], n = new float[3 * S * S];
                flips.transform(b, new SplittableRandom(seed), f, 0);
                none.transform(b, new SplittableRandom(seed), n, 0);
                if (java.util.Arrays.equals(f, n)) continue;
                mirrored++;
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < S; y++)
                        for (int x = 0; x < S; x++)
                            assertEquals(n[c * S * S + y * S + S - 1 - x], f[c * S * S + y * S + x], "seed " + seed + ": not the same crop mirrored");
            }
            assertTrue(mirrored > 2 && mirrored < 18, "mirrored " + mirrored + " of 20");
        }
    }

    @Test
    void largeJpegsAreScaledInTheDecoderAndCropped() {
        // paper-like sizes: 500x375 JPEG to S = 256 (train: shorter side 256..320), and eval
        byte[] jpg = Fixtures.jpeg(500, 375, 5);
        ImageRecord r = new ImageRecord("big", 3, jpg, 500, 375);
        try (ImageBatcher t = ImageBatcher.train(256, 1.25); ImageBatcher e = ImageBatcher.eval(128)) {
            assertArrayEquals(new long[]{2, 3, 256, 256}, t.batch(List.of(r, r), 1).images().shape());
            // eval at 128: decoded at 1/2 (188 >= 128), area-resized to shorter side 128, center crop
            INDArray x = e.batch(List.of(r), 0).images();
            assertArrayEquals(new long[]{1, 3, 128, 128}, x.shape());
            // the fixture's green channel grows with y: top row darker than bottom row in the crop
            assertTrue(x.getFloat(0, 1, 0, 64) < x.getFloat(0, 1, 127, 64));
        }
    }
}
