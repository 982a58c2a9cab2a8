package io.robustok.config;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.LongSupplier;

/**
 * Runs the garbage collector when the process's resident size passes a limit, checked twice a second by a daemon
 * thread. ND4J frees an array's native buffer only after the collector has found its small Java handle unreachable,
 * and code that makes many arrays while barely touching the heap (a sampling loop, a training step) can pile up
 * gigabytes of dead buffers between two collections. JavaCPP's own guard ({@code maxphysicalbytes}) does the same
 * check on every native allocation it tracks, thousands per training step, which cost ~20% of a step under load, so
 * it is off ({@link NativeBuild#MAX_PHYSICAL_BYTES}); without any guard the demo's evaluation grew to 24 GB and was
 * killed. One read of /proc/self/statm every 500 ms costs nothing measurable.
 *
 * <p>Limit: system property {@value #PROPERTY} (bytes, or with a k/m/g suffix; 0 turns the watch off), default half
 * the machine's physical memory. After a collection the watch waits 2 s before the next, so a process whose live data
 * is above the limit is not collected in a loop. Linux only (elsewhere it does not start).
 */
public final class ResidentSizeWatch {
    public static final String PROPERTY = "robustok.gc-above-resident-bytes";
    private static final Path STATM = Path.of("/proc/self/statm");
    private static final long PAGE = 4096;
    private static Thread thread;

    private final long limit;
    private final long pauseNanos;
    private final LongSupplier resident;
    private final LongSupplier clock;
    private final Runnable collect;
    private long lastCollect = Long.MIN_VALUE / 2;
    private long collections;

    ResidentSizeWatch(long limit, long pauseNanos, LongSupplier resident, LongSupplier clock, Runnable collect) {
        this.limit = limit;
        this.pauseNanos = pauseNanos;
        this.resident = resident;
        this.clock = clock;
        this.collect = collect;
    }

    /** Collects if the resident size is above the limit and the last collection is long enough ago; true if it did. */
    boolean check() {
        if (limit <= 0) return false;
        long now = clock.getAsLong();
        if (now - lastCollect < pauseNanos || resident.getAsLong() <= limit) return false;
        collect.run();
        lastCollect = clock.getAsLong();
        collections++;
        return true;
    }

    long collections() {
        return collections;
    }

    /** The limit in bytes from {@value #PROPERTY} ("12g", "800m", "0"), or half the physical memory when unset. */
    static long limit(String value, long physical) {
        if (value == null || value.isBlank()) return physical / 2;
        String v = value.trim().toLowerCase();
        long mult = 1;
        char last = v.charAt(v.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            mult = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
            v = v.substring(0, v.length() - 1);
        }
        try {
            long n = Long.parseLong(v);
            if (n < 0) throw new NumberFormatException();
            return n * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + value + " is not a size: give bytes or a number with k, m or g (0 turns it off)");
        }
    }

    private static long residentBytes() {
        try {
            String[] f = Files.readString(STATM).trim().split(" ");
            return Long.parseLong(f[1]) * PAGE;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Starts the JVM's watch once (idempotent); returns whether it runs. */
    public static synchronized boolean start() {
        if (thread != null) return true;
        if (!Files.isReadable(STATM)) return false;
        long physical = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        long limit = limit(System.getProperty(PROPERTY), physical);
        if (limit <= 0) return false;
        ResidentSizeWatch w = new ResidentSizeWatch(limit, 2_000_000_000L, ResidentSizeWatch::residentBytes, System::nanoTime, System::gc);
        thread = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
                w.check();
            }
        }, "resident-size-watch");
        thread.setDaemon(true);
        thread.start();
        return true;
    }
}
