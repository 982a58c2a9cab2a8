package io.robustok.eval;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The header of one {@code .npy} array (numpy's format spec, versions 1.0 to 3.0): dtype, order and shape.
 * Supported dtypes: float16/32/64, uint8, int8/16/32/64, bool; either byte order.
 *
 * @param descr        numpy type string, e.g. {@code <f4}, {@code |u1}
 * @param fortranOrder column-major data (rejected by the readers: numpy writes C order unless asked)
 * @param shape        dimensions; empty for a scalar
 */
public record NpyHeader(String descr, boolean fortranOrder, long[] shape) {
    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']+)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    public long count() {
        long n = 1;
        for (long s : shape) n *= s;
        return n;
    }

    /** Bytes per element. */
    public int itemSize() {
        return Integer.parseInt(descr.substring(2));
    }

    /** 'f' float, 'u' unsigned, 'i' signed, 'b' bool. */
    public char kind() {
        return descr.charAt(1);
    }

    public ByteOrder order() {
        return descr.charAt(0) == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
    }

    /** Size of one row (all dimensions but the first) in elements. */
    public long rowElements() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) n *= shape[i];
        return n;
    }

    static NpyHeader read(InputStream in, String where) throws IOException {
        DataInputStream din = new DataInputStream(in);
        byte[] magic = new byte[6];
        din.readFully(magic);
        for (int i = 0; i < 6; i++) {
            if (magic[i] != MAGIC[i]) throw new IOException(where + ": not a .npy array (bad magic)");
        }
        int major = din.readUnsignedByte();
        din.readUnsignedByte();
        long len;
        if (major == 1) {
            len = din.readUnsignedByte() | (din.readUnsignedByte() << 8);
        } else if (major == 2 || major == 3) {
            len = (din.readUnsignedByte() | (din.readUnsignedByte() << 8) | (din.readUnsignedByte() << 16))
                    | ((long) din.readUnsignedByte() << 24);
        } else {
            throw new IOException(where + ": unsupported .npy version " + major);
        }
        byte[] h = new byte[(int) len];
        din.readFully(h);
        String dict = new String(h, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(dict), f = FORTRAN.matcher(dict), s = SHAPE.matcher(dict);
        if (!d.find() || !f.find() || !s.find()) throw new IOException(where + ": unreadable .npy header " + dict.trim());
        List<Long> dims = new ArrayList<>();
        for (String p : s.group(1).split(",")) {
            if (!p.isBlank()) dims.add(Long.parseLong(p.trim().replace("L", "")));
        }
        String descr = d.group(1);
        if (descr.length() < 3 || "<>|=".indexOf(descr.charAt(0)) < 0 || "fuib".indexOf(descr.charAt(1)) < 0) {
            throw new IOException(where + ": unsupported dtype " + descr + " (numeric arrays only)");
        }
        if (descr.charAt(0) == '=') descr = "<" + descr.substring(1);
        return new NpyHeader(descr, f.group(1).equals("True"), dims.stream().mapToLong(Long::longValue).toArray());
    }

    /** Header bytes as numpy writes them: version 1.0 (2.0 if long), padded with spaces to 64 bytes, '\n'. */
    byte[] encode() {
        StringBuilder sh = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sh.append(shape[i]);
            if (shape.length == 1 || i < shape.length - 1) sh.append(shape.length == 1 ? "," : ", ");
        }
        sh.append(")");
        String dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortranOrder ? "True" : "False")
                + ", 'shape': " + sh + ", }";
        byte[] body = dict.getBytes(StandardCharsets.ISO_8859_1);
        boolean v2 = body.length + 1 + 10 > 65535;
        int pre = v2 ? 12 : 10;
        int total = pre + body.length + 1;
        int pad = (64 - total % 64) % 64;
        int hlen = body.length + pad + 1;
        ByteArrayOutputStream out = new ByteArrayOutputStream(pre + hlen);
        out.writeBytes(MAGIC);
        out.write(v2 ? 2 : 1);
        out.write(0);
        out.write(hlen & 0xff);
        out.write((hlen >> 8) & 0xff);
        if (v2) {
            out.write((hlen >> 16) & 0xff);
            out.write((hlen >> 24) & 0xff);
        }
        out.writeBytes(body);
        for (int i = 0; i < pad; i++) out.write(' ');
        out.write('\n');
        return out.toByteArray();
    }
}
