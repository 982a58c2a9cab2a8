package io.robustok.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Named points in the code where a fault-injection test can freeze a process so that it can kill it there for real
 * (kill -9): in the middle of a round, of a checkpoint, of a shard or of a stage's commit. Off unless the process
 * has the environment variable {@code ROBUSTOK_FAULT_PAUSE=<point>@<n>}: the n-th time this JVM reaches
 * {@code <point>}, it creates the file named by {@code ROBUSTOK_FAULT_MARKER} (containing its pid) and sleeps until
 * it is killed. A process that finds the marker already there passes on, so a task Spark retries, or a driver
 * rerun with the same environment, runs through. Executors get the variables through
 * {@code spark.executorEnv.ROBUSTOK_FAULT_PAUSE} and {@code spark.executorEnv.ROBUSTOK_FAULT_MARKER}.
 *
 * <p>Points: {@code worker-step} (a worker finished a minibatch step, on an executor), {@code round-done} (the driver
 * logged a round, before its checkpoint), {@code checkpoint-write} (a checkpoint's tensors are written, its
 * state.json and rename are not), {@code shard-write} (a prep shard has some rows written, not closed, on an
 * executor), {@code token-write} (tokenize's Parquet writer has taken some rows of a task, on an executor),
 * {@code stage-commit} (a stage's files are written to its temporary directory, the rename is not done).
 */
public final class FaultPoint {
    private static final String POINT;
    private static final long COUNT;
    private static final String MARKER = System.getenv("ROBUSTOK_FAULT_MARKER");
    private static final Map<String, AtomicLong> SEEN = new ConcurrentHashMap<>();

    static {
        String spec = System.getenv("ROBUSTOK_FAULT_PAUSE");
        if (spec == null || spec.isBlank()) {
            POINT = null;
            COUNT = 0;
        } else {
            int at = spec.indexOf('@');
            POINT = at < 0 ? spec.trim() : spec.substring(0, at).trim();
            COUNT = at < 0 ? 1 : Long.parseLong(spec.substring(at + 1).trim());
        }
    }

    private FaultPoint() {
    }

    /** Marks that this process reached {@code point}; freezes here when a test asked for it. */
    public static void reach(String point) {
        if (POINT == null || !POINT.equals(point) || MARKER == null) return;
        long n = SEEN.computeIfAbsent(point, k -> new AtomicLong()).incrementAndGet();
        if (n != COUNT) return;
        long pid = ManagementFactory.getRuntimeMXBean().getPid();
        Path tmp = Path.of(MARKER + "." + pid);
        try {
            Files.writeString(tmp, Long.toString(pid), StandardCharsets.UTF_8);
            // the marker appears complete or not at all; the first process to claim it is the one that freezes
            Files.createLink(Path.of(MARKER), tmp);
        } catch (FileAlreadyExistsException e) {
            return;
        } catch (IOException e) {
            throw new UncheckedIOException("fault injection: cannot write marker " + MARKER, e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a stray pid file next to the marker
            }
        }
        while (true) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                // a frozen process waits for its kill, not for an interrupt
            }
        }
    }
}
