package io.robustok.eval;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;
import org.tensorflow.framework.AttrValue;
import org.tensorflow.framework.DataType;
import org.tensorflow.framework.GraphDef;
import org.tensorflow.framework.NodeDef;
import org.tensorflow.framework.TensorProto;
import org.tensorflow.framework.TensorShapeProto;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The TF-import path of ADM's Inception graph on a tiny graph with the same node names and the same 2015-era
 * ops (DecodeJpeg in front of ExpandDims, BatchNormWithGlobalNormalization, Concat with the axis first),
 * checked against the same arithmetic done by hand.
 */
class InceptionV3TfTest {
    static final int C = 4, CLASSES = 5;

    @Test
    void importsCutsRewritesAndMatchesHandComputation() throws Exception {
        Random rnd = new Random(9);
        float[] w = new float[3 * C], mean = new float[C], var = new float[C], beta = new float[C], gamma = new float[C];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < C; i++) {
            mean[i] = (float) rnd.nextGaussian();
            var[i] = 0.5f + rnd.nextFloat();
            beta[i] = (float) rnd.nextGaussian();
            gamma[i] = 0.5f + rnd.nextFloat();
        }
        float[] wl = new float[2 * C * CLASSES];
        for (int i = 0; i < wl.length; i++) wl[i] = (float) rnd.nextGaussian();
        float eps = 0.001f;

        GraphDef.Builder g = GraphDef.newBuilder();
        g.addNode(node("DecodeJpeg/contents", "Const").putAttr("dtype", type(DataType.DT_STRING)));
        g.addNode(node("DecodeJpeg", "DecodeJpeg", "DecodeJpeg/contents"));
        g.addNode(node("Cast", "Cast", "DecodeJpeg"));
        g.addNode(constant("ExpandDims/dim", new float[]{0}, DataType.DT_INT32));
        g.addNode(node("ExpandDims", "ExpandDims", "Cast", "ExpandDims/dim"));
        g.addNode(constant("Sub/y", new float[]{128f}));
        g.addNode(node("Sub", "Sub", "ExpandDims", "Sub/y").putAttr("T", type(DataType.DT_FLOAT)));
        g.addNode(constant("Mul/y", new float[]{1 / 128f}));
        g.addNode(node("Mul", "Mul", "Sub", "Mul/y").putAttr("T", type(DataType.DT_FLOAT)));
        g.addNode(constant("conv/w", w, 1, 1, 3, C));
        g.addNode(node("conv", "Conv2D", "Mul", "conv/w").putAttr("T", type(DataType.DT_FLOAT))
                .putAttr("strides", ints(1, 1, 1, 1)).putAttr("padding", str("SAME")).putAttr("data_format", str("NHWC")));
        g.addNode(constant("bn/mean", mean, C));
        g.addNode(constant("bn/var", var, C));
        g.addNode(constant("bn/beta", beta, C));
        g.addNode(constant("bn/gamma", gamma, C));
        g.addNode(node("bn", "BatchNormWithGlobalNormalization", "conv", "bn/mean", "bn/var", "bn/beta", "bn/gamma")
                .putAttr("T", type(DataType.DT_FLOAT)).putAttr("variance_epsilon", AttrValue.newBuilder().setF(eps).build())
                .putAttr("scale_after_normalization", AttrValue.newBuilder().setB(true).build()));
        g.addNode(node("relu", "Relu", "bn").putAttr("T", type(DataType.DT_FLOAT)));
        g.addNode(constant("concat/dim", new float[]{3}, DataType.DT_INT32));
        g.addNode(node("concat", "Concat", "concat/dim", "relu", "conv").putAttr("T", type(DataType.DT_FLOAT))
                .putAttr("N", AttrValue.newBuilder().setI(2).build()));
        g.addNode(node("pool_3", "AvgPool", "concat").putAttr("T", type(DataType.DT_FLOAT))
                .putAttr("ksize", ints(1, 4, 4, 1)).putAttr("strides", ints(1, 1, 1, 1))
                .putAttr("padding", str("VALID")).putAttr("data_format", str("NHWC")));
        g.addNode(constant("pool_3/_reshape/shape", new float[]{1, 2 * C}, DataType.DT_INT32));
        g.addNode(node("pool_3/_reshape", "Reshape", "pool_3", "pool_3/_reshape/shape").putAttr("T", type(DataType.DT_FLOAT)));
        g.addNode(constant("softmax/weights", wl, 2 * C, CLASSES));
        g.addNode(node("softmax/logits/MatMul", "MatMul", "pool_3/_reshape", "softmax/weights").putAttr("T", type(DataType.DT_FLOAT)));

