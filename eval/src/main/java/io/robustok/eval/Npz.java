package io.robustok.eval;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Reads a numpy {@code .npz} (a zip of {@code .npy} arrays, stored or deflated, zip64 for the 10 GB sample
 * batches of ADM). Whole arrays come back as float64/float32/uint8 Java arrays; arrays too big for one Java
 * array (an ADM sample batch, 50k x 256 x 256 x 3) are read a block of rows at a time with {@link #rows}.
 */
public final class Npz implements Closeable {
    private final Path path;
    private final ZipFile zip;
    private final Set<String> keys = new LinkedHashSet<>();

    private Npz(Path path) throws IOException {
        this.path = path;
        this.zip = new ZipFile(path.toFile());
        Enumeration<? extends ZipEntry> en = zip.entries();
        while (en.hasMoreElements()) {
            String n = en.nextElement().getName();
            if (n.endsWith(".npy")) keys.add(n.substring(0, n.length() - 4));
        }
    }

    public static Npz open(Path path) throws IOException {
        try {
            return new Npz(path);
        } catch (java.util.zip.ZipException e) {
            throw new IOException(path + " is not an .npz file (a zip of .npy arrays): " + e.getMessage(), e);
        }
    }

    public Path path() {
        return path;
    }

    /** Array names, without ".npy", in file order. */
    public Set<String> keys() {
        return keys;
    }

    public boolean has(String key) {
        return keys.contains(key);
    }

    public NpyHeader header(String key) throws IOException {
        try (InputStream in = stream(key)) {
            return NpyHeader.read(in, where(key));
        }
    }

    /** The whole array converted to float64 (any supported dtype). */
    public double[] readDoubles(String key) throws IOException {
        try (RowReader r = rows(key)) {
            double[] out = new double[checkedSize(r.header(), key)];
            r.read(out.length, out, null, null, 0);
            return out;
        }
    }

    /** The whole array converted to float32. */
    public float[] readFloats(String key) throws IOException {
        try (RowReader r = rows(key)) {
            float[] out = new float[checkedSize(r.header(), key)];
            r.read(out.length, null, out, null, 0);
            return out;
        }
    }

    /** The whole array as bytes; dtype must be uint8. */
    public byte[] readBytes(String key) throws IOException {
        try (RowReader r = rows(key)) {
            if (!r.header().descr().endsWith("u1")) throw new IOException(where(key) + " is " + r.header().descr() + ", not uint8");
            byte[] out = new byte[checkedSize(r.header(), key)];
            r.read(out.length, null, null, out, 0);
            return out;
        }
    }

    /** A scalar or first element as a long (e.g. a stored count). */
    public long readLong(String key) throws IOException {
        return (long) readDoubles(key)[0];
    }

    /** Streams the array a block of rows (first dimension) at a time. */
    public RowReader rows(String key) throws IOException {
        InputStream in = new BufferedInputStream(stream(key), 1 << 20);
        NpyHeader h = NpyHeader.read(in, where(key));
        if (h.fortranOrder()) {
            in.close();
            throw new IOException(where(key) + " is in Fortran order; save it with np.ascontiguousarray first");
        }
        return new RowReader(h, in);
    }

    private InputStream stream(String key) throws IOException {
        ZipEntry e = zip.getEntry(key + ".npy");
        if (e == null) throw new IOException(path + " has no array '" + key + "' (it has " + keys + ")");
        return zip.getInputStream(e);
    }

    private String where(String key) {
        return path + ":" + key;
    }

    private int checkedSize(NpyHeader h, String key) throws IOException {
        long n = h.count();
        if (n > Integer.MAX_VALUE - 16) throw new IOException(where(key) + " has " + n + " elements: read it with rows()");
        return (int) n;
    }

    @Override
    public void close() throws IOException {
        zip.close();
    }

    /** Sequential reader over one array; converts the stored dtype on the fly. */
    public static final class RowReader implements Closeable {
        private final NpyHeader header;
        private final InputStream in;
        private long rowsLeft;
        private byte[] buf = new byte[0];

        RowReader(NpyHeader header, InputStream in) {
            this.header = header;
            this.in = in;
            this.rowsLeft = header.shape().length == 0 ? 1 : header.shape()[0];
        }

        public NpyHeader header() {
            return header;
        }

        public long rowsLeft() {
            return rowsLeft;
        }

        /** Next up to {@code maxRows} rows of a uint8 array, row-major; empty when done. */
        public byte[] nextBytes(int maxRows) throws IOException {
            int rows = (int) Math.min(maxRows, rowsLeft);
            byte[] out = new byte[Math.toIntExact(rows * header.rowElements())];
            read(out.length, null, null, out, 0);
            rowsLeft -= rows;
            return out;
        }

        /** Next up to {@code maxRows} rows converted to float32; empty when done. */
        public float[] nextFloats(int maxRows) throws IOException {
            int rows = (int) Math.min(maxRows, rowsLeft);
            float[] out = new float[Math.toIntExact(rows * header.rowElements())];
            read(out.length, null, out, null, 0);
            rowsLeft -= rows;
            return out;
        }

        void read(int n, double[] d, float[] f, byte[] b, int off) throws IOException {
            int item = header.itemSize();
            char kind = header.kind();
            int chunk = Math.max(1, (1 << 20) / item);
            for (int done = 0; done < n; ) {
                int m = Math.min(chunk, n - done);
                int bytes = m * item;
                if (buf.length < bytes) buf = new byte[bytes];
                readFully(buf, bytes);
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, bytes).order(header.order());
                for (int i = 0; i < m; i++) {
                    int o = off + done + i;
                    if (b != null) {
                        if (kind != 'u' || item != 1) throw new IOException("not uint8: " + header.descr());
                        b[o] = buf[i];
                        continue;
                    }
                    double v = switch (kind) {
                        case 'f' -> item == 8 ? bb.getDouble(i * 8) : item == 4 ? bb.getFloat(i * 4) : halfToFloat(bb.getShort(i * 2));
                        case 'u' -> item == 1 ? (buf[i] & 0xff) : item == 2 ? (bb.getShort(i * 2) & 0xffff)
                                : item == 4 ? (bb.getInt(i * 4) & 0xffffffffL) : (double) bb.getLong(i * 8);
                        case 'i' -> item == 1 ? buf[i] : item == 2 ? bb.getShort(i * 2) : item == 4 ? bb.getInt(i * 4) : (double) bb.getLong(i * 8);
                        case 'b' -> buf[i] != 0 ? 1 : 0;
                        default -> throw new IOException("unsupported dtype " + header.descr());
                    };
                    if (d != null) d[o] = v;
                    else f[o] = (float) v;
                }
                done += m;
            }
        }

        /** IEEE 754 half to float (Float.float16ToFloat arrives only in Java 20). */
        static float halfToFloat(short h) {
            int bits = h & 0xffff;
            int sign = (bits & 0x8000) << 16;
            int exp = (bits >> 10) & 0x1f;
            int mant = bits & 0x3ff;
            if (exp == 0) return (sign != 0 ? -1 : 1) * mant * 0x1p-24f;
            if (exp == 31) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
            return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
        }

        private void readFully(byte[] into, int len) throws IOException {
            int got = 0;
            while (got < len) {
                int r = in.read(into, got, len - got);
                if (r < 0) throw new IOException("array data ends early (" + header.descr() + " " + java.util.Arrays.toString(header.shape()) + ")");
                got += r;
            }
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
