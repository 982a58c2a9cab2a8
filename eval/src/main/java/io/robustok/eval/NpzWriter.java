package io.robustok.eval;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a numpy {@code .npz} as {@code np.savez} does: stored (uncompressed) {@code .npy} entries, C order,
 * little endian, zip64 when an entry passes 4 GB. A stored zip entry needs its CRC before its data, so a
 * streamed array ({@link #begin}) is spooled to a temporary file next to the output first.
 */
public final class NpzWriter implements Closeable {
    private final Path out;
    private final ZipOutputStream zip;

    public NpzWriter(Path out) throws IOException {
        this.out = out;
        if (out.getParent() != null) Files.createDirectories(out.getParent());
        this.zip = new ZipOutputStream(new BufferedOutputStream(Files.newOutputStream(out), 1 << 20));
        this.zip.setMethod(ZipOutputStream.STORED);
    }

    public void write(String key, double[] data, long... shape) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(data.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        bb.asDoubleBuffer().put(data);
        put(key, new NpyHeader("<f8", false, shapeOf(data.length, shape)), bb.array());
    }

    public void write(String key, float[] data, long... shape) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(data);
        put(key, new NpyHeader("<f4", false, shapeOf(data.length, shape)), bb.array());
    }

    public void write(String key, long[] data, long... shape) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(data.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        bb.asLongBuffer().put(data);
        put(key, new NpyHeader("<i8", false, shapeOf(data.length, shape)), bb.array());
    }

    /** uint8 array (images in ADM's NHWC layout, UTF-8 text). */
    public void write(String key, byte[] data, long... shape) throws IOException {
        put(key, new NpyHeader("|u1", false, shapeOf(data.length, shape)), data);
    }

    /**
     * Streams a large array: write exactly {@code prod(shape) * itemsize} little-endian bytes to the returned
     * stream, then close it (the entry is added to the zip on close).
     */
    public OutputStream begin(String key, String descr, long... shape) throws IOException {
        NpyHeader h = new NpyHeader(descr, false, shape.clone());
        Path tmp = Files.createTempFile(out.toAbsolutePath().getParent(), ".npz-" + key, ".npy");
        OutputStream file = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20);
        CRC32 crc = new CRC32();
        long expected = h.count() * h.itemSize();
        byte[] hb = h.encode();
        file.write(hb);
        crc.update(hb);
        return new FilterOutputStream(file) {
            long written;

            @Override
            public void write(int b) throws IOException {
                file.write(b);
                crc.update(b);
                written++;
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                file.write(b, off, len);
                crc.update(b, off, len);
                written += len;
            }

            @Override
            public void close() throws IOException {
                file.close();
                try {
                    if (written != expected) {
                        throw new IOException("array '" + key + "' got " + written + " bytes, its shape needs " + expected);
                    }
                    ZipEntry e = entry(key, hb.length + written, crc.getValue());
                    zip.putNextEntry(e);
                    try (InputStream in = Files.newInputStream(tmp)) {
                        in.transferTo(zip);
                    }
                    zip.closeEntry();
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
        };
    }

    private void put(String key, NpyHeader h, byte[] data) throws IOException {
        byte[] hb = h.encode();
        CRC32 crc = new CRC32();
        crc.update(hb);
        crc.update(data);
        zip.putNextEntry(entry(key, hb.length + (long) data.length, crc.getValue()));
        zip.write(hb);
        zip.write(data);
        zip.closeEntry();
    }

    private static ZipEntry entry(String key, long size, long crc) {
        ZipEntry e = new ZipEntry(key + ".npy");
        e.setMethod(ZipEntry.STORED);
        e.setSize(size);
        e.setCompressedSize(size);
        e.setCrc(crc);
        return e;
    }

    private static long[] shapeOf(int n, long[] shape) {
        if (shape.length == 0) return new long[]{n};
        long p = 1;
        for (long s : shape) p *= s;
        if (p != n && !(shape.length == 0 && n == 1)) {
            throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " does not hold " + n + " values");
        }
        return shape.clone();
    }

    /** Writes a scalar (shape ()). */
    public void writeScalar(String key, long value) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        put(key, new NpyHeader("<i8", false, new long[0]), bb.array());
    }

    @Override
    public void close() throws IOException {
        zip.close();
    }
}
