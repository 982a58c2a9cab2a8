package io.robustok.eval;

import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.imports.graphmapper.tf.TFGraphMapper;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.tensorflow.framework.AttrValue;
import org.tensorflow.framework.GraphDef;
import org.tensorflow.framework.NodeDef;
import org.tensorflow.framework.TensorProto;
import org.tensorflow.framework.TensorShapeProto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * ADM's Inception-v3 (SPEC section 7): the TF graph {@code classify_image_graph_def.pb} imported into SameDiff
 * with ND4J's own TensorFlow importer (nd4j-api; no TensorFlow runtime needed). As ADM's evaluator does, the
 * images enter at {@code ExpandDims:0} as float32 NHWC holding uint8 values (the graph then resizes to 299
 * bilinearly and normalizes), features are {@code pool_3} (2048-d), and the IS logits are
 * {@code pool_3 @ W} with W the weight of {@code softmax/logits/MatMul} (ADM applies no bias).
 *
 * <p>Before import the graph is cut and rewritten: the JPEG decoder in front of ExpandDims becomes a
 * placeholder, everything that neither pool_3 nor W depends on is dropped, and the 2015-era ops are
 * expressed as their current equivalents: BatchNormWithGlobalNormalization -> FusedBatchNorm (NHWC,
 * inference), Concat (axis first) -> ConcatV2 (axis last); and Conv2D with SAME padding, which the M2.1 importer
 * silently treats as VALID, becomes an explicit zero Pad and a VALID convolution.
 */
public final class InceptionV3Tf implements FeatureExtractor {
    public static final String NAME = "inception-v3-tf/pool_3";
    static final String INPUT = "ExpandDims";
    static final String POOL = "pool_3";
    static final String LOGITS_MATMUL = "softmax/logits/MatMul";

    private final SameDiff sd;
    private final INDArray weights; // [2048, classes]
    private final String checksum;
    private final int dim;

    private InceptionV3Tf(SameDiff sd, INDArray weights, String checksum) {
        this.sd = sd;
        this.weights = weights;
        this.checksum = checksum;
        this.dim = (int) weights.size(0);
    }

    public static InceptionV3Tf load(Path graphFile) throws IOException {
        if (!Files.isRegularFile(graphFile)) {
            throw new IOException("Inception graph " + graphFile + " not found: set eval.inception-graph to ADM's classify_image_graph_def.pb");
        }
        byte[] bytes = Files.readAllBytes(graphFile);
        return fromBytes(bytes, sha256(bytes));
    }

    static InceptionV3Tf fromBytes(byte[] bytes, String checksum) throws IOException {
        GraphDef g = GraphDef.parseFrom(bytes);
        Map<String, NodeDef> byName = new HashMap<>();
        for (NodeDef n : g.getNodeList()) byName.put(n.getName(), n);
        NodeDef matmul = byName.get(LOGITS_MATMUL);
        if (matmul == null || !byName.containsKey(POOL) || !byName.containsKey(INPUT)) {
            throw new IOException("not ADM's Inception graph: needs nodes " + INPUT + ", " + POOL + ", " + LOGITS_MATMUL);
        }
        NodeDef wNode = byName.get(TFGraphMapper.getNodeName(matmul.getInput(1)));
        INDArray w = TFGraphMapper.getNDArrayFromTensor(wNode).castTo(DataType.FLOAT);
        // ND4J M2.1's importer writes a debug list of variables into the working directory: remove it if it
        // was not there before
        Path debug = Path.of("variables-added-old.txt");
        boolean existed = Files.exists(debug);
        SameDiff sd = TFGraphMapper.importGraph(prepare(g, byName));
        if (!existed) Files.deleteIfExists(debug);
        return new InceptionV3Tf(sd, w, checksum);
    }

