package io.robustok.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Kryo serializer of ND4J arrays that copies an array's buffer in bulk: data type, shape, then the raw bytes in
 * native order, 1 MiB at a time. ND4J's own Kryo serializer goes through {@code Nd4j.write}, which writes element
 * by element through a DataOutputStream and reads back the same way: for the trainer's state (hundreds of MB per
 * round, broadcast to and returned by every worker) that per-element path was most of the averaging overhead
 * (BENCHMARKS.md, "Simulated GPU executors"). Arrays this format cannot copy raw (strings, compressed buffers)
 * still go through {@code Nd4j.write}.
 */
public final class ArraySerializer extends Serializer<INDArray> {
    private static final int CHUNK = 1 << 20;
    private static final byte RAW_LITTLE = 1;
    private static final byte RAW_BIG = 2;
    private static final byte ND4J = 3;
    private static final byte EMPTY = 4;

    private static void writeShape(Output out, long[] shape) {
        out.writeInt(shape.length, true);
        for (long s : shape) out.writeLong(s, true);
    }

    private static long[] readShape(Input in) {
        long[] shape = new long[in.readInt(true)];
        for (int i = 0; i < shape.length; i++) shape[i] = in.readLong(true);
        return shape;
    }

    @Override
    public void write(Kryo kryo, Output out, INDArray a) {
        DataType t = a.dataType();
        if (a.isEmpty()) {
            out.writeByte(EMPTY);
            out.writeString(t.name());
            writeShape(out, a.shape());
            return;
        }
        if (t == DataType.UTF8 || t == DataType.COMPRESSED || t == DataType.UNKNOWN) {
            // length-prefixed, so that the reader never reads past the array
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            try (DataOutputStream d = new DataOutputStream(b)) {
                Nd4j.write(a, d);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            out.writeByte(ND4J);
            out.writeInt(b.size(), true);
            out.writeBytes(b.toByteArray());
            return;
        }
        // a view or a non-c-order array is first made a dense c-order copy of its own
        INDArray c = a.isView() || a.ordering() != 'c' || a.data().length() != a.length() ? a.dup('c') : a;
        out.writeByte(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? RAW_LITTLE : RAW_BIG);
        out.writeString(t.name());
        writeShape(out, c.shape());
        long bytes = c.length() * t.width();
        ByteBuffer src = c.data().asNio();
        src.position(0);
        byte[] tmp = new byte[(int) Math.min(CHUNK, bytes)];
        for (long done = 0; done < bytes; ) {
            int n = (int) Math.min(tmp.length, bytes - done);
            src.get(tmp, 0, n);
            out.writeBytes(tmp, 0, n);
            done += n;
        }
    }

    @Override
    public INDArray read(Kryo kryo, Input in, Class<INDArray> type) {
        byte kind = in.readByte();
        if (kind == ND4J) {
            byte[] b = in.readBytes(in.readInt(true));
            return Nd4j.read(new DataInputStream(new ByteArrayInputStream(b)));
        }
        ByteOrder order = kind == EMPTY ? ByteOrder.nativeOrder() : kind == RAW_LITTLE ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
        if (order != ByteOrder.nativeOrder()) {
            throw new IllegalStateException("array sent in " + order + " byte order, this JVM is " + ByteOrder.nativeOrder());
        }
        DataType t = DataType.valueOf(in.readString());
        long[] shape = readShape(in);
        if (kind == EMPTY) return shape.length == 0 ? Nd4j.empty(t) : Nd4j.create(t, shape);
        INDArray a = shape.length == 0 ? Nd4j.scalar(t, 0) : Nd4j.createUninitialized(t, shape, 'c');
        long bytes = a.length() * t.width();
        ByteBuffer dst = a.data().asNio();
        dst.position(0);
        byte[] tmp = new byte[(int) Math.min(CHUNK, bytes)];
        for (long done = 0; done < bytes; ) {
            int n = (int) Math.min(tmp.length, bytes - done);
            in.readBytes(tmp, 0, n);
            dst.put(tmp, 0, n);
            done += n;
        }
        return a;
    }
}
