package io.robustok.data;

/**
 * What the first bytes of an image file say, read without decoding: the format from its signature (never from
 * the file name), the dimensions, and what a decoder would have to convert to reach 8-bit RGB. Prep uses it to
 * reject absurd dimensions before a decoder allocates memory for them, to detect truncation, and to decide
 * whether the original bytes can be stored as they are.
 *
 * @param format     "jpeg" or "png"
 * @param width      pixels
 * @param height     pixels
 * @param channels   JPEG: components (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK); PNG: 1 gray, 2 gray+alpha, 3 RGB or
 *                   palette, 4 RGBA
 * @param bitDepth   bits per sample (JPEG precision, PNG bit depth)
 * @param palette    PNG colour type 3
 * @param complete   the file ends where the format says it ends (JPEG end-of-image marker, PNG IEND chunk)
 */
public record ImageHeader(String format, int width, int height, int channels, int bitDepth, boolean palette,
                          boolean complete) {

    public static final String JPEG = "jpeg";
    public static final String PNG = "png";

    /** True when the decoder's output is the stored content as is: 8-bit, three channels, no palette/alpha. */
    public boolean plainRgb() {
        return channels == 3 && bitDepth == 8 && !palette;
    }

    public int shortSide() {
        return Math.min(width, height);
    }

    /**
     * Parses the header, or returns null when the bytes are not a JPEG or PNG (the caller names the reason
     * with {@link #sniff}). A JPEG without a frame header also returns null.
     */
    public static ImageHeader parse(byte[] b) {
        if (isJpeg(b)) return jpeg(b);
        if (isPng(b)) return png(b);
        return null;
    }

    /** A short name of what the bytes look like, for reject reasons. */
    public static String sniff(byte[] b) {
        if (b.length == 0) return "empty file";
        if (isJpeg(b)) return "jpeg without a frame header";
        if (isPng(b)) return "png without IHDR";
        if (startsWith(b, "GIF8")) return "gif (unsupported format)";
        if (startsWith(b, "BM")) return "bmp (unsupported format)";
        if (startsWith(b, "RIFF") && b.length > 12 && new String(b, 8, 4, java.nio.charset.StandardCharsets.ISO_8859_1).equals("WEBP"))
            return "webp (unsupported format)";
        if (startsWith(b, "II*\0") || startsWith(b, "MM\0*")) return "tiff (unsupported format)";
        int printable = 0;
        int n = Math.min(b.length, 512);
        for (int i = 0; i < n; i++) {
            int c = b[i] & 0xff;
            if (c == 9 || c == 10 || c == 13 || (c >= 32 && c < 127)) printable++;
        }
        return printable == n ? "not an image (text)" : "not an image (unknown signature)";
    }

    private static boolean startsWith(byte[] b, String s) {
        if (b.length < s.length()) return false;
        for (int i = 0; i < s.length(); i++) if ((b[i] & 0xff) != s.charAt(i)) return false;
        return true;
    }

    static boolean isJpeg(byte[] b) {
        return b.length >= 3 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8 && (b[2] & 0xff) == 0xFF;
    }

    static boolean isPng(byte[] b) {
        return b.length >= 8 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G'
                && b[4] == 0x0D && b[5] == 0x0A && b[6] == 0x1A && b[7] == 0x0A;
    }

    private static int u16(byte[] b, int i) {
        return ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
    }

    private static long u32(byte[] b, int i) {
        return ((long) u16(b, i) << 16) | u16(b, i + 2);
    }

    private static ImageHeader jpeg(byte[] b) {
        int i = 2;
        while (i + 3 < b.length) {
            if ((b[i] & 0xff) != 0xFF) return null; // lost sync: not a marker where one must be
            int m = b[i + 1] & 0xff;
            if (m == 0xFF) { // fill byte
                i++;
                continue;
            }
            if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { // markers without a length
                i += 2;
                continue;
            }
            if (m == 0xD9 || m == 0xDA) return null; // end of image / start of scan before any frame header
            int len = u16(b, i + 2);
            boolean sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
            if (sof) {
                if (i + 9 >= b.length) return null;
                int precision = b[i + 4] & 0xff;
                int h = u16(b, i + 5);
                int w = u16(b, i + 7);
                int nf = b[i + 9] & 0xff;
                return new ImageHeader(JPEG, w, h, nf, precision, false, jpegComplete(b));
            }
            if (len < 2) return null;
            i += 2 + len;
        }
        return null;
    }

    /**
     * Decoders fill a truncated JPEG with grey and only warn, so truncation is checked here: the end-of-image
     * marker must be among the last bytes (a little trailing padding is common and harmless). Only the tail is
     * searched because an EXIF thumbnail near the start carries its own end-of-image marker.
     */
    private static boolean jpegComplete(byte[] b) {
        int from = Math.max(2, b.length - 1024);
        for (int i = b.length - 2; i >= from; i--) {
            if ((b[i] & 0xff) == 0xFF && (b[i + 1] & 0xff) == 0xD9) return true;
        }
        return false;
    }

    private static ImageHeader png(byte[] b) {
        if (b.length < 33 || b[12] != 'I' || b[13] != 'H' || b[14] != 'D' || b[15] != 'R') return null;
        long w = u32(b, 16);
        long h = u32(b, 20);
        int depth = b[24] & 0xff;
        int colorType = b[25] & 0xff;
        int channels = switch (colorType) {
            case 0 -> 1;
            case 2, 3 -> 3;
            case 4 -> 2;
            case 6 -> 4;
            default -> 0;
        };
        // the IEND chunk (length 0, type, CRC) closes every complete PNG
        boolean complete = false;
        for (int i = b.length - 12; i >= Math.max(33, b.length - 1024); i--) {
            if (b[i + 4] == 'I' && b[i + 5] == 'E' && b[i + 6] == 'N' && b[i + 7] == 'D') {
                complete = true;
                break;
            }
        }
        return new ImageHeader(PNG, (int) Math.min(w, Integer.MAX_VALUE), (int) Math.min(h, Integer.MAX_VALUE),
                channels, depth, colorType == 3, complete);
    }
}
