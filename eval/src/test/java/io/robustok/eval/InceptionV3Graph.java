package io.robustok.eval;

import org.nd4j.shade.protobuf.ByteString;
import org.tensorflow.framework.AttrValue;
import org.tensorflow.framework.DataType;
import org.tensorflow.framework.GraphDef;
import org.tensorflow.framework.NodeDef;
import org.tensorflow.framework.TensorProto;
import org.tensorflow.framework.TensorShapeProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A full-size Inception-v3 as a TF GraphDef in the layout of ADM's {@code classify_image_graph_def.pb}
 * (the 2015 graph): DecodeJpeg -> Cast -> ExpandDims -> ResizeBilinear to 299 -> (x - 128) / 128, 94
 * convolutions each followed by BatchNormWithGlobalNormalization and Relu, mixed blocks joined by the old
 * {@code Concat} (axis first), {@code pool_3} (8x8 average pool, 2048 channels), {@code pool_3/_reshape} and
 * {@code softmax/logits/MatMul} onto 1008 classes. Weights are random (He-normal, so activations stay in
 * range): the graph has the real file's architecture, op vocabulary, 23.8M parameters and cost, which is what
 * the import test and the throughput benchmark need, but not its learned weights, which cannot be had offline.
 */
public final class InceptionV3Graph {
    public static final int CLASSES = 1008;

    private final GraphDef.Builder g = GraphDef.newBuilder();
    private final Random rnd;
    private long params;

    private InceptionV3Graph(long seed) {
        rnd = new Random(seed);
    }

    /** A built graph: its serialized bytes and its parameter count. */
    public record Built(byte[] bytes, long parameters) {
    }

    /** The serialized graph. */
    public static byte[] build(long seed) {
        return create(seed).bytes();
    }

    /** The graph with its parameter count (convolutions, batch norms and the logits layer). */
    public static Built create(long seed) {
        InceptionV3Graph b = new InceptionV3Graph(seed);
        return new Built(b.graph().toByteArray(), b.params);
    }

