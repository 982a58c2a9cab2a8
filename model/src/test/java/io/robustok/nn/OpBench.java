package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Forward + backward cost of single building blocks in alternative formulations, at the demo tokenizer's shapes
 * (a harness, not a test). Thread CPU time per call, min and median of {@code -Dbench.runs} (default 40) after
 * warm-up; run with OMP_NUM_THREADS=1. Main class in model's test sources.
 */
public final class OpBench {
    public static void main(String[] args) {
        int runs = Integer.getInteger("bench.runs", 40);
        time("gelu, libnd4j op [1024, 512]", runs, new long[]{1024, 512}, (sd, x) -> sd.nn().gelu(x));
        time("gelu, x * sigmoid(1.702 x) [1024, 512]", runs, new long[]{1024, 512}, (sd, x) -> Mlp.gelu(sd, x));
        time("bias add, broadcast add [1024, 512]", runs, new long[]{1024, 512}, (sd, x) -> x.add(sd.var("b", Nd4j.rand(DataType.FLOAT, 512))));
        time("bias add, biasAdd op [1024, 512]", runs, new long[]{1024, 512}, (sd, x) -> sd.nn().biasAdd(x, sd.var("b", Nd4j.rand(DataType.FLOAT, 512)), true));
        time("bias add, ones GEMM [1024, 512]", runs, new long[]{1024, 512}, (sd, x) -> x.add(sd.onesLike(x.get(
                org.nd4j.autodiff.samediff.SDIndex.all(), org.nd4j.autodiff.samediff.SDIndex.interval(0, 1))).mmul(sd.var("b", Nd4j.rand(DataType.FLOAT, 1, 512)))));
        time("bias add, broadcast add [1024, 128]", runs, new long[]{1024, 128}, (sd, x) -> x.add(sd.var("b", Nd4j.rand(DataType.FLOAT, 128))));
        time("bias add, biasAdd op [1024, 128]", runs, new long[]{1024, 128}, (sd, x) -> sd.nn().biasAdd(x, sd.var("b", Nd4j.rand(DataType.FLOAT, 128)), true));
        time("softmax, libnd4j op [128, 32, 32]", runs, new long[]{128, 32, 32}, (sd, x) -> sd.nn().softmax(x, 2));
        time("layer norm (GEMM-spread) [1024, 128]", runs, new long[]{1024, 128}, (sd, x) -> LayerNorm.affine(sd, x,
                sd.var("g", Nd4j.rand(DataType.FLOAT, 128)), sd.var("b", Nd4j.rand(DataType.FLOAT, 128)), 128, 1e-6));
        time("matmul [1024, 128] x [128, 512]", runs, new long[]{1024, 128}, (sd, x) -> x.mmul(sd.var("w", Nd4j.rand(DataType.FLOAT, 128, 512))));
    }

    static void time(String what, int runs, long[] shape, BiFunction<SameDiff, SDVariable, SDVariable> f) {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.var("x", Nd4j.randn(DataType.FLOAT, shape));
        SDVariable y = f.apply(sd, x);
        SDVariable loss = sd.sum(y.mul(sd.constant(Nd4j.randn(DataType.FLOAT, y.eval().shape()))));
        sd.updateVariableNameAndReference(loss, "loss");
        sd.setLossVariables("loss");
        List<String> wrt = sd.variables().stream().filter(v -> v.getVariableType() == org.nd4j.autodiff.samediff.VariableType.VARIABLE)
                .map(SDVariable::name).toList();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double[] cpu = new double[runs];
        for (int i = 0; i < 5 + runs; i++) {
            long c0 = mx.getCurrentThreadCpuTime();
            sd.calculateGradientsAndOutputs(Map.of(), List.of("loss"), wrt);
            if (i >= 5) cpu[i - 5] = (mx.getCurrentThreadCpuTime() - c0) / 1e6;
        }
        Arrays.sort(cpu);
        System.out.printf("OPBENCH %-45s fwd+bwd CPU ms: min %.3f median %.3f%n", what, cpu[0], cpu[runs / 2]);
    }
}
