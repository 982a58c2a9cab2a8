package io.robustok.eval;

import io.robustok.config.Settings;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The evaluator loop (reset/update/result), its merge, and the CLI entry over ADM-layout files. */
class FidEvaluatorTest {

    @Test
    void configSectionLoads() {
        EvalSettings s = EvalSettings.from(Settings.defaults());
        assertEquals("demo", s.featureExtractor());
        assertEquals(5000, s.isSplitSize());
        assertEquals(List.of(0.5), s.pfidAlphas());
        assertEquals(50, s.pfidDelta());
    }

    private static byte[] images(int n, long seed) {
        byte[] b = new byte[n * 32 * 32 * 3];
        Random r = new Random(seed);
        // smooth-ish blobs so the untrained CNN sees varied inputs
        for (int i = 0; i < n; i++) {
            int cx = r.nextInt(32), cy = r.nextInt(32), v = 60 + r.nextInt(190);
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    for (int c = 0; c < 3; c++) {
                        double d = Math.hypot(x - cx, y - cy);
                        b[((i * 32 + y) * 32 + x) * 3 + c] = (byte) Math.max(0, Math.min(255, v - 8 * d + r.nextInt(20)));
                    }
        }
        return b;
    }

    @Test
    void evaluatorMergesAndCliReadsAdmLayouts(@TempDir Path dir) throws Exception {
        ComputationGraph g = new ComputationGraph(DemoFeatureNet.configuration(7, 1e-3));
        g.init();
        Path zip = DemoFeatureNet.modelPath(dir.resolve("fnet").toString());
        Files.createDirectories(zip.getParent());
        ModelSerializer.writeModel(g, zip.toFile(), false);
        DemoFeatureNet net = DemoFeatureNet.load(zip);
        assertEquals(DemoFeatureNet.sha256(zip), net.checksum());
        EvalSettings cfg = EvalSettings.adm("demo").withIsSplitSize(50);
        cfg = new EvalSettings(cfg.featureExtractor(), "", dir.resolve("fnet").toString(), cfg.featureNet(), "", 200, 40,
                50, true, 3, 64, 1000, 0, cfg.pfidAlphas(), 50, 0);

        byte[] a = images(200, 1), b = images(200, 2);
        // one pass vs two "partitions" merged, float input vs the same images as uint8
        FidEvaluator one = new FidEvaluator(net, cfg);
        for (int i = 0; i < 200; i += 40) one.update(Images.fromBytes(java.util.Arrays.copyOfRange(a, i * 3072, (i + 40) * 3072), 40, 32, 32));
        FidEvaluator p1 = new FidEvaluator(net, cfg), p2 = new FidEvaluator(net, cfg);
        p2.update(Images.toFloatNchw(Images.fromBytes(java.util.Arrays.copyOfRange(a, 120 * 3072, 200 * 3072), 80, 32, 32)), 120);
        p1.update(Images.fromBytes(java.util.Arrays.copyOfRange(a, 0, 120 * 3072), 120, 32, 32), 0);
        p1.merge(p2.partial());
        Reference refA = Reference.of("a", one.partial());
        EvalResult self = p1.result(refA);
        // float32 network outputs differ in the last bits with the batch composition (BLAS blocking): 1e-6, not 0
        assertEquals(0.0, self.fid(), 1e-5);
        assertEquals(one.partial().inceptionScore(), p1.partial().inceptionScore(), 1e-6);
        assertEquals(1.0, self.precision());
        assertEquals(1.0, self.recall());

        // the same through files: A as our statistics file, B as an ADM sample batch
        Path refFile = dir.resolve("ref_stats.npz"), smpFile = dir.resolve("samples.npz");
        refA.save(refFile);
        try (NpzWriter w = new NpzWriter(smpFile); OutputStream s = w.begin("arr_0", "|u1", 200, 32, 32, 3)) {
            s.write(b);
        }
        FidEvaluator direct = new FidEvaluator(net, cfg);
        direct.update(Images.fromBytes(b, 200, 32, 32));
        EvalResult expected = direct.result(refA);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Path metrics = dir.resolve("metrics.json");
        EvalResult got = FidCommand.run(List.of("--ref", refFile.toString(), "--samples", smpFile.toString(), "--out", metrics.toString()),
                cfg, new PrintStream(printed, true));
        assertEquals(expected.fid(), got.fid(), 1e-6 * expected.fid()); // batch 200 there, 40 here
        assertTrue(got.fid() > 0);
        assertEquals(expected.inceptionScore(), got.inceptionScore(), 1e-6);
        assertEquals(expected.precision(), got.precision());
        assertEquals(expected.recall(), got.recall());
        String line = printed.toString().trim();
        assertTrue(line.startsWith("{\"fid\":") && line.contains("\"is\":") && line.contains("\"precision\":")
                && line.contains(net.label()), line);
        String json = Files.readString(metrics);
        assertTrue(json.contains("\"feature_extractor_checksum\" : \"" + net.checksum().substring(0, 12)), json);

        // a reference made by another network is refused, not silently compared
        Reference alien = new Reference("adm", Reference.ADM_INCEPTION, 10, refA.mu(), refA.sigma(), null, 0, Double.NaN);
        assertThrows(IllegalArgumentException.class, () -> direct.result(alien));
    }

    @Test
    void imagesQuantizeAsTheOfficialSampler() {
        // channels (c0, c1, c2) = (-1, -0.999), (0, 1), (2, 0.5): -0.999 -> 0.1275 -> 0; 0 -> 127.5 -> 128 (rounded;
        // ADM's truncation gave 127); 0.5 -> 191.25 -> 191
        INDArray f = Nd4j.create(new float[]{-1f, -0.999f, 0f, 1f, 2f, 0.5f}, 1, 3, 1, 2);
        byte[] u = Images.toUint8Bytes(f);
        // NHWC order: (c0,c1,c2) of pixel 0 then pixel 1; clamp(127.5 x + 128, 0, 255) truncated = (x+1)*127.5 rounded
        assertEquals(List.of(0, 128, 255, 0, 255, 191), List.of(u[0] & 0xff, u[1] & 0xff, u[2] & 0xff, u[3] & 0xff, u[4] & 0xff, u[5] & 0xff));
        // every level survives the round trip through [-1, 1]
        byte[] all = new byte[256 * 3];
        for (int i = 0; i < all.length; i++) all[i] = (byte) (i / 3);
        assertArrayEquals(all, Images.toUint8Bytes(Images.toFloatNchw(Images.fromBytes(all, 1, 16, 16))));
    }
}
