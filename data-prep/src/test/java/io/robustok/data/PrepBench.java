package io.robustok.data;

import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * Per-core prep throughput on a folder of JPEGs (bench/prep/run.sh), one thread, files preloaded:
 * <pre>
 * PrepBench DIR [runs]
 *   decode    full-size decode only (libjpeg-turbo bound)
 *   reencode  what prep does when nothing may be kept: decode (DCT-scaled), resize to shorter side 320, JPEG q95
 *   policy    prep's default at paper scale: originals up to shorter side 640 (validated by a 1/8 decode), else reencode
 *   train256  ImageBatcher train transform at S=256 on what each storage choice stores (the cost every epoch pays)
 * </pre>
 * Not a test (the name keeps surefire away); prints median images/s over the runs.
 */
public final class PrepBench {
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        List<byte[]> files = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".JPEG")).sorted().toList()) files.add(Files.readAllBytes(p));
        }
        long inBytes = files.stream().mapToLong(b -> b.length).sum();
        System.out.printf("%d files, input %.1f KiB/image%n", files.size(), inBytes / 1024.0 / files.size());
        ImageCodec codec = new ImageCodec();
        bench("decode", runs, files, b -> {
            try (Mat m = codec.decodeBgr(b, 1)) {
                return m.cols();
            }
        });
        List<ImageRecord> policyOut = new ArrayList<>();
        List<ImageRecord> reencOut = new ArrayList<>();
        try (ImageNormalizer reenc = new ImageNormalizer(config(320, 320));
             ImageNormalizer policy = new ImageNormalizer(config(320, 640))) {
            bench("reencode", runs, files, b -> reenc.apply(b).image().length);
            bench("policy", runs, files, b -> policy.apply(b).image().length);
            for (byte[] b : files) {
                ImageNormalizer.Result r = policy.apply(b);
                policyOut.add(new ImageRecord("k", 0, r.image(), r.width(), r.height()));
                r = reenc.apply(b);
                reencOut.add(new ImageRecord("k", 0, r.image(), r.width(), r.height()));
            }
        }
        System.out.printf("stored: policy %.1f KiB/image (%d kept original), reencode %.1f KiB/image%n",
                policyOut.stream().mapToLong(r -> r.image().length).sum() / 1024.0 / files.size(),
                files.stream().filter(b -> policyOutContains(policyOut, b)).count(),
                reencOut.stream().mapToLong(r -> r.image().length).sum() / 1024.0 / files.size());
        try (ImageBatcher t = ImageBatcher.train(256, 1.25)) {
            float[] out = new float[3 * 256 * 256];
            java.util.SplittableRandom rng = new java.util.SplittableRandom(1);
            benchRecords("train256 on policy output", runs, policyOut, r -> t.transform(r, rng, out, 0));
            benchRecords("train256 on reencode output", runs, reencOut, r -> t.transform(r, rng, out, 0));
        }
        codec.close();
    }

    private static boolean policyOutContains(List<ImageRecord> out, byte[] b) {
        for (ImageRecord r : out) if (r.image() == b) return true;
        return false;
    }

    static PrepConfig config(int resize, int keep) {
        return new PrepConfig("in", "out", List.of("train"), "", "", 0, "", resize, keep, 95, 100_000_000L, 30000,
                128L << 20, 0, 32L << 20, "uncompressed");
    }

    interface Op {
        int apply(byte[] b);
    }

    interface RecOp {
        void apply(ImageRecord r);
    }

    static void bench(String name, int runs, List<byte[]> files, Op op) {
        for (byte[] b : files) op.apply(b); // warm-up
        double[] rates = new double[runs];
        for (int k = 0; k < runs; k++) {
            long t0 = System.nanoTime();
            long sink = 0;
            for (byte[] b : files) sink += op.apply(b);
            rates[k] = files.size() / ((System.nanoTime() - t0) / 1e9);
            if (sink == 42) System.out.print("");
        }
        report(name, rates);
    }

    static void benchRecords(String name, int runs, List<ImageRecord> recs, RecOp op) {
        for (ImageRecord r : recs) op.apply(r);
        double[] rates = new double[runs];
        for (int k = 0; k < runs; k++) {
            long t0 = System.nanoTime();
            for (ImageRecord r : recs) op.apply(r);
            rates[k] = recs.size() / ((System.nanoTime() - t0) / 1e9);
        }
        report(name, rates);
    }

    static void report(String name, double[] rates) {
        double[] s = rates.clone();
        Arrays.sort(s);
        System.out.printf("java %s: %.0f images/s (median of %d; runs %s)%n", name, s[s.length / 2], s.length,
                Arrays.toString(Arrays.stream(rates).mapToLong(Math::round).toArray()));
    }
}