    private GraphDef graph() {
        g.addNode(NodeDef.newBuilder().setName("DecodeJpeg/contents").setOp("Const").putAttr("dtype", type(DataType.DT_STRING))
                .putAttr("value", AttrValue.newBuilder().setTensor(TensorProto.newBuilder().setDtype(DataType.DT_STRING)
                        .setTensorShape(TensorShapeProto.newBuilder()).addStringVal(ByteString.EMPTY)).build()));
        g.addNode(op("DecodeJpeg", "DecodeJpeg", "DecodeJpeg/contents").putAttr("channels", AttrValue.newBuilder().setI(3).build()));
        g.addNode(op("Cast", "Cast", "DecodeJpeg").putAttr("SrcT", type(DataType.DT_UINT8)).putAttr("DstT", type(DataType.DT_FLOAT)));
        g.addNode(intConst("ExpandDims/dim", new int[]{0}, new long[0]));
        g.addNode(op("ExpandDims", "ExpandDims", "Cast", "ExpandDims/dim").putAttr("T", f32()).putAttr("Tdim", type(DataType.DT_INT32)));
        g.addNode(intConst("ResizeBilinear/size", new int[]{299, 299}, new long[]{2}));
        g.addNode(op("ResizeBilinear", "ResizeBilinear", "ExpandDims", "ResizeBilinear/size").putAttr("T", f32())
                .putAttr("align_corners", AttrValue.newBuilder().setB(false).build()));
        g.addNode(floatConst("Sub/y", new float[]{128f}, new long[0]));
        g.addNode(op("Sub", "Sub", "ResizeBilinear", "Sub/y").putAttr("T", f32()));
        g.addNode(floatConst("Mul/y", new float[]{1f / 128f}, new long[0]));
        g.addNode(op("Mul", "Mul", "Sub", "Mul/y").putAttr("T", f32()));

        String x = conv("conv", "Mul", 3, 32, 3, 3, 2, "VALID");          // 149
        x = conv("conv_1", x, 32, 32, 3, 3, 1, "VALID");                   // 147
        x = conv("conv_2", x, 32, 64, 3, 3, 1, "SAME");                    // 147
        x = pool("pool", "MaxPool", x, 3, 2, "VALID");                     // 73
        x = conv("conv_3", x, 64, 80, 1, 1, 1, "VALID");
        x = conv("conv_4", x, 80, 192, 3, 3, 1, "VALID");                  // 71
        x = pool("pool_1", "MaxPool", x, 3, 2, "VALID");                   // 35
        x = blockA("mixed", x, 192, 32);
        x = blockA("mixed_1", x, 256, 64);
        x = blockA("mixed_2", x, 288, 64);
        x = blockB("mixed_3", x, 288);                                     // 17
        x = blockC("mixed_4", x, 128);
        x = blockC("mixed_5", x, 160);
        x = blockC("mixed_6", x, 160);
        x = blockC("mixed_7", x, 192);
        x = blockD("mixed_8", x);                                          // 8
        x = blockE("mixed_9", x, 1280, "AvgPool");
        x = blockE("mixed_10", x, 2048, "MaxPool");
        g.addNode(op("pool_3", "AvgPool", x).putAttr("T", f32()).putAttr("ksize", ints(1, 8, 8, 1))
                .putAttr("strides", ints(1, 1, 1, 1)).putAttr("padding", str("VALID")).putAttr("data_format", str("NHWC")));
        g.addNode(intConst("pool_3/_reshape/shape", new int[]{1, 2048}, new long[]{2}));
        g.addNode(op("pool_3/_reshape", "Reshape", "pool_3", "pool_3/_reshape/shape").putAttr("T", f32()));
        g.addNode(weights("softmax/weights", new long[]{2048, CLASSES}, Math.sqrt(1.0 / 2048)));
        g.addNode(op("softmax/logits/MatMul", "MatMul", "pool_3/_reshape", "softmax/weights").putAttr("T", f32()));
        g.addNode(weights("softmax/biases", new long[]{CLASSES}, 0));
        g.addNode(op("softmax/logits", "BiasAdd", "softmax/logits/MatMul", "softmax/biases").putAttr("T", f32()));
        g.addNode(op("softmax", "Softmax", "softmax/logits").putAttr("T", f32()));
        return g.build();
    }

    private String blockA(String name, String in, int cin, int poolFeatures) {
        String b0 = conv(name + "/conv", in, cin, 64, 1, 1, 1, "SAME");
        String b1 = conv(name + "/tower/conv", in, cin, 48, 1, 1, 1, "SAME");
        b1 = conv(name + "/tower/conv_1", b1, 48, 64, 5, 5, 1, "SAME");
        String b2 = conv(name + "/tower_1/conv", in, cin, 64, 1, 1, 1, "SAME");
        b2 = conv(name + "/tower_1/conv_1", b2, 64, 96, 3, 3, 1, "SAME");
        b2 = conv(name + "/tower_1/conv_2", b2, 96, 96, 3, 3, 1, "SAME");
        String b3 = pool(name + "/tower_2/pool", "AvgPool", in, 3, 1, "SAME");
        b3 = conv(name + "/tower_2/conv", b3, cin, poolFeatures, 1, 1, 1, "SAME");
        return concat(name + "/join", b0, b1, b2, b3);
    }

    private String blockB(String name, String in, int cin) {
        String b0 = conv(name + "/conv", in, cin, 384, 3, 3, 2, "VALID");
        String b1 = conv(name + "/tower/conv", in, cin, 64, 1, 1, 1, "SAME");
        b1 = conv(name + "/tower/conv_1", b1, 64, 96, 3, 3, 1, "SAME");
        b1 = conv(name + "/tower/conv_2", b1, 96, 96, 3, 3, 2, "VALID");
        String b2 = pool(name + "/pool", "MaxPool", in, 3, 2, "VALID");
        return concat(name + "/join", b0, b1, b2);
    }

