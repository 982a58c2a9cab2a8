package io.robustok.tokenizer;

import io.robustok.config.Settings;
import io.robustok.nn.FrozenVit;
import io.robustok.nn.ParamStore;
import io.robustok.nn.Resample;
import io.robustok.train.SafeTensors;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pretrained parts against PyTorch: goldens written by model/src/test/python/reference.py (seeded random weights
 * in the public checkpoints' naming, small shapes; regenerate with {@code /usr/bin/python3
 * model/src/test/python/reference.py goldens}). Tolerance: max |java - torch| / max |torch| per tensor, 1e-4 for
 * forward outputs and resampled tensors; gradients 2e-4 (float32 sums over longer backward chains). The numbers
 * reached are printed.
 */
class PretrainedGoldenTest {
    static final double FWD = 1e-4;
    static final double GRAD = 2e-4;

    static LinkedHashMap<String, INDArray> golden(String name) throws IOException {
        try (InputStream in = PretrainedGoldenTest.class.getResourceAsStream("/goldens/" + name + ".safetensors")) {
            assertNotNull(in, "test resource goldens/" + name + ".safetensors (reference.py goldens)");
            return SafeTensors.read(in).tensors();
        }
    }

    static void close(String what, INDArray expected, INDArray actual, double tol) {
        INDArray e = expected.castTo(DataType.DOUBLE).reshape(-1);
        INDArray a = actual.castTo(DataType.DOUBLE).reshape(-1);
        assertEquals(e.length(), a.length(), what + ": size");
        double scale = e.amaxNumber().doubleValue();
        double err = e.sub(a).amaxNumber().doubleValue() / scale;
        System.out.printf("golden %-28s max rel err %.2e (scale %.3g)%n", what, err, scale);
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    @Test
    void lpipsDistanceAndGradient() throws IOException {
        Lpips lp = new Lpips(golden("lpips-weights"));
        Map<String, INDArray> g = golden("lpips-golden");
        SameDiff sd = SameDiff.create();
        SDVariable x0 = sd.placeHolder("x0", DataType.FLOAT, -1, 3, 32, 32);
        SDVariable x1 = sd.var("x1", g.get("x1").dup());
        SDVariable d = lp.distance(sd, x0, x1);
        sd.updateVariableNameAndReference(d, "d");
        sd.setLossVariables(sd.mean("loss", d));
        OutAndGrad r = sd.calculateGradientsAndOutputs(Map.of("x0", g.get("x0")), List.of("d"), List.of("x1"));
        close("lpips distance", g.get("distance"), r.getOutputs().get("d"), FWD);
        close("lpips d/dx1", g.get("grad_x1"), r.getGradients().get("x1"), GRAD);
    }

    @Test
    void lpipsRefusesAMissingTensor() throws IOException {
        LinkedHashMap<String, INDArray> w = golden("lpips-weights");
        w.remove("lin3.model.1.weight");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Lpips(w));
        assertTrue(e.getMessage().contains("lin3.model.1.weight"), e.getMessage());
    }

    @Test
    void dinov2ResamplingAndBlocks() throws IOException {
        Map<String, INDArray> w = golden("dinov2-weights");
        Map<String, INDArray> g = golden("dinov2-golden");
        INDArray pe16 = Resample.patchKernel(w.get("patch_embed.proj.weight"), 16);
        close("patch kernel 14->16", g.get("patch_embed16"), pe16, FWD);
        INDArray pos4 = Resample.positionTable(w.get("pos_embed"), 1, 4);
        close("position table 37->4", g.get("pos_embed4"), pos4, FWD);

        Map<String, INDArray> resampled = new LinkedHashMap<>(w);
        resampled.put("patch_embed.proj.weight", pe16);
        resampled.put("pos_embed", pos4);
        FrozenVit vit = new FrozenVit(resampled, 2);
        SameDiff sd = SameDiff.create();
        SDVariable img = sd.placeHolder("image", DataType.FLOAT, -1, 3, 64, 64);
        List<SDVariable> outs = vit.forward(sd, "v/", img);
        String[] names = new String[outs.size()];
        for (int i = 0; i < outs.size(); i++) {
            sd.updateVariableNameAndReference(outs.get(i), "out" + i);
            names[i] = "out" + i;
        }
        Map<String, INDArray> o = sd.output(Map.of("image", g.get("image")), names);
        for (String n : names) close("dinov2 " + n, g.get(n), o.get(n), FWD);

        Dinov2.Feature f = new Dinov2.Feature(w, 2, 32, 28);
        close("dinov2 semantic CLS", g.get("sem_cls"), f.cls(g.get("sem_image")), FWD);
    }

