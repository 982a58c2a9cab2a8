package io.robustok.train;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Executor-side cache of workers. Building a worker (SameDiff graphs) is expensive, so each executor JVM
 * builds one per concurrently running task slot and reuses it every round: a task borrows an idle worker of
 * its {@link TrainingTask#workerKey()} and device, or builds one, and returns it when done. Spark reuses task
 * threads loosely, so the pool is keyed by key and device, not by thread.
 *
 * <p>GPU executors: when Spark assigned the task a "gpu" resource (spark.task.resource.gpu.amount=1), the task
 * thread is bound to that device before any ND4J call, and the worker is only ever reused on that device. The
 * address is used as the CUDA ordinal, which holds when the executor sees all of the host's GPUs (no
 * CUDA_VISIBLE_DEVICES remapping by the cluster manager).
 */
final class WorkerPool {
    private static final Logger log = LoggerFactory.getLogger(WorkerPool.class);
    private static final Map<String, ConcurrentLinkedDeque<Worker<?>>> IDLE = new ConcurrentHashMap<>();

    private WorkerPool() {
    }

    /** A borrowed worker and the pool slot to return it to. */
    record Lease<B>(Worker<B> worker, String slot, int device) {
    }

    @SuppressWarnings("unchecked")
    static <R, B> Lease<B> borrow(TrainingTask<R, B> task) {
        int device = bindDevice();
        String slot = task.workerKey() + "@" + (device < 0 ? "cpu" : "gpu" + device);
        Worker<?> w = IDLE.computeIfAbsent(slot, k -> new ConcurrentLinkedDeque<>()).pollFirst();
        if (w == null) {
            // idle workers of the same task with other settings belong to an earlier training (a sweep's previous
            // variant): drop them rather than hold their graphs for the life of the JVM
            IDLE.keySet().removeIf(k -> !k.equals(slot) && k.startsWith(task.name() + ":"));
            long t0 = System.nanoTime();
            io.robustok.config.ResidentSizeWatch.start(); // executors on a cluster do not run the CLI's NativeBuild.select()
            w = task.newWorker();
            log.info("{}: built worker {} in {} s; {}", task.name(), slot, String.format("%.1f", (System.nanoTime() - t0) / 1e9),
                    describe(device));
        }
        return new Lease<>((Worker<B>) w, slot, device);
    }

    static void release(Lease<?> lease) {
        IDLE.get(lease.slot()).addFirst(lease.worker());
        OffHeapCollector.JVM.maybeCollect();
    }

    /** Drops every cached worker of {@code workerKey} in this JVM (tests, and stages that change architecture). */
    static void evict(String workerKey) {
        IDLE.keySet().removeIf(k -> k.startsWith(workerKey + "@"));
    }

    /** Binds this thread to the task's GPU, if it has one; returns the device id or -1 on CPU. */
    static int bindDevice() {
        TaskContext tc = TaskContext.get();
        if (tc == null) return -1;
        ResourceInformation gpu = tc.resourcesJMap().get("gpu");
        if (gpu == null || gpu.addresses().length == 0) return -1;
        int id = Integer.parseInt(gpu.addresses()[0].trim());
        // ND4J's CUDA backend keeps a device per thread; Spark task threads come from a pool, so bind every time
        Nd4j.getAffinityManager().unsafeSetDevice(id);
        return id;
    }

    static String describe(int device) {
        String backend = Nd4j.getBackend().getClass().getSimpleName();
        String where = device < 0 ? "cpu (no gpu resource assigned to the task)" : "gpu " + device + " of "
                + Nd4j.getAffinityManager().getNumberOfDevices();
        return "device=" + where + " backend=" + backend + " executioner=" + Nd4j.getExecutioner().getClass().getSimpleName()
                + " threads=" + Nd4j.getEnvironment().maxThreads()
                + " javacpp.maxBytes=" + (Pointer.maxBytes() >> 20) + "MiB maxPhysicalBytes=" + (Pointer.maxPhysicalBytes() >> 20)
                + "MiB heap=" + (Runtime.getRuntime().maxMemory() >> 20) + "MiB";
    }
}