    private String blockC(String name, String in, int c7) {
        String b0 = conv(name + "/conv", in, 768, 192, 1, 1, 1, "SAME");
        String b1 = conv(name + "/tower/conv", in, 768, c7, 1, 1, 1, "SAME");
        b1 = conv(name + "/tower/conv_1", b1, c7, c7, 1, 7, 1, "SAME");
        b1 = conv(name + "/tower/conv_2", b1, c7, 192, 7, 1, 1, "SAME");
        String b2 = conv(name + "/tower_1/conv", in, 768, c7, 1, 1, 1, "SAME");
        b2 = conv(name + "/tower_1/conv_1", b2, c7, c7, 7, 1, 1, "SAME");
        b2 = conv(name + "/tower_1/conv_2", b2, c7, c7, 1, 7, 1, "SAME");
        b2 = conv(name + "/tower_1/conv_3", b2, c7, c7, 7, 1, 1, "SAME");
        b2 = conv(name + "/tower_1/conv_4", b2, c7, 192, 1, 7, 1, "SAME");
        String b3 = pool(name + "/tower_2/pool", "AvgPool", in, 3, 1, "SAME");
        b3 = conv(name + "/tower_2/conv", b3, 768, 192, 1, 1, 1, "SAME");
        return concat(name + "/join", b0, b1, b2, b3);
    }

    private String blockD(String name, String in) {
        String b0 = conv(name + "/tower/conv", in, 768, 192, 1, 1, 1, "SAME");
        b0 = conv(name + "/tower/conv_1", b0, 192, 320, 3, 3, 2, "VALID");
        String b1 = conv(name + "/tower_1/conv", in, 768, 192, 1, 1, 1, "SAME");
        b1 = conv(name + "/tower_1/conv_1", b1, 192, 192, 1, 7, 1, "SAME");
        b1 = conv(name + "/tower_1/conv_2", b1, 192, 192, 7, 1, 1, "SAME");
        b1 = conv(name + "/tower_1/conv_3", b1, 192, 192, 3, 3, 2, "VALID");
        String b2 = pool(name + "/pool", "MaxPool", in, 3, 2, "VALID");
        return concat(name + "/join", b0, b1, b2);
    }

    private String blockE(String name, String in, int cin, String poolOp) {
        String b0 = conv(name + "/conv", in, cin, 320, 1, 1, 1, "SAME");
        String t = conv(name + "/tower/conv", in, cin, 384, 1, 1, 1, "SAME");
        String t1 = conv(name + "/tower/mixed/conv", t, 384, 384, 1, 3, 1, "SAME");
        String t2 = conv(name + "/tower/mixed/conv_1", t, 384, 384, 3, 1, 1, "SAME");
        String b1 = concat(name + "/tower/mixed", t1, t2);
        String u = conv(name + "/tower_1/conv", in, cin, 448, 1, 1, 1, "SAME");
        u = conv(name + "/tower_1/conv_1", u, 448, 384, 3, 3, 1, "SAME");
        String u1 = conv(name + "/tower_1/mixed/conv", u, 384, 384, 1, 3, 1, "SAME");
        String u2 = conv(name + "/tower_1/mixed/conv_1", u, 384, 384, 3, 1, 1, "SAME");
        String b2 = concat(name + "/tower_1/mixed", u1, u2);
        String b3 = pool(name + "/tower_2/pool", poolOp, in, 3, 1, "SAME");
        b3 = conv(name + "/tower_2/conv", b3, cin, 192, 1, 1, 1, "SAME");
        return concat(name + "/join", b0, b1, b2, b3);
    }

