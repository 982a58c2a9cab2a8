package io.robustok.data;

import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The TurboJPEG path (system libjpeg-turbo with SIMD) gives the same pixels as OpenCV's bundled libjpeg-turbo:
 * same integer IDCT, same scaled IDCTs, same fancy upsampling; so prep and the training reader produce the same
 * data whichever codec a machine has. Needs libturbojpeg0 (.ci/run installs it).
 */
class ImageCodecTest {

    private static byte[] pixels(Mat m) {
        byte[] b = new byte[m.cols() * m.rows() * 3];
        m.data().get(b);
        return b;
    }

    private static byte[] noisyJpeg(int w, int h, int seed, int quality) {
        try (Mat m = Fixtures.bgr(w, h, seed)) {
            byte[] px = pixels(m);
            Random r = new Random(seed);
            for (int i = 0; i < px.length; i++) px[i] = (byte) ((px[i] & 0xff) / 2 + r.nextInt(128));
            m.data().put(px);
            return ImageCodec.encodeOpenCv(m, ImageHeader.JPEG, quality);
        }
    }

    @Test
    void turboDecodeEqualsOpenCvAtEveryScale() {
        assumeTrue(TurboJpeg.available(), "libturbojpeg0 is not installed");
        try (ImageCodec codec = new ImageCodec()) {
            byte[][] inputs = {noisyJpeg(500, 375, 1, 90), noisyJpeg(333, 500, 2, 75), Fixtures.jpeg(101, 67, 3), Fixtures.grayJpeg(64, 48)};
            for (byte[] jpeg : inputs) {
                for (int f : new int[]{1, 2, 4, 8}) {
                    try (Mat a = codec.decodeBgr(jpeg, f); Mat b = codec.decodeOpenCv(jpeg, f)) {
                        assertEquals(b.cols(), a.cols());
                        assertEquals(b.rows(), a.rows());
                        assertArrayEquals(pixels(b), pixels(a), "factor " + f + ", " + b.cols() + "x" + b.rows());
                    }
                }
            }
        }
    }

    /** With the accurate DCT and 4:2:0 (OpenCV's settings) both encoders write the same file: prep output does not depend on the codec. */
    @Test
    void turboEncodeWritesTheSameBytesAsOpenCv() {
        assumeTrue(TurboJpeg.available(), "libturbojpeg0 is not installed");
        try (ImageCodec codec = new ImageCodec(); Mat src = codec.decodeOpenCv(noisyJpeg(320, 240, 4, 92), 1)) {
            for (int q : new int[]{75, 95}) {
                assertArrayEquals(ImageCodec.encodeOpenCv(src, ImageHeader.JPEG, q), ImageCodec.encode(src, ImageHeader.JPEG, q), "quality " + q);
            }
        }
    }

    @Test
    void cmykFallsBackToOpenCvAndGarbageIsUndecodable() {
        try (ImageCodec codec = new ImageCodec()) {
            byte[] cmyk = Fixtures.cmykJpeg();
            try (Mat a = codec.decodeBgr(cmyk, 1); Mat b = codec.decodeOpenCv(cmyk, 1)) {
                assertNotNull(a);
                assertArrayEquals(pixels(b), pixels(a));
            }
            byte[] garbage = new byte[2000];
            new Random(7).nextBytes(garbage);
            garbage[0] = (byte) 0xFF;
            garbage[1] = (byte) 0xD8;
            garbage[2] = (byte) 0xFF;
            assertNull(codec.decodeBgr(garbage, 1));
            // the thread's decoder survives the error: the next good file decodes
            try (Mat m = codec.decodeBgr(Fixtures.jpeg(64, 48, 1), 1)) {
                assertNotNull(m, "a good JPEG after a corrupt one");
                assertEquals(64, m.cols());
            }
        }
    }
}
