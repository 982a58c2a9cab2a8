package io.robustok.nn;

import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Listener;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.SameDiffOp;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.impl.transforms.gradient.CubeBp;
import org.nd4j.linalg.api.ops.impl.transforms.same.Abs;
import org.nd4j.linalg.api.ops.impl.transforms.same.Cube;
import org.nd4j.linalg.api.ops.impl.transforms.same.Sign;
import org.nd4j.linalg.dataset.api.MultiDataSet;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Ops computed in Java (Vector API) inside a SameDiff graph: {@link Gelu} and the layer norm's normalisation
 * ({@link LayerNorm}). ND4J 1.0.0-M2.1 runs no Java ops inside a graph, so the graph holds a cheap native op in
 * their place, and this listener, which SameDiff calls after every op with the op's inputs and outputs, overwrites
 * that op's output:
 * <ul>
 *   <li>GELU: the graph holds {@code abs(x)}, whose gradient SameDiff builds as {@code sign(x) * grad}; the
 *   {@code abs} output becomes {@code gelu(x)}, the {@code sign} output {@code gelu'(x)}.</li>
 *   <li>Layer norm of [rows, D]: the graph holds {@code cube(x)}, whose gradient SameDiff builds as one op
 *   {@code cube_bp(x, grad)}; the {@code cube} output becomes {@code (x - mean) / sqrt(var + eps)} per row and the
 *   {@code cube_bp} output the layer norm's input gradient. (Of the ops whose gradient is one op of x and the
 *   incoming gradient, cube's pair is among the cheapest in libnd4j: 0.03 + 0.33 ms on [1024, 128], against
 *   0.07 + 1.36 ms for relu's.)</li>
 * </ul>
 * The native ops are single passes over the data. Only ops whose input is a variable registered here are touched,
 * and no other op of those kinds reads a registered variable. The listener is one of the graph's own listeners,
 * so every execution of the graph runs it: {@code output}, the gradient function (SameDiff's own call and
 * {@link Backprop}, which both set the graph's listeners on it), and any listener the caller adds.
 */
final class JavaKernels extends BaseListener {
    static final String FLAG = "robustok.java-kernels";
    private static final boolean AVAILABLE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /** Registered variable name -> 0 for a GELU, else the layer norm's epsilon. */
    private final Map<String, Double> ops = new ConcurrentHashMap<>();

    /** Whether graphs built now use the Java kernels (the Vector API module is present and the flag is not false). */
    static boolean enabled() {
        return AVAILABLE && !"false".equals(System.getProperty(FLAG));
    }

    static JavaKernels of(SameDiff sd) {
        for (Listener l : sd.getListeners()) if (l instanceof JavaKernels k) return k;
        JavaKernels k = new JavaKernels();
        sd.addListeners(k);
        return k;
    }

    static int count(SameDiff sd, boolean gelu) {
        for (Listener l : sd.getListeners()) {
            if (l instanceof JavaKernels k) return (int) k.ops.values().stream().filter(v -> (v == 0) == gelu).count();
        }
        return 0;
    }

    void gelu(String var) {
        register(var, 0.0);
    }

    void layerNorm(String var, double eps) {
        if (!(eps > 0)) throw new IllegalArgumentException("layer norm epsilon must be > 0, got " + eps);
        register(var, eps);
    }

    private void register(String var, double kind) {
        Double prev = ops.putIfAbsent(var, kind);
        if (prev != null && prev != kind)
            throw new IllegalStateException("variable " + var + " is already the input of another Java kernel (" + prev + " vs " + kind + ")");
    }

    @Override
    public boolean isActive(Operation operation) {
        return true;
    }

    @Override
    public void opExecution(SameDiff sd, At at, MultiDataSet batch, SameDiffOp op, OpContext ctx, INDArray[] outputs) {
        Object o = op.getOp();
        if (!(o instanceof Abs || o instanceof Sign || o instanceof Cube || o instanceof CubeBp)) return;
        List<String> in = op.getInputsToOp();
        if (in == null || in.isEmpty()) return;
        Double kind = ops.get(in.get(0));
        if (kind == null) return;
        boolean gelu = kind == 0;
        if (gelu != (o instanceof Abs || o instanceof Sign)) return;
        INDArray x = contiguous(ctx.getInputArray(0)), y = outputs[0];
        check(in.get(0), x, y);
        int n = (int) x.length();
        if (o instanceof Abs) GeluKernels.forward(buffer(x), buffer(y), n);
        else if (o instanceof Sign) GeluKernels.derivative(buffer(x), buffer(y), n);
        else {
            int d = (int) x.size(x.rank() - 1);
            if (o instanceof Cube) LayerNormKernels.forward(buffer(x), buffer(y), n / d, d, kind);
            else {
                INDArray g = contiguous(ctx.getInputArray(1));
                check(in.get(0), g, y);
                LayerNormKernels.backward(buffer(x), buffer(g), buffer(y), n / d, d, kind);
            }
        }
    }

    private static void check(String var, INDArray x, INDArray y) {
        if (x.dataType() != DataType.FLOAT || y.dataType() != DataType.FLOAT || x.length() != y.length())
            throw new IllegalStateException("Java kernel on " + var + ": expected float arrays of one length, got " + x.shapeInfoToString()
                    + " -> " + y.shapeInfoToString());
        if (y.isView() || y.ordering() != 'c') throw new IllegalStateException("Java kernel on " + var + ": the output is a view");
    }

    private static INDArray contiguous(INDArray a) {
        return !a.isView() && a.ordering() == 'c' ? a : a.dup('c');
    }

    private static ByteBuffer buffer(INDArray a) {
        return a.data().asNio().order(ByteOrder.nativeOrder());
    }
}
