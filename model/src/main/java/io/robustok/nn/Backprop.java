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

    /**
     * Outputs {@code outputs} and the gradients of the loss with respect to {@code wrt} (variables, and placeholders
     * named in the first call on a graph), keyed by variable name.
     */
    public static OutAndGrad run(SameDiff sd, Map<String, INDArray> placeholders, Collection<String> outputs, Collection<String> wrt) {
        if (!sd.hasGradientFunction()) {
            // placeholders among wrt get gradients only when named here (else only where an op that reads them also
            // reads a variable)
            String[] wrtPlaceholders = wrt.stream().filter(w -> sd.hasVariable(w) && sd.getVariable(w).isPlaceHolder()).toArray(String[]::new);
            sd.createGradFunction(wrtPlaceholders);
        }
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
        InferenceSession before = session(gradFn);
        TrackingCache tracking = before != null && before.getMmgr() instanceof TrackingCache t ? t : null;
        if (tracking != null) tracking.begin();
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
        OutAndGrad result = new OutAndGrad(outs, grads);
        if (tracking != null) {
            tracking.end(result);
        } else {
            // the session exists now: from the next call on its cache (if it is ND4J's own) also tracks what the
            // session forgets
            InferenceSession s = session(gradFn);
            if (s != null && s.getMmgr() != null && s.getMmgr().getClass() == ArrayCacheMemoryMgr.class) s.setMmgr(new TrackingCache());
        }
        return result;
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
        if (cache instanceof TrackingCache t) n += t.releaseForgotten(r);
        ((Set<?>) freed(s)).clear();
        return n;
    }

    /**
     * The session's array cache, which also remembers the arrays it handed out during one call and that the session
     * neither released nor returned. ND4J 1.0.0-M2.1's session releases an intermediate only when every op that reads
     * it has run in this call; forward activations that the gradient function also reads from ops outside the
     * executed subgraph are never released and die with the call (about 60 arrays, 16 MB, a demo tokenizer step). The
     * garbage collector frees them much later, and meanwhile every step allocates, zero-fills and page-faults fresh
     * memory for their successors: on one core, steps alternated between ~0.11 s and ~0.2-0.3 s depending on whether
     * the allocator still had freed memory from the last collection (BENCHMARKS.md, "Fresh memory every step"). These arrays go
     * back to the cache with the call's results in {@link #recycle}, when the caller is done with the results.
     */
    public static class TrackingCache extends ArrayCacheMemoryMgr {
        private final boolean releaseForgotten;
        private Set<INDArray> current = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        private OutAndGrad lastResult;
        private Set<INDArray> lastForgotten;

        public TrackingCache() {
            this(true);
        }

        /** {@code releaseForgotten} false: allocates and releases as ND4J's own cache does (for comparisons). */
        public TrackingCache(boolean releaseForgotten) {
            this.releaseForgotten = releaseForgotten;
        }

        void begin() {
            current = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            lastResult = null;
            lastForgotten = null;
        }

        void end(OutAndGrad result) {
            for (Map<String, INDArray> m : List.of(result.getOutputs(), result.getGradients())) {
                for (INDArray a : m.values()) current.remove(a);
            }
            lastResult = result;
            lastForgotten = current;
            current = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        }

        /** Releases the arrays the call that returned {@code r} forgot; nothing if {@code r} is not the last call's. */
        int releaseForgotten(OutAndGrad r) {
            if (!releaseForgotten || r != lastResult || lastForgotten == null) return 0;
            int n = 0;
            for (INDArray a : lastForgotten) {
                if (!a.isView() && !a.wasClosed() && !getLruCache().contains(a.getId())) {
                    super.release(a);
                    n++;
                }
            }
            lastResult = null;
            lastForgotten = null;
            return n;
        }

        @Override
        public INDArray allocate(boolean detached, org.nd4j.linalg.api.buffer.DataType dataType, long... shape) {
            INDArray a = super.allocate(detached, dataType, shape);
            current.add(a);
            return a;
        }

        @Override
        public INDArray allocate(boolean detached, org.nd4j.linalg.api.shape.LongShapeDescriptor descriptor) {
            INDArray a = super.allocate(detached, descriptor);
            current.add(a);
            return a;
        }

        @Override
        public void release(INDArray array) {
            current.remove(array);
            super.release(array);
        }
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
