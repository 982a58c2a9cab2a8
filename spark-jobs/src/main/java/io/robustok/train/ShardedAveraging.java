package io.robustok.train;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoSerializable;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.apache.spark.Partitioner;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.rdd.RDD;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import scala.Tuple2;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Sharded averaging ({@code trainer.aggregation = sharded}): the workers' weighted states are summed by the
 * executors, one slice each, through Spark's shuffle (a reduce-scatter), instead of one treeAggregate into the
 * driver.
 *
 * <p>The state's float32 tensors are laid end to end (parameters, then optimizer state when it is averaged) and
 * cut into S contiguous shards (tensors of other types, a few scalars, go whole with the summaries). Each worker, after its steps, writes S pieces (its slice of each shard times its sample
 * count, float32) to the shuffle as a stream, one piece at a time, then one summary record (metrics, counts,
 * timings). Reduce task s adds the W pieces of shard s as they arrive, divides by the total sample count and checks
 * that the mean is finite (the float32 division the driver does for the tree's sum, so the same bits); the driver
 * collects the S means and lays them back into tensors.
 *
 * <p>What it changes against the tree: no worker builds its whole state as one task result (a result is
 * serialized into a single buffer of at most {@code spark.kryoserializer.buffer.max}, so a state above ~1 GB
 * cannot be returned at all), the sum is spread over the executors, and what reaches the driver is one state's
 * bytes whatever the number of workers (the tree brings W states to the driver at depth 1). What it costs: one
 * more stage per round (a second wave of task launches) and the shuffle files' disk writes. With two workers the
 * sum is bitwise the same as the tree's (float addition of two terms commutes); beyond that it differs in rounding
 * only (the order of the additions).
 */
final class ShardedAveraging {
    /** Auto shard count: at least one per worker, and none above this many bytes (a reduce result is one buffer). */
    static final long MAX_SHARD_BYTES = 128L << 20;

    private ShardedAveraging() {
    }

    /** The shard count for {@code trainer.shards} ({@code configured}, 0 = auto). */
    static int shardCount(int configured, long stateBytes, int workers) {
        if (configured > 0) return configured;
        return (int) Math.max(workers, (stateBytes + MAX_SHARD_BYTES - 1) / MAX_SHARD_BYTES);
    }

    /**
     * The averaged tensors in order, end to end: the names, their element counts, and S shard boundaries over the
     * concatenation. Built on the driver from the state it broadcasts; workers return tensors of the same names.
     */
    record Layout(String[] names, boolean[] opt, long[] starts, long total, int shards, String[] extras,
                  boolean[] extraOpt) implements Serializable {
        /**
         * The float32 tensors of {@code s} (parameters, then optimizer state when it is averaged) in {@code shards}
         * slices; tensors of any other type (a few scalars, e.g. the adaptive GAN weight kept in float64) are
         * {@code extras}: they travel whole with the workers' summaries and are summed as the tree sums them, so
         * that they keep their own precision.
         */
        static Layout of(TrainState s, boolean withOptState, int shards) {
            List<String> names = new ArrayList<>();
            List<Boolean> opt = new ArrayList<>();
            List<Long> starts = new ArrayList<>();
            List<String> extras = new ArrayList<>();
            List<Boolean> extraOpt = new ArrayList<>();
            long total = 0;
            List<Map.Entry<String, INDArray>> all = new ArrayList<>(s.params().entrySet());
            int nParams = all.size();
            if (withOptState) all.addAll(s.optState().entrySet());
            for (int i = 0; i < all.size(); i++) {
                Map.Entry<String, INDArray> e = all.get(i);
                if (e.getValue().dataType() != DataType.FLOAT) {
                    extras.add(e.getKey());
                    extraOpt.add(i >= nParams);
                    continue;
                }
                names.add(e.getKey());
                opt.add(i >= nParams);
                starts.add(total);
                total += e.getValue().length();
            }
            if (total > 0 && shards > total) shards = (int) total;
            long[] st = new long[starts.size() + 1];
            boolean[] op = new boolean[opt.size()];
            for (int i = 0; i < op.length; i++) {
                st[i] = starts.get(i);
                op[i] = opt.get(i);
            }
            st[op.length] = total;
            boolean[] xo = new boolean[extraOpt.size()];
            for (int i = 0; i < xo.length; i++) xo[i] = extraOpt.get(i);
            return new Layout(names.toArray(new String[0]), op, st, total, Math.max(1, shards),
                    extras.toArray(new String[0]), xo);
        }

        long shardStart(int s) {
            return total * s / shards;
        }

        int shardLength(int s) {
            long n = shardStart(s + 1) - shardStart(s);
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("a shard of " + n + " elements does not fit in one array; raise trainer.shards");
            }
            return (int) n;
        }

        /** Index of the tensor holding element {@code at} of the concatenation. */
        int tensorAt(long at) {
            int lo = 0, hi = names.length - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (starts[mid] <= at) lo = mid;
                else hi = mid - 1;
            }
            return lo;
        }
    }

    /**
     * A shuffle record: worker {@code worker}'s slice of shard {@code shard} times its sample count, or (data
     * null) that worker's round summary, or a reduce task's sum of one shard. Serialized in bulk (Kryo's own float
     * array serializer writes element by element).
     */
    static final class Piece implements KryoSerializable, Serializable {
        private static final long serialVersionUID = 1L;
        private static final int CHUNK = 1 << 18; // floats per bulk copy (1 MiB)
        int shard;
        float[] data;
        RoundResult meta;
        /** A worker's piece: its sample count (the weight its slice carries); a reduce task's: the total. */
        long samples;
        /** A reduce task's mean: whether every element came out finite. */
        boolean finite = true;

        Piece() {
        }

        Piece(int shard, float[] data, RoundResult meta, long samples) {
            this.shard = shard;
            this.data = data;
            this.meta = meta;
            this.samples = samples;
        }

        @Override
        public void write(Kryo kryo, Output out) {
            out.writeInt(shard, true);
            out.writeLong(samples, true);
            out.writeBoolean(finite);
            kryo.writeClassAndObject(out, meta);
            out.writeInt(data == null ? -1 : data.length, true);
            if (data == null) return;
            ByteBuffer b = ByteBuffer.allocate(Math.min(CHUNK, data.length) * 4).order(ByteOrder.LITTLE_ENDIAN);
            FloatBuffer f = b.asFloatBuffer();
            for (int done = 0; done < data.length; ) {
                int n = Math.min(CHUNK, data.length - done);
                f.clear();
                f.put(data, done, n);
                out.writeBytes(b.array(), 0, n * 4);
                done += n;
            }
        }

        @Override
        public void read(Kryo kryo, Input in) {
            shard = in.readInt(true);
            samples = in.readLong(true);
            finite = in.readBoolean();
            meta = (RoundResult) kryo.readClassAndObject(in);
            int len = in.readInt(true);
            if (len < 0) return;
            data = new float[len];
            byte[] chunk = new byte[Math.min(CHUNK, len) * 4];
            FloatBuffer f = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            for (int done = 0; done < len; ) {
                int n = Math.min(CHUNK, len - done);
                in.readBytes(chunk, 0, n * 4);
                f.clear();
                f.get(data, done, n);
                done += n;
            }
        }
    }

    /** Key s goes to reduce partition s. */
    static final class ShardPartitioner extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int shards;

        ShardPartitioner(int shards) {
            this.shards = shards;
        }

        @Override
        public int numPartitions() {
            return shards;
        }

        @Override
        public int getPartition(Object key) {
            return (Integer) key;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ShardPartitioner p && p.shards == shards;
        }

        @Override
        public int hashCode() {
            return shards;
        }
    }

    /**
     * A worker's pieces, made one at a time as the shuffle writer asks for them (a piece is written before the
     * next is made, so a worker never holds more than one shard's slice on the heap), then its summary last, when
     * the time it took to make them is known. {@code onDone} runs after the summary is taken (it returns the
     * worker to its pool).
     */
    static Iterator<Tuple2<Integer, Piece>> pieces(Layout layout, TrainState state, double weight, RoundResult summary,
                                                   Runnable onDone) {
        boolean send = state != null && !summary.bad && summary.samples > 0;
        if (send) {
            for (int i = 0; i < layout.extras().length; i++) {
                String name = layout.extras()[i];
                INDArray v = layout.extraOpt()[i] ? state.optState().get(name) : state.params().get(name);
                if (v == null) throw new IllegalStateException("worker has no tensor " + name);
                (layout.extraOpt()[i] ? summary.optState : summary.params).put(name, ParameterAveragingMaster.weighted(v, weight, null));
            }
        }
        return new Iterator<>() {
            int next = send ? 0 : layout.shards();
            boolean summarySent;
            final long t0 = System.nanoTime();

            @Override
            public boolean hasNext() {
                return !summarySent;
            }

            @Override
            public Tuple2<Integer, Piece> next() {
                if (summarySent) throw new NoSuchElementException();
                if (next < layout.shards()) {
                    int s = next++;
                    return new Tuple2<>(s, new Piece(s, slice(layout, state, s, (float) weight), null, summary.samples));
                }
                summarySent = true;
                double prep = (System.nanoTime() - t0) / 1e9;
                summary.maxPrepSec += prep;
                summary.maxComputeSec += prep;
                summary.maxEndUs = RoundResult.nowUs();
                onDone.run();
                // the summary travels with shard 0, whose reduce task merges the workers' summaries
                return new Tuple2<>(0, new Piece(0, null, summary, 0));
            }
        };
    }

    /** Shard {@code s} of {@code state}'s concatenated tensors, each element times {@code weight}. */
    static float[] slice(Layout layout, TrainState state, int s, float weight) {
        long from = layout.shardStart(s);
        int len = layout.shardLength(s);
        float[] out = new float[len];
        int done = 0;
        while (done < len) {
            long at = from + done;
            int t = layout.tensorAt(at);
            long inTensor = at - layout.starts()[t];
            int n = (int) Math.min(len - done, layout.starts()[t + 1] - at);
            INDArray a = tensor(state, layout, t);
            floats(a).position((int) inTensor).get(out, done, n);
            done += n;
        }
        for (int i = 0; i < len; i++) out[i] *= weight;
        return out;
    }

    private static INDArray tensor(TrainState state, Layout layout, int t) {
        String name = layout.names()[t];
        INDArray a = layout.opt()[t] ? state.optState().get(name) : state.params().get(name);
        if (a == null) throw new IllegalStateException("worker has no " + (layout.opt()[t] ? "optimizer state " : "parameter ") + name);
        long expected = layout.starts()[t + 1] - layout.starts()[t];
        if (a.length() != expected) {
            throw new IllegalStateException("workers disagree on tensor " + name + ": " + a.length() + " vs " + expected + " elements");
        }
        return a;
    }

    /** A float view of the array's elements in c order (a dense float32 copy first when it is not one). */
    private static FloatBuffer floats(INDArray a) {
        INDArray c = a.dataType() != DataType.FLOAT ? a.castTo(DataType.FLOAT) : a;
        if (c.isView() || c.ordering() != 'c' || c.data().length() != c.length()) c = c.dup('c');
        ByteBuffer b = c.data().asNio().order(ByteOrder.nativeOrder());
        b.position(0);
        return b.asFloatBuffer();
    }

    /**
     * The reduce side: the pieces of one shard added as they arrive and divided by the samples they carry (the
     * mean, which the driver would otherwise compute: the same float32 division, so the same bits), with a
     * finiteness check; and the workers' summaries merged.
     */
    static Iterator<Piece> sum(int shard, Iterator<Tuple2<Integer, Piece>> in) {
        float[] acc = null;
        long samples = 0;
        RoundResult meta = RoundResult.empty();
        double sumSec = 0;
        while (in.hasNext()) {
            Piece p = in.next()._2();
            if (p.meta != null) meta = meta.merge(p.meta);
            if (p.data == null) continue;
            samples += p.samples;
            long t0 = System.nanoTime();
            if (acc == null) {
                acc = p.data;
            } else {
                if (p.data.length != acc.length) throw new IllegalStateException("shard " + shard + ": pieces of different lengths");
                float[] d = p.data;
                for (int i = 0; i < acc.length; i++) acc[i] += d[i];
            }
            sumSec += (System.nanoTime() - t0) / 1e9;
        }
        boolean finite = true;
        if (acc != null && samples > 0) {
            long t0 = System.nanoTime();
            float n = samples;
            for (int i = 0; i < acc.length; i++) {
                float v = acc[i] / n;
                acc[i] = v;
                finite &= Float.isFinite(v);
            }
            sumSec += (System.nanoTime() - t0) / 1e9;
        }
        meta.sumSec += sumSec;
        Piece out = new Piece(shard, acc, meta, samples);
        out.finite = finite;
        return Collections.singletonList(out).iterator();
    }

    /**
     * The reduce tasks' means in, the round's result out: the summaries merged (with the extras' sums), the means
     * laid back into tensors; a non-finite mean drops the round. {@link #average} then finishes the state.
     */
    static RoundResult assemble(Layout layout, TrainState like, List<Piece> sums) {
        RoundResult res = RoundResult.empty();
        float[][] byShard = new float[layout.shards()][];
        double sumSec = 0;
        boolean finite = true;
        for (Piece p : sums) {
            // each reduce task's adding time counts (a merge skips a summary of no workers, and with it its time)
            sumSec += p.meta.sumSec;
            p.meta.sumSec = 0;
            res = res.merge(p.meta);
            byShard[p.shard] = p.data;
            finite &= p.finite;
        }
        res.sumSec = sumSec;
        if (!finite && !res.bad) {
            res.bad = true;
            res.badReason = "non-finite averaged parameters";
        }
        if (res.bad || res.samples == 0) {
            res.params.clear();
            res.optState.clear();
            return res;
        }
        // res already holds the extras' sums (merged with the summaries); the float32 tensors come from the slices
        LinkedHashMap<String, INDArray> params = new LinkedHashMap<>();
        LinkedHashMap<String, INDArray> opt = new LinkedHashMap<>();
        for (int t = 0; t < layout.names().length; t++) {
            String name = layout.names()[t];
            INDArray shape = layout.opt()[t] ? like.optState().get(name) : like.params().get(name);
            INDArray a = Nd4j.createUninitialized(DataType.FLOAT, shape.shape(), 'c');
            (layout.opt()[t] ? opt : params).put(name, a);
        }
        for (int s = 0; s < layout.shards(); s++) {
            float[] d = byShard[s];
            if (d == null) throw new IllegalStateException("no sum came back for shard " + s + " of " + layout.shards());
            long from = layout.shardStart(s);
            int done = 0;
            while (done < d.length) {
                long at = from + done;
                int t = layout.tensorAt(at);
                int n = (int) Math.min(d.length - done, layout.starts()[t + 1] - at);
                INDArray a = (layout.opt()[t] ? opt : params).get(layout.names()[t]);
                ByteBuffer b = a.data().asNio().order(ByteOrder.nativeOrder());
                b.position(0);
                b.asFloatBuffer().position((int) (at - layout.starts()[t])).put(d, done, n);
                done += n;
            }
        }
        res.params.putAll(params);
        res.optState.putAll(opt);
        return res;
    }

    /**
     * The averaged state from {@link #assemble}'s result: the sliced tensors are already means; the extras are
     * sums, divided here as the tree's are; optimizer state not averaged stays the driver's.
     */
    static TrainState average(RoundResult res, TrainState previous, Layout layout, boolean averageUpdater) {
        java.util.Set<String> extras = java.util.Set.of(layout.extras());
        return ParameterAveragingMaster.average(res, previous, averageUpdater, k -> !extras.contains(k));
    }

    /** Whether the extras (the tensors the reduce tasks did not check) of an averaged state are finite. */
    static boolean extrasFinite(TrainState s, Layout layout) {
        Map<String, INDArray> extras = new LinkedHashMap<>();
        for (String name : layout.extras()) {
            INDArray a = s.params().containsKey(name) ? s.params().get(name) : s.optState().get(name);
            if (a != null) extras.put(name, a);
        }
        return ParameterAveragingMaster.finite(extras);
    }

    /** The round: each worker's pieces through the shuffle to S reduce tasks, their means to the driver. */
    static RoundResult round(JavaRDD<Tuple2<Integer, Piece>> pieces, Layout layout, TrainState like) {
        JavaPairRDD<Integer, Piece> shuffled = pieces.mapToPair(t -> t).partitionBy(new ShardPartitioner(layout.shards()));
        try {
            List<Piece> sums = shuffled.mapPartitionsWithIndex(ShardedAveraging::sum, false).collect();
            return assemble(layout, like, sums);
        } finally {
            removeShuffle(shuffled.rdd());
        }
    }

    /**
     * Deletes a round's shuffle files now. Spark removes a shuffle's files only once the driver's garbage
     * collector has dropped its RDD (ContextCleaner; a periodic collection every 30 minutes by default); each round
     * writes W states' worth of them, which over thousands of rounds would fill the executors' disks first.
     */
    static void removeShuffle(RDD<?> shuffled) {
        if (shuffled.dependencies().isEmpty() || !(shuffled.dependencies().head() instanceof ShuffleDependency<?, ?, ?> dep)) return;
        SparkContext sc = shuffled.context();
        if (sc.cleaner().isDefined()) {
            sc.cleaner().get().doCleanupShuffle(dep.shuffleId(), false);
        } else {
            sc.env().mapOutputTracker().unregisterShuffle(dep.shuffleId());
            sc.env().blockManager().master().removeShuffle(dep.shuffleId(), false);
        }
    }
}
