package io.robustok.data;

import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Turns the bytes of one input file into what prep stores, or into a reject reason. Never throws for bad
 * content: a bad file is data, not an error.
 *
 * <p>What is stored (measured in BENCHMARKS.md, "Prep"): a plain 8-bit RGB JPEG/PNG whose shorter side is at most
 * {@code keepOriginalShortSide} keeps its original bytes (validated by a decode, at 1/8 scale for JPEG, which still
 * runs the whole entropy decoder and so catches corrupt data); anything else (grey, CMYK, palette, 16-bit, alpha,
 * or larger) is decoded, converted to RGB, downscaled so that its shorter side is at most
 * {@code resizeShortSide} (the largest the training augmentation asks for) and re-encoded: JPEG sources as JPEG
 * at {@code jpegQuality}, PNG sources as PNG (lossless). The format comes from the file's signature, so a PNG
 * named .JPEG is accepted and stored as PNG.
 */
final class ImageNormalizer implements AutoCloseable {

    /** Outcome for one file: either an image to store or a reject reason. */
    record Result(byte[] image, String format, int width, int height, String sourceFormat, int sourceWidth,
                  int sourceHeight, boolean original, String reject) {
        static Result reject(String reason, ImageHeader h) {
            return new Result(null, null, 0, 0, h == null ? "" : h.format(), h == null ? 0 : h.width(),
                    h == null ? 0 : h.height(), false, reason);
        }

        boolean rejected() {
            return reject != null;
        }
    }

    private final PrepConfig cfg;
    private final ImageCodec codec = new ImageCodec();

    ImageNormalizer(PrepConfig cfg) {
        this.cfg = cfg;
    }

    Result apply(byte[] bytes) {
        if (bytes.length == 0) return Result.reject("empty file (0 bytes)", null);
        ImageHeader h = ImageHeader.parse(bytes);
        if (h == null) return Result.reject(ImageHeader.sniff(bytes), null);
        if (h.width() <= 0 || h.height() <= 0 || h.width() > cfg.maxSide() || h.height() > cfg.maxSide()
                || (long) h.width() * h.height() > cfg.maxPixels()) {
            return Result.reject("absurd dimensions " + h.width() + "x" + h.height() + " (limits: prep.max-side "
                    + cfg.maxSide() + ", prep.max-pixels " + cfg.maxPixels() + ")", h);
        }
        if (!h.complete()) return Result.reject("truncated " + h.format() + " (no end marker)", h);
        boolean jpeg = ImageHeader.JPEG.equals(h.format());
        try {
            if (h.plainRgb() && h.shortSide() <= cfg.keepOriginalShortSide()) {
                // validation only: the smallest decode that still reads every coefficient
                int f = jpeg ? 8 : 1;
                try (Mat m = codec.decodeBgr(bytes, f)) {
                    if (m == null) return Result.reject("undecodable " + h.format(), h);
                    if (m.cols() != (h.width() + f - 1) / f || m.rows() != (h.height() + f - 1) / f) {
                        return Result.reject("decoded size " + m.cols() + "x" + m.rows() + " disagrees with header "
                                + h.width() + "x" + h.height(), h);
                    }
                }
                return new Result(bytes, h.format(), h.width(), h.height(), h.format(), h.width(), h.height(), true, null);
            }
            int target = Math.min(h.shortSide(), cfg.resizeShortSide());
            int f = ImageCodec.reduction(h.shortSide(), target, jpeg);
            try (Mat m = codec.decodeBgr(bytes, f)) {
                if (m == null) return Result.reject("undecodable " + h.format(), h);
                Mat out = Math.min(m.cols(), m.rows()) > target ? ImageCodec.resizeShortSide(m, target) : m;
                try {
                    byte[] enc = ImageCodec.encode(out, h.format(), cfg.jpegQuality());
                    if (enc == null) return Result.reject("re-encode failed", h);
                    return new Result(enc, h.format(), out.cols(), out.rows(), h.format(), h.width(), h.height(), false, null);
                } finally {
                    if (out != m) out.close();
                }
            }
        } catch (RuntimeException e) {
            // OpenCV reports some corrupt streams as exceptions rather than an empty result
            return Result.reject("undecodable " + h.format() + ": " + firstLine(e.getMessage()), h);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "decoder error";
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).trim();
    }

    @Override
    public void close() {
        codec.close();
    }
}