    /** Conv2D (no bias) + BatchNormWithGlobalNormalization + Relu; returns the Relu's name (the scope name, as in the file). */
    private String conv(String name, String in, int cin, int cout, int kh, int kw, int stride, String padding) {
        String w = name + "/conv2d_params";
        g.addNode(weights(w, new long[]{kh, kw, cin, cout}, Math.sqrt(2.0 / (kh * kw * cin))));
        g.addNode(op(name + "/Conv2D", "Conv2D", in, w).putAttr("T", f32()).putAttr("strides", ints(1, stride, stride, 1))
                .putAttr("padding", str(padding)).putAttr("data_format", str("NHWC")).putAttr("use_cudnn_on_gpu", AttrValue.newBuilder().setB(true).build()));
        String bn = name + "/batchnorm";
        float[] zeros = new float[cout], ones = new float[cout];
        java.util.Arrays.fill(ones, 1f);
        g.addNode(floatConst(bn + "/moving_mean", zeros, new long[]{cout}));
        g.addNode(floatConst(bn + "/moving_variance", ones, new long[]{cout}));
        g.addNode(floatConst(bn + "/beta", zeros, new long[]{cout}));
        g.addNode(floatConst(bn + "/gamma", ones, new long[]{cout}));
        params += 4L * cout;
        g.addNode(op(bn, "BatchNormWithGlobalNormalization", name + "/Conv2D", bn + "/moving_mean", bn + "/moving_variance",
                bn + "/beta", bn + "/gamma").putAttr("T", f32())
                .putAttr("variance_epsilon", AttrValue.newBuilder().setF(0.001f).build())
                .putAttr("scale_after_normalization", AttrValue.newBuilder().setB(false).build()));
        g.addNode(op(name, "Relu", bn).putAttr("T", f32()));
        return name;
    }

    private String pool(String name, String kind, String in, int k, int stride, String padding) {
        g.addNode(op(name, kind, in).putAttr("T", f32()).putAttr("ksize", ints(1, k, k, 1)).putAttr("strides", ints(1, stride, stride, 1))
                .putAttr("padding", str(padding)).putAttr("data_format", str("NHWC")));
        return name;
    }

    private String concat(String name, String... inputs) {
        g.addNode(intConst(name + "/concat_dim", new int[]{3}, new long[0]));
        NodeDef.Builder b = op(name, "Concat", name + "/concat_dim").putAttr("T", f32())
                .putAttr("N", AttrValue.newBuilder().setI(inputs.length).build());
        for (String i : inputs) b.addInput(i);
        g.addNode(b);
        return name;
    }

    private NodeDef weights(String name, long[] shape, double std) {
        long n = 1;
        for (long d : shape) n *= d;
        params += n;
        ByteBuffer buf = ByteBuffer.allocate((int) n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < n; i++) buf.putFloat((float) (rnd.nextGaussian() * std));
        TensorProto t = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).setTensorShape(shape(shape))
                .setTensorContent(ByteString.copyFrom(buf.array())).build();
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", f32())
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }

    private static NodeDef floatConst(String name, float[] v, long[] shape) {
        ByteBuffer buf = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) buf.putFloat(f);
        TensorProto t = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).setTensorShape(shape(shape))
                .setTensorContent(ByteString.copyFrom(buf.array())).build();
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", f32())
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }

    private static NodeDef intConst(String name, int[] v, long[] shape) {
        TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32).setTensorShape(shape(shape));
        for (int i : v) t.addIntVal(i);
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", type(DataType.DT_INT32))
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }

    private static TensorShapeProto shape(long[] dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : dims) s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
        return s.build();
    }

    private static NodeDef.Builder op(String name, String op, String... inputs) {
        NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op);
        for (String i : inputs) b.addInput(i);
        return b;
    }

    private static AttrValue f32() {
        return type(DataType.DT_FLOAT);
    }

    private static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }

    private static AttrValue str(String s) {
        return AttrValue.newBuilder().setS(ByteString.copyFromUtf8(s)).build();
    }

    private static AttrValue ints(long... v) {
        AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
        for (long x : v) l.addI(x);
        return AttrValue.newBuilder().setList(l).build();
    }

    /** Names of the graph's nodes (tests). */
    static List<String> nodeNames(byte[] graph) throws Exception {
        List<String> out = new ArrayList<>();
        for (NodeDef n : GraphDef.parseFrom(graph).getNodeList()) out.add(n.getName());
        return out;
    }
}