    /** The sub-graph from the ExpandDims placeholder to pool_3, with old ops rewritten (see class comment). */
    static GraphDef prepare(GraphDef g, Map<String, NodeDef> byName) {
        Set<String> keep = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>(List.of(POOL));
        while (!todo.isEmpty()) {
            String n = todo.pop();
            if (!keep.add(n) || n.equals(INPUT)) continue;
            NodeDef node = byName.get(n);
            if (node == null) continue;
            for (String in : node.getInputList()) todo.push(TFGraphMapper.getNodeName(in.startsWith("^") ? in.substring(1) : in));
        }
        GraphDef.Builder out = GraphDef.newBuilder();
        if (g.hasVersions()) out.setVersions(g.getVersions());
        for (NodeDef n : g.getNodeList()) {
            if (!keep.contains(n.getName())) continue;
            if (n.getName().equals(INPUT)) {
                out.addNode(placeholder(INPUT));
            } else if (n.getOp().equals("Conv2D") && padding(n).equals("SAME")) {
                rewriteSameConv(n, byName, out);
            } else if (n.getOp().equals("BatchNormWithGlobalNormalization")) {
                rewriteBatchNorm(n, out);
            } else if (n.getOp().equals("Concat")) {
                NodeDef.Builder b = n.toBuilder().setOp("ConcatV2").clearInput();
                for (int i = 1; i < n.getInputCount(); i++) b.addInput(n.getInput(i));
                b.addInput(n.getInput(0));
                b.putAttr("Tidx", AttrValue.newBuilder().setType(org.tensorflow.framework.DataType.DT_INT32).build());
                out.addNode(b.build());
            } else {
                out.addNode(n);
            }
        }
        return out.build();
    }

    private static String padding(NodeDef n) {
        return n.containsAttr("padding") ? n.getAttrOrThrow("padding").getS().toStringUtf8() : "";
    }

