package io.robustok.data;

import io.robustok.config.InputError;
import io.robustok.spark.StageOutput;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.ColumnMetaData;
import org.apache.parquet.format.Encoding;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.PageEncodingStats;
import org.apache.parquet.format.RowGroup;
import org.apache.parquet.format.Util;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.PositionOutputStream;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The Parquet layout of prepared images, one row per image (schema version 1):
 * <pre>
 * key            string  relative path in the input: "train/n01440764/n01440764_10026.JPEG"
 * label          int32   index of wnid in the sorted class folder names of the first split
 * wnid           string  class folder name
 * image          binary  encoded 8-bit RGB image, see format
 * format         string  "jpeg" | "png" (from the bytes, not the file name)
 * width, height  int32   of the stored image
 * source_width, source_height  int32  of the input image
 * stored         string  "original" (input bytes as they were) | "reencoded" (converted and/or downscaled)
 * </pre>
 * Files are written with parquet-mr directly, one file per shard, so their bytes depend only on the rows: no
 * timestamps, no task ids, constant writer metadata.
 */
public final class ImageParquet {
    public static final int SCHEMA_VERSION = 1;
    public static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
            message image {
              required binary key (STRING);
              required int32 label;
              required binary wnid (STRING);
              required binary image;
              required binary format (STRING);
              required int32 width;
              required int32 height;
              required int32 source_width;
              required int32 source_height;
              required binary stored (STRING);
            }""");
    /** Columns {@link #read} loads: the image bytes and what a trainer needs besides. */
    static final MessageType RECORD_PROJECTION = MessageTypeParser.parseMessageType("""
            message image {
              required binary key (STRING);
              required int32 label;
              required binary image;
              required int32 width;
              required int32 height;
            }""");

    private ImageParquet() {
    }

    /** One row as prep writes it. */
    record Row(String key, int label, String wnid, byte[] image, String format, int width, int height,
               int sourceWidth, int sourceHeight, boolean original) {
    }

    /** The shard files of one split in a prep output, sorted (part-00000.parquet, ...). */
    public static List<String> shards(String dataDir, String split) {
        Path dir = new Path(StageOutput.qualify(dataDir), split);
        FileSystem fs = StageOutput.fs(dir.toString());
        try {
            if (!fs.exists(dir)) return List.of();
            FileStatus[] files = fs.listStatus(dir, p -> p.getName().endsWith(".parquet"));
            return Arrays.stream(files).map(f -> f.getPath().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /** Reads one shard without Spark (tests, tools, a trainer's local loader), in file order. */
    public static List<ImageRecord> read(String file) {
        List<ImageRecord> out = new ArrayList<>();
        forEach(file, new Configuration(), out::add);
        return out;
    }

    /** Every row of a split, shard by shard, without Spark. */
    public static List<ImageRecord> readSplit(String dataDir, String split) {
        List<ImageRecord> out = new ArrayList<>();
        Configuration conf = new Configuration();
        for (String s : shards(dataDir, split)) forEach(s, conf, out::add);
        return out;
    }

    /**
     * Streams the rows of one shard to {@code sink}.
     *
     * @throws InputError when the file is not readable Parquet of this schema (truncated, corrupt, another file)
     */
    public static void forEach(String file, Configuration conf, Consumer<ImageRecord> sink) {
        Configuration c = new Configuration(conf);
        c.set(ReadSupport.PARQUET_READ_SCHEMA, RECORD_PROJECTION.toString());
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(), path(file)).withConf(c).build()) {
            while (true) {
                Group g;
                ImageRecord rec;
                try {
                    g = r.read();
                    if (g == null) break;
                    rec = new ImageRecord(g.getString("key", 0), g.getInteger("label", 0),
                            g.getBinary("image", 0).getBytes(), g.getInteger("width", 0), g.getInteger("height", 0));
                } catch (IOException | RuntimeException e) {
                    throw corrupt(file, e, "rerun 'robustok prep --force'");
                }
                sink.accept(rec);
            }
        } catch (IOException e) {
            throw corrupt(file, e, "rerun 'robustok prep --force'");
        }
    }

    /** Reads the footer of a Parquet file: the tail of the file, enough to tell a truncated or foreign file. */
    public static void footer(String file, Configuration conf, String fix) {
        try (org.apache.parquet.hadoop.ParquetFileReader r = org.apache.parquet.hadoop.ParquetFileReader.open(
                org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(path(file), conf))) {
            r.getFooter();
        } catch (IOException | RuntimeException e) {
            throw corrupt(file, e, fix);
        }
    }

    private static InputError corrupt(String file, Exception e, String fix) {
        String why = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(e.toString());
        return new InputError(file + " is not a readable Parquet file (" + why + "): it is truncated or corrupt; " + fix);
    }

    /** A Hadoop path: URIs as they are (Hadoop prints local ones as "file:/x"), bare paths made absolute. */
    static Path path(String file) {
        return file.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:/.*") ? new Path(file) : new Path(StageOutput.qualify(file));
    }

    /**
     * A writer for one shard file. Rows go to a local temporary file; on close its footer is made canonical and
     * the file is copied to {@code file} (any Hadoop file system), hashed on the way.
     */
    static Sink open(String file, Configuration conf, PrepConfig cfg) throws IOException {
        java.io.File tmp = java.io.File.createTempFile("shard-", ".parquet");
        LocalOutputFile out = new LocalOutputFile(tmp);
        ParquetWriter<Row> w = new Builder(out)
                .withCompressionCodec(CompressionCodecName.fromConf(cfg.compression().toUpperCase()))
                .withRowGroupSize(cfg.rowGroupBytes())
                .withPageSize(1 << 20)
                .withDictionaryEncoding(true)
                .withDictionaryEncoding("image", false)
                .withDictionaryEncoding("key", false)
                .withValidation(false)
                .withConf(conf)
                .build();
        return new Sink(w, tmp, path(file), conf);
    }

    /** An open shard: rows go in, the file's SHA-256 and size come out. */
    static final class Sink implements AutoCloseable {
        private final ParquetWriter<Row> writer;
        private final java.io.File tmp;
        private final Path dest;
        private final Configuration conf;
        private boolean closed;
        private String sha256;
        private long bytes;

        Sink(ParquetWriter<Row> writer, java.io.File tmp, Path dest, Configuration conf) {
            this.writer = writer;
            this.tmp = tmp;
            this.dest = dest;
            this.conf = conf;
        }

        void write(Row r) throws IOException {
            writer.write(r);
        }

        @Override
        public void close() throws IOException {
            if (closed) return;
            closed = true;
            try {
                writer.close();
                canonicalizeFooter(tmp);
                MessageDigest digest = newDigest();
                FileSystem fs = dest.getFileSystem(conf);
                if (fs instanceof LocalFileSystem local) fs = local.getRawFileSystem(); // no .crc side files
                try (java.io.InputStream in = new java.io.FileInputStream(tmp);
                     DigestOutputStream out = new DigestOutputStream(fs.create(dest, true), digest)) {
                    bytes = in.transferTo(out);
                }
                sha256 = HexFormat.of().formatHex(digest.digest());
            } finally {
                tmp.delete();
            }
        }

        String sha256() {
            return sha256;
        }

        long bytes() {
            return bytes;
        }
    }

    /**
     * parquet-mr collects each column chunk's encodings in a HashSet of enum constants, whose iteration order
     * follows identity hash codes and so changes from one JVM to the next: the same rows would give footers that
     * differ in a few bytes. Sorting those lists (same elements, same length) makes the file depend on the rows only.
     */
    static void canonicalizeFooter(java.io.File f) throws IOException {
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f, "rw")) {
            long len = raf.length();
            raf.seek(len - 8);
            byte[] tail = new byte[8];
            raf.readFully(tail);
            int footerLen = (tail[0] & 0xff) | (tail[1] & 0xff) << 8 | (tail[2] & 0xff) << 16 | (tail[3] & 0xff) << 24;
            long start = len - 8 - footerLen;
            byte[] footer = new byte[footerLen];
            raf.seek(start);
            raf.readFully(footer);
            FileMetaData md = Util.readFileMetaData(new java.io.ByteArrayInputStream(footer));
            for (RowGroup rg : md.getRow_groups()) {
                for (ColumnChunk cc : rg.getColumns()) {
                    ColumnMetaData cm = cc.getMeta_data();
                    if (cm.isSetEncodings()) {
                        List<Encoding> e = new ArrayList<>(cm.getEncodings());
                        e.sort(Comparator.comparingInt(Encoding::getValue));
                        cm.setEncodings(e);
                    }
                    if (cm.isSetEncoding_stats()) {
                        List<PageEncodingStats> st = new ArrayList<>(cm.getEncoding_stats());
                        st.sort(Comparator.comparingInt((PageEncodingStats x) -> x.getPage_type().getValue())
                                .thenComparingInt(x -> x.getEncoding().getValue()));
                        cm.setEncoding_stats(st);
                    }
                }
            }
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(footerLen);
            Util.writeFileMetaData(md, out);
            if (out.size() != footerLen) {
                throw new IOException("canonical footer has " + out.size() + " bytes, expected " + footerLen);
            }
            raf.seek(start);
            raf.write(out.toByteArray());
        }
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final class Builder extends ParquetWriter.Builder<Row, Builder> {
        Builder(OutputFile f) {
            super(f);
        }

        @Override
        protected Builder self() {
            return this;
        }

        @Override
        protected WriteSupport<Row> getWriteSupport(Configuration conf) {
            return new RowWriteSupport();
        }
    }

    private static final class RowWriteSupport extends WriteSupport<Row> {
        private RecordConsumer rc;

        @Override
        public WriteContext init(Configuration configuration) {
            return new WriteContext(SCHEMA, Map.of("robustok.image.schema", Integer.toString(SCHEMA_VERSION)));
        }

        @Override
        public void prepareForWrite(RecordConsumer recordConsumer) {
            this.rc = recordConsumer;
        }

        @Override
        public void write(Row r) {
            rc.startMessage();
            str(0, "key", r.key());
            int32(1, "label", r.label());
            str(2, "wnid", r.wnid());
            rc.startField("image", 3);
            rc.addBinary(Binary.fromConstantByteArray(r.image()));
            rc.endField("image", 3);
            str(4, "format", r.format());
            int32(5, "width", r.width());
            int32(6, "height", r.height());
            int32(7, "source_width", r.sourceWidth());
            int32(8, "source_height", r.sourceHeight());
            str(9, "stored", r.original() ? "original" : "reencoded");
            rc.endMessage();
        }

        private void str(int i, String name, String v) {
            rc.startField(name, i);
            rc.addBinary(Binary.fromString(v));
            rc.endField(name, i);
        }

        private void int32(int i, String name, int v) {
            rc.startField(name, i);
            rc.addInteger(v);
            rc.endField(name, i);
        }
    }

    /** A plain local file for parquet-mr (the shard is written locally first, see {@link #open}). */
    static final class LocalOutputFile implements OutputFile {
        private final java.io.File file;

        LocalOutputFile(java.io.File file) {
            this.file = file;
        }

        @Override
        public PositionOutputStream create(long blockSizeHint) throws IOException {
            return createOrOverwrite(blockSizeHint);
        }

        @Override
        public PositionOutputStream createOrOverwrite(long blockSizeHint) throws IOException {
            java.io.OutputStream out = new java.io.BufferedOutputStream(new java.io.FileOutputStream(file), 1 << 16);
            return new PositionOutputStream() {
                private long pos;

                @Override
                public long getPos() {
                    return pos;
                }

                @Override
                public void write(int b) throws IOException {
                    out.write(b);
                    pos++;
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                    pos += len;
                }

                @Override
                public void flush() throws IOException {
                    out.flush();
                }

                @Override
                public void close() throws IOException {
                    out.close();
                }
            };
        }

        @Override
        public boolean supportsBlockSize() {
            return false;
        }

        @Override
        public long defaultBlockSize() {
            return 0;
        }
    }
}
