package io.robustok.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads and writes the safetensors format (https://github.com/huggingface/safetensors), so checkpoints open
 * in Python with {@code safetensors.numpy.load_file} and no Java serialization is involved:
 * 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}},
 * padded with spaces to a multiple of 8), then the raw little-endian C-order data of every tensor.
 *
 * <p>Supported dtypes: F32, F64, I32, I64. Tensors are written in map order.
 */
public final class SafeTensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK = 1 << 20; // elements converted per write, bounds the heap copy
    private static final long MAX_HEADER = 100L << 20;

    private SafeTensors() {
    }

    /** The tensors and the string metadata of one file. */
    public record Contents(LinkedHashMap<String, INDArray> tensors, Map<String, String> metadata) {
    }

    public static void write(OutputStream out, Map<String, INDArray> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            new java.util.TreeMap<>(metadata).forEach(m::put); // sorted: the same file bytes from every JVM (Map.of's order is not)
        }
        long offset = 0;
        for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
            INDArray a = e.getValue();
            long bytes = a.length() * width(a.dataType());
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", code(a.dataType()));
            ArrayNode shape = t.putArray("shape");
            for (long d : a.shape()) shape.add(d);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        out.write(head.array());
        for (INDArray a : tensors.values()) writeData(out, a);
        out.flush();
    }

    /**
     * Reads a whole file. A file that ends early, has a malformed header or is not safetensors at all (a Java
     * serialization stream, say) is an IOException saying which; nothing in it is ever deserialized as an object.
     */
    public static Contents read(InputStream in) throws IOException {
        try {
            return readChecked(in);
        } catch (java.io.EOFException e) {
            throw new IOException("not a complete safetensors file: it ends early (truncated)", e);
        } catch (RuntimeException e) {
            throw new IOException("not a valid safetensors header (" + e + ")", e);
        }
    }

    private static Contents readChecked(InputStream in) throws IOException {
        DataInputStream din = new DataInputStream(in);
        byte[] lenBytes = new byte[8];
        din.readFully(lenBytes);
        long n = ByteBuffer.wrap(lenBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n <= 0 || n > MAX_HEADER) throw new IOException("not a safetensors file: header length " + n);
        byte[] json = new byte[(int) n];
        din.readFully(json);
        JsonNode header = JSON.readTree(new String(json, StandardCharsets.UTF_8).strip());
        Map<String, String> meta = new LinkedHashMap<>();
        JsonNode m = header.get("__metadata__");
        if (m != null) m.fields().forEachRemaining(e -> meta.put(e.getKey(), e.getValue().asText()));
        // data must be read in offset order; JSON object order is not guaranteed by other writers
        java.util.List<Map.Entry<String, JsonNode>> entries = new java.util.ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals("__metadata__")) entries.add(e);
        }
        entries.sort(java.util.Comparator.comparingLong(e -> e.getValue().get("data_offsets").get(0).asLong()));
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        long pos = 0;
        for (Map.Entry<String, JsonNode> e : entries) {
            JsonNode t = e.getValue();
            DataType type = type(t.get("dtype").asText(), e.getKey());
            long[] shape = new long[t.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.get("shape").get(i).asLong();
            long begin = t.get("data_offsets").get(0).asLong();
            long end = t.get("data_offsets").get(1).asLong();
            if (begin < pos) throw new IOException("overlapping tensor data at " + e.getKey());
            din.skipNBytes(begin - pos);
            long len = 1;
            for (long d : shape) len *= d;
            if ((end - begin) != len * width(type)) throw new IOException("tensor " + e.getKey() + ": data size does not match shape");
            if (end - begin > Integer.MAX_VALUE) throw new IOException("tensor " + e.getKey() + " over 2 GiB is not supported");
            byte[] data = new byte[(int) (end - begin)];
            din.readFully(data);
            pos = end;
            out.put(e.getKey(), toArray(data, type, shape));
        }
        // keep the writer's insertion order for callers that iterate
        LinkedHashMap<String, INDArray> ordered = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            String k = it.next().getKey();
            if (out.containsKey(k)) ordered.put(k, out.get(k));
        }
        return new Contents(ordered, meta);
    }

    private static void writeData(OutputStream out, INDArray a) throws IOException {
        INDArray c = a.isView() || a.ordering() != 'c' ? a.dup('c') : a;
        long n = c.length();
        DataType t = c.dataType();
        int w = width(t);
        INDArray flat = c.reshape(n);
        byte[] buf = new byte[(int) Math.min(n, CHUNK) * w];
        for (long start = 0; start < n; start += CHUNK) {
            int len = (int) Math.min(CHUNK, n - start);
            INDArray part = n <= CHUNK ? flat : flat.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(start, start + len));
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, len * w).order(ByteOrder.LITTLE_ENDIAN);
            switch (t) {
                case FLOAT -> bb.asFloatBuffer().put(part.toFloatVector());
                case DOUBLE -> bb.asDoubleBuffer().put(part.toDoubleVector());
                case INT -> bb.asIntBuffer().put(part.toIntVector());
                case LONG -> bb.asLongBuffer().put(part.toLongVector());
                default -> throw new IOException("dtype " + t + " is not supported");
            }
            out.write(buf, 0, len * w);
        }
    }

    private static INDArray toArray(byte[] data, DataType t, long[] shape) {
        ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int n = data.length / width(t);
        return switch (t) {
            case FLOAT -> {
                float[] v = new float[n];
                bb.asFloatBuffer().get(v);
                yield Nd4j.create(v, shape, DataType.FLOAT);
            }
            case DOUBLE -> {
                double[] v = new double[n];
                bb.asDoubleBuffer().get(v);
                yield Nd4j.create(v, shape, DataType.DOUBLE);
            }
            case INT -> {
                int[] v = new int[n];
                bb.asIntBuffer().get(v);
                yield Nd4j.create(v, shape, DataType.INT);
            }
            case LONG -> {
                long[] v = new long[n];
                bb.asLongBuffer().get(v);
                yield Nd4j.create(v, shape, DataType.LONG);
            }
            default -> throw new IllegalArgumentException("dtype " + t);
        };
    }

    static int width(DataType t) {
        return switch (t) {
            case FLOAT, INT -> 4;
            case DOUBLE, LONG -> 8;
            default -> throw new IllegalArgumentException("dtype " + t + " is not supported by the checkpoint format (F32, F64, I32, I64)");
        };
    }

    private static String code(DataType t) {
        return switch (t) {
            case FLOAT -> "F32";
            case DOUBLE -> "F64";
            case INT -> "I32";
            case LONG -> "I64";
            default -> throw new IllegalArgumentException("dtype " + t + " is not supported by the checkpoint format (F32, F64, I32, I64)");
        };
    }

    private static DataType type(String code, String name) throws IOException {
        return switch (code) {
            case "F32" -> DataType.FLOAT;
            case "F64" -> DataType.DOUBLE;
            case "I32" -> DataType.INT;
            case "I64" -> DataType.LONG;
            default -> throw new IOException("tensor " + name + ": dtype " + code + " is not supported");
        };
    }
}