        InceptionV3Tf net = InceptionV3Tf.fromBytes(g.build().toByteArray(), "test");
        assertEquals(2 * C, net.featureDim());
        assertEquals(CLASSES, net.classes());

        int n = 2;
        byte[] px = new byte[n * 4 * 4 * 3];
        for (int i = 0; i < px.length; i++) px[i] = (byte) rnd.nextInt(256);
        Features f = net.extract(Images.fromBytes(px, n, 4, 4));
        for (int b = 0; b < n; b++) {
            double[] pool = new double[2 * C];
            for (int p = 0; p < 16; p++) {
                for (int c = 0; c < C; c++) {
                    double conv = 0;
                    for (int k = 0; k < 3; k++) conv += ((px[(b * 16 + p) * 3 + k] & 0xff) - 128f) / 128f * w[k * C + c];
                    double bn = (conv - mean[c]) / Math.sqrt(var[c] + eps) * gamma[c] + beta[c];
                    pool[c] += Math.max(0, bn) / 16;
                    pool[C + c] += conv / 16;
                }
            }
            for (int c = 0; c < 2 * C; c++) assertEquals(pool[c], f.features()[b * 2 * C + c], 1e-4, "feature " + c);
            for (int k = 0; k < CLASSES; k++) {
                double l = 0;
                for (int c = 0; c < 2 * C; c++) l += pool[c] * wl[c * CLASSES + k];
                assertEquals(l, f.logits()[b * CLASSES + k], 1e-4, "logit " + k);
            }
        }
        // float input in [-1, 1] is quantized as ADM's sampler does, then featurized identically
        Features again = net.extract(Images.toFloatNchw(Images.fromBytes(px, n, 4, 4)));
        for (int i = 0; i < f.features().length; i++) assertEquals(f.features()[i], again.features()[i], 1e-5);
        Nd4j.getMemoryManager();
    }

    /**
     * ND4J's importer reads Conv2D "SAME" as VALID; the rewrite pads explicitly. A 3x2 kernel (TF puts the odd
     * pad after) on a 4x4 image, averaged by pool_3, against the zero-padded sum by hand.
     */
    @Test
    void sameConvolutionIsZeroPaddedAsInTensorFlow() throws Exception {
        Random rnd = new Random(11);
        int kh = 3, kw = 2;
        float[] w = new float[kh * kw * 3 * C];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        float[] wl = new float[C * CLASSES];
        GraphDef.Builder g = GraphDef.newBuilder();
        g.addNode(node("ExpandDims", "Identity"));
        g.addNode(constant("conv/w", w, kh, kw, 3, C));
        g.addNode(node("conv", "Conv2D", "ExpandDims", "conv/w").putAttr("T", type(DataType.DT_FLOAT))
                .putAttr("strides", ints(1, 1, 1, 1)).putAttr("padding", str("SAME")).putAttr("data_format", str("NHWC")));
        g.addNode(node("pool_3", "AvgPool", "conv").putAttr("T", type(DataType.DT_FLOAT))
                .putAttr("ksize", ints(1, 4, 4, 1)).putAttr("strides", ints(1, 1, 1, 1))
                .putAttr("padding", str("VALID")).putAttr("data_format", str("NHWC")));
        g.addNode(constant("softmax/weights", wl, C, CLASSES));
        g.addNode(node("softmax/logits/MatMul", "MatMul", "pool_3", "softmax/weights").putAttr("T", type(DataType.DT_FLOAT)));
        InceptionV3Tf net = InceptionV3Tf.fromBytes(g.build().toByteArray(), "test");

        byte[] px = new byte[4 * 4 * 3];
        for (int i = 0; i < px.length; i++) px[i] = (byte) rnd.nextInt(256);
        Features f = net.extract(Images.fromBytes(px, 1, 4, 4));
        for (int c = 0; c < C; c++) {
            double sum = 0;
            for (int y = 0; y < 4; y++) {
                for (int x = 0; x < 4; x++) {
                    for (int i = 0; i < kh; i++) {
                        for (int j = 0; j < kw; j++) {
                            int yy = y + i - (kh - 1) / 2, xx = x + j - (kw - 1) / 2;
                            if (yy < 0 || yy >= 4 || xx < 0 || xx >= 4) continue;
                            for (int k = 0; k < 3; k++) sum += (px[(yy * 4 + xx) * 3 + k] & 0xff) * w[((i * kw + j) * 3 + k) * C + c];
                        }
                    }
                }
            }
            assertEquals(sum / 16, f.features()[c], 1e-3 * Math.max(1, Math.abs(sum / 16)), "channel " + c);
        }
    }

    /** ResizeBilinear as TF 1 (ADM's graph) does it: align_corners false, no half-pixel centres, edge clamped. */
    @Test
    void resizeIsTensorFlowOneBilinear() throws Exception {
        int in = 4, out = 6;
        GraphDef.Builder g = GraphDef.newBuilder();
        g.addNode(node("ExpandDims", "Identity"));
        g.addNode(constant("size", new float[]{out, out}, DataType.DT_INT32, 2));
        g.addNode(node("ResizeBilinear", "ResizeBilinear", "ExpandDims", "size").putAttr("T", type(DataType.DT_FLOAT))
                .putAttr("align_corners", AttrValue.newBuilder().setB(false).build()));
        // pool_3 is a 1x1 average pool: the features are the resized image itself, flattened NHWC
        g.addNode(node("pool_3", "AvgPool", "ResizeBilinear").putAttr("T", type(DataType.DT_FLOAT))
                .putAttr("ksize", ints(1, 1, 1, 1)).putAttr("strides", ints(1, 1, 1, 1))
                .putAttr("padding", str("VALID")).putAttr("data_format", str("NHWC")));
        g.addNode(constant("softmax/weights", new float[3 * out * out * 2], 3 * out * out, 2));
        g.addNode(node("softmax/logits/MatMul", "MatMul", "pool_3", "softmax/weights").putAttr("T", type(DataType.DT_FLOAT)));
        InceptionV3Tf net = InceptionV3Tf.fromBytes(g.build().toByteArray(), "test");
        byte[] px = new byte[in * in * 3];
        Random rnd = new Random(13);
        for (int i = 0; i < px.length; i++) px[i] = (byte) rnd.nextInt(256);
        float[] f = net.extract(Images.fromBytes(px, 1, in, in)).features();
        assertEquals(out * out * 3, f.length);
        double scale = (double) in / out;
        for (int y = 0; y < out; y++) {
            for (int x = 0; x < out; x++) {
                double sy = y * scale, sx = x * scale;
                int y0 = (int) sy, x0 = (int) sx, y1 = Math.min(y0 + 1, in - 1), x1 = Math.min(x0 + 1, in - 1);
                double dy = sy - y0, dx = sx - x0;
                for (int c = 0; c < 3; c++) {
                    double v = (1 - dy) * ((1 - dx) * p(px, y0, x0, c, in) + dx * p(px, y0, x1, c, in))
                            + dy * ((1 - dx) * p(px, y1, x0, c, in) + dx * p(px, y1, x1, c, in));
                    assertEquals(v, f[(y * out + x) * 3 + c], 1e-3, "pixel " + y + "," + x + " channel " + c);
                }
            }
        }
    }

    private static double p(byte[] px, int y, int x, int c, int w) {
        return px[(y * w + x) * 3 + c] & 0xff;
    }

    static NodeDef.Builder node(String name, String op, String... inputs) {
        NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op);
        for (String i : inputs) b.addInput(i);
        return b;
    }

    static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }

    static AttrValue str(String s) {
        return AttrValue.newBuilder().setS(org.nd4j.shade.protobuf.ByteString.copyFromUtf8(s)).build();
    }

    static AttrValue ints(long... v) {
        AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
        for (long x : v) l.addI(x);
        return AttrValue.newBuilder().setList(l).build();
    }

    static NodeDef constant(String name, float[] values, long... shape) {
        return constant(name, values, DataType.DT_FLOAT, shape);
    }

    static NodeDef constant(String name, float[] values, DataType dt, long... shape) {
        TensorShapeProto.Builder sh = TensorShapeProto.newBuilder();
        long[] dims = shape.length == 0 && values.length > 1 ? new long[]{values.length} : shape;
        for (long d : dims) sh.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
        TensorProto.Builder t = TensorProto.newBuilder().setDtype(dt).setTensorShape(sh);
        for (float v : values) {
            if (dt == DataType.DT_INT32) t.addIntVal((int) v);
            else t.addFloatVal(v);
        }
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", type(dt))
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }
}