    /**
     * The tokenizer's own trainable block (VitBlock), loaded with DINOv2's block 0 by the initialisation's name map,
     * computes PyTorch's block: with the exact GELU to 1e-4; ND4J's sigmoid-approximated GELU is visibly off.
     */
    @Test
    void tokenizerBlockWithExactGeluIsTheDinov2Block() throws IOException {
        Map<String, INDArray> w = golden("dinov2-weights");
        Map<String, INDArray> g = golden("dinov2-golden");
        for (boolean exact : new boolean[]{true, false}) {
            SameDiff sd = SameDiff.create();
            ParamStore p = ParamStore.create(sd, 1);
            SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 32);
            SDVariable y = io.robustok.nn.VitBlock.apply(p, "blocks.0", x, 17, new io.robustok.nn.VitBlock.Spec(32, 2, 4.0, true, exact));
            sd.updateVariableNameAndReference(y, "y");
            for (String[][] table : new String[][][]{Dinov2.BLOCK, Dinov2.LAYER_SCALE}) {
                for (String[] m : table) {
                    INDArray v = w.get("blocks.0." + m[1]);
                    p.arrays().get("blocks.0." + m[0]).assign(m[2].isEmpty() ? v : v.transpose());
                }
            }
            INDArray out = sd.output(Map.of("x", g.get("out0").reshape(2 * 17, 32)), "y").get("y");
            if (exact) {
                close("tokenizer block (exact GELU)", g.get("out1"), out, FWD);
            } else {
                double err = g.get("out1").reshape(-1).sub(out.reshape(-1)).amaxNumber().doubleValue() / g.get("out1").amaxNumber().doubleValue();
                assertTrue(err > 1e-3, "the sigmoid GELU should differ visibly, rel err " + err);
            }
        }
    }

    static TokenizerConfig vitConfig(int width, boolean layerScale) {
        Settings s = Settings.defaults().with(List.of("tokenizer.image-size=64", "tokenizer.patch=16", "tokenizer.latent-grid=2",
                "tokenizer.model.width=" + width, "tokenizer.model.heads=2", "tokenizer.model.encoder-depth=2",
                "tokenizer.model.decoder-depth=3", "tokenizer.model.layer-scale=" + layerScale, "tokenizer.batch-size=2"));
        return TokenizerConfig.from(s.at("tokenizer"));
    }

    @Test
    void dinov2InitialisesTheTokenizerAndReportsEveryTensor() throws IOException {
        Map<String, INDArray> w = golden("dinov2-weights");
        Map<String, INDArray> g = golden("dinov2-golden");
        TokenizerConfig c = vitConfig(32, true);
        ParamStore store = ParamStore.create(SameDiff.create(), 1);
        SameDiff sd = store.sd();
        SDVariable image = sd.placeHolder("image", DataType.FLOAT, -1, 3, 64, 64);
        TokenizerNet.decoder(store, c, TokenizerNet.encoder(store, c, image));
        TokenizerNet.codebook(store, c);
        Map<String, INDArray> params = store.arrays();
        INDArray levelBefore = params.get("encoder/level_embed").dup();
        Dinov2.Report r = Dinov2.initTokenizer(w, params, c);

        INDArray pe = g.get("patch_embed16");
        close("encoder patch embedding", pe.reshape(pe.size(0), 3 * 16 * 16).transpose(), params.get("encoder/patch_embed.w"), FWD);
        INDArray pos = g.get("pos_embed4").reshape(17, 32).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 17),
                org.nd4j.linalg.indexing.NDArrayIndex.all());
        close("encoder position table", pos, params.get("encoder/pos_embed"), FWD);
        close("decoder position table", pos, params.get("decoder/pos_embed"), FWD);
        assertEquals(w.get("blocks.1.attn.qkv.weight").transpose(), params.get("encoder/blocks.1.attn.qkv.w"));
        assertEquals(w.get("blocks.1.ls2.gamma"), params.get("decoder/blocks.1.ls2"));
        assertEquals(levelBefore, params.get("encoder/level_embed"), "tensors DINOv2 lacks keep their init");
        // the decoder's third block has no DINOv2 counterpart; cls_token has no place in this tokenizer
        assertTrue(r.initialised().contains("decoder/blocks.2.attn.qkv.w"), r.summary());
        assertTrue(r.initialised().contains("quantizer/codebook"), r.summary());
        assertTrue(r.unused().contains("cls_token"), r.summary());
        assertEquals(2, r.resampled().stream().filter(s -> s.contains("pos_embed")).count(), r.summary());
        assertEquals(params.size(), r.loaded().size() + r.resampled().size() + r.initialised().size(), r.summary());

        // a narrower tokenizer cannot take ViT weights: the refusal names the tensor
        TokenizerConfig narrow = vitConfig(16, true);
        ParamStore ns = ParamStore.create(SameDiff.create(), 1);
        SDVariable im2 = ns.sd().placeHolder("image", DataType.FLOAT, -1, 3, 64, 64);
        TokenizerNet.decoder(ns, narrow, TokenizerNet.encoder(ns, narrow, im2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Dinov2.initTokenizer(w, ns.arrays(), narrow));
        assertTrue(e.getMessage().contains("blocks.0.norm1.weight"), e.getMessage());
        IllegalArgumentException noLs = assertThrows(IllegalArgumentException.class,
                () -> Dinov2.initTokenizer(w, params, vitConfig(32, false)));
        assertTrue(noLs.getMessage().contains("ls1.gamma") && noLs.getMessage().contains("layer-scale"), noLs.getMessage());
    }

    @Test
    void huggingFaceNamesAreTranslated() throws IOException {
        Map<String, INDArray> w = golden("dinov2-weights");
        Map<String, INDArray> hf = new LinkedHashMap<>();
        hf.put("embeddings.cls_token", w.get("cls_token"));
        hf.put("embeddings.position_embeddings", w.get("pos_embed"));
        hf.put("embeddings.patch_embeddings.projection.weight", w.get("patch_embed.proj.weight"));
        hf.put("embeddings.patch_embeddings.projection.bias", w.get("patch_embed.proj.bias"));
        for (int i = 0; i < 2; i++) {
            String b = "blocks." + i + ".", h = "encoder.layer." + i + ".";
            INDArray qkv = w.get(b + "attn.qkv.weight"), qkvB = w.get(b + "attn.qkv.bias");
            String[] part = {"query", "key", "value"};
            for (int k = 0; k < 3; k++) {
                hf.put(h + "attention.attention." + part[k] + ".weight", qkv.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(k * 32, k * 32 + 32),
                        org.nd4j.linalg.indexing.NDArrayIndex.all()).dup());
                hf.put(h + "attention.attention." + part[k] + ".bias", qkvB.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(k * 32, k * 32 + 32)).dup());
            }
            hf.put(h + "attention.output.dense.weight", w.get(b + "attn.proj.weight"));
            hf.put(h + "attention.output.dense.bias", w.get(b + "attn.proj.bias"));
            hf.put(h + "layer_scale1.lambda1", w.get(b + "ls1.gamma"));
            hf.put(h + "layer_scale2.lambda1", w.get(b + "ls2.gamma"));
            for (String n : List.of("norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                    "mlp.fc2.weight", "mlp.fc2.bias")) {
                hf.put(h + n, w.get(b + n));
            }
        }
        hf.put("layernorm.weight", w.get("norm.weight"));
        hf.put("layernorm.bias", w.get("norm.bias"));
        Map<String, INDArray> t = Dinov2.timmNames(hf);
        for (String k : w.keySet()) assertEquals(w.get(k), t.get(k), k);
    }

    @Test
    void semanticInfoNceAndGradients() throws IOException {
        Map<String, INDArray> g = golden("semantic-golden");
        SameDiff sd = SameDiff.create();
        SDVariable cls = sd.placeHolder("cls", DataType.FLOAT, -1, 32);
        SDVariable w = sd.var("w", g.get("proj_w").transpose().dup());
        SDVariable b = sd.var("b", g.get("proj_b").dup());
        SDVariable zq = sd.var("zq", g.get("zq").reshape(4 * 16, 8).dup());
        SDVariable loss = SemanticLoss.apply(sd, cls, w, b, zq, 16, 8);
        sd.updateVariableNameAndReference(loss, "loss");
        sd.setLossVariables("loss");
        OutAndGrad r = sd.calculateGradientsAndOutputs(Map.of("cls", g.get("cls")), List.of("loss"), List.of("w", "b", "zq"));
        close("semantic loss", g.get("loss"), r.getOutputs().get("loss"), FWD);
        close("semantic d/dW", g.get("grad_proj_w").transpose(), r.getGradients().get("w"), GRAD);
        close("semantic d/db", g.get("grad_proj_b"), r.getGradients().get("b"), GRAD);
        close("semantic d/dzq", g.get("grad_zq").reshape(4 * 16, 8), r.getGradients().get("zq"), GRAD);
    }

    @Test
    void dinoDiscriminatorHeadsSpectralNormAndInputGradient() throws IOException {
        LinkedHashMap<String, INDArray> file = golden("dino-disc-weights");
        Map<String, INDArray> g = golden("dino-disc-golden");
        DinoDiscriminator d = new DinoDiscriminator(DinoDiscriminator.backbone(file), 2, 16, 40);
        assertEquals(32, d.resolution());
        Map<String, INDArray> heads = new HashMap<>();
        Map<String, INDArray> state = new HashMap<>();
        file.forEach((k, v) -> {
            if (k.startsWith("heads.") && k.endsWith("weight_u")) state.put("disc/" + k.replace("weight_u", "weight_orig") + "#u", v.dup());
            else if (k.startsWith("heads.") && !k.endsWith("weight_v")) heads.put("disc/" + k, v.dup());
        });
        // one graph, two views (the resize and the crop are placeholders)
        SameDiff sd = SameDiff.create();
        ParamStore p = ParamStore.frozen(sd, heads);
        SDVariable x = sd.var("x", g.get("x").dup());
        SDVariable logits = d.logits(p, x, "real");
        sd.updateVariableNameAndReference(logits, "logits");
        SDVariable loss = sd.sum(logits.mul(sd.constant(g.get("r"))));
        sd.updateVariableNameAndReference(loss, "loss");
        sd.setLossVariables("loss");
        for (boolean crop : new boolean[]{false, true}) {
            Map<String, INDArray> s = new HashMap<>();
            state.forEach((k, v) -> s.put(k, v.dup()));
            Map<String, INDArray> ph = new HashMap<>();
            d.powerIteration(heads, s, ph);
            d.view(ph, "real", crop ? 3 : -1, crop ? 5 : -1);
            OutAndGrad r = sd.calculateGradientsAndOutputs(ph, List.of("logits"), List.of("x"));
            String what = crop ? "crop" : "resize";
            close("disc logits (" + what + ")", g.get("logits_" + what), r.getOutputs().get("logits"), FWD);
            close("disc d/dx (" + what + ")", g.get("grad_" + what), r.getGradients().get("x"), GRAD);
            if (!crop) {
                for (String k : d.spectralKernels()) {
                    String torch = "after." + k.substring(5).replace("weight_orig", "weight_u");
                    close("spectral u " + k.substring(5, 20), g.get(torch), s.get(k + "#u"), FWD);
                }
            }
        }
    }
}
