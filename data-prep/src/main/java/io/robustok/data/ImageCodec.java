package io.robustok.data;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;

/**
 * Decode, resize and encode through OpenCV (libjpeg-turbo and libpng inside), several times faster than
 * javax.imageio; JPEG through the system's SIMD libjpeg-turbo ({@link TurboJpeg}) when it is installed. One
 * instance per thread: it reuses a native input buffer. Decoded images are 8-bit BGR {@link Mat}s that the
 * caller closes.
 *
 * <p>JPEG decodes can be scaled by 1/2, 1/4 or 1/8 inside the decoder (DCT-domain scaling, much cheaper than
 * decoding at full size and resizing); {@link #reduction} picks the largest factor that keeps the shorter side
 * at least as long as needed.
 */
final class ImageCodec implements AutoCloseable {
    private static volatile boolean initialised;

    private BytePointer in = new BytePointer(0L);

    ImageCodec() {
        init();
    }

    /** Spark runs one task per core, so OpenCV must not start its own thread pool inside each task. */
    static void init() {
        if (initialised) return;
        synchronized (ImageCodec.class) {
            if (!initialised) {
                opencv_core.setNumThreads(1);
                initialised = true;
            }
        }
    }

    /** Per-thread TurboJPEG handles (decode and encode), when the system library is there. */
    private static final ThreadLocal<TurboJpeg> TURBO = ThreadLocal.withInitial(TurboJpeg::new);

    /** Decodes to 8-bit BGR (grey, palette, 16-bit, alpha and CMYK converted), scaled by 1/factor; null if undecodable. */
    Mat decodeBgr(byte[] bytes, int factor) {
        if (bytes.length == 0) return null;
        if (TurboJpeg.available() && ImageHeader.isJpeg(bytes)) {
            TurboJpeg tj = TURBO.get();
            int[] hdr = tj.header(bytes);
            if (hdr == null) return null;
            // CMYK / YCCK: TurboJPEG does not convert them to BGR; OpenCV does
            if (hdr[2] != TurboJpeg.CS_CMYK && hdr[2] != TurboJpeg.CS_YCCK) {
                int w = (hdr[0] + factor - 1) / factor, h = (hdr[1] + factor - 1) / factor;
                Mat m = new Mat(h, w, opencv_core.CV_8UC3);
                if (tj.decodeBgr(bytes, new com.sun.jna.Pointer(m.data().address()), w, h)) return m;
                m.close();
                return null;
            }
        }
        return decodeOpenCv(bytes, factor);
    }

    /** The OpenCV path of {@link #decodeBgr} (every format; the only one when TurboJPEG is missing). */
    Mat decodeOpenCv(byte[] bytes, int factor) {
        if (bytes.length == 0) return null;
        if (in.capacity() < bytes.length) {
            in.close();
            in = new BytePointer(Math.max(bytes.length, 64 * 1024L));
        }
        in.position(0).put(bytes, 0, bytes.length);
        try (Mat buf = new Mat(1, bytes.length, opencv_core.CV_8UC1, in)) {
            Mat m = opencv_imgcodecs.imdecode(buf, flag(factor));
            if (m == null || m.empty()) {
                if (m != null) m.close();
                return null;
            }
            return m;
        }
    }

    /** Resizes so that the shorter side is {@code shortSide} (area averaging down, bicubic up); returns a new Mat. */
    static Mat resizeShortSide(Mat src, int shortSide) {
        int w = src.cols();
        int h = src.rows();
        int nw;
        int nh;
        if (w <= h) {
            nw = shortSide;
            nh = Math.max(shortSide, (int) Math.round((double) h * shortSide / w));
        } else {
            nh = shortSide;
            nw = Math.max(shortSide, (int) Math.round((double) w * shortSide / h));
        }
        Mat dst = new Mat();
        if (nw == w && nh == h) {
            src.copyTo(dst);
            return dst;
        }
        int interp = nw < w ? opencv_imgproc.INTER_AREA : opencv_imgproc.INTER_CUBIC;
        try (Size size = new Size(nw, nh)) {
            opencv_imgproc.resize(src, dst, size, 0, 0, interp);
        }
        return dst;
    }

    /** Encodes BGR as "jpeg" (given quality) or "png"; null if the encoder fails. */
    static byte[] encode(Mat bgr, String format, int jpegQuality) {
        boolean jpeg = ImageHeader.JPEG.equals(format);
        if (jpeg && TurboJpeg.available() && bgr.isContinuous() && bgr.type() == opencv_core.CV_8UC3) {
            return TURBO.get().encodeBgr(new com.sun.jna.Pointer(bgr.data().address()), bgr.cols(), bgr.rows(), jpegQuality);
        }
        return encodeOpenCv(bgr, format, jpegQuality);
    }

    /** The OpenCV path of {@link #encode}. */
    static byte[] encodeOpenCv(Mat bgr, String format, int jpegQuality) {
        boolean jpeg = ImageHeader.JPEG.equals(format);
        try (BytePointer out = new BytePointer(0L);
             IntPointer params = jpeg
                     ? new IntPointer(opencv_imgcodecs.IMWRITE_JPEG_QUALITY, jpegQuality)
                     : new IntPointer(opencv_imgcodecs.IMWRITE_PNG_COMPRESSION, 6)) {
            if (!opencv_imgcodecs.imencode(jpeg ? ".jpg" : ".png", bgr, out, params)) return null;
            byte[] b = new byte[(int) out.limit()];
            out.position(0).get(b);
            return b;
        }
    }

    /** Largest of 8, 4, 2 (else 1) with ceil(shortSide / f) >= needed; JPEG only, other formats decode at full size. */
    static int reduction(int shortSide, int needed, boolean jpeg) {
        if (!jpeg) return 1;
        for (int f = 8; f >= 2; f /= 2) {
            if ((shortSide + f - 1) / f >= needed) return f;
        }
        return 1;
    }

    private static int flag(int factor) {
        return switch (factor) {
            case 1 -> opencv_imgcodecs.IMREAD_COLOR;
            case 2 -> opencv_imgcodecs.IMREAD_REDUCED_COLOR_2;
            case 4 -> opencv_imgcodecs.IMREAD_REDUCED_COLOR_4;
            case 8 -> opencv_imgcodecs.IMREAD_REDUCED_COLOR_8;
            default -> throw new IllegalArgumentException("reduction factor " + factor + " is not 1, 2, 4 or 8");
        };
    }

    @Override
    public void close() {
        in.close();
    }
}