    /**
     * ND4J M2.1's TF importer maps Conv2D's padding "SAME" to VALID (checked in InceptionV3TfTest), which would
     * shrink every SAME convolution of Inception. TF's SAME at stride 1 is zero padding of k - 1 (the odd pixel
     * after), so it becomes an explicit Pad and a VALID convolution. SAME at a larger stride depends on the
     * input size and does not occur in ADM's graph: refused.
     */
    private static void rewriteSameConv(NodeDef n, Map<String, NodeDef> byName, GraphDef.Builder out) {
        List<Long> strides = n.getAttrOrThrow("strides").getList().getIList();
        if (strides.stream().anyMatch(v -> v != 1)) {
            throw new IllegalArgumentException("Conv2D " + n.getName() + ": SAME padding with strides " + strides + " is not supported");
        }
        NodeDef w = byName.get(TFGraphMapper.getNodeName(n.getInput(1)));
        TensorShapeProto shape = w == null ? null : w.getAttrOrThrow("value").getTensor().getTensorShape();
        if (shape == null || shape.getDimCount() != 4) {
            throw new IllegalArgumentException("Conv2D " + n.getName() + ": SAME padding needs a constant 4-d filter");
        }
        long kh = shape.getDim(0).getSize(), kw = shape.getDim(1).getSize();
        String pads = n.getName() + "/same_paddings";
        TensorProto.Builder t = TensorProto.newBuilder().setDtype(org.tensorflow.framework.DataType.DT_INT32)
                .setTensorShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(4))
                        .addDim(TensorShapeProto.Dim.newBuilder().setSize(2)));
        for (long v : new long[]{0, 0, (kh - 1) / 2, kh - 1 - (kh - 1) / 2, (kw - 1) / 2, kw - 1 - (kw - 1) / 2, 0, 0}) t.addIntVal((int) v);
        out.addNode(NodeDef.newBuilder().setName(pads).setOp("Const")
                .putAttr("dtype", AttrValue.newBuilder().setType(org.tensorflow.framework.DataType.DT_INT32).build())
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build());
        String padded = n.getName() + "/same_pad";
        out.addNode(NodeDef.newBuilder().setName(padded).setOp("Pad").addInput(n.getInput(0)).addInput(pads)
                .putAttr("T", floatType())
                .putAttr("Tpaddings", AttrValue.newBuilder().setType(org.tensorflow.framework.DataType.DT_INT32).build()).build());
        out.addNode(n.toBuilder().setInput(0, padded)
                .putAttr("padding", AttrValue.newBuilder().setS(org.nd4j.shade.protobuf.ByteString.copyFromUtf8("VALID")).build()).build());
    }

    private static NodeDef placeholder(String name) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (int i = 0; i < 3; i++) shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(-1));
        shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(3));
        return NodeDef.newBuilder().setName(name).setOp("Placeholder")
                .putAttr("dtype", AttrValue.newBuilder().setType(org.tensorflow.framework.DataType.DT_FLOAT).build())
                .putAttr("shape", AttrValue.newBuilder().setShape(shape).build())
                .build();
    }

    /**
     * BatchNormWithGlobalNormalization(t, m, v, beta, gamma; variance_epsilon, scale_after_normalization) ->
     * FusedBatchNorm(t, scale, offset = beta, mean = m, variance = v; epsilon, is_training = false, NHWC);
     * scale is gamma, or a constant of ones when scale_after_normalization is false.
     */
    private static void rewriteBatchNorm(NodeDef n, GraphDef.Builder out) {
        boolean scaled = n.getAttrOrDefault("scale_after_normalization", AttrValue.newBuilder().setB(true).build()).getB();
        float eps = n.getAttrOrThrow("variance_epsilon").getF();
        String scale = n.getInput(4);
        if (!scaled) {
            // the channel count is unknown here; FusedBatchNorm broadcasts a scalar-shaped... not in all backends, so
            // we keep gamma's node as the shape source and multiply it by zero then add one
            String zero = n.getName() + "/ones_zero";
            out.addNode(constFloat(zero, 0f));
            String mul = n.getName() + "/ones_mul";
            out.addNode(NodeDef.newBuilder().setName(mul).setOp("Mul").addInput(n.getInput(4)).addInput(zero)
                    .putAttr("T", floatType()).build());
            String one = n.getName() + "/ones_one";
            out.addNode(constFloat(one, 1f));
            scale = n.getName() + "/ones";
            out.addNode(NodeDef.newBuilder().setName(scale).setOp("Add").addInput(mul).addInput(one)
                    .putAttr("T", floatType()).build());
        }
        out.addNode(NodeDef.newBuilder().setName(n.getName()).setOp("FusedBatchNorm")
                .addInput(n.getInput(0)).addInput(scale).addInput(n.getInput(3)).addInput(n.getInput(1)).addInput(n.getInput(2))
                .putAttr("T", floatType())
                .putAttr("epsilon", AttrValue.newBuilder().setF(eps).build())
                .putAttr("is_training", AttrValue.newBuilder().setB(false).build())
                .putAttr("data_format", AttrValue.newBuilder().setS(org.nd4j.shade.protobuf.ByteString.copyFromUtf8("NHWC")).build())
                .build());
    }

    private static AttrValue floatType() {
        return AttrValue.newBuilder().setType(org.tensorflow.framework.DataType.DT_FLOAT).build();
    }

    static NodeDef constFloat(String name, float v) {
        TensorProto t = TensorProto.newBuilder().setDtype(org.tensorflow.framework.DataType.DT_FLOAT)
                .setTensorShape(TensorShapeProto.newBuilder()).addFloatVal(v).build();
        return NodeDef.newBuilder().setName(name).setOp("Const")
                .putAttr("dtype", floatType()).putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }

    /** The imported graph (benchmarks attach profiling listeners to it). */
    SameDiff graph() {
        return sd;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String checksum() {
        return checksum;
    }

    @Override
    public int featureDim() {
        return dim;
    }

    @Override
    public int classes() {
        return (int) weights.size(1);
    }

    @Override
    public Features extract(INDArray images) {
        // ADM feeds float32 holding the uint8 values; float input is quantized as ADM's sampler saves it
        INDArray x = Images.toUint8Nhwc(images).castTo(DataType.FLOAT);
        INDArray pool = sd.outputSingle(Map.of(INPUT, x), POOL);
        int n = (int) x.size(0);
        INDArray f = pool.reshape('c', n, dim).castTo(DataType.FLOAT);
        INDArray logits = f.mmul(weights);
        return new Features(n, dim, f.dup('c').data().asFloat(), classes(), logits.dup('c').data().asFloat());
    }

    static String sha256(byte[] b) {
        try {
            return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
