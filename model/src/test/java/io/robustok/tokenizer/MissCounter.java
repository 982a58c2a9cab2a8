package io.robustok.tokenizer;

import io.robustok.nn.Backprop;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.InferenceSession;
import org.nd4j.autodiff.samediff.internal.SessionMemMgr;
import org.nd4j.autodiff.samediff.internal.memory.ArrayCacheMemoryMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.shade.guava.collect.Table;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Array caches that count their misses (allocations no cached array could serve) by type and shape, for tests and
 * the bench ({@link Counting}). {@link #install} puts one into the current thread's session of a graph's gradient
 * function.
 */
public final class MissCounter {
    private static final java.lang.reflect.Field ARRAYS, SESSIONS;

    static {
        try {
            ARRAYS = ArrayCacheMemoryMgr.class.getDeclaredField("arrays");
            ARRAYS.setAccessible(true);
            SESSIONS = SameDiff.class.getDeclaredField("sessions");
            SESSIONS.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Misses by "TYPE[shape]": {count, bytes}. */
    public final Map<String, long[]> misses = new TreeMap<>();

    long count() {
        return misses.values().stream().mapToLong(v -> v[0]).sum();
    }

    long bytes() {
        return misses.values().stream().mapToLong(v -> v[1]).sum();
    }

    private void note(ArrayCacheMemoryMgr cache, DataType dt, long[] shape) {
        try {
            @SuppressWarnings("unchecked")
            Table<DataType, String, List<INDArray>> t = (Table<DataType, String, List<INDArray>>) ARRAYS.get(cache);
            List<INDArray> l = t.get(dt, Arrays.toString(shape));
            if (l != null && !l.isEmpty()) return;
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        long[] v = misses.computeIfAbsent(dt + Arrays.toString(shape), k -> new long[2]);
        v[0]++;
        v[1] += Arrays.stream(shape).reduce(1, (a, b) -> a * b) * dt.width();
    }

    /** Puts {@code cache} into the current thread's session of {@code sd}'s gradient function (after a first call). */
    public static void install(SameDiff sd, SessionMemMgr cache) {
        try {
            @SuppressWarnings("unchecked")
            Map<Long, InferenceSession> s = (Map<Long, InferenceSession>) SESSIONS.get(sd.getFunction("grad"));
            s.get(Thread.currentThread().getId()).setMmgr(cache);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Backprop's cache, counting; with {@code releaseForgotten} false it allocates as ND4J's own cache does. */
    public static final class Counting extends Backprop.TrackingCache {
        public final MissCounter counter = new MissCounter();

        public Counting(boolean releaseForgotten) {
            super(releaseForgotten);
        }

        @Override
        public INDArray allocate(boolean detached, DataType dataType, long... shape) {
            counter.note(this, dataType, shape);
            return super.allocate(detached, dataType, shape);
        }

        @Override
        public INDArray allocate(boolean detached, LongShapeDescriptor d) {
            if (!d.isEmpty()) counter.note(this, d.dataType(), d.getShape());
            return super.allocate(detached, d);
        }
    }
}
