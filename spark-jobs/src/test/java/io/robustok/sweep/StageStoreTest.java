package io.robustok.sweep;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The store's compute-once protocol: threads and separate JVMs racing for one missing entry; stale locks. */
class StageStoreTest {
    static final StageGraph.Node NODE = StageGraph.node("train-tokenizer");
    static final String ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    @TempDir
    Path tmp;

    /** The work of a stage: leaves evidence that it ran, takes a while, commits the output. */
    static Object compute(StageStore store, Path evidence) throws Exception {
        Files.writeString(evidence, ProcessHandle.current().pid() + " " + Thread.currentThread().getName() + "\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        Thread.sleep(800);
        Path out = Path.of(store.location(NODE, ID));
        Files.createDirectories(out);
        Files.writeString(out.resolve("_COMPLETE.json"), "{}");
        return null;
    }

    @Test
    void twoThreadsReachingAMissingEntryComputeItOnce() throws Exception {
        StageStore store = new StageStore(tmp.resolve("store").toString(), 60_000);
        Path evidence = tmp.resolve("computed.txt");
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<StageStore.Result>> results = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            results.add(pool.submit(() -> {
                start.await();
                return store.computeOnce(NODE, ID, "", Map.of(), () -> compute(store, evidence));
            }));
        }
        start.countDown();
        List<StageStore.Outcome> outcomes = new ArrayList<>();
        for (Future<StageStore.Result> f : results) outcomes.add(f.get().outcome());
        pool.shutdown();
        assertEquals(1, Files.readAllLines(evidence).size(), "computed once: " + Files.readString(evidence));
        assertTrue(outcomes.contains(StageStore.Outcome.COMPUTED) && outcomes.contains(StageStore.Outcome.CACHED), outcomes.toString());
        assertTrue(store.meta(NODE, ID).containsKey("seconds"), "meta written");
        assertTrue(Files.list(tmp.resolve("store/_locks")).findAny().isEmpty(), "lock released");
    }

    /** Entry point of the separate-JVM race: {@code <store> <evidence file>}. */
    public static void main(String[] args) throws Exception {
        StageStore store = new StageStore(args[0], 60_000);
        StageStore.Result r = store.computeOnce(NODE, ID, "", Map.of(), () -> compute(store, Path.of(args[1])));
        System.out.println(r.outcome());
    }

    @Test
    void twoProcessesReachingAMissingEntryComputeItOnce() throws Exception {
        Path evidence = tmp.resolve("computed.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> ps = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            ps.add(new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), StageStoreTest.class.getName(),
                    tmp.resolve("store").toString(), evidence.toString()).redirectErrorStream(true).start());
        }
        List<String> outs = new ArrayList<>();
        for (Process p : ps) {
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), out);
            outs.add(out.strip().lines().reduce((a, b) -> b).orElse(""));
        }
        assertEquals(1, Files.readAllLines(evidence).size(), "computed once across JVMs: " + Files.readString(evidence));
        assertTrue(outs.contains("COMPUTED") && outs.contains("CACHED"), outs.toString());
    }

    @Test
    void aLockLeftByAKilledProcessIsTakenOverAtOnce() throws Exception {
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        StageStore store = new StageStore(tmp.resolve("store").toString(), 600_000);
        Path lock = tmp.resolve("store/_locks/" + StageStore.entry(NODE, ID) + ".lock");
        Files.createDirectories(lock.getParent());
        Files.writeString(lock, InetAddress.getLocalHost().getHostName() + " " + dead.pid() + " killed\n");
        long t0 = System.nanoTime();
        StageStore.Result r = store.computeOnce(NODE, ID, "", Map.of(), () -> compute(store, tmp.resolve("e.txt")));
        assertEquals(StageStore.Outcome.COMPUTED, r.outcome());
        assertTrue((System.nanoTime() - t0) / 1e9 < 30, "did not wait for the ten-minute lease");
    }

    @Test
    void aCompleteEntryIsUsedAsIsAndAKilledHoldersLockOnItIsCleared() throws Exception {
        // a run killed after committing the entry, before releasing its lock
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        StageStore store = new StageStore(tmp.resolve("store").toString(), 600_000);
        compute(store, tmp.resolve("first.txt"));
        Path lock = tmp.resolve("store/_locks/" + StageStore.entry(NODE, ID) + ".lock");
        Files.createDirectories(lock.getParent());
        Files.writeString(lock, InetAddress.getLocalHost().getHostName() + " " + dead.pid() + " killed\n");
        Path evidence = tmp.resolve("again.txt");
        assertEquals(StageStore.Outcome.CACHED,
                store.computeOnce(NODE, ID, "", Map.of(), () -> compute(store, evidence)).outcome());
        assertFalse(Files.exists(evidence), "not recomputed");
        assertFalse(Files.exists(lock), "the dead holder's lock is gone");

        // a live holder (another host, renewed just now) is between its commit and its release: its lock stays
        Files.writeString(lock, "another-host 3 alive\n");
        assertEquals(StageStore.Outcome.CACHED,
                store.computeOnce(NODE, ID, "", Map.of(), () -> compute(store, evidence)).outcome());
        assertFalse(Files.exists(evidence), "not recomputed");
        assertTrue(Files.exists(lock), "a live holder's lock is left alone");
    }

    @Test
    void aLockNotRenewedForALeaseIsTakenOverAndALiveOneIsNot() throws Exception {
        StageStore store = new StageStore(tmp.resolve("store").toString(), 1500);
        Path lock = tmp.resolve("store/_locks/" + StageStore.entry(NODE, ID) + ".lock");
        Files.createDirectories(lock.getParent());
        Files.writeString(lock, "another-host 1 gone\n");
        Files.setLastModifiedTime(lock, FileTime.fromMillis(System.currentTimeMillis() - 10_000));
        assertEquals(StageStore.Outcome.COMPUTED,
                store.computeOnce(NODE, ID, "", Map.of(), () -> compute(store, tmp.resolve("e.txt"))).outcome());

        // a holder that keeps renewing (another host, so liveness is only known from the renewals) is waited for
        String other = StageStore.entry(NODE, ID.replace('0', 'f'));
        Path live = tmp.resolve("store/_locks/" + other + ".lock");
        Files.writeString(live, "another-host 2 alive\n");
        AtomicInteger renewals = new AtomicInteger();
        Thread renewer = new Thread(() -> {
            try {
                for (int i = 0; i < 10; i++) {
                    Files.setLastModifiedTime(live, FileTime.fromMillis(System.currentTimeMillis()));
                    renewals.incrementAndGet();
                    Thread.sleep(300);
                }
                Files.delete(live);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        renewer.start();
        long t0 = System.nanoTime();
        String id2 = ID.replace('0', 'f');
        store.computeOnce(NODE, id2, "", Map.of(), () -> {
            Path out = Path.of(store.location(NODE, id2));
            Files.createDirectories(out);
            Files.writeString(out.resolve("_COMPLETE.json"), "{}");
            return null;
        });
        assertEquals(10, renewals.get(), "waited until the live holder released");
        assertTrue((System.nanoTime() - t0) / 1e9 > 2.5);
        renewer.join();
    }
}
