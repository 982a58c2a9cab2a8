package io.robustok.nn;

import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.config.ExecutionResult;
import org.nd4j.autodiff.samediff.config.SDValue;
import org.nd4j.autodiff.samediff.internal.InferenceSession;
import org.nd4j.autodiff.samediff.internal.memory.ArrayCacheMemoryMgr;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Forward and backward pass of a SameDiff graph, as {@link SameDiff#calculateGradientsAndOutputs}, but with the
 * session's array cache on, and the session's per-call bookkeeping trimmed.
 *
 * <p>Why: in ND4J 1.0.0-M2.1 {@code calculateGradientsAndOutputs} switches the gradient function's array cache off
 * ({@code gradFn.setEnableCache(false)}), so every activation and every gradient of every step is a new native
 * buffer, which libnd4j zero-fills on allocation ({@code DataBuffer::allocatePrimary}) and which is freed only when
 * the garbage collector finds its Java wrapper. On the demo tokenizer that was about 80 MB of fresh memory a step:
 * zero-filling and the page faults under it took about 40% of the step's CPU time ({@code perf}: memset 27%,
 * page-fault handling 15%). With the cache on, a step reuses the arrays the previous step released (same shapes
 * every step). The ops and their order are unchanged; results are bitwise identical ({@code BackpropTest}).
 *
 * <p>Arrays returned (outputs and gradients) are never released into the cache by the call that returns them;
 * the next call on the same graph and thread forgets them without releasing them, so callers may keep them. A
 * caller done with them hands them back with {@link #recycle}, and the next call reuses their memory.
 *
 * <p>The session also records the id of every array it ever released ({@code freedArrays}, never cleared in
 * M2.1): it grows by thousands of entries a step. It only guards against releasing one array twice within one
 * call, so it is cleared after each call.
 */
public final class Backprop {
    private static final String GRAD_FN = "grad";
    private static final Method BATCH_OUTPUT;
    private static final Field SESSIONS;
    private static final Field FREED;

    static {
        try {
            BATCH_OUTPUT = SameDiff.class.getDeclaredMethod("batchOutputHelper", Map.class, List.class, Operation.class, String[].class);
            BATCH_OUTPUT.setAccessible(true);
            SESSIONS = SameDiff.class.getDeclaredField("sessions");
            SESSIONS.setAccessible(true);
            FREED = InferenceSession.class.getDeclaredField("freedArrays");
            FREED.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("ND4J's SameDiff is not the 1.0.0-M2.1 this code was written against: " + e);
        }
    }

    private Backprop() {
    }

    /** Outputs {@code outputs} and the gradients of the loss with respect to {@code wrt}, keyed by variable name. */
    public static OutAndGrad run(SameDiff sd, Map<String, INDArray> placeholders, Collection<String> outputs, Collection<String> wrt) {
        if (!sd.hasGradientFunction()) sd.createGradFunction();
        SameDiff gradFn = sd.getFunction(GRAD_FN);
        gradFn.setEnableCache(true);
        List<String> names = new ArrayList<>(outputs);
        Map<String, String> gradName = new HashMap<>();
        for (String w : wrt) {
            SDVariable v = sd.getVariable(w);
            if (v == null) throw new IllegalArgumentException("no variable '" + w + "' in the graph");
            SDVariable g = v.getGradient();
            if (g != null) {
                gradName.put(w, g.name());
                names.add(g.name());
            }
        }
        ExecutionResult r;
        try {
            // the graph's listeners run on the gradient function, as in SameDiff's own call (and only once each: the
            // gradient function keeps what was set last, so they are set, not passed)
            gradFn.setListeners(sd.getListeners());
            r = (ExecutionResult) BATCH_OUTPUT.invoke(gradFn, placeholders, null, Operation.TRAINING, names.toArray(new String[0]));
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error er) throw er;
            throw new IllegalStateException(e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        } finally {
            trim(gradFn);
        }
        Map<String, INDArray> all = new HashMap<>();
        if (r.hasValues()) {
            for (Map.Entry<String, SDValue> e : r.getValueOutputs().entrySet()) all.put(e.getKey(), e.getValue().getTensorValue());
        } else if (r.hasSingle()) {
            all.putAll(ExecutionResult.unpack(r.getOutputs()));
        }
        Map<String, INDArray> outs = new HashMap<>();
        for (String o : outputs) outs.put(o, all.get(o));
        Map<String, INDArray> grads = new HashMap<>();
        for (Map.Entry<String, String> e : gradName.entrySet()) grads.put(e.getKey(), all.get(e.getValue()));
        return new OutAndGrad(outs, grads);
    }

    /**
     * Hands arrays that {@link #run} returned back to the graph's array cache once the caller is done with them (their
     * contents are then overwritten by a later call): the next call reuses them instead of allocating, zero-filling
     * and page-faulting fresh native memory for every gradient and output (about 3.5 MB a demo tokenizer step).
     * Each array at most once; arrays the caller still holds must not be passed.
     *
     * @return how many arrays went back to the cache
     */
    public static int recycle(SameDiff sd, OutAndGrad r) {
        SameDiff gradFn = sd.getFunction(GRAD_FN);
        InferenceSession s = gradFn == null ? null : session(gradFn);
        if (s == null || !(s.getMmgr() instanceof ArrayCacheMemoryMgr cache)) return 0;
        int n = 0;
        Set<INDArray> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Map<String, INDArray> m : List.of(r.getOutputs(), r.getGradients())) {
            for (INDArray a : m.values()) {
                // the session may already have cached an array it also returned (a gradient that is an intermediate)
                if (a != null && !a.isView() && !a.wasClosed() && seen.add(a) && !cache.getLruCache().contains(a.getId())) {
                    cache.release(a);
                    n++;
                }
            }
        }
        ((Set<?>) freed(s)).clear();
        return n;
    }

    private static InferenceSession session(SameDiff sd) {
        try {
            @SuppressWarnings("unchecked")
            Map<Long, InferenceSession> sessions = (Map<Long, InferenceSession>) SESSIONS.get(sd);
            return sessions.get(Thread.currentThread().getId());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object freed(InferenceSession s) {
        try {
            return FREED.get(s);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Clears the current thread's session's record of released array ids (see the class comment). */
    static void trim(SameDiff sd) {
        InferenceSession s = session(sd);
        if (s != null) ((Set<?>) freed(s)).clear();
    }
}
