package io.robustok.train;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Frees the native buffers of dead ND4J arrays at a steady pace. ND4J releases an array's off-heap memory only
 * after the JVM's garbage collector has found its small on-heap handle unreachable, and a training step makes
 * thousands of such handles while barely touching the heap: the heap can go many minutes without a collection
 * while dead buffers pile up off-heap (measured on the demo tokenizer: resident size past 14 GB within 45 rounds,
 * with ~85k dead buffers awaiting collection). Workers call {@link #maybeCollect()} after each round; it runs
 * {@code System.gc()} at most once per interval per JVM, which holds the resident size flat for about 1% of a
 * round's time.
 */
final class OffHeapCollector {
    /** Seconds between collections; {@code -Drobustok.offheap-gc-seconds=0} turns the collector off. */
    static final OffHeapCollector JVM = new OffHeapCollector(
            (long) (Double.parseDouble(System.getProperty("robustok.offheap-gc-seconds", "10")) * 1e9),
            System::nanoTime, System::gc);

    private final long intervalNanos;
    private final LongSupplier clock;
    private final Runnable collect;
    private final AtomicLong last;

    OffHeapCollector(long intervalNanos, LongSupplier clock, Runnable collect) {
        this.intervalNanos = intervalNanos;
        this.clock = clock;
        this.collect = collect;
        this.last = new AtomicLong(clock.getAsLong());
    }

    /** Collects when the interval has passed since the last collection; true when this call collected. */
    boolean maybeCollect() {
        if (intervalNanos <= 0) return false;
        long now = clock.getAsLong();
        long prev = last.get();
        if (now - prev < intervalNanos || !last.compareAndSet(prev, now)) return false;
        collect.run();
        return true;
    }
}
