package io.robustok.data;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The system's libjpeg-turbo through its TurboJPEG API (Debian {@code libturbojpeg0}), called through JNA.
 * OpenCV 4.5.5 as bundled with JavaCPP 1.5.7 carries a libjpeg-turbo built without its SIMD code, which
 * makes JPEG decode and encode about 2x slower than the system library (BENCHMARKS.md, "Prep"). Both run
 * the same integer IDCT and fancy upsampling, so the pixels are identical (ImageCodecTest checks it).
 *
 * <p>Optional: when the library cannot be loaded {@link #available()} is false and {@link ImageCodec} uses
 * OpenCV alone. Set {@code -Drobustok.turbojpeg=false} (or the environment variable ROBUSTOK_TURBOJPEG=0) to
 * force OpenCV. One instance per thread (a TurboJPEG handle is not thread-safe).
 */
final class TurboJpeg implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TurboJpeg.class);

    static final int PF_BGR = 1;
    static final int SAMP_420 = 2;
    static final int CS_CMYK = 3;
    static final int CS_YCCK = 4;
    static final int FLAG_NOREALLOC = 1024;
    /** The accurate integer forward DCT (libjpeg's and OpenCV's default; TurboJPEG would otherwise pick the fast one). */
    static final int FLAG_ACCURATEDCT = 4096;
    static final int ERR_WARNING = 0;

    /** The subset of turbojpeg.h (libjpeg-turbo 2.x) that prep and the training reader use. */
    interface Lib extends Library {
        Pointer tjInitDecompress();

        Pointer tjInitCompress();

        int tjDecompressHeader3(Pointer handle, byte[] jpeg, NativeLong size, int[] width, int[] height, int[] subsamp, int[] colorspace);

        int tjDecompress2(Pointer handle, byte[] jpeg, NativeLong size, Pointer dst, int width, int pitch, int height, int pixelFormat, int flags);

        int tjCompress2(Pointer handle, Pointer src, int width, int pitch, int height, int pixelFormat, long[] jpegBuf,
                        long[] jpegSize, int subsamp, int quality, int flags);

        NativeLong tjBufSize(int width, int height, int subsamp);

        int tjGetErrorCode(Pointer handle);

        String tjGetErrorStr2(Pointer handle);

        int tjDestroy(Pointer handle);
    }

    private static final Lib LIB = load();

    private static Lib load() {
        String prop = System.getProperty("robustok.turbojpeg", System.getenv().getOrDefault("ROBUSTOK_TURBOJPEG", "true"));
        if (prop.equals("false") || prop.equals("0")) {
            log.info("JPEG codec: OpenCV (TurboJPEG disabled by robustok.turbojpeg / ROBUSTOK_TURBOJPEG)");
            return null;
        }
        for (String name : new String[]{"turbojpeg", "libturbojpeg.so.0"}) {
            try {
                Lib lib = Native.load(name, Lib.class);
                log.info("JPEG codec: system libjpeg-turbo ({}) through TurboJPEG", name);
                return lib;
            } catch (UnsatisfiedLinkError e) {
                // try the next name
            }
        }
        log.info("JPEG codec: OpenCV (libturbojpeg not found; apt install libturbojpeg0 for about 2x faster JPEG)");
        return null;
    }

    static boolean available() {
        return LIB != null;
    }

    /** What decodes and encodes JPEG in this JVM, for provenance. */
    static String describe() {
        return available() ? "libjpeg-turbo (system, TurboJPEG API)" : "OpenCV imgcodecs";
    }

    private Pointer dec;
    private Pointer enc;
    /** Output buffer of the encoder, grown to the largest image seen (TurboJPEG writes into it, never reallocates). */
    private Memory out;
    private final int[] w = new int[1], h = new int[1], samp = new int[1], cs = new int[1];

    /** Header of a JPEG: {width, height, colorspace}, or null when the header cannot be read. */
    int[] header(byte[] jpeg) {
        if (dec == null) dec = LIB.tjInitDecompress();
        if (LIB.tjDecompressHeader3(dec, jpeg, new NativeLong(jpeg.length), w, h, samp, cs) != 0) {
            resetDecoder();
            return null;
        }
        return new int[]{w[0], h[0], cs[0]};
    }

    /**
     * Decodes into {@code dst} (BGR, {@code width} x {@code height}, rows packed); the decoder scales by the
     * factor that gives exactly that size. False on a fatal error; warnings (corrupt but decodable data) pass,
     * as they do in OpenCV.
     */
    boolean decodeBgr(byte[] jpeg, Pointer dst, int width, int height) {
        if (dec == null) dec = LIB.tjInitDecompress();
        if (LIB.tjDecompress2(dec, jpeg, new NativeLong(jpeg.length), dst, width, width * 3, height, PF_BGR, 0) == 0) return true;
        boolean warning = LIB.tjGetErrorCode(dec) == ERR_WARNING;
        if (!warning) resetDecoder();
        return warning;
    }

    /** libjpeg-turbo 2.1 leaves a handle unusable after some errors (every later header read fails): start afresh. */
    private void resetDecoder() {
        LIB.tjDestroy(dec);
        dec = null;
    }

    /** Encodes packed BGR rows as baseline JPEG, 4:2:0, accurate DCT (OpenCV's defaults), at the given quality; null on failure. */
    byte[] encodeBgr(Pointer src, int width, int height, int quality) {
        if (enc == null) enc = LIB.tjInitCompress();
        long cap = LIB.tjBufSize(width, height, SAMP_420).longValue();
        if (out == null || out.size() < cap) {
            if (out != null) out.close();
            out = new Memory(cap);
        }
        long[] buf = {Pointer.nativeValue(out)};
        long[] size = {cap};
        if (LIB.tjCompress2(enc, src, width, width * 3, height, PF_BGR, buf, size, SAMP_420, quality, FLAG_NOREALLOC | FLAG_ACCURATEDCT) != 0) {
            LIB.tjDestroy(enc);
            enc = null;
            return null;
        }
        return out.getByteArray(0, (int) size[0]);
    }

    @Override
    public void close() {
        if (dec != null) LIB.tjDestroy(dec);
        if (enc != null) LIB.tjDestroy(enc);
        if (out != null) out.close();
        dec = enc = null;
        out = null;
    }
}
